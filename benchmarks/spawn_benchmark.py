"""What one spawn of a copy-through stand-in costs from the bridge's process (issue 18).

The stand-in is the benchmarks' shell script that copies ``-s`` to ``-o`` (``suite.STANDIN``):
``/bin/sh`` started, then ``exec cp``. It is spawned from a process that has built the bridge's
app (about 90 MB resident, as a collection), in several ways, and for each the wall time and
the CPU seconds of the parent and of the children per spawn are printed:

* ``preexec_fn``: ``subprocess.Popen`` with the file-size limit set by a ``preexec_fn`` (what
  the runner did before the third pass: ``fork()`` of the whole process, Python in the child);
* ``vfork``: the same without any limit (``subprocess`` uses ``vfork()``): the floor;
* ``prlimit``: the limit applied by util-linux's ``prlimit`` in front of the program
  (``vfork()``, one more ``exec`` in the same process): what the runner does now;
* ``runner``: :meth:`medshake_bridge.runner.Runner.run` itself (checks, pipes, logging,
  redaction and the output check included), with the limit the collection sets.

Run: ``.venv/bin/python benchmarks/spawn_benchmark.py --spawns 300 --rounds 3``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

LIMIT = 200 * 1024 * 1024  # apicryptMaxDecryptedMo's default
ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spawns", type=int, default=300, help="spawns per way and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "spawn.json")
    args = parser.parse_args()

    from suite import STANDIN

    from medshake_bridge import create_app
    from medshake_bridge.runner import Runner, prlimit_program

    work = Path(tempfile.mkdtemp(prefix="msb-spawn-"))
    create_app({"INSTANCE_PATH": str(work / "instance")})  # a parent of a collection's size
    standin = work / "apiuncrypt"
    standin.write_text(STANDIN.replace("{name}", "apiuncrypt"))
    standin.chmod(0o755)
    source, output = work / "body.apicrypt", work / "body.txt"
    source.write_bytes(b"-----BEGIN APICRYPT-----\n" + b"x" * 2000 + b"\n")
    argv = [str(standin), "-s", str(source), "-o", str(output), "-k", str(work)]
    prlimit = prlimit_program()
    if prlimit is None:
        raise SystemExit("util-linux's prlimit is missing")

    def limit_in_child() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, LIMIT))

    def popen(command: list[str], **options: object) -> None:
        proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, cwd=work, env=ENV,
                                start_new_session=True, close_fds=True, **options)
        proc.communicate(timeout=60)
        if proc.returncode != 0:
            raise RuntimeError(f"{command} exited {proc.returncode}")

    runner = Runner(max_file_bytes=LIMIT)
    ways: dict[str, Callable[[], None]] = {
        "preexec_fn": lambda: popen(argv, preexec_fn=limit_in_child),  # noqa: PLW1509
        "vfork": lambda: popen(argv),
        "prlimit": lambda: popen([prlimit, f"--fsize={LIMIT}:{LIMIT}", "--", *argv]),
        "runner": lambda: runner.run(argv[0], argv[1:], cwd=work, expect_output=output),
    }
    logging.disable(logging.CRITICAL)  # as in a collection, where INFO is not shown
    results: dict[str, dict[str, list[float]]] = {
        name: {"wall_ms": [], "parent_cpu_ms": [], "children_cpu_ms": []} for name in ways}
    loads = [Path("/proc/loadavg").read_text().split()[0]]
    for _ in range(args.rounds):
        for name, spawn in ways.items():
            spawn()
            before, started = os.times(), time.perf_counter()
            for _ in range(args.spawns):
                spawn()
            wall, after = time.perf_counter() - started, os.times()
            figures = results[name]
            figures["wall_ms"].append(wall * 1000 / args.spawns)
            figures["parent_cpu_ms"].append(
                (after.user - before.user + after.system - before.system) * 1000 / args.spawns)
            figures["children_cpu_ms"].append(
                (after.children_user - before.children_user + after.children_system
                 - before.children_system) * 1000 / args.spawns)
        loads.append(Path("/proc/loadavg").read_text().split()[0])
    summary = {"spawns": args.spawns, "rounds": args.rounds, "parent_rss_kib": rss_kib(),
               "load_average": loads,
               "median": {name: {key: round(statistics.median(values), 3)
                                 for key, values in figures.items()}
                          for name, figures in results.items()},
               "all": results}
    print(f"parent resident {summary['parent_rss_kib'] // 1024} MiB, load average "
          f"{' '.join(loads)}; per spawn, medians of {args.rounds} rounds of {args.spawns}:")
    for name, figures in summary["median"].items():
        print(f"  {name:11s} wall {figures['wall_ms']:6.2f} ms   parent CPU "
              f"{figures['parent_cpu_ms']:5.2f} ms   children CPU "
              f"{figures['children_cpu_ms']:5.2f} ms")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
