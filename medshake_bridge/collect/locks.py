"""One collection per mailbox at a time, across processes on this host.

A non-blocking ``flock`` on a file named after the mailbox: a second collection of the same
mailbox (two schedulers, a click on "collect now" during a scheduled run) sees it is busy and
skips instead of fetching the same messages twice. The database's unique constraint on
(mailbox, server id) remains the last guard.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from medshake_bridge.paths import PRIVATE_FILE_MODE, ensure_private_dir


class MailboxBusy(Exception):
    """Another process is collecting this mailbox right now."""


@contextmanager
def mailbox_lock(lock_dir: Path, mailbox_key: str) -> Iterator[Path]:
    ensure_private_dir(lock_dir)
    digest = hashlib.sha256(mailbox_key.encode("utf-8")).hexdigest()[:32]
    path = lock_dir / f"mailbox-{digest}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, PRIVATE_FILE_MODE)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise MailboxBusy(mailbox_key) from None
        try:
            yield path
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
