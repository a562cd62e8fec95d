"""Private folders and files: created with owner-only permissions, never world-readable.

Clinical files (received mail, attachments, working copies) and key material must not be
readable by other local accounts, whatever the process umask is.
"""

from __future__ import annotations

import os
from pathlib import Path

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def ensure_private_dir(path: str | Path) -> Path:
    """Create ``path`` (and parents, 0700 too) if needed and make sure it is 0700."""
    folder = Path(path)
    if not folder.parent.exists():
        ensure_private_dir(folder.parent)
    folder.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    if folder.stat().st_mode & 0o777 != PRIVATE_DIR_MODE:
        folder.chmod(PRIVATE_DIR_MODE)
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
