"""Loopback networking helpers: free ports, waiting for a port, a connection-cutting proxy."""

from __future__ import annotations

import contextlib
import select
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Callable

LOOPBACK = "127.0.0.1"


def free_ports(count: int, host: str = LOOPBACK) -> list[int]:
    """``count`` distinct ports that were free a moment ago (the caller must still retry
    when a bind fails: another process may take one in between)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((host, 0))
            sockets.append(sock)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for sock in sockets:
            sock.close()


def port_accepts(host: str, port: int, timeout: float = 0.2) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_for_ports(
    host: str,
    ports: list[int],
    *,
    timeout: float = 10.0,
    process: subprocess.Popen[bytes] | None = None,
    describe: Callable[[], str] = lambda: "",
) -> None:
    """Wait until every port accepts a connection; raise if ``process`` exits first."""
    deadline = time.monotonic() + timeout
    waiting = list(ports)
    while waiting:
        if process is not None and process.poll() is not None:
            raise RuntimeError(
                f"process exited with status {process.returncode} before listening on "
                f"{host}:{waiting}. {describe()}"
            )
        if port_accepts(host, waiting[0]):
            waiting.pop(0)
            continue
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"nothing listens on {host}:{waiting} after {timeout}s. {describe()}"
            )
        time.sleep(0.02)


class DropProxy:
    """A TCP proxy on 127.0.0.1 in front of ``upstream`` that breaks connections on purpose.

    On each connection, once the client has sent ``trigger`` (case-insensitive, e.g.
    ``b"RETR "``; with ``trigger=None``, from the start of the connection), at most
    ``cut_after`` bytes coming from the server are passed on, then the connection is broken:

    * ``mode="close"``: both sides are closed (the client reads an early end of stream);
    * ``mode="reset"``: the client side is reset (``ConnectionResetError``);
    * ``mode="stall"``: nothing more is passed on but the connection stays open (the client
      waits until its own timeout).

    Only the first ``cuts`` connections that reach the point are broken (``None``: all), so a
    retry after a failure goes through. The proxy works at TCP level: in front of a TLS port,
    keep ``trigger=None`` (commands are encrypted) and count bytes from the start.
    """

    MODES = ("close", "reset", "stall")

    def __init__(
        self,
        upstream: tuple[str, int],
        *,
        cut_after: int,
        trigger: bytes | None = None,
        mode: str = "close",
        cuts: int | None = 1,
    ) -> None:
        if mode not in self.MODES:
            raise ValueError(f"mode must be one of {self.MODES}, not {mode!r}")
        if cut_after < 0:
            raise ValueError("cut_after must be >= 0")
        self.upstream = upstream
        self.cut_after = cut_after
        self.trigger = trigger.lower() if trigger else None
        self.mode = mode
        self._cuts_left = cuts
        self.cuts_done = 0
        self.connections = 0
        self.cut_event = threading.Event()
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._open_sockets: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((LOOPBACK, 0))
        self._listener.listen(16)
        self.ip = LOOPBACK
        self.host = "localhost"  # the name to use through TLS (certificate for localhost)
        self.port: int = self._listener.getsockname()[1]
        self._accept_thread = threading.Thread(
            target=self._accept_loop, name=f"drop-proxy-{self.port}", daemon=True
        )
        self._accept_thread.start()

    # --- public -----------------------------------------------------------------------------

    def close(self) -> None:
        self._closed.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            sockets = list(self._open_sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.close()
        for thread in [self._accept_thread, *self._threads]:
            thread.join(timeout=2)

    def __enter__(self) -> DropProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- internals --------------------------------------------------------------------------

    def _accept_loop(self) -> None:
        while not self._closed.is_set():
            try:
                # a blocked accept() is not woken by close(): poll, so close() is quick
                readable, _, _ = select.select([self._listener], [], [], 0.1)
                if not readable:
                    continue
                client, _ = self._listener.accept()
            except (OSError, ValueError):
                return
            with self._lock:
                self.connections += 1
                self._open_sockets.add(client)
            thread = threading.Thread(target=self._relay, args=(client,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _claim_cut(self) -> bool:
        with self._lock:
            if self._cuts_left is not None:
                if self._cuts_left <= 0:
                    return False
                self._cuts_left -= 1
            self.cuts_done += 1
            return True

    def _forget(self, *sockets: socket.socket) -> None:
        with self._lock:
            for sock in sockets:
                self._open_sockets.discard(sock)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.close()

    def _relay(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.upstream, timeout=5)
        except OSError:
            self._forget(client)
            return
        with self._lock:
            self._open_sockets.add(upstream)
        try:
            self._pump(client, upstream)
        except OSError:
            pass
        finally:
            self._forget(client, upstream)

    def _pump(self, client: socket.socket, upstream: socket.socket) -> None:
        triggered = self.trigger is None
        tail = b""
        counted = 0
        passthrough = False
        stalled = False
        while not self._closed.is_set():
            readable, _, _ = select.select([client, upstream], [], [], 0.2)
            for sock in readable:
                data = sock.recv(65536)
                if not data:
                    return
                if sock is client:
                    if not triggered and self.trigger is not None:
                        window = tail + data.lower()
                        if self.trigger in window:
                            triggered = True
                        tail = window[-(len(self.trigger) - 1) :] if len(self.trigger) > 1 else b""
                    upstream.sendall(data)
                    continue
                # data from the server
                if stalled:
                    continue
                if not triggered or passthrough:
                    client.sendall(data)
                    continue
                remaining = self.cut_after - counted
                if len(data) < remaining:
                    client.sendall(data)
                    counted += len(data)
                    continue
                if not self._claim_cut():
                    passthrough = True
                    client.sendall(data)
                    continue
                if remaining > 0:
                    client.sendall(data[:remaining])
                self.cut_event.set()
                if self.mode == "stall":
                    stalled = True
                    continue
                if self.mode == "reset":
                    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                else:
                    client.shutdown(socket.SHUT_WR)  # a clean end of stream first
                return
