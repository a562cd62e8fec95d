"""Where a collected message's milliseconds go: ``cProfile`` of one bridge collection.

Seeds one dovecot mailbox (plain POP3, loopback; every third message with a 100 KB attachment)
and collects it in this process under ``cProfile`` with the chosen back-end, then prints the
functions by cumulative time, per message.

Run: ``.venv/bin/python benchmarks/profile_collect.py --messages 500 --backend copy``
(``passthrough``, ``copy`` for copy-through stand-ins, ``sandbox`` for the v1 programs).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from suite import Bench  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=500)
    parser.add_argument("--backend", choices=("passthrough", "copy", "sandbox"),
                        default="copy")
    parser.add_argument("--top", type=int, default=35)
    parser.add_argument("--latency-ms", type=float, default=0,
                        help="collect through the latency proxy (ms added each way)")
    parser.add_argument("--protocol", choices=("pop3", "imap"), default="pop3")
    parser.add_argument("--sequential", action="store_true",
                        help="process in the reading thread (cProfile sees only that one)")
    parser.add_argument("--process-workers", type=int, default=None,
                        help="processing threads (MEDSHAKE_BRIDGE_PROCESS_WORKERS; default: "
                             "one per core)")
    parser.add_argument("--cpu", action="store_true",
                        help="time functions in CPU seconds (time.process_time), not wall")
    parser.add_argument("--no-cprofile", action="store_true",
                        help="time only (to sample the run from outside: py-spy record)")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "profile.txt")
    parser.add_argument("--stats", type=Path,
                        help="also write the raw profile there (pstats: callers, callees)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="msb-profile-"))
    work.chmod(0o755)
    bench = Bench(work, args.messages)
    try:
        user = bench.users[0]
        port = None
        if args.latency_ms:
            target = bench.dovecot.pop3 if args.protocol == "pop3" else bench.dovecot.imap
            port = bench.proxy(target, args.latency_ms / 1000)
        spec = bench.instance(args.backend, [user], port=port, protocol=args.protocol)
        bench.seed(user, args.messages)
        sys.path.insert(0, str(bench.plugin_dir))
        from medshake_bridge import bridge_state, create_app
        from medshake_bridge.collect import pipeline
        from medshake_bridge.collect.pipeline import collect_all

        if args.sequential:  # no processing thread: every message processed after fetching
            pipeline.threads_share_the_database = lambda: False

        # CPU seconds of each thread (time.thread_time at its end): the processing threads and
        # the reader share one interpreter lock, so their CPU says where the process's goes
        thread_cpu: dict[str, float] = {}
        thread_run = threading.Thread.run

        def timed_run(thread: threading.Thread) -> None:
            try:
                thread_run(thread)
            finally:
                name = thread.name.rstrip("0123456789-") or thread.name
                thread_cpu[name] = thread_cpu.get(name, 0.0) + time.thread_time()

        threading.Thread.run = timed_run  # type: ignore[method-assign]
        config = dict(spec["config"])
        if args.process_workers:
            config["MEDSHAKE_BRIDGE_PROCESS_WORKERS"] = args.process_workers
        app = create_app({"INSTANCE_PATH": spec["instance"], **config})
        with app.app_context():
            bridge_state().settings.values_for_user(1)
            profile = (cProfile.Profile(time.process_time) if args.cpu
                       else cProfile.Profile())
            started = time.perf_counter()
            main_cpu, process_cpu = time.thread_time(), time.process_time()
            if not args.no_cprofile:
                profile.enable()
            report = collect_all(bridge_state(), workers=1)
            profile.disable()
            elapsed = time.perf_counter() - started
            thread_cpu["reader (main thread)"] = time.thread_time() - main_cpu
            thread_cpu["whole collection (every thread)"] = time.process_time() - process_cpu
        stream = io.StringIO()
        if not args.no_cprofile:  # an empty profile cannot make a Stats
            stats = pstats.Stats(profile, stream=stream)
            if args.stats:
                stats.dump_stats(args.stats)
            stats.sort_stats("cumulative").print_stats(args.top)
            stats.sort_stats("tottime").print_stats(args.top)
        summary = {"backend": args.backend, "sequential": args.sequential,
                   "cpu_timer": args.cpu, "messages": args.messages, "seconds": elapsed,
                   "latency_ms": args.latency_ms, "protocol": args.protocol,
                   "ms_per_message": elapsed * 1000 / args.messages,
                   "fetched": report.total("fetched"), "documents": report.total("documents"),
                   "thread_cpu_s": thread_cpu, "process_workers": args.process_workers,
                   "load_average": Path("/proc/loadavg").read_text().split()[:3]}
        text = json.dumps(summary) + "\n" + stream.getvalue()
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
        print(text)
    finally:
        bench.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
