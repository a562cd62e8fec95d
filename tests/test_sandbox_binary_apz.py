"""The sandbox ``.apz`` is binary (armour Version 2); the text form (Version 1) is still read.

Issue 18: a ``.apz`` in base64 armour, base64-encoded again by the mail, made a 50 MB
attachment a 92 MB message and cost every step one more encoding or decoding. ``apicryptpj``
now writes the armour's header (labelled FAKE, authenticated) followed by the raw ciphertext
and its tag; the relay re-encrypts each copy in the form it was given; ``apiuncryptpj`` reads
both. The programs run as real processes, as the bridge runs them.
"""

from __future__ import annotations

import io
import os
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mailworld import BOB

from medshake_bridge.sandbox import SandboxNetwork, armour, create_network, reencrypt
from medshake_bridge.sandbox.keys import current_year, load_key, to_yy
from medshake_bridge.sandbox.relay_crypto import reencrypt_file

ALICE = "alice.MARTIN"
TAMPERED = 6  # exit status of a tampered or unreadable armour (sandbox/errors.py)


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> SandboxNetwork:
    return create_network(tmp_path_factory.mktemp("binapz") / "sandbox", [ALICE, BOB])


def _run(net: SandboxNetwork, program: str, *args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 - fixed argument list
        [str(net.bin_dir / program), *map(str, args)],
        capture_output=True, text=True, timeout=120, check=False,
    )


def _seal_file(net: SandboxNetwork, folder: Path, content: bytes) -> Path:
    source = folder / "scanner.dcm"
    source.write_bytes(content)
    sealed = folder / "scanner.apz"
    done = _run(net, "apicryptpj", "-s", source, "-o", sealed, "-u", ALICE,
                "-k", net.keys_dir(ALICE), "-d", BOB)
    assert done.returncode == 0, done.stderr
    return sealed


def _open_file(net: SandboxNetwork, apz: Path, out: Path) -> subprocess.CompletedProcess:
    return _run(net, "apiuncryptpj", "-s", apz, "-o", f"{out}/", "-k", net.keys_dir(BOB))


# 1 KB is sealed in one step in memory, 5 MB streamed block by block (programs.SMALL_INPUT)
@pytest.mark.parametrize("size", [1000, 5 * 1024 * 1024 + 3])
def test_apicryptpj_writes_a_binary_apz_that_goes_through_relay_and_apiuncryptpj(
    net: SandboxNetwork, tmp_path: Path, size: int
) -> None:
    content = os.urandom(size)
    sealed = _seal_file(net, tmp_path, content)
    raw = sealed.read_bytes()
    assert raw.startswith(armour.BEGIN.encode() + b"\n")  # labelled FAKE on line one
    head, _, payload = raw.partition(b"\n\n")
    assert b"\nVersion: 2\n" in head + b"\n"
    # the container (format line, entry line, content, end line) encrypted, plus the tag:
    # no base64 inside, so not 4/3 of the file as the text form was
    assert size < len(payload) < size + 200
    relayed = tmp_path / "for-bob.apz"
    copy = reencrypt(net.network_dir, raw)[BOB]
    assert b"\nVersion: 2\n" in copy.partition(b"\n\n")[0] + b"\n"  # kept binary
    relayed.write_bytes(copy)
    done = _open_file(net, relayed, tmp_path / "out")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out" / "scanner.dcm").read_bytes() == content


def test_a_text_apz_of_earlier_versions_is_still_opened(net: SandboxNetwork,
                                                        tmp_path: Path) -> None:
    from medshake_bridge.sandbox import apz

    key = load_key(net.keys_dir(ALICE), ALICE, to_yy(current_year()))
    text = armour.seal("apz", apz.pack([("cr.pdf", b"%PDF-1.4 compte rendu")]), sender=ALICE,
                       recipients=[BOB], key=key)
    assert b"\nVersion: 1\n" in text and text.rstrip().endswith(armour.END.encode())
    copy = reencrypt(net.network_dir, text)[BOB]
    assert copy.rstrip().endswith(armour.END.encode())  # re-encrypted as text, as it came
    relayed = tmp_path / "old.apz"
    relayed.write_bytes(copy)
    done = _open_file(net, relayed, tmp_path / "out")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out" / "cr.pdf").read_bytes() == b"%PDF-1.4 compte rendu"


@pytest.mark.parametrize("damage", ["version 2 to 1", "cut the tag", "one more byte",
                                    "flip a ciphertext byte"])
