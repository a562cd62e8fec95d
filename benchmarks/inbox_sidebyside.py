"""The inbox list at 1,000,000 documents, two source trees side by side on the same databases.

Filling a million documents takes many minutes, so the databases are filled once and kept
(``fill``); ``measure`` then times ``GET /inbox/`` with each tree in turn, alternating, in a
fresh process per tree and database (the tree's own code: ``PYTHONPATH=<tree>``), so that a
change of machine load hits both trees alike. Same pages, filters and search as
``inbox_benchmark.py`` (whose ``fill`` is used). Besides the server time of each page it
records the CPU time of the measuring process (``… cpu``: the bridge's own Python work,
which a busy shared machine changes much less than the wall-clock time; the database
server's work is not in it).

SQLite gets two copies of one filled file: one left at the revision the old tree knows, one
upgraded to head by the new tree (migration 0020 adds the search index there); neither is
analysed (the bridge never runs ``ANALYZE`` on SQLite). PostgreSQL gets one database
(``--pg``), which both trees read, vacuumed and analysed after the fill (autovacuum would).

Run (each step under ``nice -n 19`` on a shared machine)::

    python benchmarks/inbox_sidebyside.py fill --data /tmp/inbox1m --pg bench_pgpage \\
        --documents 1000000
    python benchmarks/inbox_sidebyside.py measure --data /tmp/inbox1m --pg bench_pgpage \\
        --old /work/wt/base --new . --repeats 3 --rounds 60 \\
        --out benchmarks/results/inbox_1m_sidebyside.json
    python benchmarks/inbox_sidebyside.py drop --data /tmp/inbox1m --pg bench_pgpage
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
LISTS = {"list": "", "filtered": "&q=jeanne+labo&unread=1&since=2024-01-01&until=2030-12-31",
         "searched": "&q=patient4242"}
PASSWORD = "correct horse battery"  # inbox_benchmark.fill's user


def pg_url(name: str) -> str:
    return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"


def folders(data: Path) -> dict[str, Path]:
    return {"old_sqlite": data / "sqlite-old", "new_sqlite": data / "sqlite-new",
            "pg": data / "pg"}


def _app(instance: Path, url: str | None = None):
    from medshake_bridge import create_app

    config = {"INSTANCE_PATH": str(instance)}
    if url:
        config["MEDSHAKE_BRIDGE_DATABASE_URL"] = url
    return create_app(config)


def _analyze(app, statement: str) -> None:
    from sqlalchemy import text

    from medshake_bridge.db import db

    with app.app_context():
        db.session.execute(text(statement))
        db.session.commit()


def fill(args: argparse.Namespace) -> None:
    """Both databases at the revision the old tree knows (``--revision``), filled, analysed."""
    sys.path[:0] = [str(ROOT / "benchmarks"), str(ROOT / "tests")]
    from inbox_benchmark import fill as fill_inbox
    from sqlalchemy import create_engine, text

    from medshake_bridge import migrate

    places = folders(args.data)
    if args.which in ("both", "sqlite"):
        app = _app(places["old_sqlite"])
        migrate.upgrade(app, args.revision)
        fill_inbox(app, args.documents)
        # No ANALYZE: the bridge never runs it, so a site's SQLite has no statistics (with
        # them, SQLite reads all 1,000,000 messages for the "waiting mail" banner: 1 s).
        print("sqlite filled", flush=True)
    if args.which in ("both", "pg"):
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{args.pg}"'))
        admin.dispose()
        app = _app(places["pg"], pg_url(args.pg))
        migrate.upgrade(app, args.revision)
        fill_inbox(app, args.documents)
        with app.app_context():
            from medshake_bridge.db import db

            db.engine.dispose()
        vacuum = create_engine(pg_url(args.pg), isolation_level="AUTOCOMMIT")
        with vacuum.connect() as connection:
            connection.execute(text("VACUUM ANALYZE"))
        vacuum.dispose()
        print("postgresql filled", flush=True)


def prepare_new(args: argparse.Namespace) -> None:
    """The new tree's SQLite copy: the old file copied, then upgraded by the new tree."""
    places = folders(args.data)
    if places["new_sqlite"].exists():
        shutil.rmtree(places["new_sqlite"])
    shutil.copytree(places["old_sqlite"], places["new_sqlite"])
    code = ("import sys; from pathlib import Path; sys.path.insert(0, 'benchmarks');"
            "from inbox_sidebyside import _app; from medshake_bridge import migrate;"
            f"app = _app(Path({str(places['new_sqlite'])!r})); print(migrate.upgrade(app))")
    subprocess.run([sys.executable, "-c", code], cwd=args.new, env=_env(args.new), check=True)


