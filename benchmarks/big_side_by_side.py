"""The 50 MB attachment end to end (``suite.py --only big``) for several trees, alternated.

Runs this tree's ``benchmarks/suite.py --only big --rounds 1`` once per tree and round, with
``PYTHONPATH`` set to the tree measured (the bridge, its sandbox programs and relay are that
tree's; the harness is this one's), the trees taking turns and the first one changing every
round. Reports per tree the medians of: wall-clock time end to end and per process, CPU
seconds per stage (send process with its programs, relay, collect process with its programs;
and within them the programs' own and the send/collect calls' own), the load average at each
run, and writes everything to ``--out`` (issue 18, big-attachment target).

Run: ``python benchmarks/big_side_by_side.py --tree /path/to/old --tree . --rounds 3
--out benchmarks/results/big_bigfile.json``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _figures(big: dict) -> dict:
    programs = {entry["program"]: entry for entry in big["programs"]}
    cpu = big["cpu_s"]
    return {
        "end_to_end_s": big["end_to_end_s"],
        "send_process_s": big["send"]["process_s"],
        "collect_process_s": big["collect"]["process_s"],
        "cpu_send_with_programs_s": cpu["send_with_programs"],
        "cpu_relay_s": cpu["relay"],
        "cpu_collect_with_programs_s": cpu["collect_with_programs"],
        "cpu_total_s": sum(cpu.values()),
        "cpu_send_call_s": big["send"].get("send_cpu_s"),
        "cpu_collect_call_s": big["collect"].get("collect_cpu_s"),
        **{f"cpu_{name}_s": entry.get("cpu_s") for name, entry in programs.items()},
        "message_bytes_delivered": big["message_bytes_delivered"],
        "send_growth_over_file": big["send"]["peak_growth_bytes"] / big["attachment_bytes"],
        "collect_growth_over_message": big["collect"]["growth_over_message"],
        "relay_peak_over_file": big["relay"]["peak_over_file"],
        "programs_peak_over_file_max": max(e["peak_over_file"] for e in big["programs"]),
    }


def run_once(tree: Path, mb: int) -> dict:
    folder = Path(tempfile.mkdtemp(prefix="msb-big-"))
    out = folder / "big.json"
    try:
        env = {**os.environ, "PYTHONPATH": f"{tree}:{tree / 'plugins'}"}
        load = [round(value, 2) for value in os.getloadavg()]
        done = subprocess.run(
            [sys.executable, str(HERE / "suite.py"), "--only", "big", "--rounds", "1",
             "--big-mb", str(mb), "--out", str(out)],
            capture_output=True, text=True, env=env, timeout=3600, check=False)
        if done.returncode != 0:
            raise RuntimeError(done.stderr[-3000:])
        big = json.loads(out.read_text())["big"]
    finally:
        out.unlink(missing_ok=True)
        folder.rmdir()
    if not str(big.get("code", "")).startswith(str(tree)):
        raise RuntimeError(f"measured {big.get('code')}, not {tree}")
    return {"load_before": load, "load_after": [round(v, 2) for v in os.getloadavg()],
            "figures": _figures(big), "big": big}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", action="append", type=Path, required=True)
    parser.add_argument("--mb", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    trees = [tree.resolve() for tree in args.tree]
    runs: dict[str, list[dict]] = {str(tree): [] for tree in trees}
    for index in range(args.rounds):
        for tree in trees[index % len(trees):] + trees[:index % len(trees)]:
            result = run_once(tree, args.mb)
            runs[str(tree)].append(result)
            print(f"round {index + 1} {tree}: load {result['load_before']} "
                  f"{json.dumps(result['figures'])}", flush=True)
    summary = {}
    for tree, results in runs.items():
        keys = results[0]["figures"].keys()
        medians = {key: statistics.median(r["figures"][key] for r in results)
                   for key in keys if all(r["figures"][key] is not None for r in results)}
        summary[tree] = {"median": medians, "runs": results}
        print(tree, json.dumps({key: round(value, 3) for key, value in medians.items()}))
    if args.out:
        args.out.write_text(json.dumps({
            "command": " ".join(["benchmarks/big_side_by_side.py", *(argv or sys.argv[1:])]),
            "mb": args.mb, "rounds": args.rounds, "cpus": os.cpu_count(), "trees": summary,
        }, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
