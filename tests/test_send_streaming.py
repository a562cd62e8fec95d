"""The streamed send path and the relay's spooled DATA: byte-identical through real aiosmtpd.

The bridge writes the message to a file and sends it in chunks; the sandbox relay
(:class:`~medshake_bridge.sandbox.relay_spool.SpoolingSMTP`, a real aiosmtpd server) spools
DATA to disk and makes each recipient's copy from the file. These tests check what must stay
exact: the bytes of a large attachment, SMTP transparency (lines starting with a dot) across
chunk boundaries, the copies against the in-memory way, v2 signatures and tampering. Speed and
memory are measured in ``benchmarks/`` (``benchmarks/run --only big``), not here.
"""

from __future__ import annotations

import email
import email.policy
import io
import json
import os
import re
import smtplib
from datetime import date
from pathlib import Path

import pytest
from mailworld import BOB

from medshake_bridge.sandbox import SandboxNetwork, create_network, reencrypt
from medshake_bridge.sandbox.armour import open_armour, seal
from medshake_bridge.sandbox.errors import SandboxTamperedError
from medshake_bridge.sandbox.keys import load_key
from medshake_bridge.sandbox.relay import _Controller, _copies_by_slicing
from medshake_bridge.sandbox.relay_crypto import reencrypt_file
from medshake_bridge.sandbox.relay_stream import spooled_copies
from medshake_bridge.sandbox.v2 import SIGNED_MAGIC, make_certificate, open_v2, seal_v2
from medshake_bridge.send.mime import write_base64, write_message
from medshake_bridge.send.smtp import stuffed_chunks

ALICE = "alice.MARTIN"
CAROL = "carol.PETIT"
MB = 1024 * 1024


@pytest.mark.slow
def test_a_30_mb_attachment_arrives_byte_identical(send_world) -> None:
    sw = send_world
    sw.configure(apicryptSendMaxAttachmentMo="40")
    payload = os.urandom(30 * MB)
    files = sw.attachments(("scanner thorax.dcm", payload), ("compte rendu.pdf", b"%PDF-1.4\n"))
    outcome = sw.send(sw.draft(attachments=files))
    assert outcome.record.state == "sent", outcome.record
    (delivered,) = sw.delivered()
    assert delivered.stat().st_size > 40 * MB  # the whole message crossed the relay
    report = sw.world.collect(user_id=sw.world.bob)
    assert report.ok, report
    (message,) = sw.world.messages()
    received = {item["name"]: Path(item["file"]).read_bytes()
                for item in json.loads(message.attachments_json)}
    assert received == {"scanner thorax.dcm": payload, "compte rendu.pdf": b"%PDF-1.4\n"}
    assert sw.work_files() == []


class _Keep:
    """A handler that keeps what the spooling server handed it (the spooled file's bytes)."""

    def __init__(self) -> None:
        self.received: list[bytes] = []
        self.in_memory: list[bool] = []

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: ANN001, N802
        spool = getattr(envelope, "spool", None)
        self.in_memory.append(spool is None)
        self.received.append(Path(spool).read_bytes() if spool else envelope.original_content)
        return "250 kept"


@pytest.fixture
def spooling_server(tmp_path: Path):
    handler = _Keep()
    controller = _Controller(handler, hostname="127.0.0.1", port=0,
                             data_size_limit=8 * MB)
    controller.spool_dir = str(tmp_path)
    controller.start()
    yield controller, handler
    controller.stop()


def _send_file(port: int, message: bytes, tmp_path: Path) -> tuple[int, bytes]:
    from medshake_bridge.send.smtp import _data

    client = smtplib.SMTP("127.0.0.1", port, timeout=60)
    try:
        client.ehlo()
        client.mail("a@x.org")
        client.rcpt("b@x.org")
        return _data(client, io.BytesIO(message))
    finally:
        client.quit()


def test_dotted_lines_cross_the_wire_and_the_spool_unchanged(spooling_server,
                                                             tmp_path: Path) -> None:
    controller, handler = spooling_server
    # lines starting with dots everywhere, long enough to span the server's 1 MB reads
    lines = [b"." * (n % 5) + b"x" * (n % 97) for n in range(120_000)]
    message = b"Subject: dots\r\n\r\n" + b"\r\n".join([b".", b"..", *lines, b"."]) + b"\r\n"
    code, reply = _send_file(controller.port, message, tmp_path)
    assert code == 250 and reply == b"kept"
    assert handler.in_memory == [False] and handler.received == [message]
    assert list(tmp_path.iterdir()) == []  # the spool file is removed once answered


def test_too_much_data_is_refused_and_nothing_is_kept(spooling_server, tmp_path: Path) -> None:
    controller, handler = spooling_server
    message = b"Subject: big\r\n\r\n" + (b"y" * 998 + b"\r\n") * 9000  # 9 MB > 8 MB
    code, _ = _send_file(controller.port, message, tmp_path)
    assert code == 552 and handler.received == []
    assert list(tmp_path.iterdir()) == []


