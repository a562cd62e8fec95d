"""CPU cost of a collection process, per message and at start-up (issue 18, third pass).

Wall-clock times on the shared 2-core development machine depend on what the other sessions
run; the CPU time the kernel charges to the collecting process (user + system) and the number
of instructions it executes (``valgrind --tool=callgrind``) barely do. This script seeds one
dovecot mailbox (plain POP3, loopback, every third message with a 100 KB attachment, the same
messages as ``suite.py``), then collects it with the pass-through (or copy-through) back-end in
a fresh process and reports that process's CPU seconds, read from ``wait4``'s resource usage.

Several source trees can be compared in one run (``--tree``, rounds alternate between them):
export ``main`` with ``git archive`` and pass both trees to get a before/after on the same
mailbox, interpreter and load. ``--messages 0`` measures the start-up alone (an empty mailbox).

Run: ``/work/venv/bin/python benchmarks/process_cost.py --messages 300 --rounds 3
--tree /tmp/base --tree .`` (add ``--callgrind`` for instruction counts, slow: use few
messages). ``--strace count`` adds the system calls of the collecting process tree by name
(``strace -f -c``; per message: subtract a ``--messages 0`` run); ``--strace FILE`` writes a
full ``strace -f -y`` log instead. ``--mode cli`` runs ``medshake-bridge fetch`` instead of
``create_app`` + ``collect_all`` (what ``suite.py`` times).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from suite import Bench  # noqa: E402

SCRIPT = r'''
import json, sys, time
spec = json.loads(sys.argv[1])
from medshake_bridge import bridge_state, create_app
from medshake_bridge.collect import pipeline
from medshake_bridge.collect.pipeline import collect_all
if spec.get("sequential"):  # no processing thread: one thread, deterministic counts
    pipeline.threads_share_the_database = lambda: False
app = create_app({"INSTANCE_PATH": spec["instance"], **spec["config"]})
statements = []
with app.app_context():
    from sqlalchemy import event
    from medshake_bridge.db import db
    event.listen(db.engine, "before_cursor_execute",
                 lambda conn, cursor, statement, *rest: statements.append(statement))
    started = time.process_time()  # every thread of the process
    report = collect_all(bridge_state(), workers=1)
    collect_cpu = time.process_time() - started
if spec.get("show_sql"):
    import collections
    for text, count in collections.Counter(" ".join(s.split())[:150] for s in statements
                                           ).most_common():
        print(count, text, file=sys.stderr)
print(json.dumps({"fetched": report.total("fetched"), "documents": report.total("documents"),
                  "collect_cpu_s": collect_cpu, "statements": len(statements),
                  "errors": [m.error for m in report.mailboxes if m.error]}))
'''

STRACE_OPTIONS: list[str] = []  # set from --strace-trace

CLI = r'''
import sys
from medshake_bridge.cli import main
sys.argv = ["medshake-bridge", "fetch", "--jobs", "1"]
main()
'''


def _environment(tree: Path, plugin_dir: Path, instance: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(tree), str(tree / "plugins"), str(plugin_dir)])
    env["MEDSHAKE_BRIDGE_INSTANCE"] = instance
    return env


def _write_instance_config(spec: dict) -> None:
    """``fetch`` builds its app from the instance folder: the benchmark's config goes there."""
    lines = [f"{key} = {value!r}" for key, value in spec["config"].items()]
    Path(spec["instance"], "config.py").write_text("\n".join(lines) + "\n")


class _Popen(subprocess.Popen):
    """``Popen`` that keeps the ``wait4`` resource usage of its child."""

    usage = None

    def _try_wait(self, wait_flags):  # noqa: ANN001, ANN202 - CPython's private hook
        try:
            pid, status, usage = os.wait4(self.pid, wait_flags)
        except ChildProcessError:
            return self.pid, 0
        if pid:
            self.usage = usage
        return pid, status


