"""The IMAP collector against a real dovecot: TLS modes, UIDVALIDITY:UID ids, chunked
byte-exact fetches, deletions (or moves) only at close, and failures as MailErrors."""

from __future__ import annotations

import base64
import dataclasses
import imaplib
import io
import os
import re
import socketserver
import threading
import tracemalloc
from collections.abc import Iterator
from email.message import EmailMessage

import medshake_imap
import pytest
from medshake_imap.collector import (
    ImapCollector,
    imap_collector,
    imap_endpoint,
    imap_utf7,
    quoted,
    uid_set,
)

from medshake_bridge.errors import (
    MailAuthenticationError,
    MailConnectionError,
    MailProtocolError,
    MailTlsError,
)
from medshake_bridge.interfaces import MailboxIdentity, MailCollector

TLS_MODES = ("none", "starttls", "tls")

DOTS = (
    b"From: labo@example.org\nSubject: dots\n\n"
    b".\n..\n.leading dot\n" + b"x" * 100_000 + b"\n.\nend\n"
)


def wire(raw: bytes) -> bytes:
    """What dovecot sends for a message seeded as ``raw`` (maildir LF -> CRLF)."""
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def make_message(subject: str, attachment: int = 0) -> bytes:
    message = EmailMessage()
    message["From"] = "Laboratoire <labo@example.org>"
    message["To"] = "Dr Test <docteur@example.org>"
    message["Subject"] = subject
    message.set_content("Bonjour,\n.\nrésultats ci-joints.\n")
    if attachment:
        message.add_attachment(os.urandom(attachment), maintype="application",
                               subtype="octet-stream", filename="resultats.apz")
    return message.as_bytes().replace(b"\r\n", b"\n")


def settings(server, user, tls: str = "none", **changes: object) -> dict[str, object]:
    config: dict[str, object] = {
        "apicryptImapHost": server.ip if tls == "none" else server.host,
        "apicryptImapPort": server.imaps if tls == "tls" else server.imap,
        "apicryptImapTls": tls, "apicryptImapFolder": "INBOX",
        "apicryptPopUser": user.login, "apicryptPopPassword": user.password,
        "apicryptTlsCaFile": str(server.ca_file),
    }
    return config | changes


def opened(config: dict[str, object], **options: object) -> ImapCollector:
    if options:
        timeout = options.pop("timeout", 30.0)
        collector = ImapCollector(imap_endpoint(config, timeout=timeout),  # type: ignore[arg-type]
                                  str(config["apicryptImapFolder"]), **options)  # type: ignore[arg-type]
    else:
        collector = imap_collector(config)
    collector.open()
    return collector


def fetch(collector: ImapCollector, server_id: str) -> bytes:
    sink = io.BytesIO()
    assert collector.fetch_to(server_id, sink) == len(sink.getvalue())
    return sink.getvalue()


def keys(server, user) -> list[str]:
    return [m.key for m in server.messages(user.login)]


def client(server, user) -> imaplib.IMAP4:
    imap = imaplib.IMAP4(server.ip, server.imap, timeout=10)
    imap.login(user.login, user.password)
    return imap


def uidvalidity(server, user, folder: str = "INBOX") -> int:
    imap = client(server, user)
    _typ, data = imap.status(quoted(imap_utf7(folder)), "(UIDVALIDITY)")
    imap.logout()
    return int(re.search(rb"UIDVALIDITY (\d+)", data[0]).group(1))


def folder_count(server, user, folder: str) -> int:
    imap = client(server, user)
    typ, data = imap.select(quoted(imap_utf7(folder)), readonly=True)
    imap.logout()
    assert typ == "OK", data
    return int(data[0])


# --- without a server --------------------------------------------------------------------------


def test_plugin_offers_the_imap_collector():
    (spec,) = medshake_imap.medshake_mail_collectors()
    assert spec.key == "imap"
    config = {"apicryptImapHost": "IMAP.example.org", "apicryptImapPort": 993,
              "apicryptImapTls": "tls", "apicryptImapFolder": "INBOX",
              "apicryptPopUser": "jean.DUPONT", "apicryptPopPassword": "pw"}
    assert spec.identity(config) == MailboxIdentity("imap", "imap.example.org", 993, "jean.DUPONT")
    assert isinstance(spec.factory(config), MailCollector)
    assert spec.identity(config | {"apicryptImapHost": ""}) is None
    assert spec.identity(config | {"apicryptPopUser": ""}) is None
    with pytest.raises(MailTlsError):
        spec.factory(config | {"apicryptImapTls": "yes"})


