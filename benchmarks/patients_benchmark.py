"""Patient search and candidates in the bridge's own store with many patients (p50/p95).

Fills ``bridge_patients`` with N patients (default 100,000; names drawn from a fixed list, so
many share a last name or a birth date, as in a real practice) on SQLite and PostgreSQL, then
times ``search_patients`` (one word, two words, a birth date) and the provider's
``candidates`` plus the host's scoring for one received identity.
Run: ``.venv/bin/python benchmarks/patients_benchmark.py --patients 100000``
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from scratch_postgres import scratch_postgres  # noqa: E402
from sqlalchemy import insert  # noqa: E402

from medshake_bridge import create_app, migrate, patients  # noqa: E402
from medshake_bridge.db import db  # noqa: E402
from medshake_bridge.hprim import HprimHeader  # noqa: E402
from medshake_bridge.models.patients import Patient  # noqa: E402
from medshake_bridge.users import create_user  # noqa: E402

LAST = ["MARTIN", "BERNARD", "DUBOIS", "THOMAS", "ROBERT", "RICHARD", "PETIT", "DURAND",
        "LEROY", "MOREAU", "SIMON", "LAURENT", "LEFÈVRE", "MICHEL", "GARCIA", "DAVID",
        "BERTRAND", "ROUX", "VINCENT", "FOURNIER", "MOREL", "GIRARD", "ANDRÉ", "LEFEBVRE"]
FIRST = ["Jeanne", "Hélène", "Marie", "Paul", "Jean-Pierre", "Élodie", "Louis", "Anaïs",
         "Camille", "Léa", "Hugo", "Chloé", "Noé", "Inès", "Zoé", "Gabriel"]


def fill(app, count: int) -> None:
    from medshake_bridge.hprim import fold

    rng = random.Random(12)
    with app.app_context():
        create_user("bob", "correct horse battery", role="practitioner")
        batch = 5000
        for offset in range(0, count, batch):
            rows = []
            for _ in range(min(batch, count - offset)):
                last = f"{rng.choice(LAST)}{'' if rng.random() < .5 else '-' + rng.choice(LAST)}"
                first = rng.choice(FIRST)
                rows.append({"last_name": last, "first_name": first, "birth_name": "",
                             "birth_date": dt.date(1930, 1, 1) + dt.timedelta(
                                 days=rng.randrange(30000)),
                             "nir": "", "postcode": "69003", "city": "LYON", "sex": "",
                             "search_key": f" {fold(last)} {fold(first)} ",
                             "created_at": dt.datetime.now(dt.UTC)})
            db.session.execute(insert(Patient), rows)
            db.session.commit()


def timed(function, runs: int) -> dict:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return {"p50_ms": round(statistics.median(samples), 1),
            "p95_ms": round(samples[int(len(samples) * .95) - 1], 1)}


def measure(app, runs: int) -> dict:
    with app.test_request_context():
        from medshake_bridge.models import User

        user = db.session.query(User).first()
        identity = HprimHeader(last_name="DURAND", first_name="Hélène",
                               birth_date=dt.date(1961, 3, 12))
        provider = patients.provider_for("bridge:1")
        found = {query: len(patients.search_patients(query, user=user))
                 for query in ("helene", "durand helene", "12/03/1961")}

        def candidates():
            offered = [(s, "bridge") for s in provider.candidates(identity, limit=50)]
            return patients.lookup.rank_summaries(identity, offered, limit=5)

        return {
            "search one word (helene)": timed(lambda: patients.search_patients(
                "helene", user=user), runs),
            "search two words (durand helene)": timed(lambda: patients.search_patients(
                "durand helene", user=user), runs),
            "search birth date (12/03/1961)": timed(lambda: patients.search_patients(
                "12/03/1961", user=user), runs),
            "candidates + host scoring (DURAND Hélène 12/03/1961)": timed(candidates, runs),
            "results": found,
            "people offered for scoring": len(provider.candidates(identity, limit=50)),
        }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    results: dict = {"patients": args.patients}
    with tempfile.TemporaryDirectory() as folder:
        app = create_app({"INSTANCE_PATH": folder, "MEDSHAKE_BRIDGE_SCHEDULER": "off"})
        migrate.upgrade(app)
        fill(app, args.patients)
        results["sqlite"] = measure(app, args.runs)
    with scratch_postgres("bench_patients") as url, tempfile.TemporaryDirectory() as folder:
        app = create_app({"INSTANCE_PATH": folder, "MEDSHAKE_BRIDGE_SCHEDULER": "off",
                          "MEDSHAKE_BRIDGE_DATABASE_URL": url})
        migrate.upgrade(app)
        fill(app, args.patients)
        results["postgresql"] = measure(app, args.runs)
        with app.app_context():
            db.engine.dispose()
    out = ROOT / "benchmarks" / "results" / "patients.json"
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps(results, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