def strace_counts(path: Path) -> dict[str, int]:
    """System calls by name from an ``strace -f -c`` summary (every process of the tree)."""
    counts: dict[str, int] = {}
    for line in path.read_text().splitlines():
        fields = line.split()
        if len(fields) >= 5 and fields[0][0].isdigit() and fields[-1] != "total":
            # "% time seconds usecs/call calls [errors] syscall"
            counts[fields[-1]] = int(fields[3])
    return counts


def run_once(tree: Path, spec: dict, plugin_dir: Path, mode: str, callgrind: bool,
             work: Path, sequential: bool = False, strace: str | None = None) -> dict:
    """One collection in a fresh process; its CPU seconds (and instructions if asked).

    ``strace``: ``"count"`` adds the system calls of the process tree by name (``strace -f
    -c``); any other value is a file name for a full ``strace -f`` log (``-e trace=`` set by
    ``--strace-trace``). Either one slows the run: CPU seconds are then not comparable."""
    code = SCRIPT if mode == "script" else CLI
    argv = [sys.executable, "-c", code, json.dumps({**spec, "sequential": sequential})]
    out_file = work / f"callgrind.{time.time_ns()}"
    strace_file = work / f"strace.{time.time_ns()}"
    if callgrind:
        argv = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out_file}", *argv]
    if strace == "count":
        argv = ["strace", "-f", "-c", "-o", str(strace_file), *argv]
    elif strace:
        argv = ["strace", "-f", "-y", "-o", strace, *STRACE_OPTIONS, *argv]
    started = time.perf_counter()
    # cwd: ``python -c`` puts the current folder first on sys.path, before PYTHONPATH
    process = _Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=work,
                     env=_environment(tree, plugin_dir, spec["instance"]))
    out, err = process.communicate(timeout=7200)
    elapsed = time.perf_counter() - started
    usage = process.usage  # the child's own resource usage (and its reaped children's)
    stderr = err.decode(errors="replace")
    if process.returncode != 0:
        raise RuntimeError(f"collection failed ({process.returncode}): {stderr[-3000:]}")
    if spec.get("show_sql"):
        print(stderr[-6000:], file=sys.stderr)
    result = {"cpu_s": usage.ru_utime + usage.ru_stime, "user_s": usage.ru_utime,
              "sys_s": usage.ru_stime, "wall_s": elapsed}
    if mode == "script":  # the collection alone (in the process, all its threads)
        last = json.loads(out.decode().strip().splitlines()[-1])
        result["collect_cpu_s"] = last["collect_cpu_s"]
        result["statements"] = last["statements"]  # SQL statements sent (commits not counted)
    if callgrind:
        # every process of the tree: forked processing processes print their own total
        counts = [int(found) for found in re.findall(r"Collected : (\d+)", stderr)]
        result["instructions"] = sum(counts) if counts else None
        result["processes"] = len(counts)
        out_file.unlink(missing_ok=True)
    if strace == "count":
        result["syscalls"] = strace_counts(strace_file)
        strace_file.unlink(missing_ok=True)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tree", type=Path, action="append",
                        help="a source tree to measure (repeat to compare; default: this one)")
    parser.add_argument("--backend", choices=("passthrough", "copy"), default="passthrough")
    parser.add_argument("--mode", choices=("script", "cli"), default="script")
    parser.add_argument("--callgrind", action="store_true")
    parser.add_argument("--sequential", action="store_true",
                        help="script mode: process in the reading thread (one thread)")
    parser.add_argument("--show-sql", action="store_true",
                        help="script mode: print the SQL statements sent, by count")
    parser.add_argument("--strace", default=None, metavar="count|FILE",
                        help="count: system calls of the collecting process tree by name "
                             "(strace -f -c); FILE: a full strace -f log (small runs)")
    parser.add_argument("--strace-trace", default="",
                        help="with --strace FILE: strace's -e trace= (e.g. file,desc)")
    parser.add_argument("--strace-times", action="store_true",
                        help="with --strace FILE: each call's time (strace -ttt), for a timeline")
    parser.add_argument("--strace-stack", action="store_true",
                        help="with --strace FILE: the stack of each call (strace -k, slow)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if args.strace_trace:
        STRACE_OPTIONS.extend(["-e", f"trace={args.strace_trace}"])
    if args.strace_stack:
        STRACE_OPTIONS.append("-k")
    if args.strace_times:
        STRACE_OPTIONS.append("-ttt")
    trees = [tree.resolve() for tree in (args.tree or [HERE.parent])]
    work = Path(tempfile.mkdtemp(prefix="msb-cost-"))
    work.chmod(0o755)
    bench = Bench(work, args.messages)
    load = [Path("/proc/loadavg").read_text().split()[:3]]
    results: dict[str, list[dict]] = {str(tree): [] for tree in trees}
    try:
        user = bench.users[0]
        specs = {}
        for tree in trees:
            spec = {**bench.instance(args.backend, [user]), "show_sql": args.show_sql}
            _write_instance_config(spec)
            specs[tree] = spec
        for index in range(args.rounds):
            order = trees[index % len(trees):] + trees[:index % len(trees)]
            for tree in order:
                if args.messages:
                    bench.seed(user, args.messages)
                else:
                    bench.empty(user)
                strace = args.strace
                if strace and strace != "count" and len(trees) > 1:
                    strace = f"{strace}.{trees.index(tree)}"
                one = run_once(tree, specs[tree], bench.plugin_dir, args.mode, args.callgrind,
                               work, args.sequential, strace)
                if bench.left(user):
                    raise RuntimeError("messages left on the server")
                results[str(tree)].append(one)
                print(f"round {index + 1} {tree}: " + json.dumps(one), flush=True)
        load.append(Path("/proc/loadavg").read_text().split()[:3])
    finally:
        bench.close()
    summary = {"messages": args.messages, "backend": args.backend, "mode": args.mode,
               "sequential": args.sequential,
               "load_average": load, "trees": {}}
    for tree, runs in results.items():
        cpu = statistics.median(run["cpu_s"] for run in runs)
        row = {"cpu_s_median": cpu, "runs": runs}
        if args.messages:
            row["cpu_ms_per_message"] = cpu * 1000 / args.messages
        if args.mode == "script":
            collect = statistics.median(run["collect_cpu_s"] for run in runs)
            row["collect_cpu_s_median"] = collect
            row["startup_cpu_s_median"] = statistics.median(
                run["cpu_s"] - run["collect_cpu_s"] for run in runs)
            if args.messages:
                row["collect_cpu_ms_per_message"] = collect * 1000 / args.messages
        if args.callgrind:
            row["instructions_median"] = statistics.median(
                run["instructions"] for run in runs if run.get("instructions"))
        if args.strace == "count":
            names = sorted({name for run in runs for name in run["syscalls"]})
            row["syscalls_median"] = {name: statistics.median(
                run["syscalls"].get(name, 0) for run in runs) for name in names}
            if args.messages:
                row["syscalls_per_message"] = {
                    name: round(count / args.messages, 2)
                    for name, count in sorted(row["syscalls_median"].items(),
                                              key=lambda item: -item[1])}
                print(f"{tree}: system calls per message: "
                      + json.dumps(row["syscalls_per_message"]))
        summary["trees"][tree] = row
        if args.mode == "script":
            print(f"{tree}: collection alone {row['collect_cpu_s_median']:.3f} s CPU"
                  + (f", {row['collect_cpu_ms_per_message']:.2f} ms/message" if args.messages
                     else "") + f"; the rest (start-up) {row['startup_cpu_s_median']:.3f} s")
        print(f"{tree}: CPU median {cpu:.3f} s"
              + (f", {row.get('cpu_ms_per_message', 0):.2f} ms/message" if args.messages else "")
              + (f", {row['instructions_median'] / 1e6:.1f} M instructions"
                 if args.callgrind else ""))
    print(f"load average before/after: {load}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