@pytest.mark.parametrize(
    ("name", "encoded"),
    [("INBOX", "INBOX"), ("Reçus", "Re&AOc-us"), ("A&B", "A&-B"),
     ("~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-")],  # RFC 3501 §5.1.3
)
def test_folder_names_in_modified_utf7(name, encoded):
    assert imap_utf7(name) == encoded


def test_uid_sets_are_compact():
    assert uid_set([7, 1, 2, 3, 3, 9, 10]) == "1:3,7,9:10"
    assert uid_set([5]) == "5"


class _FakeImap(socketserver.StreamRequestHandler):
    """An IMAP server announcing ``capabilities``, answering the commands in ``answers``
    (``%(tag)s`` is replaced) and refusing everything else."""

    capabilities = b"IMAP4rev1"
    answers: dict[bytes, bytes] = {}
    received: list[bytes] = []

    def handle(self) -> None:
        self.wfile.write(b"* OK ready\r\n")
        for line in self.rfile:
            self.received.append(line)
            tag, _, rest = line.strip().partition(b" ")
            command = rest.split(b" ")[0].upper()
            if command == b"CAPABILITY":
                self.wfile.write(b"* CAPABILITY %s\r\n%s OK done\r\n" % (self.capabilities, tag))
            elif command in self.answers:
                self.wfile.write(self.answers[command] % {b"tag": tag})
            else:
                self.wfile.write(tag + b" BAD no\r\n")


@pytest.fixture
def fake_imap() -> Iterator[socketserver.TCPServer]:
    _FakeImap.received = []
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _FakeImap)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    ("tls", "capabilities", "error", "fix"),
    [("starttls", b"IMAP4rev1", MailTlsError, "apicryptImapTls"),  # STARTTLS stripped
     ("none", b"IMAP4rev1 LOGINDISABLED", MailAuthenticationError, "starttls or tls")],
)
def test_no_password_in_clear(fake_imap, monkeypatch, tls, capabilities, error, fix):
    monkeypatch.setattr(_FakeImap, "capabilities", capabilities)
    monkeypatch.setattr(_FakeImap, "answers", {})
    config = {"apicryptImapHost": "127.0.0.1", "apicryptImapPort": fake_imap.server_address[1],
              "apicryptImapTls": tls, "apicryptImapFolder": "INBOX",
              "apicryptPopUser": "jean", "apicryptPopPassword": "Secret-123"}
    with pytest.raises(error) as caught:
        opened(config)
    assert fix in caught.value.fix
    assert not any(b"Secret-123" in line or b"LOGIN" in line for line in _FakeImap.received)


@pytest.mark.parametrize(
    ("select_answer", "expected"),
    [(b"* OK [UIDVALIDITY 7] ok\r\n%(tag)s OK [READ-ONLY] selected\r\n", "read-only"),
     (b"* 0 EXISTS\r\n%(tag)s OK [READ-WRITE] selected\r\n", "no UIDVALIDITY")],
)
def test_unusable_folders(fake_imap, monkeypatch, select_answer, expected):
    monkeypatch.setattr(_FakeImap, "answers", {b"LOGIN": b"%(tag)s OK welcome\r\n",
                                               b"SELECT": select_answer})
    config = {"apicryptImapHost": "127.0.0.1", "apicryptImapPort": fake_imap.server_address[1],
              "apicryptImapTls": "none", "apicryptImapFolder": "INBOX",
              "apicryptPopUser": "jean", "apicryptPopPassword": "Secret-123"}
    with pytest.raises(MailProtocolError) as caught:
        opened(config)
    assert expected in caught.value.message


# --- against dovecot ---------------------------------------------------------------------------


