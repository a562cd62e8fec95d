"""JSON API with many documents, and webhook delivery throughput.

* ``GET /api/v1/inbox?limit=50`` (first page and pages deep in the cursor walk) and
  ``GET /api/v1/inbox/unread-count`` with N documents in one user's inbox, on SQLite, through
  Flask's test client (the server's own work, no network);
* webhook delivery: M events POSTed, signed, to a local HTTP receiver by ``deliver_due``.

Run: ``.venv/bin/python benchmarks/api_benchmark.py --documents 50000 --events 500``
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from cryptography.fernet import Fernet  # noqa: E402
from inbox_benchmark import fill  # noqa: E402
from webhook_receiver import Receiver, free_port  # noqa: E402

from medshake_bridge import create_app, migrate  # noqa: E402
from medshake_bridge.apiv1.tokens import create_token  # noqa: E402
from medshake_bridge.db import db  # noqa: E402
from medshake_bridge.models import User  # noqa: E402
from medshake_bridge.webhooks import outbox  # noqa: E402
from medshake_bridge.webhooks.delivery import deliver_due  # noqa: E402
from medshake_bridge.webhooks.subscriptions import add_subscription  # noqa: E402


def _timed(client, url: str, headers: dict, rounds: int) -> dict:
    timings = []
    for _ in range(rounds):
        started = time.perf_counter()
        response = client.get(url, headers=headers)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.get_data(as_text=True)
    timings.sort()
    return {"rounds": rounds, "p50_ms": round(statistics.median(timings), 2),
            "p95_ms": round(timings[int(len(timings) * 0.95) - 1], 2),
            "max_ms": round(timings[-1], 2)}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--documents", type=int, default=50_000)
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/api.json")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="msb-api-"))
    app = create_app({"INSTANCE_PATH": str(work / "sqlite"),
                      "MEDSHAKE_BRIDGE_SECRET_KEYS": [Fernet.generate_key().decode()],
                      "MEDSHAKE_BRIDGE_API_RATE_LIMIT": "1000000/minute"})
    migrate.upgrade(app)
    fill(app, args.documents)
    with app.app_context():
        bob = db.session.scalars(db.select(User)).one()
        token = create_token(bob, ["inbox:read"]).text
    headers = {"Authorization": f"Bearer {token}"}
    client = app.test_client()
    results: dict = {"documents": args.documents}
    results["inbox_first_page"] = _timed(client, "/api/v1/inbox?limit=50", headers, args.rounds)
    cursor = None
    for _ in range(args.documents // 2 // 200):  # walk half the inbox, 200 at a time
        url = "/api/v1/inbox?limit=200" + (f"&cursor={cursor}" if cursor else "")
        cursor = client.get(url, headers=headers).get_json()["next_cursor"]
    results["inbox_deep_page"] = _timed(client, f"/api/v1/inbox?limit=50&cursor={cursor}",
                                        headers, args.rounds)
    results["inbox_filter_patient"] = _timed(
        client, "/api/v1/inbox?limit=50&patient=patient4999", headers, max(10, args.rounds // 5))
    results["unread_count"] = _timed(client, "/api/v1/inbox/unread-count", headers, args.rounds)

    receiver = Receiver(free_port()).start()
    try:
        with app.app_context():
            add_subscription(receiver.url, ["message.sent"], secret="s" * 32)
            for number in range(args.events):
                outbox.enqueue("message.sent", {"message": number})
            db.session.commit()
            started = time.perf_counter()
            delivered = 0
            while delivered < args.events:
                delivered += deliver_due(timeout=5).delivered
            elapsed = time.perf_counter() - started
        results["webhooks"] = {"events": args.events, "seconds": round(elapsed, 2),
                               "events_per_s": round(args.events / elapsed, 1),
                               "received": len(receiver.received)}
    finally:
        receiver.stop()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
