"""Inbox list page with many documents: server-side time of GET /inbox/ (p50/p95).

Fills one user's inbox with N documents (default 100,000) on SQLite and on PostgreSQL, then
times the page through Flask's test client (no network, no browser: the server's own work).
Three lists: the plain inbox, the triage filters (FILTERED: words every document matches,
unread, a date range) and one patient searched by name (SEARCHED: 11 matches).
Run: ``.venv/bin/python benchmarks/inbox_benchmark.py --documents 100000``
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from scratch_postgres import filled_postgres_app  # noqa: E402
from sqlalchemy import insert  # noqa: E402
from web_helpers import login  # noqa: E402

from medshake_bridge import create_app, migrate  # noqa: E402
from medshake_bridge.db import db  # noqa: E402
from medshake_bridge.models.mail import InboxDocument, Mailbox, ReceivedMessage  # noqa: E402
from medshake_bridge.users import create_user  # noqa: E402

try:
    from medshake_bridge.search_text import search_text  # noqa: E402
except ImportError:  # a checkout before migration 0019, measured for comparison
    search_text = None  # type: ignore[assignment]

# The triage filters (issue 16): two search words, the unread-by-me filter, a date range.
FILTERED = "&q=jeanne+labo&unread=1&since=2024-01-01&until=2030-12-31"
# One patient looked for by name: 11 documents of 100,000 match (PATIENT4242, PATIENT42420…),
# the search a secretary types most; without an index every row of the inbox is read.
SEARCHED = "&q=patient4242"
HAS_SEARCH_TEXT = hasattr(InboxDocument, "search_text")  # column of migration 0019


def fill(app, count: int) -> None:
    with app.app_context():
        user = create_user("bob", "correct horse battery", role="practitioner")
        mailbox = Mailbox(key="bench", collector="pop3", host="h", port=110, login="l")
        db.session.add(mailbox)
        db.session.commit()
        start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
        batch = 5000
        for offset in range(0, count, batch):
            size = min(batch, count - offset)
            messages = [{"id": offset + i + 1, "mailbox_id": mailbox.id,
                         "server_id": f"s{offset + i}", "message_id_header": f"<m{offset + i}>",
                         "sha256": "0" * 64, "size": 1000, "raw_path": "/dev/null",
                         "state": "processed", "attempts": 0, "last_error": "",
                         "subject": "Résultats", "from_address": "labo@x.org",
                         "to_address": "bob@x.org", "date_header": "", "attachments_json": "[]",
                         "signature_status": "", "signer": "",
                         "stored_at": start + dt.timedelta(minutes=offset + i)}
                        for i in range(size)]
            db.session.execute(insert(ReceivedMessage), messages)
            documents = [{"message_id": offset + i + 1, "owner_user_id": user.id,
                          "position": 0, "state": "new", "has_header": True,
                          "patient_last_name": f"PATIENT{offset + i}",
                          "patient_first_name": "Jeanne", "sender_name": "LABO",
                          "header_json": "{}", "results_json": "[]", "abnormal": False,
                          "body": "texte", "created_at": start + dt.timedelta(minutes=offset + i),
                          "exam_date": (start + dt.timedelta(minutes=offset + i)).date()}
                         for i in range(size)]
            if HAS_SEARCH_TEXT:
                for row in documents:
                    row["search_text"] = search_text(
                        last_name=row["patient_last_name"], first_name="Jeanne",
                        sender_name="LABO", subject="Résultats", from_address="labo@x.org")
            db.session.execute(insert(InboxDocument), documents)
            db.session.commit()


def measure(app, rounds: int, query: str = "") -> dict:
    client = app.test_client()
    login(client, "bob", "correct horse battery")
    timings = []
    for index in range(rounds):
        page = 1 + index % 20
        started = time.perf_counter()
        response = client.get(f"/inbox/?page={page}{query}")
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    timings.sort()
    return {"rounds": rounds, "p50_ms": statistics.median(timings),
            "p95_ms": timings[int(len(timings) * 0.95) - 1], "max_ms": timings[-1]}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--documents", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/inbox.json")
    args = parser.parse_args()
    results: dict = {"documents": args.documents,
                     "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                     "load_average_start": [round(v, 1) for v in os.getloadavg()]}
    work = Path(tempfile.mkdtemp(prefix="msb-inbox-"))
    app = create_app({"INSTANCE_PATH": str(work / "sqlite")})
    migrate.upgrade(app)
    fill(app, args.documents)
    results["sqlite"] = measure(app, args.rounds)
    results["sqlite_filtered"] = measure(app, args.rounds, FILTERED)
    results["sqlite_searched"] = measure(app, args.rounds, SEARCHED)
    with filled_postgres_app("msb_bench", work / "pg", fill, args.documents) as app:
        results["postgresql"] = measure(app, args.rounds)
        results["postgresql_filtered"] = measure(app, args.rounds, FILTERED)
        results["postgresql_searched"] = measure(app, args.rounds, SEARCHED)
    results["load_average_end"] = [round(v, 1) for v in os.getloadavg()]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