@pytest.mark.parametrize("tls", TLS_MODES)
def test_list_fetch_delete_round_trip(dovecot, mail_user, tls):
    raws = [make_message("Résultat 1"), DOTS, make_message("Résultat 3")]
    seeded = [dovecot.seed(mail_user.login, raw) for raw in raws]
    collector = opened(settings(dovecot, mail_user, tls))
    if tls != "none":
        assert collector._imap.sock.version() in ("TLSv1.2", "TLSv1.3")
    listed = collector.list_messages()
    validity = uidvalidity(dovecot, mail_user)
    assert [m.server_id.split(":")[0] for m in listed] == [str(validity)] * 3
    assert [m.size for m in listed] == [len(wire(raw)) for raw in raws]
    for item, raw in zip(listed, raws, strict=True):
        assert fetch(collector, item.server_id) == wire(raw)
    collector.delete([listed[0].server_id, listed[2].server_id])
    assert keys(dovecot, mail_user) == seeded  # nothing deleted before close
    collector.close()
    assert keys(dovecot, mail_user) == [seeded[1]]

    again = opened(settings(dovecot, mail_user, tls))
    assert again.list_messages() == [listed[1]]
    again.close()


def test_large_attachment_is_byte_identical(dovecot, mail_user):
    raw = make_message("gros examen", attachment=5 * 1024 * 1024) + DOTS
    dovecot.seed(mail_user.login, raw)
    collector = opened(settings(dovecot, mail_user))
    (item,) = collector.list_messages()
    assert fetch(collector, item.server_id) == wire(raw)
    collector.close()


@pytest.mark.parametrize("extra", [0, -1, 1, -2000])
def test_chunk_boundaries(dovecot, mail_user, extra):
    raw = make_message("pile", attachment=30_000)
    dovecot.seed(mail_user.login, raw)
    size = len(wire(raw))
    # extra=0: the size is exactly one chunk, so the last partial fetch returns nothing
    collector = opened(settings(dovecot, mail_user), chunk_size=size + extra)
    (item,) = collector.list_messages()
    assert fetch(collector, item.server_id) == wire(raw)
    collector.close()


def test_fetch_is_a_peek(dovecot, mail_user):
    dovecot.seed(mail_user.login, make_message("non lu"))
    collector = opened(settings(dovecot, mail_user))
    (item,) = collector.list_messages()
    fetch(collector, item.server_id)
    collector.close()
    assert "S" not in dovecot.messages(mail_user.login)[0].flags


def test_a_50_mb_message_never_sits_in_memory(dovecot, mail_user):
    # The suite's one 50 MB measure (about 1 s); POP3 checks a smaller message the same way.
    raw = (b"From: labo@example.org\nSubject: 50 MB\nMIME-Version: 1.0\n"
           b"Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n"
           + base64.encodebytes(os.urandom(37_500_000)))
    dovecot.seed(mail_user.login, raw)
    del raw
    collector = opened(settings(dovecot, mail_user))
    (item,) = collector.list_messages()
    assert item.size > 50_000_000

    class Sink:
        size = 0

        def write(self, data: bytes) -> int:
            self.size += len(data)
            return len(data)

    sink = Sink()
    tracemalloc.start()
    try:
        collector.fetch_to(item.server_id, sink)  # type: ignore[arg-type]
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    collector.close()
    assert sink.size == item.size
    assert peak < 4 * 1024 * 1024  # measured 2.1 MB: about two 1 MiB chunks, not 50 MB


def test_empty_mailbox(dovecot, mail_user):
    collector = opened(settings(dovecot, mail_user, "starttls"))
    assert collector.list_messages() == []
    collector.delete([])
    collector.close()
    collector.close()
    collector.abort()


def test_wrong_password(dovecot, mail_user):
    with pytest.raises(MailAuthenticationError) as caught:
        opened(settings(dovecot, mail_user, apicryptPopPassword="Wrong-Password-42"))
    text = f"{caught.value} {caught.value.fix}"
    assert "Wrong-Password-42" not in text and mail_user.password not in text
    assert "apicryptPopPassword" in caught.value.fix


def test_non_ascii_password(dovecot):
    user = dovecot.add_user(password="Réseau-sécurisé-€")
    dovecot.seed(user.login, make_message("accents"))
    collector = opened(settings(dovecot, user, "tls"))  # AUTHENTICATE PLAIN, in UTF-8
    assert len(collector.list_messages()) == 1
    collector.close()


@pytest.mark.parametrize("tls", ["starttls", "tls"])
def test_untrusted_certificate(dovecot_untrusted, mail_user, tls):
    with pytest.raises(MailTlsError) as caught:
        opened(settings(dovecot_untrusted, mail_user, tls))
    assert "not trusted" in caught.value.message
    assert "apicryptTlsCaFile" in caught.value.fix


