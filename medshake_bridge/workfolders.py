"""The configured working folders, where clear text exists for a moment.

Three rules (issue #17, items 12 and 13):

* **Never change the permissions of an existing folder.** An admin may point a setting at a
  folder shared with other programs; making it 0700 once broke a host whose setting named the
  system temporary folder. A folder the bridge creates gets mode 0700 when it creates it; the
  system information page reports a configured folder others can read.
* **Refuse a world-writable folder** (``/tmp``, mode 1777): another account could plant or swap
  files there between two steps. The error names the setting and the fix.
* **Clear text never outlives its process.** Every piece of work happens in its own subfolder
  (:func:`private_work_dir`) that holds an exclusive lock while in use and is removed on the way
  out. After a crash (``kill -9``) the kernel drops the lock, and :func:`remove_leftovers`
  (called when a collection starts and by the hourly clean-up) removes every unlocked
  subfolder at once, whatever its age.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import stat
import tempfile
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from pathlib import Path

from medshake_bridge.errors import ConfigurationError

logger = logging.getLogger(__name__)

IN_USE = ".in-use"
PREFIXES = ("collect-", "upload-", "send-", "apicrypt-", "call-", "work-")


def prepare_work_folder(path: str | os.PathLike[str], *, setting: str) -> Path:
    """``path`` ready for clear-text work: created 0700 when missing; an existing folder is
    checked, never chmod'ed."""
    folder = Path(path)
    if not folder.exists():
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        folder.chmod(0o700)  # whatever the umask: the bridge created it
        return folder
    info = folder.stat()
    if not stat.S_ISDIR(info.st_mode):
        raise ConfigurationError(f"{setting} names {folder}, which is not a folder",
                                 fix=f"set {setting} to a folder of the bridge's own")
    if info.st_mode & stat.S_IWOTH:
        raise ConfigurationError(
            f"{setting} names {folder}, which every account may write into "
            f"(mode {stat.S_IMODE(info.st_mode):04o}); clear text would be exposed there",
            fix=f"create a folder of the bridge's own (mkdir -m 700 /var/lib/medshake-bridge/"
                f"work) and set {setting} to it; the bridge never changes the permissions of a "
                "folder it did not create")
    return folder


@contextmanager
def private_work_dir(root: str | os.PathLike[str], prefix: str = "work-") -> Iterator[Path]:
    """A fresh 0700 subfolder of ``root``, locked while in use, removed on the way out."""
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir=root))
    # Locked under a temporary name, then renamed: a visible lock file is always held by a
    # live process or by nobody (a crash), never "not locked yet".
    handle = open(folder / f"{IN_USE}.new", "w")  # noqa: SIM115 - held for the whole block
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        os.replace(folder / f"{IN_USE}.new", folder / IN_USE)
        yield folder
    finally:
        try:
            shutil.rmtree(folder)
        except OSError as exc:
            shutil.rmtree(folder, ignore_errors=True)
            logger.warning("could not remove the work folder %s completely: %s", folder, exc)
        handle.close()


def remove_leftovers(root: str | os.PathLike[str]) -> int:
    """Remove the work subfolders of ``root`` that no running process holds; returns how many.

    Only subfolders named like the bridge's (:data:`PREFIXES`) with a lock file are considered;
    anything else in the folder is left alone."""
    folder = Path(root)
    if not folder.is_dir():
        return 0
    removed = 0
    for entry in folder.iterdir():
        if not entry.name.startswith(PREFIXES) or entry.is_symlink() or not entry.is_dir():
            continue
        lock = entry / IN_USE
        if not lock.is_file():
            continue
        try:
            with open(lock) as handle:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                shutil.rmtree(entry, ignore_errors=True)
        except BlockingIOError:
            continue  # a running process is using it
        except OSError as exc:
            logger.warning("could not remove the leftover work folder %s: %s", entry, exc)
            continue
        removed += 1
    return removed


class ScratchFolders:
    """Fresh folders for a run of messages inside one held :func:`private_work_dir`.

    Creating a locked work folder costs a ``mkdtemp``, a lock file, an ``flock`` and a rename,
    and removing it a walk of the folder: a third of the time a collection spent processing a
    small message (issue 18, ``py-spy`` of a pass-through run). A run of messages holds one
    locked folder and gives each message a plain subfolder, emptied of its files as soon as
    the message is done; after a crash the whole held folder is a leftover like any other.

    The subfolders themselves are kept, empty, for the next message: removing a folder took
    about 2 ms of waiting on the development machine's disk (ext4 mounted with ``discard``),
    three folders per message with an attachment, while removing a file took 0.05 ms (issue
    18, third pass). Files never outlive their message; the empty folders go with the held
    folder at the end of the run.
    """

    def __init__(self, held: Path) -> None:
        self.held = held
        self._count = 0
        self._reusable: Path | None = None

    @contextmanager
    def fresh(self) -> Iterator[Path]:
        """A subfolder of the held folder (0700) with no file in it, emptied on the way out.

        It is created by its first user (``ensure_private_dir`` of a folder inside it): most
        messages have no attachment and never need one, and the held folder is private
        already. Folders a previous message made in it may be there, empty."""
        folder = self._reusable
        if folder is None:
            self._count += 1
            folder = self.held / f"m{self._count}"
        self._reusable = None
        try:
            yield folder
        finally:
            try:
                info: os.stat_result | None = os.lstat(folder)
            except FileNotFoundError:
                info = None
            if info is None:
                self._reusable = folder  # never made: the next message may have it
            else:
                try:
                    if not stat.S_ISDIR(info.st_mode):
                        raise OSError(f"{folder} is not a plain folder")
                    _remove_files(folder)
                    self._reusable = folder
                except OSError as exc:
                    if folder.is_symlink():
                        folder.unlink(missing_ok=True)
                    shutil.rmtree(folder, ignore_errors=True)
                    if os.path.lexists(folder):
                        logger.warning("could not remove the work folder %s completely: %s",
                                       folder, exc)


