"""A TCP proxy that adds a fixed delay each way, to play a distant mail server on loopback.

Real Apicrypt servers are remote: a client that waits for each answer (raw ``poplib``) pays a
round trip per command, while pipelined or batched commands (POP3 PIPELINING, IMAP batches)
pay it once per batch. Every chunk read on one side is written on the other ``delay`` seconds
later, in order, so throughput is not throttled, only latency added.

Run alone: ``python benchmarks/latency_proxy.py --target 127.0.0.1:110 --delay 0.02``
(prints the port it listens on); or use :class:`LatencyProxy` from a benchmark.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import threading
import time


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                delay: float) -> None:
    """Copy ``reader`` to ``writer``, each chunk ``delay`` seconds after it arrived."""
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def later() -> None:
        loop = asyncio.get_running_loop()
        while True:
            due, data = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if not data:
                with contextlib.suppress(OSError):
                    writer.write_eof()
                return
            writer.write(data)
            await writer.drain()

    sender = asyncio.create_task(later())
    loop = asyncio.get_running_loop()
    try:
        while True:
            data = await reader.read(65536)
            await queue.put((loop.time() + delay, data))
            if not data:
                break
        await sender
    except (ConnectionError, OSError):
        sender.cancel()
    finally:
        with contextlib.suppress(Exception):
            writer.close()


class LatencyProxy:
    """Listens on 127.0.0.1 (a free port) and forwards to ``target`` with ``delay`` each way,
    in a background thread; :meth:`stop` ends it."""

    def __init__(self, target_host: str, target_port: int, delay: float = 0.02) -> None:
        self.target = (target_host, target_port)
        self.delay = delay
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="latency-proxy")

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        await asyncio.gather(_pipe(reader, up_writer, self.delay),
                             _pipe(up_reader, writer, self.delay), return_exceptions=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(
            asyncio.start_server(self._client, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            server.close()

    def start(self) -> LatencyProxy:
        self._thread.start()
        self._ready.wait(10)
        return self

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", required=True, help="HOST:PORT to forward to")
    parser.add_argument("--delay", type=float, default=0.02, help="seconds added each way")
    args = parser.parse_args()
    host, _, port = args.target.rpartition(":")
    proxy = LatencyProxy(host, int(port), args.delay).start()
    print(f"127.0.0.1:{proxy.port} -> {args.target}, +{args.delay * 1000:.0f} ms each way",
          flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        proxy.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