def test_missing_folder(dovecot, mail_user):
    with pytest.raises(MailProtocolError) as caught:
        opened(settings(dovecot, mail_user, apicryptImapFolder="Nulle part"))
    assert "apicryptImapFolder" in caught.value.fix


def test_collects_a_folder_with_a_non_ascii_name(dovecot, mail_user):
    imap = client(dovecot, mail_user)
    assert imap.create(quoted(imap_utf7("Reçus Apicrypt")))[0] == "OK"
    raw = make_message("dans un dossier")
    assert imap.append(quoted(imap_utf7("Reçus Apicrypt")), None, None, wire(raw))[0] == "OK"
    imap.logout()
    dovecot.seed(mail_user.login, make_message("dans INBOX"))
    collector = opened(settings(dovecot, mail_user, apicryptImapFolder="Reçus Apicrypt"))
    (item,) = collector.list_messages()
    assert fetch(collector, item.server_id) == wire(raw)
    assert item.server_id.startswith(f"{uidvalidity(dovecot, mail_user, 'Reçus Apicrypt')}:")
    collector.delete([item.server_id])
    collector.close()
    assert folder_count(dovecot, mail_user, "Reçus Apicrypt") == 0
    assert len(dovecot.messages(mail_user.login)) == 1  # INBOX untouched


def test_connection_dropped_mid_message(dovecot, mail_user, drop_proxy):
    raws = [make_message("petit"), make_message("gros", attachment=600_000)]
    seeded = [dovecot.seed(mail_user.login, raw) for raw in raws]
    proxy = drop_proxy(dovecot.imap, cut_after=100_000, trigger=b"BODY.PEEK[]<0.", cuts=None)
    collector = opened(settings(dovecot, mail_user, apicryptImapPort=proxy.port))
    small, big = collector.list_messages()
    collector.delete([small.server_id, big.server_id])
    with pytest.raises(MailConnectionError) as caught:
        fetch(collector, big.server_id)
    assert big.server_id in caught.value.message
    assert proxy.cuts_done == 1
    with pytest.raises(MailConnectionError):
        collector.close()
    collector.abort()
    stored = dovecot.messages(mail_user.login)
    assert [m.key for m in stored] == seeded
    assert not any("T" in m.flags for m in stored)  # not even flagged \Deleted


def test_a_stalled_server_times_out(dovecot, mail_user, drop_proxy):
    dovecot.seed(mail_user.login, make_message("bloqué", attachment=200_000))
    proxy = drop_proxy(dovecot.imap, cut_after=1000, trigger=b"BODY.PEEK", mode="stall")
    collector = opened(settings(dovecot, mail_user, apicryptImapPort=proxy.port), timeout=30)
    (item,) = collector.list_messages()  # login and listing under a generous timeout
    shorten_timeout(collector, 0.5)  # only the stalled fetch waits on the short one
    with pytest.raises(MailConnectionError) as caught:
        fetch(collector, item.server_id)
    assert "did not answer within 0.5 s" in caught.value.message
    collector.abort()


def test_abort_deletes_and_flags_nothing(dovecot, mail_user):
    seeded = [dovecot.seed(mail_user.login, make_message(f"m{n}")) for n in range(2)]
    collector = opened(settings(dovecot, mail_user, "tls"))
    listed = collector.list_messages()
    for item in listed:
        fetch(collector, item.server_id)
    collector.delete([m.server_id for m in listed])
    collector.abort()
    collector.abort()
    stored = dovecot.messages(mail_user.login)
    assert [m.key for m in stored] == seeded
    assert not any("T" in m.flags for m in stored)


def test_ids_are_stable_across_sessions(dovecot, mail_user):
    for n in range(4):
        dovecot.seed(mail_user.login, make_message(f"m{n}"))
    first = opened(settings(dovecot, mail_user))
    ids = [m.server_id for m in first.list_messages()]
    assert len(set(ids)) == 4
    first.delete([ids[1]])
    first.close()
    dovecot.seed(mail_user.login, make_message("m4"))
    second = opened(settings(dovecot, mail_user))
    later = [m.server_id for m in second.list_messages()]
    second.abort()
    assert later[:3] == [ids[0], ids[2], ids[3]] and later[3] not in ids


