"""One call of the v1 back-end with a copy-through stand-in, as a collection makes it.

``decrypt_body`` of :mod:`medshake_apicrypt_v1.backend` with the benchmarks' copy-through
stand-in as ``apiuncrypt`` (``suite.STANDIN``), from a process that has built the bridge's
app, inside a run of work as a collection's processing thread has it
(``reusing_work_dirs`` where the code has it). What one program run costs the bridge beyond
the program itself: the back-end's work folders, the runner's checks, the spawn, the wait.
Prints the median wall time and CPU (this process, and the children) per call.

To compare two checkouts, run it with each first on ``PYTHONPATH``:
``PYTHONPATH=/tmp/main-export:/tmp/main-export/plugins .venv/bin/python
benchmarks/v1_call_benchmark.py --calls 300 --rounds 3``.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    from medshake_apicrypt_v1.backend import build_backend
    from suite import STANDIN

    import medshake_bridge
    from medshake_bridge import create_app
    from medshake_bridge.runner import Runner

    try:
        from medshake_bridge.workfolders import reusing_work_dirs
    except ImportError:  # a checkout from before the third pass
        reusing_work_dirs = contextlib.nullcontext  # type: ignore[assignment]

    work = Path(tempfile.mkdtemp(prefix="msb-v1call-"))
    create_app({"INSTANCE_PATH": str(work / "instance")})
    bin_dir = work / "bin"
    bin_dir.mkdir()
    standin = bin_dir / "apiuncrypt"
    standin.write_text(STANDIN.replace("{name}", "apiuncrypt"))
    standin.chmod(0o755)
    (work / "keys" / "Clefs").mkdir(parents=True)
    backend = build_backend({
        "apicryptCheminVersBinaires": str(bin_dir), "apicryptCheminVersClefs": str(work / "keys"),
        "apicryptUtilisateur": "bob.DURAND", "apicryptCheminFichierNC": str(work / "NC"),
        "apicryptCheminFichierC": str(work / "C")},
        Runner(timeout=60, max_file_bytes=200 * 1024 * 1024))
    armour = b"-----BEGIN APICRYPT-----\n" + b"x" * 2000 + b"\n"
    logging.disable(logging.CRITICAL)
    wall, parent, children = [], [], []
    with reusing_work_dirs():
        backend.decrypt_body(armour)
        for _ in range(args.rounds):
            before, started = os.times(), time.perf_counter()
            for _ in range(args.calls):
                backend.decrypt_body(armour)
            elapsed, after = time.perf_counter() - started, os.times()
            wall.append(elapsed * 1000 / args.calls)
            parent.append((after.user - before.user + after.system - before.system)
                          * 1000 / args.calls)
            children.append((after.children_user - before.children_user
                             + after.children_system - before.children_system)
                            * 1000 / args.calls)
    print(f"{Path(medshake_bridge.__file__).parent.parent}: per call, medians of "
          f"{args.rounds} x {args.calls} (load {os.getloadavg()[0]:.1f}): wall "
          f"{statistics.median(wall):.2f} ms, parent CPU {statistics.median(parent):.2f} ms, "
          f"children CPU {statistics.median(children):.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
