"""Large attachments through the sandbox v1 programs: streamed, with memory that does not grow.

The programs run as real processes (as the bridge runs them); their peak resident memory is
read from the kernel (``ru_maxrss`` of a child that did nothing else). The end-to-end test
sends an 8 MB attachment through the whole production path: v1 programs, the FAKE relay,
the Maildir, the collection and the inbox. The 50 MB run and its timings are in
``benchmarks/`` (``benchmarks/run --only big``), not here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from mailworld import BOB

from medshake_bridge.sandbox import SandboxNetwork, create_network, reencrypt

ALICE = "alice.MARTIN"
MB = 1024 * 1024

_MEASURE = (
    "import resource, subprocess, sys\n"
    "done = subprocess.run(sys.argv[1:], capture_output=True)\n"
    "sys.stderr.buffer.write(done.stderr)\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    "sys.exit(done.returncode)\n"
)


def peak_kb(*command: str | Path) -> int:
    """Run ``command`` in a fresh parent and return its peak resident memory in KiB."""
    done = subprocess.run(  # noqa: S603 - fixed argument list
        [sys.executable, "-c", _MEASURE, *map(str, command)],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert done.returncode == 0, done.stderr
    return int(done.stdout.strip())


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> SandboxNetwork:
    return create_network(tmp_path_factory.mktemp("large") / "sandbox", [ALICE, BOB])


def _send_and_open(net: SandboxNetwork, folder: Path, size: int) -> tuple[int, int, bytes]:
    """Encrypt a file of ``size`` bytes with apicryptpj, relay it, decrypt it with
    apiuncryptpj; return both programs' peak memory (KiB) and the file that came out."""
    folder.mkdir()
    source = folder / "scanner.dcm"
    with source.open("wb") as handle:
        for _ in range(0, size, MB):
            handle.write(os.urandom(min(MB, size)))
    sealed = folder / "scanner.apz"
    encrypt_kb = peak_kb(net.bin_dir / "apicryptpj", "-s", source, "-o", sealed, "-u", ALICE,
                         "-k", net.keys_dir(ALICE), "-d", BOB)
    relayed = folder / "for-bob.apz"
    relayed.write_bytes(reencrypt(net.network_dir, sealed.read_bytes())[BOB])
    out = folder / "out"
    decrypt_kb = peak_kb(net.bin_dir / "apiuncryptpj", "-s", relayed, "-o", out,
                         "-k", net.keys_dir(BOB))
    assert [p.name for p in out.iterdir()] == ["scanner.dcm"]  # no temporary file left
    assert (out / "scanner.dcm").read_bytes() == source.read_bytes()
    return encrypt_kb, decrypt_kb, (out / "scanner.dcm").read_bytes()[:16]


@pytest.mark.slow
def test_program_memory_does_not_grow_with_the_attachment(
    net: SandboxNetwork, tmp_path: Path
) -> None:
    medium = _send_and_open(net, tmp_path / "medium", 8 * MB)
    large = _send_and_open(net, tmp_path / "large", 32 * MB)
    # Streamed: 24 MB more input costs each program far less than the file itself (a program
    # that held the file, its base64 and its armour in memory grew by about ten times it),
    # and each stays under twice the file's size, interpreter included.
    for before, after in zip(medium[:2], large[:2], strict=True):
        assert after - before < 4 * 1024, (medium, large)
        assert after < 2 * 32 * 1024, large


def test_a_streamed_armour_is_the_same_text_as_a_one_step_one(
    net: SandboxNetwork, tmp_path: Path
) -> None:
    from io import BytesIO

    from medshake_bridge.sandbox.armour import ArmourReader, ArmourWriter, parse, seal
    from medshake_bridge.sandbox.keys import load_key

    key = load_key(net.keys_dir(ALICE), ALICE, int(
        next((net.keys_dir(ALICE) / "Clefs").glob(f"{ALICE}.*")).suffix[1:]))
    data = os.urandom(3 * MB + 17)
    out = BytesIO()
    writer = ArmourWriter(out, "apz", sender=ALICE, recipients=[BOB], key=key)
    for start in range(0, len(data), 100_000):
        writer.write(data[start : start + 100_000])
    writer.close()
    streamed = out.getvalue()
    header, ciphertext = parse(streamed)
    assert header == writer.header
    assert b"".join(ArmourReader(BytesIO(streamed)).plaintext(key)) == data
    one_step = seal("apz", data, sender=ALICE, recipients=[BOB], key=key)
    assert len(one_step) == len(streamed)
    body = streamed.split(b"\n\n", 1)[1].splitlines()[:-1]
    assert {len(line) for line in body[:-1]} == {76} and 0 < len(body[-1]) <= 76