def test_ids_from_another_uidvalidity_are_never_used(dovecot, mail_user):
    seeded = [dovecot.seed(mail_user.login, make_message(f"m{n}")) for n in range(2)]
    collector = opened(settings(dovecot, mail_user))
    listed = collector.list_messages()
    validity, uid = listed[0].server_id.split(":")
    stale = f"{int(validity) - 1}:{uid}"  # same UID, older numbering: maybe another message
    with pytest.raises(MailProtocolError) as caught:
        fetch(collector, stale)
    assert "UIDVALIDITY" in caught.value.message
    collector.delete([stale, f"{int(validity) + 7}:{listed[1].server_id.split(':')[1]}"])
    collector.close()
    assert keys(dovecot, mail_user) == seeded


def test_vanished_message(dovecot, mail_user):
    dovecot.seed(mail_user.login, make_message("a"))
    first = opened(settings(dovecot, mail_user))
    (item,) = first.list_messages()
    first.delete([item.server_id])
    first.close()
    second = opened(settings(dovecot, mail_user))
    with pytest.raises(MailProtocolError) as caught:
        fetch(second, item.server_id)
    assert item.server_id in caught.value.message
    second.delete([item.server_id])  # already gone: deleting it again is harmless
    second.close()


def test_unsolicited_flag_updates_are_ignored(dovecot, mail_user):
    raws = [make_message("a"), make_message("b")]
    for raw in raws:
        dovecot.seed(mail_user.login, raw)
    collector = opened(settings(dovecot, mail_user))
    listed = collector.list_messages()
    other = client(dovecot, mail_user)  # another client flags both messages meanwhile
    other.select("INBOX")
    other.store("1:2", "+FLAGS", r"(\Flagged)")
    other.logout()
    assert [fetch(collector, m.server_id) for m in listed] == [wire(raw) for raw in raws]
    collector.close()


def spy_commands(collector: ImapCollector) -> list[str]:
    """Record the commands the collector sends (``UID STORE``, ``EXPUNGE``...)."""
    sent: list[str] = []
    imap = collector._imap
    original = imap._command

    def spy(name: str, *args: object):
        uid_command = str(args[0]).upper() if name == "UID" and args else ""
        sent.append(f"UID {uid_command}" if uid_command else name)
        return original(name, *args)

    imap._command = spy
    return sent


def test_expunge_without_uidplus(dovecot, mail_user):
    seeded = [dovecot.seed(mail_user.login, make_message(f"m{n}")) for n in range(3)]
    collector = opened(settings(dovecot, mail_user))
    collector._capabilities.discard("UIDPLUS")
    listed = collector.list_messages()
    sent = spy_commands(collector)
    collector.delete([listed[0].server_id, listed[1].server_id])
    collector.close()
    assert keys(dovecot, mail_user) == seeded[2:]
    assert sent == ["UID STORE", "EXPUNGE", "LOGOUT"]


def test_uid_expunge_spares_other_clients_deleted_flags(dovecot, mail_user):
    seeded = [dovecot.seed(mail_user.login, make_message(f"m{n}")) for n in range(2)]
    collector = opened(settings(dovecot, mail_user))
    listed = collector.list_messages()
    other = client(dovecot, mail_user)  # another client marks message 2, without expunging
    other.select("INBOX")
    other.store("2", "+FLAGS", r"(\Deleted)")
    other.logout()
    sent = spy_commands(collector)
    collector.delete([listed[0].server_id])
    collector.close()
    assert sent == ["UID STORE", "UID EXPUNGE", "LOGOUT"]
    assert keys(dovecot, mail_user) == seeded[1:]


@pytest.mark.parametrize("without", [None, "MOVE"])
def test_move_to_a_folder_instead_of_deleting(dovecot, mail_user, without):
    imap = client(dovecot, mail_user)
    assert imap.create(quoted(imap_utf7("Relevés")))[0] == "OK"
    imap.logout()
    seeded = [dovecot.seed(mail_user.login, make_message(f"m{n}")) for n in range(3)]
    collector = opened(settings(dovecot, mail_user), move_to="Relevés")
    if without:
        collector._capabilities.discard(without)  # COPY + \Deleted + UID EXPUNGE instead
    listed = collector.list_messages()
    sent = spy_commands(collector)
    collector.delete([listed[0].server_id, listed[2].server_id])
    collector.close()
    expected = ["UID COPY", "UID STORE", "UID EXPUNGE"] if without else ["UID MOVE"]
    assert sent == [*expected, "LOGOUT"]
    assert keys(dovecot, mail_user) == [seeded[1]]
    assert folder_count(dovecot, mail_user, "Relevés") == 2