def test_stuffed_chunks_escape_like_smtplib_whatever_the_chunk_size() -> None:
    message = b".start\r\nmiddle\r\n..two\r\n.\r\nend.\r\n.last-without-line-end"
    expected = re.sub(rb"(?m)^\.", b"..", message) + b"\r\n"
    for size in (1, 2, 3, 7, 64, 1 << 20):
        assert b"".join(stuffed_chunks(io.BytesIO(message), size)) == expected, size


def test_write_base64_makes_76_character_lines_from_short_reads() -> None:
    import base64

    class Trickle(io.BytesIO):
        def read(self, size: int = -1) -> bytes:  # a pipe-like source: short reads
            return super().read(min(size, 1000) if size > 0 else 1000)

    data = os.urandom(2 * MB + 5)
    out = io.BytesIO()
    assert write_base64(Trickle(data), out) == len(data)
    lines = out.getvalue().split(b"\r\n")
    assert lines[-1] == b"" and {len(line) for line in lines[:-2]} == {76}
    assert base64.b64decode(b"".join(lines)) == data


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> SandboxNetwork:
    network = create_network(tmp_path_factory.mktemp("stream") / "sb", [ALICE, BOB, CAROL])
    make_certificate(BOB, network.keys_dir(BOB), "secret", not_after=date(date.today().year,
                                                                          12, 31))
    return network


def _key(net: SandboxNetwork, user: str):
    clefs = net.keys_dir(user) / "Clefs"
    return load_key(net.keys_dir(user), user, int(next(clefs.glob(f"{user}.*")).suffix[1:]))


def _bridge_message(net: SandboxNetwork, work: Path, attachments: list[bytes]) -> bytes:
    """What the bridge sends (written by write_message) for Alice to Bob and Carol."""
    work.mkdir(exist_ok=True)
    body = seal("body", "Bonjour, Hélène.\n".encode("latin-1"), sender=ALICE,
                recipients=[BOB, CAROL], key=_key(net, ALICE))
    files = []
    for number, data in enumerate(attachments):
        path = work / f"résultat {number}.pdf.apz"
        path.write_bytes(seal("apz", data, sender=ALICE, recipients=[BOB, CAROL],
                              key=_key(net, ALICE)))
        files.append(path)
    out = io.BytesIO()
    write_message(out, sender=f"{ALICE}@x.org", recipients=[f"{BOB}@x.org", f"{CAROL}@x.org"],
                  subject="Résultats", armour=body, attachments=files,
                  message_id="<1@x.org>")
    return out.getvalue()


def _opened(net: SandboxNetwork, copy: bytes, user: str) -> list[tuple]:
    message = email.message_from_bytes(copy, policy=email.policy.default)
    found = [tuple(message.items())]
    for part in message.walk():
        if part.is_multipart():
            continue
        kind = "apz" if part.is_attachment() else "body"
        header, clear = open_armour(part.get_payload(decode=True), net.keys_dir(user), kind=kind)
        assert header.key_owner == user
        found.append((part.get_filename(), part.get_content_type(), clear))
    return found


@pytest.mark.parametrize("attachments", [0, 1, 3])
def test_spooled_copies_equal_the_in_memory_ones(net: SandboxNetwork, tmp_path: Path,
                                                 attachments: int) -> None:
    raw = _bridge_message(net, tmp_path / "send", [os.urandom(70_000 + n)
                                                   for n in range(attachments)])
    spool = tmp_path / "spool"
    spool.write_bytes(raw)
    work = tmp_path / "work"
    work.mkdir()
    write = spooled_copies(spool, net.network_dir, [BOB, CAROL], work)
    assert write is not None  # the bridge's messages take the streamed way
    try:
        for user, in_memory in _copies_by_slicing(raw, net.network_dir, [BOB, CAROL]):
            out = io.BytesIO()
            write(user, out)
            streamed = out.getvalue()
            assert b"\r\n" not in streamed and len(streamed) == len(in_memory)
            # the same bytes but for the fresh nonces and ciphertexts of the armours
            assert _opened(net, streamed, user) == _opened(net, in_memory, user)
            assert len(_opened(net, streamed, user)) == 2 + attachments
    finally:
        write.close()


