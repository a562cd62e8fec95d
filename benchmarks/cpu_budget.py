"""Where a collection's CPU goes, against its wall time: is it CPU-bound on this machine?

Issue 18, sixth pass. For each contender (raw ``poplib``; the bridge with pass-through and with
copy-through stand-ins, its processing workers forked (``auto``) or threads; four mailboxes
through the 20 ms proxy, one after the other and at once) it measures, in one run with the
order rotated each round:

* the whole collecting process's wall time (as ``suite.py`` does: a fresh process);
* the CPU seconds (user, system) of the collecting process and every process it started and
  waited for (``RUSAGE_CHILDREN``: its forked workers and the stand-in programs included);
* dovecot's CPU seconds (its master's own and its finished children's, ``/proc/PID/stat``).

The sum over the machine's cores is the least wall time the same work could take here: a run
whose wall time is close to it is limited by the machine, not by waiting.

    PYTHONPATH=$PWD:$PWD/plugins python benchmarks/cpu_budget.py --messages 1500 --rounds 3 \\
        --out benchmarks/results/cpu_budget.json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import suite  # noqa: E402 - the side-by-side suite's mailboxes, dovecot and bridge runs

POOL = "MEDSHAKE_BRIDGE_PROCESS_POOL"
TICKS = os.sysconf("SC_CLK_TCK")


def process_tree_cpu(pid: int) -> float:
    """CPU seconds of a running process and of its children it has waited for."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return sum(int(value) for value in fields[11:15]) / TICKS


def measured(run: Callable[[], float], dovecot: int) -> dict[str, float]:
    """One run: its wall time and the CPU its processes and dovecot's used meanwhile."""
    before, dovecot_before = resource.getrusage(resource.RUSAGE_CHILDREN), process_tree_cpu(
        dovecot)
    wall = run()
    after, dovecot_after = resource.getrusage(resource.RUSAGE_CHILDREN), process_tree_cpu(
        dovecot)
    return {"wall_s": wall, "user_s": after.ru_utime - before.ru_utime,
            "system_s": after.ru_stime - before.ru_stime,
            "dovecot_s": dovecot_after - dovecot_before}


def contenders(bench: suite.Bench, messages: int) -> dict[str, Callable[[], float]]:
    """Every run of the comparison, each seeding its mailbox(es) first (not measured)."""
    first = bench.users[0]
    passthrough, copy = (bench.instance(name, [first]) for name in ("passthrough", "copy"))
    four = bench.instance("copy", bench.users, port=bench.proxy(bench.dovecot.pop3, 0.02))

    def bridge(spec: dict, workers: int, pool: str) -> Callable[[], float]:
        def run() -> float:
            os.environ[POOL] = pool  # the bridge's process reads it at start
            return bench.bridge(spec, workers)
        return run

    def one(run: Callable[[], float]) -> Callable[[], float]:
        return bench.seeded(run, [first], messages)

    def each_of_four(run: Callable[[], float]) -> Callable[[], float]:
        return bench.seeded(run, bench.users, 100)

    return {
        "raw poplib": one(lambda: bench.raw_pop3(first, bench.dovecot.pop3)),
        "pass-through, processes (auto)": one(bridge(passthrough, 1, "auto")),
        "pass-through, threads": one(bridge(passthrough, 1, "threads")),
        "copy-through, processes (auto)": one(bridge(copy, 1, "auto")),
        "copy-through, threads": one(bridge(copy, 1, "threads")),
        "proxy, 4 x 100, one after the other (auto)": each_of_four(bridge(four, 1, "auto")),
        "proxy, 4 x 100, at once, processes (auto)": each_of_four(bridge(four, 4, "auto")),
        "proxy, 4 x 100, at once, threads": each_of_four(bridge(four, 4, "threads")),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    work = Path(tempfile.mkdtemp(prefix="msb-cpu-"))
    os.chmod(work, 0o755)
    bench = suite.Bench(work, args.messages)
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    load_at_start = os.getloadavg()
    try:
        runs = contenders(bench, args.messages)
        names = list(runs)
        rounds: dict[str, list[dict[str, float]]] = {name: [] for name in names}
        for index in range(args.rounds):
            for name in names[index % len(names):] + names[:index % len(names)]:
                rounds[name].append(measured(runs[name], bench.dovecot._process.pid))
                print(index + 1, name, {k: round(v, 2) for k, v in rounds[name][-1].items()},
                      flush=True)
    finally:
        os.environ.pop(POOL, None)
        bench.close()
    medians = {}
    for name, values in rounds.items():
        row = {key: suite.median([value[key] for value in values]) for key in values[0]}
        row["cpu_s"] = row["user_s"] + row["system_s"] + row["dovecot_s"]
        row["cpu_over_cores_s"] = row["cpu_s"] / cores
        medians[name] = row
        print(f"{name}: wall {row['wall_s']:.2f} s; bridge/client {row['user_s']:.2f} user + "
              f"{row['system_s']:.2f} system; dovecot {row['dovecot_s']:.2f}; CPU "
              f"{row['cpu_s']:.2f} s = {row['cpu_over_cores_s']:.2f} s on {cores} cores")
    if args.out:
        args.out.write_text(json.dumps({
            "command": "benchmarks/cpu_budget.py " + " ".join(sys.argv[1:]),
            "started": started, "load_at_start": load_at_start, "load_at_end": os.getloadavg(),
            "cores": cores, "messages": args.messages, "medians": medians, "rounds": rounds},
            indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
