"""System calls cut from each collected message (issue 18): each cut keeps its guarantee.

The collection stopped asking the file system what it already knew (a folder's parents before
``mkdir``, a file's size after writing it, whether a fresh name is a folder), stopped opening
the raw file it had just written to read its headers, and stopped checking each message's
file twice when one listing of the raw folder says it. These tests pin what must still hold.
"""

from __future__ import annotations

import email.message
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from medshake_bridge.collect.headerblock import HEADER_READ_LIMIT, block_of, parse_block
from medshake_bridge.collect.mime import parse_message_file
from medshake_bridge.collect.process import process_stored_message
from medshake_bridge.collect.rawstore import (
    HEAD_BYTES,
    FdWriter,
    RawMessageFile,
    hash_file,
    remove_partials,
)
from medshake_bridge.paths import ensure_private_dir


def _read_headers(path: Path, head: bytes = b"", whole: bool = False) -> email.message.Message:
    """The stored message's header block as the pipeline cuts it, parsed by the stdlib."""
    return parse_block(block_of(path, head, whole))


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def tight_umask() -> Iterator[None]:
    """A umask that takes the owner's write bit away from new folders (0500)."""
    old = os.umask(0o277)
    try:
        yield
    finally:
        os.umask(old)


def test_a_new_folder_and_its_new_parents_are_0700_whatever_the_umask(tmp_path: Path,
                                                                     tight_umask: None) -> None:
    """``mkdir`` comes first now; the mode is still checked after it (the umask made these
    folders 0500) and missing parents are made private too."""
    folder = ensure_private_dir(tmp_path / "a" / "b" / "c")
    for path in (tmp_path / "a", tmp_path / "a" / "b", folder):
        assert _mode(path) == 0o700, path


def test_an_existing_folder_is_made_0700_and_an_existing_file_is_refused(tmp_path: Path) -> None:
    wide = tmp_path / "wide"
    wide.mkdir(mode=0o755)
    wide.chmod(0o755)
    assert ensure_private_dir(wide) == wide and _mode(wide) == 0o700
    (tmp_path / "file").write_bytes(b"x")
    with pytest.raises(FileExistsError):
        ensure_private_dir(tmp_path / "file")
    with pytest.raises(OSError):  # a file where a parent should be
        ensure_private_dir(tmp_path / "file" / "below")


def _message(header_filler: int, body: bytes = b"body\r\n") -> bytes:
    filler = b"".join(b"X-Filler: " + b"f" * 980 + b"\r\n" for _ in range(header_filler))
    return (b"From: a@test\r\n" + filler + b"Message-ID: <late@test>\r\n\r\n"
            + b"Message-ID: <body@test>\r\n" + body)


@pytest.mark.parametrize("fillers", [0, 10, 70, 300])
@pytest.mark.parametrize("chunk", [7, 4096, 3 * 1024 * 1024])
def test_headers_read_from_the_kept_head_are_those_read_from_the_file(
        tmp_path: Path, fillers: int, chunk: int) -> None:
    """The writer keeps the first 64 KiB; headers read from there (or, when the header block
    goes past them, from the file) are exactly what reading the file gives: 70 fillers put
    the Message-ID past the kept head, 300 past the 256 KiB header limit."""
    data = _message(fillers, b"y" * 200_000)
    raw = RawMessageFile(tmp_path, "m.eml")
    for start in range(0, len(data), chunk):
        raw.writer.write(data[start:start + chunk])
    final, sha256, size = raw.keep()
    assert final.read_bytes() == data and (sha256, size) == hash_file(final)
    assert raw.writer.head == data[:HEAD_BYTES] and not raw.writer.whole_head
    kept = _read_headers(final, raw.writer.head, raw.writer.whole_head)
    from_file = _read_headers(final)
    assert kept.items() == from_file.items()
    if fillers <= 70:
        assert kept["Message-ID"] == "<late@test>"
    else:
        assert len(_message(fillers)) > HEADER_READ_LIMIT and kept["Message-ID"] is None


def test_a_header_block_that_ends_in_the_head_does_not_open_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "never-written.eml"
    headers = _read_headers(missing, _message(2), False)
    assert isinstance(headers, email.message.Message)
    assert headers["Message-ID"] == "<late@test>"
    whole = b"From: a@test\r\nMessage-ID: <only@test>\r\n"  # no blank line, no body
    assert _read_headers(missing, whole, True)["Message-ID"] == "<only@test>"
    with pytest.raises(FileNotFoundError):  # a cut head without the block's end: the file
        _read_headers(missing, whole, False)


