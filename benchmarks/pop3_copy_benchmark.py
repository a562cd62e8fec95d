"""CPU of the POP3 collector's multi-line copy (``copy_multiline``) over a real socket.

300 messages of about 105 KB (76-character lines, one dot-stuffed line each) are written into
one end of a socket pair by a thread and copied from the other end through the buffered reader
poplib uses. Give the source tree(s) to compare; each is measured in its own process:
``.venv/bin/python benchmarks/pop3_copy_benchmark.py TREE [TREE ...]``
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time

COUNT = 300
LINE = b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0\r\n"
MESSAGE = LINE * 1350 + b"..dotted line\r\n" + b".\r\n"


class _Null:
    def write(self, data: bytes) -> int:
        return len(data)


def measure(tree: str) -> None:
    sys.path.insert(0, tree + "/plugins")
    from medshake_pop3.collector import copy_multiline

    sender, receiver = socket.socketpair()

    def feed() -> None:
        for _ in range(COUNT):
            sender.sendall(MESSAGE)
        sender.close()

    threading.Thread(target=feed, daemon=True).start()
    source = receiver.makefile("rb")
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(COUNT):
        copy_multiline(source, _Null())
    print(f"{tree}: CPU {time.process_time() - cpu:.3f} s, wall {time.perf_counter() - wall:.3f} s"
          f" for {COUNT * len(MESSAGE) / 1e6:.1f} MB (CPU includes the feeding thread)")


def main() -> int:
    if len(sys.argv) > 2 and sys.argv[1] == "--one":
        measure(sys.argv[2])
        return 0
    for tree in sys.argv[1:] or ["."]:
        subprocess.run([sys.executable, __file__, "--one", tree], check=True, timeout=300)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
