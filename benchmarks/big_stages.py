"""CPU seconds of each step of the big-attachment path, side by side for several trees.

``suite.py --only big`` times the whole path (send -> relay -> Maildir -> collect) with real
processes, an SMTP session and dovecot-less Maildir collection; on a shared 2-core machine its
wall-clock time mostly says how loaded the machine was. This benchmark runs the same code of
each step alone, on files, and reports the **CPU seconds** of each (the process's own for the
steps run in process, the child's for the sandbox programs), for each tree given, alternating
the trees round after round (issue 18, big-attachment target). Steps:

* ``apicryptpj``: the sender's program on the attachment (a real process);
* ``mime``: the bridge writes the message file (``send.mime.write_message``);
* ``smtp data``: the message as SMTP DATA sends it (``send.smtp.stuffed_chunks``, no socket);
* ``relay``: the relay's re-encryption and the recipient's copy written
  (``sandbox.relay_stream.spooled_copies`` and its writer) from the spooled message;
* ``mime walk``: the collection's streaming MIME walk of that copy, the ``.apz`` written;
* ``apiuncryptpj``: the recipient's program on it (a real process).

Run: ``python benchmarks/big_stages.py --tree /path/to/old --tree . --mb 50 --rounds 3``
(each tree's code is run in a fresh interpreter with ``PYTHONPATH`` set to the tree).
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

STEP_SCRIPT = r'''
import json, os, resource, shutil, subprocess, sys, time
from pathlib import Path
work = Path(sys.argv[1]); mb = int(sys.argv[2])
from medshake_bridge.sandbox import create_network
from medshake_bridge.send.mime import write_message
from medshake_bridge.send.smtp import stuffed_chunks
from medshake_bridge.sandbox.relay_stream import spooled_copies
from medshake_bridge.collect.mimestream import walk_file
ALICE, BOB = "alice.MARTIN", "bob.DURAND"
net = create_network(work / "sandbox", [ALICE, BOB])
source = work / "IRM.dcm"
with source.open("wb") as handle:
    for _ in range(mb):
        handle.write(os.urandom(1 << 20))
body = work / "body.txt"
body.write_text("Chère consœur, ci-joint.\n")
cpu = {}

def child_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime

def program(name, *args):
    before = child_cpu()
    subprocess.run([str(net.bin_dir / name), *map(str, args)], check=True, timeout=600)
    cpu[name] = child_cpu() - before

def step(name, run):
    before = time.process_time()
    result = run()
    cpu[name] = time.process_time() - before
    return result

program("apicrypt", "-s", body, "-o", work / "body.armour", "-u", ALICE,
        "-k", net.keys_dir(ALICE), "-d", BOB)
apz = work / "IRM.dcm.apz"
program("apicryptpj", "-s", source, "-o", apz, "-u", ALICE, "-k", net.keys_dir(ALICE), "-d", BOB)
message = work / "message.eml"
def mime():
    with message.open("wb") as out:
        write_message(out, sender=f"{ALICE}@medical69.apicrypt.org",
                      recipients=[f"{BOB}@medical69.apicrypt.org"], subject="Imagerie",
                      armour=(work / "body.armour").read_bytes(), attachments=[apz],
                      message_id="<bench@medical69.apicrypt.org>")
step("mime", mime)
def data():
    size = 0
    with message.open("rb") as handle:
        for chunk in stuffed_chunks(handle):
            size += len(chunk)
    return size
step("smtp data", data)
copy = work / "copy.eml"
relay_work = work / "relay"
relay_work.mkdir()
def relay():
    write = spooled_copies(message, net.network_dir, [BOB], relay_work)
    with copy.open("wb") as out:
        write(BOB, out)
    write.close()
step("relay", relay)
parts = work / "parts"
parts.mkdir()
def walk():
    opened = []
    def choose(leaf):
        handle = (parts / f"part-{len(opened)}").open("wb")
        opened.append(handle)
        return handle
    with copy.open("rb") as handle:
        walk_file(handle, choose)
    for handle in opened:
        handle.close()
    return opened
step("mime walk", walk)
received = max(parts.iterdir(), key=lambda path: path.stat().st_size)
out = work / "out"
program("apiuncryptpj", "-s", received, "-o", f"{out}/", "-k", net.keys_dir(BOB))
assert (out / "IRM.dcm").read_bytes() == source.read_bytes(), "the file did not come back"
import medshake_bridge
print(json.dumps({"code": os.path.dirname(medshake_bridge.__file__), "cpu_s": cpu,
                  "message_bytes": message.stat().st_size,
                  "delivered_bytes": copy.stat().st_size, "apz_bytes": apz.stat().st_size}))
'''


def run_tree(tree: Path, mb: int) -> dict:
    work = Path(tempfile.mkdtemp(prefix="msb-stages-"))
    try:
        env = {**os.environ, "PYTHONPATH": f"{tree}:{tree / 'plugins'}"}
        done = subprocess.run([sys.executable, "-c", STEP_SCRIPT, str(work), str(mb)],
                              capture_output=True, text=True, env=env, timeout=1800, cwd=work,
                              check=False)
        if done.returncode != 0:
            raise RuntimeError(done.stderr[-3000:])
        result = json.loads(done.stdout.strip().splitlines()[-1])
        result["load_average"] = [round(value, 2) for value in os.getloadavg()]
        return result
    finally:
        import shutil

        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", action="append", type=Path, required=True,
                        help="a source tree (repeat: they are alternated)")
    parser.add_argument("--mb", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    runs: dict[str, list[dict]] = {str(tree): [] for tree in args.tree}
    for index in range(args.rounds):
        trees = args.tree[index % len(args.tree):] + args.tree[:index % len(args.tree)]
        for tree in trees:
            result = run_tree(tree.resolve(), args.mb)
            runs[str(tree)].append(result)
            print(f"round {index + 1} {tree}: {json.dumps(result)}", flush=True)
    summary = {}
    for tree, results in runs.items():
        steps = results[0]["cpu_s"].keys()
        medians = {step: statistics.median(r["cpu_s"][step] for r in results) for step in steps}
        medians["total"] = statistics.median(sum(r["cpu_s"].values()) for r in results)
        summary[tree] = {"median_cpu_s": medians, "runs": results}
        print(tree, json.dumps({k: round(v, 3) for k, v in medians.items()}))
    if args.out:
        args.out.write_text(json.dumps({"mb": args.mb, "rounds": args.rounds,
                                        "trees": summary}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
