"""PHP's built-in server (``php -S``) as a real upstream for the proxy and one-origin tests."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path

from support.components import require_component
from support.net import LOOPBACK, free_ports, wait_for_ports


@contextlib.contextmanager
def php_server(script: Path, *, env: Mapping[str, str] | None = None,
               packages: str = "php-cli") -> Iterator[str]:
    """Serve ``script`` (a router: every request goes through it) on a free loopback port;
    yields its base URL and stops the server on the way out. ``packages`` are named in the
    reason when PHP is missing."""
    require_component("php", shutil.which("php") is not None,
                      f"no php; install it with `apt-get install -y {packages}`")
    (port,) = free_ports(1)
    process = subprocess.Popen(["php", "-S", f"{LOOPBACK}:{port}", str(script)],
                               env=dict(env) if env is not None else None,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    try:
        wait_for_ports(LOOPBACK, [port], timeout=30, process=process)
        yield f"http://{LOOPBACK}:{port}"
    finally:
        process.kill()
        process.wait(timeout=30)