def test_a_raw_file_is_private_and_written_whole_through_its_buffer(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        raw = RawMessageFile(tmp_path / "raw", "m.eml")
    finally:
        os.umask(old)
    data = os.urandom(FdWriter.BLOCK * 2 + 12345)
    raw.writer.write(data[:10])
    raw.writer.write(data[10:FdWriter.BLOCK + 10])  # crosses a block
    raw.writer.write(memoryview(data)[FdWriter.BLOCK + 10:])
    final, _, size = raw.keep()
    assert final.read_bytes() == data and size == len(data)
    assert _mode(final) == 0o600 and _mode(tmp_path / "raw") == 0o700
    assert not list((tmp_path / "raw").glob(".*"))  # no partial copy left


def test_a_discarded_raw_file_leaves_nothing(tmp_path: Path) -> None:
    raw = RawMessageFile(tmp_path, "m.eml")
    raw.writer.write(b"From: a\r\n")
    raw.discard()
    raw.discard()  # twice is harmless
    assert list(tmp_path.iterdir()) == []


def test_the_partials_listing_names_the_complete_files_only(tmp_path: Path) -> None:
    """The pipeline adopts a message whose file this listing names, instead of fetching it:
    a partial copy, a hidden file or a folder must never be taken for one."""
    (tmp_path / "done.eml").write_bytes(b"complete")
    (tmp_path / ".done2.eml.42.part").write_bytes(b"half")
    (tmp_path / ".hidden.eml").write_bytes(b"x")
    (tmp_path / "folder.eml").mkdir()
    complete: set[str] = set()
    assert remove_partials(tmp_path, complete) == 1
    assert complete == {"done.eml"}
    assert remove_partials(tmp_path / "missing", complete) == 0


class CopyThrough:
    """A back-end like a real program: writes its output with the process's umask (0644)."""

    def decrypt_body(self, armour: bytes) -> bytes:
        return armour

    def decrypt_attachment(self, path: Path, dest_dir: Path) -> list[Path]:
        target = Path(dest_dir) / "dechiffre.pdf"
        shutil.copyfile(path, target)
        os.chmod(target, 0o644)
        return [target]


def _mail_with_attachments() -> bytes:
    message = email.message.EmailMessage()
    message["From"], message["To"], message["Subject"] = "a@test", "b@test", "pj"
    message["Message-ID"] = "<pj@test>"
    message.set_content("NOM : DUPONT\r\n")
    message.add_attachment(b"%PDF clear " * 5000, maintype="application", subtype="pdf",
                           filename="clair.pdf")
    message.add_attachment(b"APZ" * 30000, maintype="application",
                           subtype="octet-stream", filename="chiffre.apz")
    return message.as_bytes()


def test_attachment_parts_are_counted_as_written(tmp_path: Path) -> None:
    """Part sizes come from the bytes written (no stat): they are the files' sizes."""
    raw = tmp_path / "m.eml"
    raw.write_bytes(_mail_with_attachments())
    parsed = parse_message_file(raw, tmp_path / "parts")
    assert [item.size for item in parsed.attachments] == [55000, 90000]
    assert [item.path.stat().st_size for item in parsed.attachments] == [55000, 90000]
    assert all(_mode(item.path) == 0o600 for item in parsed.attachments)


def _work_roots(tmp_path: Path) -> list[Path]:
    """A work folder on the inbox's file system, and one on another (tmpfs) when there is
    one: attachments are renamed into place, copied only across file systems."""
    same = tmp_path / "work"
    same.mkdir(mode=0o700)
    roots = [same]
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK) and shm.stat().st_dev != tmp_path.stat().st_dev:
        roots.append(Path(tempfile.mkdtemp(dir=shm)))
    return roots


def test_attachments_are_private_with_their_real_sizes_on_one_or_two_file_systems(
        tmp_path: Path) -> None:
    raw = tmp_path / "m.eml"
    raw.write_bytes(_mail_with_attachments())
    roots = _work_roots(tmp_path)
    try:
        for index, root in enumerate(roots):
            folder = tmp_path / "messages" / str(index)
            folder.parent.mkdir(mode=0o700, exist_ok=True)
            processed = process_stored_message(raw, folder, root, CopyThrough())
            assert [item["name"] for item in processed.attachments] == [
                "clair.pdf", "dechiffre.pdf"]
            assert [item["size"] for item in processed.attachments] == [55000, 90000]
            for item in processed.attachments:
                stored = Path(item["file"])
                assert stored.parent == folder and stored.stat().st_size == item["size"]
                assert _mode(stored) == 0o600
            assert _mode(folder) == 0o700
            assert not folder.with_name(folder.name + ".staging").exists()
            assert list(root.iterdir()) == []  # the work folder is removed with its files
    finally:
        for root in roots[1:]:
            shutil.rmtree(root, ignore_errors=True)


def test_a_scratch_folder_swapped_for_a_link_is_never_walked_through(tmp_path: Path) -> None:
    """Emptying a message's folder looks at it once (``lstat``) and trusts the listing for
    what is below: a link put in its place is removed, what it points at is left alone."""
    from medshake_bridge.workfolders import held_work_dir

    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("not the bridge's")
    (outside / "sub").mkdir()
    (outside / "sub" / "keep2.txt").write_text("nor this")
    root = tmp_path / "C"
    root.mkdir(mode=0o700)
    with held_work_dir(root, "collect-") as scratch:
        with scratch.fresh() as first:
            ensure_private_dir(first / "parts")
            (first / "parts" / "p").write_bytes(b"clear")
            (first / "parts" / "link").symlink_to(outside)
        assert not (first / "parts" / "link").exists() and (outside / "keep.txt").exists()
        with scratch.fresh() as second:
            assert second == first
            shutil.rmtree(second)
            second.symlink_to(outside)
        assert not second.is_symlink() and not second.exists()
        assert sorted(p.name for p in outside.rglob("*")) == ["keep.txt", "keep2.txt", "sub"]


def test_a_partial_file_names_the_process_writing_it_after_a_fork_too(tmp_path: Path) -> None:
    """The process id in a partial file's name is asked once per process: a forked child
    (the collection forks its processing processes) names its own."""
    raw = RawMessageFile(tmp_path, "parent.eml")
    assert raw.tmp.name == f".parent.eml.{os.getpid()}.part"
    raw.discard()
    reading, writing = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child's exit status carries the result
        os.close(reading)
        partial = RawMessageFile(tmp_path, "child.eml")
        os.write(writing, partial.tmp.name.encode())
        partial.discard()
        os._exit(0)
    os.close(writing)
    name = os.read(reading, 1000).decode()
    os.close(reading)
    _, status = os.waitpid(child, 0)
    assert status == 0 and name == f".child.eml.{child}.part"