def test_streamed_reencryption_keeps_v2_signatures_and_strips_them_for_v1(
    net: SandboxNetwork, tmp_path: Path
) -> None:
    content = os.urandom(3 * MB)
    armour = tmp_path / "signed.apz"
    armour.write_bytes(seal_v2("apz", content, recipients=[BOB, CAROL], key=_key(net, ALICE)))
    copies = reencrypt_file(net.network_dir, armour, lambda user: tmp_path / f"for-{user}")
    in_memory = reencrypt(net.network_dir, armour.read_bytes())
    opened = open_v2(copies[BOB].read_bytes(), net.network_dir, BOB, kind="apz")
    assert (opened.content, opened.signature_status) == (content, "valid")
    _, clear = open_armour(copies[CAROL].read_bytes(), net.keys_dir(CAROL), kind="apz")
    assert clear == content and not clear.startswith(SIGNED_MAGIC)
    assert {user: path.stat().st_size for user, path in copies.items()} == {
        user: len(data) for user, data in in_memory.items()}


def test_a_tampered_armour_leaves_no_copy(net: SandboxNetwork, tmp_path: Path) -> None:
    sealed = bytearray(seal("apz", os.urandom(2 * MB), sender=ALICE, recipients=[BOB],
                            key=_key(net, ALICE)))
    middle = len(sealed) // 2
    sealed[middle] = ord("A") if sealed[middle] != ord("A") else ord("B")
    armour = tmp_path / "tampered.apz"
    armour.write_bytes(bytes(sealed))
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(SandboxTamperedError):
        reencrypt_file(net.network_dir, armour, lambda user: out / user)
    assert list(out.iterdir()) == []


def test_the_relay_refuses_a_spooled_message_not_encrypted_for_a_recipient(
    net: SandboxNetwork, tmp_path: Path
) -> None:
    from medshake_bridge.sandbox.errors import SandboxError

    raw = _bridge_message(net, tmp_path / "send", [b"x" * 1000])
    spool = tmp_path / "spool"
    spool.write_bytes(raw)
    with pytest.raises(SandboxError, match=ALICE):
        spooled_copies(spool, net.network_dir, [BOB, ALICE], tmp_path)


def test_the_send_path_builds_no_message_in_memory(send_world, monkeypatch) -> None:
    """The message goes out from its file: ``email``'s generator never sees the attachment."""
    import email.generator

    seen: list[int] = []
    original = email.generator.BytesGenerator.flatten

    def flatten(self, msg, *args, **kwargs):  # noqa: ANN001, ANN202
        seen.append(len(str(msg.get_payload())) if not msg.is_multipart() else 0)
        return original(self, msg, *args, **kwargs)

    monkeypatch.setattr(email.generator.BytesGenerator, "flatten", flatten)
    sw = send_world
    payload = os.urandom(MB)
    outcome = sw.send(sw.draft(attachments=sw.attachments(("irm.dcm", payload))))
    assert outcome.record.state == "sent", outcome.record
    assert seen and max(seen) < 10_000  # headers only: no payload of a megabyte
    (delivered,) = sw.delivered()
    assert delivered.stat().st_size > MB


def test_a_message_over_the_servers_size_is_refused_before_data_and_explained(
    send_world
) -> None:
    """The bridge announces the message's size (SIZE, RFC 1870): a server that takes less
    refuses it at MAIL FROM, before a byte of it is sent, and the page says why in French."""
    from medshake_bridge.send.explain import explain
    from medshake_bridge.send.service import SendFailed

    sw = send_world
    sw.relay.controller.SMTP_kwargs["data_size_limit"] = 200_000  # for the next connections
    files = sw.attachments(("irm.dcm", os.urandom(300_000)))
    with pytest.raises(SendFailed) as failed:
        sw.send(sw.draft(attachments=files))
    assert "message this large" in failed.value.message and "552" in failed.value.message
    assert sw.delivered() == []
    with sw.app.test_request_context(headers={"Accept-Language": "fr"}):
        explained = explain(failed.value.cause)
    assert explained.message.startswith("Le serveur d'envoi refuse un message de cette taille")
    assert explained.field == "attachments"


def test_a_client_gone_in_the_middle_of_data_delivers_nothing(spooling_server,
                                                              tmp_path: Path) -> None:
    import socket
    import time

    controller, handler = spooling_server
    with socket.create_connection(("127.0.0.1", controller.port), timeout=30) as raw:
        reader = raw.makefile("rb")
        reader.readline()
        for command in (b"EHLO x\r\n", b"MAIL FROM:<a@x.org>\r\n", b"RCPT TO:<b@x.org>\r\n"):
            raw.sendall(command)
            while (line := reader.readline())[3:4] == b"-":
                pass
            assert line[:1] == b"2", line
        raw.sendall(b"DATA\r\n")
        assert reader.readline().startswith(b"354")
        raw.sendall(b"Subject: cut\r\n\r\n" + b"half a message\r\n" * 1000)
        reader.close()
        raw.shutdown(socket.SHUT_RDWR)  # gone without the end line
    deadline = time.monotonic() + 30
    while list(tmp_path.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.05)  # the server notices the closed connection and removes its spool
    assert list(tmp_path.iterdir()) == [] and handler.received == []
