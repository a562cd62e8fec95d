"""SMTP ``DATA`` spooled to a file: the relay's memory does not grow with the message.

aiosmtpd's own ``DATA`` reads the message one line at a time and keeps every line as its own
``bytearray`` until the end: a 95 MB message (a 50 MB attachment, armoured then base64-encoded)
took 1.25 million awaited reads and about 1 GB of memory. :class:`SpoolingSMTP` reads the data
in blocks of up to a megabyte, removes the dot-stuffing (RFC 5321 §4.5.2) and writes it to a
private temporary file; the handler gets the file's path as ``envelope.spool`` (and
``envelope.original_content`` stays ``None``). The file is removed once the handler answered.
"""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
from pathlib import Path

from aiosmtpd.smtp import SMTP

log = logging.getLogger(__name__)

_READ = 1 << 20
_END = b"\r\n.\r\n"
_LONGEST_LINE = 4 << 20  # a line longer than this is refused (SMTP allows 1,000 bytes)


def unstuff(lines: bytes) -> bytes:
    """Whole lines of DATA (starting at the start of a line) without their transparency dots."""
    if lines.startswith(b"."):
        lines = lines[1:]
    return lines.replace(b"\r\n.", b"\r\n")


class SpoolingSMTP(SMTP):
    """aiosmtpd's ``SMTP`` with ``DATA`` written to a file in ``spool_dir`` (see module)."""

    def __init__(self, handler: object, *, spool_dir: str | os.PathLike[str] | None = None,
                 **options: object) -> None:
        super().__init__(handler, **options)  # type: ignore[arg-type]
        self.spool_dir = spool_dir

    async def _receive(self, out: object) -> str | None:
        """Read DATA up to its end line into ``out``; returns ``""``, the error reply, or
        ``None`` when the client went away before the end."""
        limit = self.data_size_limit
        size, refused = 0, ""
        pending = b"\r\n"  # DATA starts at the start of a line
        while True:
            chunk = await self._reader.read(_READ)
            if not chunk:
                return None
            pending += chunk
            end = pending.find(_END)
            if end >= 0:
                body, rest = pending[2:end + 2], pending[end + len(_END):]
                if rest:  # a client that pipelines after DATA: keep what follows
                    self._reader._buffer[:0] = rest  # noqa: SLF001 - StreamReader's buffer
            else:
                cut = pending.rfind(b"\r\n", 0, len(pending) - 2)  # keep a possible end start
                if cut <= 0:
                    if len(pending) > _LONGEST_LINE:  # drain it, keep nothing
                        refused = refused or "500 Line too long (see RFC5321 4.5.3.1.6)"
                        pending = b"\r\n" + pending[-3:].lstrip(b".")
                    continue
                body, pending = pending[2:cut + 2], pending[cut:]
            size += len(body)
            if limit and size > limit:
                refused = refused or "552 Error: Too much mail data"
            if not refused and body:
                out.write(unstuff(body))  # type: ignore[attr-defined]
            if end >= 0:
                return refused

    async def smtp_DATA(self, arg: str) -> None:  # noqa: N802 - aiosmtpd's naming
        if await self.check_helo_needed():
            return
        if await self.check_auth_needed("DATA"):
            return
        assert self.envelope is not None
        if not self.envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        if arg:
            await self.push("501 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - removed in the finally
            prefix="relay-data-", dir=self.spool_dir, delete=False)
        path = Path(handle.name)
        try:
            try:
                with handle:
                    refused = await self._receive(handle)
            except (asyncio.CancelledError, ConnectionError):
                log.info("connection lost during DATA; nothing delivered")
                self._writer.close()
                raise
            if refused is None:
                log.info("connection lost during DATA; nothing delivered")
                self._writer.close()
                return
            if refused:
                await self.push(refused)
                self._set_post_data_state()
                return
            self.envelope.spool = path  # type: ignore[attr-defined]
            self.envelope.content = self.envelope.original_content = None
            status = await self._call_handler_hook("DATA")
            self._set_post_data_state()
            await self.push("250 OK" if status is None or not isinstance(status, str)
                            else status)
        finally:
            path.unlink(missing_ok=True)