def test_a_damaged_binary_apz_is_refused_and_nothing_is_written(
    net: SandboxNetwork, tmp_path: Path, damage: str
) -> None:
    sealed = _seal_file(net, tmp_path, os.urandom(3000))
    raw = reencrypt(net.network_dir, sealed.read_bytes())[BOB]
    head, sep, payload = raw.partition(b"\n\n")
    if damage == "version 2 to 1":  # the version is authenticated: no passing one as the other
        raw = head.replace(b"Version: 2", b"Version: 1") + sep + payload
    elif damage == "cut the tag":
        raw = raw[:-1]
    elif damage == "one more byte":
        raw += b"\n"
    else:
        raw = head + sep + bytes([payload[0] ^ 1]) + payload[1:]
    relayed = tmp_path / "damaged.apz"
    relayed.write_bytes(raw)
    out = tmp_path / "out"
    done = _open_file(net, relayed, out)
    assert done.returncode == TAMPERED, done.stderr
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("binary", [True, False])
def test_the_streamed_relay_keeps_the_form_it_was_given(net: SandboxNetwork, tmp_path: Path,
                                                        binary: bool) -> None:
    key = load_key(net.keys_dir(ALICE), ALICE, to_yy(current_year()))
    clear = os.urandom(armour.BLOCK_SIZE * 2 + 123)
    source = tmp_path / "in.apz"
    with source.open("wb") as out:
        writer = armour.ArmourWriter(out, "apz", sender=ALICE, recipients=[BOB], key=key,
                                     binary=binary)
        for at in range(0, len(clear), 100_000):
            writer.write(clear[at:at + 100_000])
        writer.close()
    assert armour.ArmourReader(io.BytesIO(source.read_bytes())).header.binary is binary
    copies = reencrypt_file(net.network_dir, source, lambda who: tmp_path / f"for-{who}")
    header, opened = armour.open_armour(copies[BOB].read_bytes(), net.keys_dir(BOB), kind="apz")
    assert header.binary is binary
    assert opened == clear


@settings(max_examples=40, deadline=None)
@given(size=st.integers(0, 3000), read_size=st.integers(1, 64))
def test_reading_a_binary_armour_in_any_blocks_gives_the_content(
    net: SandboxNetwork, size: int, read_size: int
) -> None:
    """The 16-byte tag is held back across reads of any size (a short last block included)."""
    key = load_key(net.keys_dir(BOB), BOB, to_yy(current_year()))
    clear = os.urandom(size)
    sealed = armour.seal("apz", clear, sender=ALICE, recipients=[BOB], key=key, binary=True)
    original = armour._READ_SIZE
    armour._READ_SIZE = read_size
    try:
        reader = armour.ArmourReader(io.BytesIO(sealed))
        assert b"".join(reader.plaintext(key)) == clear
    finally:
        armour._READ_SIZE = original



@pytest.mark.parametrize("damage", ["flip a byte inside the file", "cut the tag"])
def test_a_large_damaged_apz_leaves_no_file_even_half_written(
    net: SandboxNetwork, tmp_path: Path, damage: str
) -> None:
    """Above armour.SMALL_ARMOUR the container is unpacked while it is decrypted: the file is
    written under a hidden name and removed when the tag at the end does not match."""
    size = armour.SMALL_ARMOUR + 2 * 1024 * 1024
    sealed = _seal_file(net, tmp_path, os.urandom(size))
    raw = bytearray(reencrypt(net.network_dir, sealed.read_bytes())[BOB])
    if damage == "cut the tag":
        del raw[-1]
    else:  # the container's lines stay readable: the file is being written when it fails
        raw[len(raw) // 2] ^= 1
    relayed = tmp_path / "damaged.apz"
    relayed.write_bytes(bytes(raw))
    out = tmp_path / "out"
    out.mkdir()
    (out / "already there.txt").write_text("kept")
    done = _open_file(net, relayed, out)
    assert done.returncode == TAMPERED, done.stderr
    assert sorted(path.name for path in out.iterdir()) == ["already there.txt"]


def test_a_large_apz_opens_beside_a_file_of_the_same_name(net: SandboxNetwork,
                                                          tmp_path: Path) -> None:
    content = os.urandom(armour.SMALL_ARMOUR + 1024 * 1024)
    sealed = _seal_file(net, tmp_path, content)
    relayed = tmp_path / "for-bob.apz"
    relayed.write_bytes(reencrypt(net.network_dir, sealed.read_bytes())[BOB])
    out = tmp_path / "out"
    out.mkdir()
    (out / "scanner.dcm").write_bytes(b"older")
    done = _open_file(net, relayed, out)
    assert done.returncode == 0, done.stderr
    assert sorted(path.name for path in out.iterdir()) == ["scanner (2).dcm", "scanner.dcm"]
    assert (out / "scanner.dcm").read_bytes() == b"older"
    assert (out / "scanner (2).dcm").read_bytes() == content