def _env(tree: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = f"{tree}:{tree}/plugins"
    return env


def one(args: argparse.Namespace) -> None:
    """Time the three lists with the code on ``PYTHONPATH``; print one JSON line."""
    sys.path.insert(0, str(ROOT / "tests"))
    from web_helpers import login

    app = _app(Path(args.instance), args.url or None)
    client = app.test_client()
    login(client, "bob", PASSWORD)
    found = {}
    for name, query in LISTS.items():
        for page in range(1, 4):  # warm-up: templates compiled, caches filled, not timed
            assert client.get(f"/inbox/?page={page}{query}").status_code == 200
        timings, cpu = [], []
        for index in range(args.rounds):
            started, started_cpu = time.perf_counter(), time.process_time()
            response = client.get(f"/inbox/?page={1 + index % 20}{query}")
            timings.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - started_cpu) * 1000)
            assert response.status_code == 200
        found[name] = timings
        found[f"{name} cpu"] = cpu
    print(json.dumps(found))


def summary(timings: list[float]) -> dict[str, float]:
    ordered = sorted(timings)
    return {"rounds": len(ordered), "p50_ms": round(statistics.median(ordered), 1),
            "p95_ms": round(ordered[max(0, int(len(ordered) * 0.95) - 1)], 1),
            "max_ms": round(ordered[-1], 1)}


def measure(args: argparse.Namespace) -> None:
    places = folders(args.data)
    if not places["new_sqlite"].exists() or args.prepare:
        prepare_new(args)
    trees = {"old": Path(args.old).resolve(), "new": Path(args.new).resolve()}
    databases = {"sqlite": lambda side: (places[f"{side}_sqlite"], ""),
                 "postgresql": lambda side: (places["pg"], pg_url(args.pg))}
    databases = {name: where for name, where in databases.items()
                 if name in args.databases.split(",")}
    for side in ("old", "new"):  # both files in the page cache before the first timing
        for path in places[f"{side}_sqlite"].glob("*.db"):
            with path.open("rb") as handle:
                while handle.read(1 << 24):
                    pass
    collected: dict[str, list[float]] = {}
    loads = []
    for repeat in range(args.repeats):
        order = ["old", "new"] if repeat % 2 == 0 else ["new", "old"]
        for database, where in databases.items():
            for side in order:
                instance, url = where(side)
                loads.append(round(os.getloadavg()[0], 2))
                output = subprocess.run(
                    [sys.executable, str(ROOT / "benchmarks/inbox_sidebyside.py"), "_one",
                     "--instance", str(instance), "--url", url, "--rounds", str(args.rounds)],
                    cwd=trees[side], env=_env(trees[side]), check=True, capture_output=True,
                    text=True).stdout
                timings = json.loads(output.strip().splitlines()[-1])
                for name, values in timings.items():
                    collected.setdefault(f"{side} {database} {name}", []).extend(values)
                print(f"repeat {repeat} {database} {side}: " + ", ".join(
                    f"{name} p50 {statistics.median(v):.1f}" for name, v in timings.items()
                    if not name.endswith(" cpu")),
                    f"(load {loads[-1]})", flush=True)
    results = {"documents": args.documents, "trees": {k: str(v) for k, v in trees.items()},
               "started": args.started, "repeats": args.repeats,
               "rounds_per_repeat": args.rounds, "load_average_1min": loads,
               "load_average_end": [round(v, 2) for v in os.getloadavg()],
               "figures": {key: summary(values) for key, values in collected.items()}}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results["figures"], indent=2))


def drop(args: argparse.Namespace) -> None:
    from sqlalchemy import create_engine, text

    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{args.pg}" WITH (FORCE)'))
    admin.dispose()
    shutil.rmtree(args.data, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("fill", "measure", "drop"):
        command = commands.add_parser(name)
        command.add_argument("--data", type=Path, required=True)
        command.add_argument("--pg", required=True)
    commands.choices["fill"].add_argument("--documents", type=int, default=1_000_000)
    commands.choices["fill"].add_argument("--revision", default="0019")
    commands.choices["fill"].add_argument("--which", choices=("both", "sqlite", "pg"),
                                          default="both")
    measure_args = commands.choices["measure"]
    measure_args.add_argument("--old", required=True)
    measure_args.add_argument("--new", default=str(ROOT))
    measure_args.add_argument("--repeats", type=int, default=3)
    measure_args.add_argument("--rounds", type=int, default=60)
    measure_args.add_argument("--documents", type=int, default=1_000_000)
    measure_args.add_argument("--databases", default="sqlite,postgresql")
    measure_args.add_argument("--prepare", action="store_true",
                              help="copy and upgrade the new tree's SQLite file again")
    measure_args.add_argument("--out", type=Path,
                              default=ROOT / "benchmarks/results/inbox_1m_sidebyside.json")
    single = commands.add_parser("_one")
    single.add_argument("--instance", required=True)
    single.add_argument("--url", default="")
    single.add_argument("--rounds", type=int, default=60)
    args = parser.parse_args()
    args.started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    {"fill": fill, "measure": measure, "drop": drop, "_one": one}[args.command](args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