def _remove_files(folder: Path | str) -> None:
    """Remove every file (and symbolic link) under ``folder``, keep its folders; links are
    never followed. Raises OSError when something could not be removed.

    The caller has seen ``folder`` is a folder (``lstat``); subfolders are known from the
    listing's entry types (``d_type``, no ``stat``). An empty folder costs its listing only:
    checking each folder again with ``is_symlink`` and ``is_dir`` was 6 of the 22 system
    calls that emptying a message's three reused folders took (issue 18, system calls).
    """
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                _remove_files(entry.path)
            else:
                os.unlink(entry.path)


@contextmanager
def held_work_dir(root: str | os.PathLike[str], prefix: str = "work-"
                  ) -> Iterator[ScratchFolders]:
    """:func:`private_work_dir` held for a run of work, handing out :class:`ScratchFolders`."""
    with private_work_dir(root, prefix) as held:
        yield ScratchFolders(held)


def scratch_folder(work: str | os.PathLike[str] | ScratchFolders, prefix: str = "work-"
                   ) -> AbstractContextManager[Path]:
    """A fresh private folder: from ``work``'s held folder when it is one, else a new
    :func:`private_work_dir` in the folder ``work``."""
    if isinstance(work, ScratchFolders):
        return work.fresh()
    return private_work_dir(work, prefix)


class _HeldFolder:
    """A :func:`private_work_dir` held for the rest of a :func:`reusing_work_dirs` block."""

    def __init__(self, root: str | os.PathLike[str], prefix: str) -> None:
        self._stack = ExitStack()
        self.path = self._stack.enter_context(private_work_dir(root, prefix))
        self.busy = False

    def release(self) -> None:
        self._stack.close()


_THREAD_FOLDERS = threading.local()


def _empty(folder: Path) -> bool:
    """Remove everything in ``folder`` but its lock file; False when something stayed."""
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.name == IN_USE:
                    continue
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path)
                else:
                    os.unlink(entry.path)
    except OSError as exc:
        logger.warning("could not empty the work folder %s: %s", folder, exc)
        return False
    return True


@contextmanager
def reusing_work_dirs() -> Iterator[None]:
    """Within this block, :func:`reused_work_dir` hands this thread the same folder again.

    The collection's processing workers run their messages inside one such block each; the
    folders are removed at its end (a nested block leaves them to the outer one)."""
    if getattr(_THREAD_FOLDERS, "held", None) is not None:
        yield
        return
    held: dict[tuple[str, str], _HeldFolder] = {}
    _THREAD_FOLDERS.held = held
    try:
        yield
    finally:
        _THREAD_FOLDERS.held = None
        for folder in held.values():
            folder.release()


@contextmanager
def reused_work_dir(root: str | os.PathLike[str], prefix: str = "work-") -> Iterator[Path]:
    """A private, empty 0700 folder of ``root`` for one piece of work, emptied on the way out.

    Inside a run of work (the host's collection workers), each thread keeps one
    :func:`private_work_dir` per ``(root, prefix)`` and hands it out again: creating and
    removing a locked folder (a ``mkdtemp``, a lock file, an ``flock``, a rename, then a walk
    of the folder) cost about as much as the run of a program, and the v1 back-end made two
    for every run (issue 18). What stays true: the folder is private and locked while in use,
    nothing of one piece of work is left for the next (it is emptied as soon as the work ends,
    failure included; a folder that cannot be emptied is dropped, never handed out again), it
    is removed when the run of work ends, and after a crash the unlocked folder is removed by
    :func:`remove_leftovers` like any other. Outside a run of work (a send from a page), and
    when nested in one thread, this is :func:`private_work_dir`.
    """
    held_by_thread: dict[tuple[str, str], _HeldFolder] | None = getattr(
        _THREAD_FOLDERS, "held", None)
    key = (os.fspath(root), prefix)
    held = held_by_thread.get(key) if held_by_thread is not None else None
    if held_by_thread is None or (held is not None and held.busy):
        with private_work_dir(root, prefix) as fresh:
            yield fresh
        return
    if held is not None and not held.path.is_dir():  # removed under us: start again
        del held_by_thread[key]
        held.release()
        held = None
    if held is None:
        held = held_by_thread[key] = _HeldFolder(root, prefix)
    held.busy = True
    try:
        yield held.path
    finally:
        held.busy = False
        if not _empty(held.path):
            del held_by_thread[key]
            held.release()
