"""What parsing a collected message costs: the floor's stdlib step against the bridge's walk.

``floor_benchmark.py`` adds Python's ``email`` parser (``BytesParser`` with the default
policy, every part decoded) to its floor and calls the result the least a parsing bridge can
cost. The bridge does not use that parser: it walks each stored file with its own streaming
reader (``collect/mimestream.py``: compat32 header blocks, bodies decoded in runs of lines),
so whether that step is a floor for the bridge is a measurement, made here in one process on
the suite's own messages (every third with a 100 KB attachment), without network or
database:

* ``stdlib``: the floor's step exactly (``parsebytes`` of the message in memory, subject and
  sender read, every leaf decoded);
* ``stdlib compat32``: the same parser with the compat32 policy (the legacy API);
* ``walk``: the bridge's ``walk_file`` with sinks that drop the bytes (the MIME walk alone);
* ``parse_message_file``: the walk with the bridge's routing (attachments written to files
  in a work folder, the top headers decoded);
* ``process_stored_message``: the whole per-message processing without the database (the
  pass-through back-end, text decoding, HPRIM parse, attachments moved into their folder).

Each variant runs ``--rounds`` times over the same files, alternating; medians of CPU
milliseconds per message (``time.process_time``) are printed with the load average.

Run: ``PYTHONPATH=$PWD:$PWD/plugins /work/venv/bin/python benchmarks/parse_cost.py
--messages 600 --rounds 5``
"""

from __future__ import annotations

import argparse
import email.parser
import email.policy
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

from collect_benchmark import build_templates, variant  # noqa: E402

from medshake_bridge.collect.mime import parse_message_file  # noqa: E402
from medshake_bridge.collect.mimestream import walk_file  # noqa: E402
from medshake_bridge.collect.process import process_stored_message  # noqa: E402
from medshake_bridge.workfolders import held_work_dir, reusing_work_dirs  # noqa: E402


class _Drop:
    def write(self, data: bytes) -> int:
        return len(data)


class _PassThrough:
    """The benchmark's pass-through back-end (as ``collect_benchmark.PASSTHROUGH_PLUGIN``)."""

    def decrypt_body(self, armour: bytes) -> bytes:
        return armour

    def decrypt_attachment(self, path: Path, dest_dir: Path) -> list[Path]:
        target = Path(dest_dir) / Path(path).name.removesuffix(".apz")
        shutil.copyfile(path, target)
        return [target]


def _stdlib(policy: email.policy.Policy) -> Callable[[Path, bytes], None]:
    parser = email.parser.BytesParser(policy=policy)

    def run(path: Path, raw: bytes) -> None:  # the floor's FLOOR_SCRIPT "parse" step
        message = parser.parsebytes(raw)
        str(message["subject"] or ""), str(message["from"] or "")
        for part in message.walk():
            if part.is_multipart():
                continue
            data = part.get_payload(decode=True) or b""
            if part.get_content_type() == "text/plain":
                data.decode("latin-1")
    return run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="msb-parse-"))
    try:
        plain, attached, _ = build_templates(work / "templates")
        files = []
        for index in range(args.messages):
            path = work / f"{index}.eml"
            raw = variant(attached if index % 3 == 0 else plain, index)
            path.write_bytes(raw)
            files.append((path, raw))
        scratch_root = work / "scratch"
        scratch_root.mkdir()
        messages = work / "messages"
        messages.mkdir()

        def walk(path: Path, raw: bytes) -> None:
            with open(path, "rb") as handle:
                walk_file(handle, lambda leaf: _Drop())

        def routed(path: Path, raw: bytes) -> None:
            parsed = parse_message_file(path, scratch_root / "parts")
            for item in parsed.attachments:
                item.path.unlink()

        backend = _PassThrough()

        def processed(path: Path, raw: bytes) -> None:
            with held_work_dir(scratch_root, "collect-") as scratch, reusing_work_dirs():
                result = process_stored_message(path, messages / path.stem, scratch, backend)
            if result.folder is not None:
                shutil.rmtree(result.folder)

        variants: dict[str, Callable[[Path, bytes], None]] = {
            "stdlib (floor: BytesParser, policy.default)": _stdlib(email.policy.default),
            "stdlib compat32": _stdlib(email.policy.compat32),
            "bridge walk_file (sinks drop)": walk,
            "bridge parse_message_file": routed,
            "bridge process_stored_message": processed,
        }
        times: dict[str, list[float]] = {name: [] for name in variants}
        loads = []
        for index in range(args.rounds):
            loads.append(os.getloadavg()[0])
            names = list(variants)
            order = names[index % len(names):] + names[:index % len(names)]
            for name in order:
                run = variants[name]
                started = time.process_time()
                for path, raw in files:
                    run(path, raw)
                times[name].append((time.process_time() - started) * 1000 / len(files))
        summary = {name: {"ms_per_message_median": statistics.median(runs), "runs": runs}
                   for name, runs in times.items()}
        summary["load_average_1min"] = loads
        for name, runs in times.items():
            print(f"{name:48} {statistics.median(runs):6.3f} ms/message  "
                  f"(runs {', '.join(f'{value:.3f}' for value in runs)})")
        print(f"load average (1 min) at each round: {loads}")
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(summary, indent=1) + "\n")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
