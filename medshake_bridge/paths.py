"""Private folders and files: created with owner-only permissions, never world-readable.

Clinical files (received mail, attachments, working copies) and key material must not be
readable by other local accounts, whatever the process umask is.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from pathlib import Path

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def ensure_private_dir(path: str | Path) -> Path:
    """Create ``path`` (and parents, 0700 too) if needed and make sure it is 0700.

    ``mkdir`` is tried first and the parents are looked at only when it says one is missing:
    checking the parent before every ``mkdir`` cost a ``stat`` per call, and the collection
    calls this several times per message with an attachment (issue 18, system calls). The
    mode is checked after ``mkdir`` whatever happened: the umask may have taken bits away
    from a new folder, and an existing one may be wider.
    """
    folder = Path(path)
    try:
        os.mkdir(folder, PRIVATE_DIR_MODE)
    except FileNotFoundError:
        if folder.parent == folder:
            raise
        ensure_private_dir(folder.parent)
        with contextlib.suppress(FileExistsError):  # made meanwhile: checked below
            os.mkdir(folder, PRIVATE_DIR_MODE)
    except FileExistsError:
        pass
    info = os.stat(folder)
    if not stat.S_ISDIR(info.st_mode):
        raise FileExistsError(errno.EEXIST, "exists and is not a folder", str(folder))
    if info.st_mode & 0o777 != PRIVATE_DIR_MODE:
        os.chmod(folder, PRIVATE_DIR_MODE)
    return folder


def write_private_file(path: str | Path, data: bytes) -> Path:
    """Write ``data`` atomically (temporary name, then rename) with mode 0600."""
    target = Path(path)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target