def test_move_to_a_missing_folder_deletes_nothing(dovecot, mail_user):
    seeded = dovecot.seed(mail_user.login, make_message("m"))
    collector = opened(settings(dovecot, mail_user), move_to="Absent")
    collector.delete([m.server_id for m in collector.list_messages()])
    with pytest.raises(MailProtocolError):
        collector.close()
    assert keys(dovecot, mail_user) == [seeded]


def shorten_timeout(collector, seconds: float) -> None:
    """Lower the open session's socket timeout (and the figure its messages quote): a loaded
    machine may take long to log in, but the stall under test must be seen quickly."""
    collector.endpoint = dataclasses.replace(collector.endpoint, timeout=seconds)
    collector._imap.sock.settimeout(seconds)
# --- batched fetching (prefetch) ---------------------------------------------------------------


def spy_sent(collector: ImapCollector) -> list[bytes]:
    """Record every line the collector writes to the socket (imaplib's and the batches')."""
    sent: list[bytes] = []
    imap = collector._imap
    original = imap.send

    def spy(data: bytes) -> None:
        sent.append(bytes(data))
        original(data)

    imap.send = spy
    return sent


def test_announced_messages_come_in_one_fetch_per_batch(dovecot, mail_user, monkeypatch):
    monkeypatch.setattr("medshake_imap.collector.FETCH_BATCH", 4)
    raws = [make_message(f"m{index}", attachment=70_000 if index % 3 == 0 else 0)
            for index in range(10)]
    raws.append(DOTS)
    for raw in raws:
        dovecot.seed(mail_user.login, raw)
    collector = opened(settings(dovecot, mail_user), chunk_size=4096)  # literals in pieces
    listed = collector.list_messages()
    sent = spy_sent(collector)
    collector.prefetch([item.server_id for item in listed])
    assert [fetch(collector, item.server_id) for item in listed] == [wire(r) for r in raws]
    fetches = [line for line in sent if b" UID FETCH " in line.upper()]
    assert len(fetches) == 3  # 11 messages, 4 per batch: one command (round trip) each
    assert all(b"BODY.PEEK[]" in line for line in fetches)  # \Seen left alone
    collector.delete([item.server_id for item in listed])
    collector.close()
    assert keys(dovecot, mail_user) == []


def test_a_batch_asked_out_of_order_or_left_half_read_stays_consistent(dovecot, mail_user):
    raws = [make_message(f"m{index}") for index in range(6)]
    for raw in raws:
        dovecot.seed(mail_user.login, raw)
    collector = opened(settings(dovecot, mail_user))
    listed = collector.list_messages()
    collector.prefetch([item.server_id for item in listed])
    assert fetch(collector, listed[0].server_id) == wire(raws[0])
    # Out of the announced order: the batch on the wire is read to its end, then a single fetch.
    assert fetch(collector, listed[4].server_id) == wire(raws[4])
    assert fetch(collector, listed[1].server_id) == wire(raws[1])
    collector.prefetch([item.server_id for item in listed[2:]])
    assert fetch(collector, listed[2].server_id) == wire(raws[2])
    # Half a batch still on the wire: listing again and closing still work.
    assert [item.server_id for item in collector.list_messages()] == [
        item.server_id for item in listed]
    collector.delete([listed[0].server_id])
    collector.close()
    assert len(keys(dovecot, mail_user)) == 5


def test_a_message_expunged_before_its_batch_is_reported_not_mixed_up(dovecot, mail_user):
    raws = [make_message(f"m{index}") for index in range(3)]
    for raw in raws:
        dovecot.seed(mail_user.login, raw)
    collector = opened(settings(dovecot, mail_user))
    listed = collector.list_messages()
    other = client(dovecot, mail_user)  # another client deletes the second message meanwhile
    other.select("INBOX")
    other.store("2", "+FLAGS", r"(\Deleted)")
    other.expunge()
    other.logout()
    collector.prefetch([item.server_id for item in listed])
    assert fetch(collector, listed[0].server_id) == wire(raws[0])
    with pytest.raises(MailProtocolError) as caught:
        fetch(collector, listed[1].server_id)
    assert listed[1].server_id in caught.value.message
    assert fetch(collector, listed[2].server_id) == wire(raws[2])
    collector.close()
