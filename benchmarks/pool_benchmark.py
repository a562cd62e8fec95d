"""Copy-through stand-ins, one mailbox: processing threads and code versions side by side.

Issue 18, third pass (program spawns and parallel processing). Seeds one dovecot mailbox
(plain POP3, loopback; every third message with a 100 KB attachment, as ``suite.py``) and
collects it with the bridge in a fresh process, the Apicrypt programs replaced by the
copy-through stand-ins (one spawn per body or attachment), for each combination of code
(``--code NAME=PATH``: a checkout put first on ``PYTHONPATH``; default: this tree) and
processing threads (``--workers``, ``MEDSHAKE_BRIDGE_PROCESS_WORKERS``), plus raw ``poplib``.
Rounds rotate the order; it prints, per contender, the median wall time, the ratio of raw
``poplib``'s time to it (the issue's "× raw") and the CPU seconds of the whole process tree
(user + system, the stand-ins included), with the load average before and after.

Run: ``.venv/bin/python benchmarks/pool_benchmark.py --messages 1500 --workers 1,2,3
--rounds 3 --code main=/tmp/main-export``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from suite import Bench  # noqa: E402


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1500)
    parser.add_argument("--workers", default="1,2", help="comma-separated thread counts")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--code", action="append", default=[],
                        help="NAME=PATH of a checkout to measure (repeatable)")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "pool.json")
    args = parser.parse_args()
    codes = dict(item.split("=", 1) for item in args.code) or {"this tree": str(ROOT)}
    work = Path(tempfile.mkdtemp(prefix="msb-pool-"))
    work.chmod(0o755)
    bench = Bench(work, args.messages)
    user = bench.users[0]
    base_env = dict(os.environ)
    try:
        spec = bench.instance("copy", [user])

        def bridge(code: str, workers: str) -> Callable[[], float]:
            def run() -> float:
                os.environ["PYTHONPATH"] = os.pathsep.join(
                    [code, str(Path(code) / "plugins")])
                os.environ["MEDSHAKE_BRIDGE_PROCESS_WORKERS"] = workers
                try:
                    return bench.bridge(spec, 1)
                finally:
                    os.environ.clear()
                    os.environ.update(base_env)
            return run

        contenders: dict[str, Callable[[], float]] = {
            "raw poplib": lambda: bench.raw_pop3(user, bench.dovecot.pop3)}
        for name, path in codes.items():
            for workers in args.workers.split(","):
                contenders[f"{name}, {workers} thread(s)"] = bridge(path, workers)
        names = list(contenders)
        times: dict[str, list[float]] = {name: [] for name in names}
        cpu: dict[str, list[float]] = {name: [] for name in names}
        loads = [load()]
        for index in range(args.rounds):
            order = names[index % len(names):] + names[:index % len(names)]
            for name in order:
                bench.seed(user, args.messages)
                before = children_cpu()
                seconds = contenders[name]()
                if bench.left(user):
                    raise RuntimeError(f"{name}: messages left on the server")
                cpu[name].append(children_cpu() - before)
                times[name].append(seconds)
                print(f"round {index + 1}: {name}: {seconds:.2f} s, "
                      f"CPU {cpu[name][-1]:.2f} s (load {load()})", flush=True)
            loads.append(load())
        raw = statistics.median(times["raw poplib"])
        summary = {"messages": args.messages, "rounds": args.rounds, "load_average": loads,
                   "runs": {name: {"median_s": statistics.median(times[name]),
                                   "times_s": times[name],
                                   "cpu_median_s": statistics.median(cpu[name]),
                                   "x_raw": raw / statistics.median(times[name])}
                            for name in names}}
        print(f"{args.messages} messages, load average {' / '.join(loads)}")
        for name, run in summary["runs"].items():
            print(f"  {name:28s} {run['median_s']:7.2f} s  {run['x_raw']:5.2f} x raw  "
                  f"CPU {run['cpu_median_s']:6.2f} s")
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(summary, indent=1))
    finally:
        bench.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
