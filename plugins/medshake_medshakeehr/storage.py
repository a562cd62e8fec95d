"""MedShakeEHR's storage layout: ``<stockageLocation>/<A>/<B>/<objetID>.<ext>``.

``A`` is the first two digits of the id (``<digit>0`` below 10) and ``B`` is ``id // 1000``
(``msStockage::getFolder``). The extension is the ``docType`` child's value.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

_EXTENSIONS = {"application/pdf": "pdf", "text/plain": "txt", "image/jpeg": "jpg"}
_SAFE_EXT = re.compile(r"^[a-z0-9]{1,10}$")
DIR_MODE = 0o2775
FILE_MODE = 0o664


def folder_for(objet_id: int) -> str:
    """``msStockage::getFolder``: 7 → ``70/0``, 123 → ``12/0``, 123456 → ``12/123``."""
    digits = str(int(objet_id))
    head = digits[:2] if len(digits) >= 2 else digits + "0"
    return f"{head}/{int(objet_id) // 1000}"


def path_for(storage: Path, objet_id: int, ext: str) -> Path:
    return storage / folder_for(objet_id) / f"{objet_id}.{ext}"


def extension_for(name: str, media_type: str) -> str:
    """The ``docType`` MedShakeEHR would record: by media type, else the file's extension."""
    known = _EXTENSIONS.get((media_type or "").split(";")[0].strip().lower())
    if known:
        return known
    ext = Path(name).suffix.lstrip(".").lower()
    return ext if _SAFE_EXT.match(ext) else "bin"


def write_file(target: Path, data: bytes) -> None:
    """Write ``data`` at ``target``, folders created group-writable so MedShakeEHR's web
    server can read and delete them too. The name comes from an id this transaction just
    allocated, so a file already there is an orphan of an attempt that crashed before its
    commit: it is replaced (a symbolic link there is refused)."""
    target.parent.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, FILE_MODE)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
