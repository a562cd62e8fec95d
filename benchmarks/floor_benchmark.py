"""What the collection guarantees cost at the least, side by side with the bridge (issue 18).

Issue 18 asks pass-through collection to reach 0.8x raw ``poplib``. Raw ``poplib`` keeps
nothing: it forgets each message once it is written, and a crash loses what the page cache
held. The bridge must keep every message safely before the server deletes it, record it in
its database so that a crash redoes at most one message and never stores a document twice,
and parse it. This script measures, on the same seeded dovecot mailbox (plain POP3, loopback,
the suite's messages: every third with a 100 KB attachment), each step of that floor added
to the one before, every variant a fresh whole process (interpreter start-up included), and
the bridge's own ``medshake-bridge fetch`` (pass-through back-end):

1. ``raw``: ``poplib`` UIDL, RETR, DELE, QUIT (the suite's raw contender);
2. ``+file``: each message written to its own file (temporary name, then renamed, as the
   bridge's raw store does) and hashed (SHA-256, the bridge's duplicate key), one ``os.sync()``
   before QUIT: what the bridge does (a message is durable before the server deletes it);
3. ``+fsync``: the same with an ``fsync`` per message instead (durable one by one);
4. ``+sqlite``: ``+file`` plus one SQLite transaction per message, plain ``sqlite3`` on the
   bridge's own schema and settings (WAL, ``synchronous=NORMAL``, foreign keys): the rows the
   bridge writes (the stored message row, its document row, the row's new state), one commit;
5. ``+parse``: ``+sqlite`` plus Python's ``email`` parser on each message (every part decoded,
   the document row holding the text part);
5b. ``+walk``: ``+sqlite`` plus the bridge's own MIME walk instead (``parse_message_file`` of
   the stored file, from the last ``--tree``: attachments streamed to files in a work
   folder, removed after the commit). The bridge never runs the stdlib parser on a message,
   so this, not ``+parse``, is the floor of a bridge that reads every part (issue 18, fifth
   pass: ``+parse`` overstated it);
6. ``bridge``: ``medshake-bridge fetch --jobs 1`` with the pass-through back-end, for each
   ``--tree`` given (so two source trees compare side by side in the same rounds), and
   ``bridge start-up``: the same command on an empty mailbox (its fixed cost).

Variants rotate in every round; medians of wall time and of the CPU seconds (user + system,
from ``wait4``) are reported with the load average before and after each round: the machine
is shared, only what was measured side by side in one run compares.

Run: ``/work/venv/bin/python benchmarks/floor_benchmark.py --messages 1500 --rounds 3
--tree . --out benchmarks/results/floor.json``
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from process_cost import CLI, _environment, _Popen, _write_instance_config  # noqa: E402
from suite import PYTHON, Bench  # noqa: E402

FLOOR_SCRIPT = r'''
import email, email.parser, email.policy, hashlib, os, poplib, sqlite3, sys, datetime
mode, host, port, login, password, out, database, mailbox_id, owner_id = sys.argv[1:]
steps = set(mode.split("+")[1:])
files, fsync = bool(steps & {"file", "fsync", "sqlite", "parse"}), "fsync" in steps
store, parse = bool(steps & {"sqlite", "parse", "walk"}), "parse" in steps
walk = "walk" in steps
if walk:  # the walk's modules alone: the package's __init__ builds the app (start-up, apart)
    import types
    root = next(os.path.join(entry, "medshake_bridge") for entry in sys.path
                if os.path.isfile(os.path.join(entry, "medshake_bridge", "__init__.py")))
    for name, folder in (("medshake_bridge", root),
                         ("medshake_bridge.collect", os.path.join(root, "collect"))):
        package = types.ModuleType(name)
        package.__path__ = [folder]
        sys.modules[name] = package
    from medshake_bridge.collect.mime import parse_message_file
if store:
    connection = sqlite3.connect(database, isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=30000",
                   "foreign_keys=ON"):
        connection.execute(f"PRAGMA {pragma}")
parser = email.parser.BytesParser(policy=email.policy.default)
client = poplib.POP3(host, int(port), timeout=60)
client.user(login)
client.pass_(password)
for entry in client.uidl()[1]:
    number, uid = entry.decode().split()
    raw = b"\r\n".join(client.retr(int(number))[1]) + b"\r\n"
    if files:
        tmp, final = f"{out}/.{uid}.part", f"{out}/{uid}.eml"
        with open(tmp, "wb") as handle:
            handle.write(raw)
            if fsync:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, final)
        sha256 = hashlib.sha256(raw).hexdigest()
    else:
        with open(f"{out}/{uid}", "wb") as handle:
            handle.write(raw)
    subject, sender, body = "", "", raw[:2000].decode("latin-1")
    if parse:
        message = parser.parsebytes(raw)
        subject, sender = str(message["subject"] or ""), str(message["from"] or "")
        for part in message.walk():
            if part.is_multipart():
                continue
            data = part.get_payload(decode=True) or b""
            if part.get_content_type() == "text/plain":
                body = data.decode("latin-1")
    parts = []
    if walk:
        walked = parse_message_file(final, f"{out}/.parts")
        subject, sender = walked.subject, walked.from_address
        body = b"".join(walked.body_parts).decode("latin-1")
        parts = [item.path for item in walked.attachments]
    if store:
        now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        connection.execute("BEGIN")
        row = connection.execute(
            "INSERT INTO bridge_received_messages (mailbox_id, server_id, message_id_header,"
            " sha256, size, raw_path, state, attempts, last_error, subject, from_address,"
            " to_address, date_header, attachments_json, signature_status, signer, stored_at)"
            " VALUES (?, ?, ?, ?, ?, ?, 'stored', 0, '', '', '', '', '', '[]', '', '', ?)",
            (int(mailbox_id), uid, f"<{uid}@floor>", sha256, len(raw), final, now)).lastrowid
        connection.execute(
            "UPDATE bridge_received_messages SET state='processed', subject=?,"
            " from_address=?, processed_at=?, last_attempt_at=? WHERE id=?",
            (subject, sender, now, now, row))
        connection.execute(
            "INSERT INTO bridge_inbox_documents (message_id, owner_user_id, position, state,"
            " has_header, patient_last_name, patient_first_name, sender_name, header_json,"
            " results_json, abnormal, body, created_at, filed_patient_ref, filed_record,"
            " archive_path, search_text) VALUES (?, ?, 0, 'new', 1, 'MARTIN', 'Jean', 'LAB',"
            " '{}', '[]', 0, ?, ?, '', '', '', ?)",
            (row, int(owner_id), body, now, f"martin jean lab {subject}".lower()))
        connection.execute("COMMIT")
    for path in parts:
        os.unlink(path)
    client.dele(int(number))
if files and not fsync:
    os.sync()  # what the bridge does before deleting on the server
client.quit()
'''

FLOOR_STEPS = ("raw", "raw+file", "raw+fsync", "raw+file+sqlite", "raw+file+sqlite+parse",
               "raw+file+sqlite+walk")


def _timed(argv: list[str], **options) -> dict:
    """One measured process: wall seconds from start to exit, its CPU seconds from wait4."""
    started = time.perf_counter()
    process = _Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **options)
    out, err = process.communicate(timeout=7200)
    elapsed = time.perf_counter() - started
    if process.returncode != 0:
        raise RuntimeError(f"{argv[:3]} failed ({process.returncode}): "
                           f"{err.decode(errors='replace')[-3000:]}")
    usage = process.usage
    return {"wall_s": elapsed, "cpu_s": usage.ru_utime + usage.ru_stime,
            "user_s": usage.ru_utime, "sys_s": usage.ru_stime}


def _floor_database(spec: dict, work: Path) -> tuple[Path, int, int]:
    """A copy of a migrated bridge database (the bridge's schema, users already made by the
    suite's set-up) with one mailbox row: what the ``+sqlite`` variants write into."""
    source = next(Path(spec["instance"]).rglob("*.db"))
    target = work / "floor.db"
    with sqlite3.connect(source) as original, sqlite3.connect(target) as copy:
        original.backup(copy)
    with sqlite3.connect(target) as connection:
        owner = connection.execute("SELECT min(id) FROM bridge_users").fetchone()[0]
        mailbox = connection.execute(
            "INSERT INTO bridge_mailboxes (key, collector, host, port, login, last_outcome,"
            " last_error, last_counts) VALUES ('floor', 'pop3', '127.0.0.1', 110, 'floor',"
            " '', '', '{}')").lastrowid
    return target, mailbox, owner


def _summary(messages: int, trees: list[Path], rounds: list[dict],
             times: dict[str, list[dict]], out: Path | None, say: bool) -> None:
    """Medians so far (written after every round: a long run stopped early keeps them)."""
    times = {name: runs for name, runs in times.items() if runs}
    raw_wall = statistics.median(run["wall_s"] for run in times["raw"])
    raw_cpu = statistics.median(run["cpu_s"] for run in times["raw"])
    summary: dict = {"messages": messages, "rounds": rounds,
                     "trees": [str(tree) for tree in trees], "variants": {}}
    for name, runs in times.items():
        wall = statistics.median(run["wall_s"] for run in runs)
        cpu = statistics.median(run["cpu_s"] for run in runs)
        summary["variants"][name] = {
            "wall_s_median": wall, "cpu_s_median": cpu,
            "cpu_ms_per_message": cpu * 1000 / messages,
            "vs_raw_wall": raw_wall / wall, "vs_raw_cpu": raw_cpu / cpu, "runs": runs}
        if say:
            print(f"{name:45} wall {wall:7.2f} s  CPU {cpu:7.2f} s "
                  f"({cpu * 1000 / messages:5.2f} ms/message)  {raw_wall / wall:5.2f}x raw "
                  f"(wall), {raw_cpu / cpu:5.2f}x raw (CPU)")
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(summary, indent=1) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tree", type=Path, action="append",
                        help="a source tree whose bridge is measured (repeat to compare; "
                             "default: this one)")
    parser.add_argument("--no-startup", action="store_true",
                        help="skip the bridge on an empty mailbox")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    trees = [tree.resolve() for tree in (args.tree or [HERE.parent])]
    work = Path(tempfile.mkdtemp(prefix="msb-floor-"))
    work.chmod(0o755)
    bench = Bench(work, args.messages)
    user = bench.users[0]
    rounds: list[dict] = []
    try:
        specs = {}
        for tree in trees:
            spec = bench.instance("passthrough", [user])
            _write_instance_config(spec)
            specs[tree] = spec
        database, mailbox_id, owner_id = _floor_database(specs[trees[0]], work)

        def floor(mode: str) -> dict:
            out = work / f"out-{time.time_ns()}"
            out.mkdir()
            result = _timed([PYTHON, "-c", FLOOR_SCRIPT, mode, bench.dovecot.ip,
                             str(bench.dovecot.pop3), user.login, user.password, str(out),
                             str(database), str(mailbox_id), str(owner_id)], cwd=work,
                            env=_environment(trees[-1], bench.plugin_dir,
                                             specs[trees[-1]]["instance"]))
            got = len([path for path in out.iterdir() if not path.name.startswith(".")])
            shutil.rmtree(out)
            if got != args.messages:
                raise RuntimeError(f"{mode}: {got} files for {args.messages} messages")
            return result

        def bridge(tree: Path) -> dict:
            spec = specs[tree]
            return _timed([PYTHON, "-c", CLI], cwd=work,
                          env=_environment(tree, bench.plugin_dir, spec["instance"]))

        variants: dict[str, tuple[object, bool]] = {mode: (lambda m=mode: floor(m), True)
                                                    for mode in FLOOR_STEPS}
        for tree in trees:
            name = "bridge" if len(trees) == 1 else f"bridge {tree.name}"
            variants[name] = (lambda t=tree: bridge(t), True)
            if not args.no_startup:
                variants[f"{name} start-up (empty mailbox)"] = (lambda t=tree: bridge(t), False)
        names = list(variants)
        times: dict[str, list[dict]] = {name: [] for name in names}
        for index in range(args.rounds):
            load_before = Path("/proc/loadavg").read_text().split()[:3]
            order = names[index % len(names):] + names[:index % len(names)]
            for name in order:
                run, seeded = variants[name]
                if seeded:
                    bench.seed(user, args.messages)
                else:
                    bench.empty(user)
                result = run()
                if bench.left(user):
                    raise RuntimeError(f"{name}: messages left on the server")
                times[name].append(result)
                print(f"round {index + 1} {name}: wall {result['wall_s']:.2f} s, "
                      f"CPU {result['cpu_s']:.2f} s", flush=True)
            rounds.append({"order": order, "load_before": load_before,
                           "load_after": Path("/proc/loadavg").read_text().split()[:3]})
            print(f"round {index + 1} load average before {load_before}, after "
                  f"{rounds[-1]['load_after']}", flush=True)
            _summary(args.messages, trees, rounds, times, args.out,
                     say=index == args.rounds - 1)
    finally:
        bench.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
