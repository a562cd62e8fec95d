"""One collection per mailbox at a time, across processes and hosts.

On PostgreSQL and MariaDB the lock lives in the database (an advisory lock, ``GET_LOCK``), so
two hosts sharing it never collect one mailbox at once; on SQLite (one host) it is a
non-blocking ``flock`` on a file named after the mailbox, as it always was. A second collection
of the same mailbox (two schedulers, a click on "collect now" during a scheduled run, a queue
job delivered twice) sees it is busy and skips instead of fetching the same messages twice. The
database's unique constraint on (mailbox, server id) remains the last guard.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from medshake_bridge.dblocks import LockBusy, named_lock


class MailboxBusy(Exception):
    """Another process is collecting this mailbox right now."""


@contextmanager
def mailbox_lock(lock_dir: Path, mailbox_key: str) -> Iterator[None]:
    digest = hashlib.sha256(mailbox_key.encode("utf-8")).hexdigest()[:32]
    with ExitStack() as held:
        try:
            held.enter_context(named_lock(f"mailbox:{mailbox_key}", folder=lock_dir,
                                          file_name=f"mailbox-{digest}.lock"))
        except LockBusy:
            raise MailboxBusy(mailbox_key) from None
        yield
