"""MedShakeEHR connector benchmark: patient search, HPRIM candidates, fetch and filing on a
MariaDB MedShakeEHR of N patients (the fixture schema of tests/data/medshakeehr plus N
generated patients, each with the 7 identity rows MedShakeEHR writes).

Measured, not asserted. Writes ``benchmarks/results/medshakeehr.json``.

Run: ``.venv/bin/python benchmarks/medshakeehr_benchmark.py --patients 50000``
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from medshake_bridge.hprim.header import HprimHeader  # noqa: E402

ADMIN_URL = os.environ.get("MEDSHAKE_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/test")
LAST = ["DUPONT", "MARTIN", "BERNARD", "THOMAS", "PETIT", "ROBERT", "RICHARD", "DURAND",
        "DUBOIS", "MOREAU", "LAURENT", "SIMON", "MICHEL", "LEFÈVRE", "LEROY", "ROUX", "DAVID",
        "BERTRAND", "MOREL", "FOURNIER", "GIRARD", "BONNET", "DUPUIS", "LAMBERT", "FONTAINE"]
FIRST = ["Hélène", "Jeanne", "Marie", "Camille", "Léa", "Chloé", "Paul", "Louis", "Jules",
         "Hugo", "Lucas", "Émile", "Zoé", "Inès", "Noé", "Gabriel", "Adèle", "Manon"]


def _load(url: str, name: str, patients: int) -> None:
    import subprocess

    parsed = make_url(ADMIN_URL)
    for sql in ("schema.sql", "patients.sql"):
        with (ROOT / "tests" / "data" / "medshakeehr" / sql).open("rb") as handle:
            subprocess.run(["mariadb", f"-h{parsed.host}", f"-P{parsed.port or 3306}",
                            f"-u{parsed.username}", name], stdin=handle, check=True, timeout=600)
    engine = create_engine(url)
    rng = random.Random(7)
    with engine.begin() as connection:
        start = 100
        batch_people, batch_rows = [], []
        for index in range(patients):
            pid = start + index
            batch_people.append({"id": pid})
            born = dt.date(1930, 1, 1) + dt.timedelta(days=rng.randrange(30000))
            values = {120: rng.choice(LAST), 122: rng.choice(FIRST),
                      119: born.strftime("%d/%m/%Y"), 118: rng.choice("FM"),
                      165: f"{rng.randrange(1, 3)}{rng.randrange(10**12):012d}"
                           f"{rng.randrange(97):02d}",
                      5: f"{rng.randrange(1000, 95999):05d}", 3: "PARIS"}
            if rng.random() < 0.3:
                values[123] = rng.choice(LAST)
            batch_rows.extend({"to": pid, "ty": ty, "v": v} for ty, v in values.items())
            if len(batch_people) == 2000 or index == patients - 1:
                connection.execute(text("INSERT INTO people (id, type, pass, registerDate, "
                                        "fromID) VALUES (:id, 'patient', '', NOW(), 3)"),
                                   batch_people)
                connection.execute(text("INSERT INTO objets_data (fromID, toID, typeID, value) "
                                        "VALUES (3, :to, :ty, :v)"), batch_rows)
                batch_people, batch_rows = [], []
    engine.dispose()


def _time(work, runs: int) -> dict[str, float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return {"runs": runs, "p50_ms": round(statistics.median(samples), 2),
            "p95_ms": round(samples[int(len(samples) * 0.95) - 1], 2),
            "max_ms": round(samples[-1], 2)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--patients", type=int, default=50000)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--filings", type=int, default=100)
    args = parser.parse_args()
    name = f"connector_bench_{secrets.token_hex(3)}"
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    url = make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    results: dict[str, object] = {"patients": args.patients, "python": platform.python_version(),
                                  "cpus": os.cpu_count(), "date": dt.date.today().isoformat()}
    try:
        started = time.perf_counter()
        _load(url, name, args.patients)
        results["load_s"] = round(time.perf_counter() - started, 1)
        results.update(_measure(url, args))
    finally:
        from medshake_medshakeehr import database

        for engine in database._engines.values():
            engine.dispose()
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
    out = ROOT / "benchmarks" / "results" / "medshakeehr.json"
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps(results, indent=2, ensure_ascii=False))


def _measure(url: str, args: argparse.Namespace) -> dict[str, object]:
    from medshake_medshakeehr.provider import MedShakeEhrProvider
    from medshake_medshakeehr.schema import install_tables

    from medshake_bridge import create_app, migrate
    from medshake_bridge.api import ActingUser, DocumentToFile, FilingAttachment
    from medshake_bridge.extension import bridge_state
    from medshake_bridge.users import create_user

    work = Path(tempfile.mkdtemp(prefix="connector-bench-"))
    (work / "stockage").mkdir()
    (work / "config.yml").write_text(f"sqlVarPassword: testVarPwd\nfingerprint: testfp01\n"
                                     f"stockageLocation: {work}/stockage/\n", encoding="utf-8")
    from cryptography.fernet import Fernet

    app = create_app({"INSTANCE_PATH": str(work / "instance"),
                      "MEDSHAKE_BRIDGE_SECRET_KEYS": [Fernet.generate_key().decode()]})
    migrate.upgrade(app)
    engine = create_engine(url)
    with engine.begin() as connection:
        install_tables(connection)
    engine.dispose()
    with app.app_context():
        store = bridge_state(app).settings
        store.set("medshakeEhrDatabaseUrl", url)
        store.set("medshakeEhrConfigFile", str(work / "config.yml"))
        store.set("medshakeEhrFilingEnabled", True)
        user = create_user("bench", "benchmark password")
        from medshake_bridge.api import link_host_identity

        link_host_identity(user, "medshakeehr:3")
        acting = ActingUser(id=user.id, login=user.login)
        provider = MedShakeEhrProvider()
        found = {}
        figures = {
            "search 'dupont hél'": _time(lambda: found.setdefault(
                "dupont", provider.search("dupont hél", limit=20)), args.runs),
            "search 'lefevre'": _time(lambda: provider.search("lefevre", limit=20), args.runs),
            "search 'zz' (no match)": _time(lambda: provider.search("zzqx", limit=20),
                                            args.runs),
            "candidates (name, first name, birth date, NIR)": _time(
                lambda: provider.candidates(HprimHeader(
                    last_name="DUPONT", first_name="Hélène",
                    birth_date=dt.date(1970, 3, 15)), limit=5), args.runs),
            "get": _time(lambda: provider.get("4"), args.runs),
        }
        pdf = work / "report.pdf"
        pdf.write_bytes(b"%PDF-1.4\n" + os.urandom(100_000) + b"\n%%EOF\n")
        counter = iter(range(10**6))

        def file_one():
            number = next(counter)
            provider.file_document(DocumentToFile(
                key=f"bridge-document:{number}", document_id=number, title="Labo",
                text="texte", received_at=dt.datetime(2026, 11, 30),
                attachments=[FilingAttachment(name="report.pdf", path=pdf,
                                              media_type="application/pdf")]), "6", user=acting)

        figures["file one document (100 KB PDF)"] = _time(file_one, args.filings)
        figures["file again (idempotent answer)"] = _time(
            lambda: provider.file_document(DocumentToFile(
                key="bridge-document:0", document_id=0, title="Labo", text="texte",
                received_at=dt.datetime(2026, 11, 30)), "6", user=acting), args.runs)
        figures["first result of 'dupont hél'"] = found["dupont"][0].display_name
    import shutil

    shutil.rmtree(work, ignore_errors=True)
    return {"figures": figures}


if __name__ == "__main__":
    main()
