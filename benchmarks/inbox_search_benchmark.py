"""The inbox search's SQL, before and after migration 0019, measured side by side.

Before 0019 each word of the search box was looked for in five columns of two tables
(``lower(name) LIKE`` … ``OR EXISTS (… messages …)``); since, in one folded column
(``search_text``) that PostgreSQL answers from a trigram index. Both query shapes run on the
same database with 100,000 documents, alternating round by round, so the machine's load
(other jobs on a shared machine) weighs on both alike. Each round is what the inbox list
runs: the page of 50 (``ORDER BY created_at DESC LIMIT 50``) and the capped count.

Run: ``.venv/bin/python benchmarks/inbox_search_benchmark.py --documents 100000 --rounds 100``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "tests"))

from inbox_benchmark import fill  # noqa: E402
from scratch_postgres import filled_postgres_app  # noqa: E402
from sqlalchemy import and_, exists, func, or_, select  # noqa: E402

from medshake_bridge import create_app, migrate  # noqa: E402
from medshake_bridge.db import db  # noqa: E402
from medshake_bridge.inbox.filters import _like, _word  # noqa: E402
from medshake_bridge.models.mail import InboxDocument, ReceivedMessage  # noqa: E402

CASES = {"filtered": "jeanne labo",      # words every document matches
         "searched": "patient4242"}      # one patient: 11 documents of 100,000


def before_word(word: str) -> Any:
    """The condition of one search word before migration 0019 (filters._word then)."""
    pattern = _like(word)
    names = or_(func.lower(InboxDocument.patient_last_name).like(pattern, escape="\\"),
                func.lower(InboxDocument.patient_first_name).like(pattern, escape="\\"))
    message = exists().where(ReceivedMessage.id == InboxDocument.message_id, or_(
        func.lower(ReceivedMessage.subject).like(pattern, escape="\\"),
        func.lower(ReceivedMessage.from_address).like(pattern, escape="\\")))
    return or_(names, func.lower(InboxDocument.sender_name).like(pattern, escape="\\"),
               message)


def one_round(owner: int, words: str, shape) -> float:
    condition = and_(InboxDocument.owner_user_id.in_([owner]), InboxDocument.state == "new",
                     *(shape(word) for word in words.split()))
    started = time.perf_counter()
    list(db.session.scalars(select(InboxDocument.id).where(condition)
                            .order_by(InboxDocument.created_at.desc(), InboxDocument.id.desc())
                            .limit(50)))
    inner = select(InboxDocument.id).where(condition).limit(1000).subquery()
    db.session.scalar(select(func.count()).select_from(inner))
    return (time.perf_counter() - started) * 1000


def summary(timings: list[float]) -> dict[str, float]:
    timings = sorted(timings)
    return {"p50_ms": round(statistics.median(timings), 2),
            "p95_ms": round(timings[int(len(timings) * 0.95) - 1], 2),
            "max_ms": round(timings[-1], 2)}


def measure(app, rounds: int) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with app.app_context():
        owner = db.session.scalar(select(InboxDocument.owner_user_id).limit(1))
        for case, words in CASES.items():
            before, after = [], []
            for _ in range(rounds):
                before.append(one_round(owner, words, before_word))
                after.append(one_round(owner, words, _word))
            results[case] = {"words": words, "before_0019": summary(before),
                             "after_0019": summary(after)}
        db.session.remove()
    return results


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--documents", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--out", type=Path,
                        default=ROOT / "benchmarks/results/inbox_search.json")
    args = parser.parse_args()
    results: dict[str, Any] = {"documents": args.documents, "rounds": args.rounds,
                               "load_average_at_start": os.getloadavg()}
    work = Path(tempfile.mkdtemp(prefix="msb-search-"))
    app = create_app({"INSTANCE_PATH": str(work / "sqlite")})
    migrate.upgrade(app)
    fill(app, args.documents)
    results["sqlite"] = measure(app, args.rounds)
    with filled_postgres_app("msb_search", work / "pg", fill, args.documents) as app:
        results["postgresql"] = measure(app, args.rounds)
    results["load_average_at_end"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