@pytest.mark.slow
def test_an_8_mb_attachment_crosses_send_relay_collect_inbox(send_world) -> None:
    sw = send_world
    payload = os.urandom(8 * MB)
    files = sw.attachments(("IRM cérébrale.dcm", payload))
    outcome = sw.send(sw.draft(attachments=files))
    assert outcome.record.state == "sent", outcome.record
    report = sw.world.collect(user_id=sw.world.bob)
    assert report.ok, report
    (message,) = sw.world.messages()
    received = {item["name"]: Path(item["file"]).read_bytes()
                for item in json.loads(message.attachments_json)}
    assert received == {"IRM cérébrale.dcm": payload}
    assert sw.work_files() == []


def _sender_message(net: SandboxNetwork, work: Path, *, attachments: int, preamble: bool,
                    crlf: bool = True) -> bytes:
    import email.policy
    from email.message import EmailMessage

    from mailbuild import sender_backend

    backend = sender_backend(net, work / ALICE, ALICE)
    message = EmailMessage(policy=email.policy.SMTP if crlf else email.policy.default)
    message["From"], message["To"] = f"{ALICE}@x.org", f"{BOB}@x.org"
    message["Subject"] = "Résultats"
    message.set_content(backend.encrypt_body("Bonjour, Hélène.", [BOB]).armour.decode("ascii"))
    for number in range(attachments):
        source = work / f"compte rendu {number}.pdf"
        source.write_bytes(os.urandom(5000 + number))
        apz = backend.encrypt_attachment(source, [BOB], work / "apz")
        message.add_attachment(apz.read_bytes(), maintype="application",
                               subtype="octet-stream", filename=f"{source.name}.apz")
    if preamble and attachments:
        message.preamble = "This is a multi-part message in MIME format."
    return message.as_bytes()


@pytest.mark.parametrize(("attachments", "preamble", "crlf"),
                         [(0, False, True), (1, True, True), (2, False, False)])
def test_the_relay_copies_by_slicing_like_the_email_package(
    net: SandboxNetwork, tmp_path: Path, attachments: int, preamble: bool, crlf: bool
) -> None:
    import email
    import email.policy

    from medshake_bridge.sandbox.armour import open_armour
    from medshake_bridge.sandbox.relay import _copies_by_email, _copies_by_slicing

    raw = _sender_message(net, tmp_path, attachments=attachments, preamble=preamble,
                          crlf=crlf)
    sliced = _copies_by_slicing(raw, net.network_dir, [BOB])
    assert sliced is not None  # the messages the bridge sends take the fast way
    (recipient, fast), = list(sliced)
    (_, slow), = list(_copies_by_email(raw, net.network_dir, [BOB]))
    assert recipient == BOB and b"\r\n" not in fast  # a Maildir file: LF line ends

    def opened(copy: bytes) -> list[tuple[str | None, str, bytes]]:
        message = email.message_from_bytes(copy, policy=email.policy.default)
        assert message["X-Sandbox-Relay"] and message["Subject"] == "Résultats"
        found = []
        for part in message.walk():
            if part.is_multipart():
                continue
            kind = "apz" if part.is_attachment() else "body"
            clear = open_armour(part.get_payload(decode=True), net.keys_dir(BOB), kind=kind)[1]
            found.append((part.get_filename(), part.get_content_type(), clear))
        return found

    assert opened(fast) == opened(slow)
    assert len(opened(fast)) == 1 + attachments


def test_the_relay_falls_back_to_the_email_package_for_nested_parts(
    net: SandboxNetwork, tmp_path: Path
) -> None:
    from email.mime.multipart import MIMEMultipart

    from medshake_bridge.sandbox.relay import _copies_by_slicing

    outer = MIMEMultipart("mixed")
    outer.attach(MIMEMultipart("alternative"))
    assert _copies_by_slicing(outer.as_bytes(), net.network_dir, [BOB]) is None
