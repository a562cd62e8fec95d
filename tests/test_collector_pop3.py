"""The POP3 collector against a real dovecot: TLS modes, byte-exact streaming, deletions only at
QUIT, and every failure turned into a MailError that names no password."""

from __future__ import annotations

import base64
import dataclasses
import io
import os
import poplib
import socketserver
import threading
import tracemalloc
from collections.abc import Iterator
from email.message import EmailMessage

import medshake_pop3
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from medshake_pop3.collector import (
    READ_LINE_LIMIT,
    Pop3Collector,
    _StreamBroken,
    copy_multiline,
    pop3_collector,
    pop3_endpoint,
    pop3_identity,
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
    b".\n..\n...\n.leading dot\n. space\nmiddle . dot\n"
    + b"x" * READ_LINE_LIMIT + b".not a line start\n"  # a dot where a line piece begins
    + b"." + b"y" * (3 * READ_LINE_LIMIT) + b"\n"  # a long line that starts with a dot
    + b"end\n"
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


def settings(server, user, tls: str = "none", *, host: str | None = None,
             port: int | None = None, password: str | None = None) -> dict[str, object]:
    if port is None:
        port = server.pop3s if tls == "tls" else server.pop3
    if host is None:
        host = server.ip if tls == "none" else server.host
    return {
        "apicryptPopHost": host, "apicryptPopPort": port, "apicryptPopTls": tls,
        "apicryptPopUser": user.login,
        "apicryptPopPassword": user.password if password is None else password,
        "apicryptTlsCaFile": str(server.ca_file),
    }


def opened(config: dict[str, object], timeout: float | None = None) -> Pop3Collector:
    collector = (Pop3Collector(pop3_endpoint(config, timeout=timeout)) if timeout
                 else pop3_collector(config))
    collector.open()
    return collector


def fetch(collector: Pop3Collector, server_id: str) -> bytes:
    sink = io.BytesIO()
    written = collector.fetch_to(server_id, sink)
    assert written == len(sink.getvalue())
    return sink.getvalue()


def keys(server, user) -> list[str]:
    return [m.key for m in server.messages(user.login)]


# --- the plugin ------------------------------------------------------------------------------


def test_plugin_offers_the_pop3_collector():
    (spec,) = medshake_pop3.medshake_mail_collectors()
    assert spec.key == "pop3"
    config = {"apicryptPopHost": "Pop.Example.org", "apicryptPopPort": 995,
              "apicryptPopTls": "tls", "apicryptPopUser": "jean.DUPONT",
              "apicryptPopPassword": "pw", "apicryptTlsCaFile": ""}
    assert spec.identity(config) == MailboxIdentity("pop3", "pop.example.org", 995, "jean.DUPONT")
    assert isinstance(spec.factory(config), MailCollector)


@pytest.mark.parametrize("missing", ["apicryptPopHost", "apicryptPopUser"])
def test_identity_is_none_when_incomplete(missing):
    config = {"apicryptPopHost": "pop.example.org", "apicryptPopPort": 110,
              "apicryptPopUser": "jean.DUPONT", missing: ""}
    assert pop3_identity(config) is None


@pytest.mark.parametrize(
    ("change", "error", "fix"),
    [({"apicryptPopHost": ""}, MailConnectionError, "apicryptPopHost"),
     ({"apicryptPopUser": ""}, MailAuthenticationError, "apicryptPopUser"),
     ({"apicryptPopTls": "ssl3"}, MailTlsError, "apicryptPopTls"),
     ({"apicryptPopPort": 0}, MailConnectionError, "apicryptPopPort")],
)
def test_factory_refuses_settings_that_cannot_work(change, error, fix):
    config = {"apicryptPopHost": "pop.example.org", "apicryptPopPort": 110,
              "apicryptPopTls": "starttls", "apicryptPopUser": "u",
              "apicryptPopPassword": "Secret-123"} | change
    with pytest.raises(error) as caught:
        pop3_collector(config)
    assert fix in caught.value.fix


def test_password_is_not_in_the_endpoint_repr():
    endpoint = pop3_endpoint({"apicryptPopHost": "h", "apicryptPopPort": 110,
                              "apicryptPopTls": "none", "apicryptPopUser": "u",
                              "apicryptPopPassword": "Secret-123"})
    assert "Secret-123" not in repr(endpoint)


# --- the dot-stuffing reader, without a server -----------------------------------------------


@pytest.mark.parametrize(
    ("received", "expected"),
    [(b".\r\n", b""),
     (b"a\r\n..\r\n..b\r\n.\r\n", b"a\r\n.\r\n.b\r\n"),
     (b"a\n.\n", b"a\n"),  # bare LF kept as received
     (b"no dot\r\n.\r\nnext response\r\n", b"no dot\r\n")],
)
def test_copy_multiline_undoes_dot_stuffing(received, expected):
    sink = io.BytesIO()
    source = io.BytesIO(received)
    assert copy_multiline(source, sink) == len(expected)
    assert sink.getvalue() == expected
    assert source.read() in (b"", b"next response\r\n")  # stops right after the "." line


_LINES = st.lists(st.sampled_from([b"plain text", b".dotted", b"..two", b".", b"", b"x" * 70,
                                   b"\xe9t\xe9", b"a.b", b". "]), max_size=40)


@hypothesis_settings(max_examples=300, deadline=None)
@given(lines=_LINES, crlf=st.booleans(), buffer_size=st.sampled_from([1, 2, 3, 7, 64, 8192]))
def test_copy_multiline_by_blocks_matches_the_line_reader(lines, crlf, buffer_size):
    """A buffered stream is copied by blocks (complete lines without a leading dot at once);
    whatever the buffer's size, the result must be what the line reader gives (a stream
    without ``peek``), and nothing past the final "." line may be consumed (PIPELINING)."""
    end = b"\r\n" if crlf else b"\n"
    stuffed = [b"." + line if line.startswith(b".") else line for line in lines]
    wire = b"".join(line + end for line in stuffed) + b"." + end + b"+OK next answer\r\n"
    by_lines, by_blocks = io.BytesIO(), io.BytesIO()
    copy_multiline(io.BytesIO(wire), by_lines)
    source = io.BufferedReader(io.BytesIO(wire), buffer_size=buffer_size)
    assert copy_multiline(source, by_blocks) == len(by_lines.getvalue())
    assert by_blocks.getvalue() == by_lines.getvalue() == b"".join(line + end for line in lines)
    assert source.read() == b"+OK next answer\r\n"


class _CountingReader(io.BufferedReader):
    lines_read = 0

    def readline(self, size=-1):
        self.lines_read += 1
        return super().readline(size)


def test_a_buffered_message_is_copied_in_blocks_not_line_by_line():
    """Only the lines that start with a dot go through the line reader: the end of every
    message is such a line, and it once sent the whole buffer line by line (issue 18)."""
    body = b"".join(b"line %d of a lab result\r\n" % n for n in range(40))
    wire = body + b"..stuffed\r\n" + body + b".\r\n+OK next\r\n"
    source = _CountingReader(io.BytesIO(wire), buffer_size=8192)
    sink = io.BytesIO()
    copy_multiline(source, sink)
    assert sink.getvalue() == body + b".stuffed\r\n" + body
    assert source.lines_read == 2  # the stuffed line and the final "."
    assert source.read() == b"+OK next\r\n"


def test_copy_multiline_reports_an_early_end():
    with pytest.raises(_StreamBroken):
        copy_multiline(io.BytesIO(b"line\r\nno terminator\r\n"), io.BytesIO())


class _NoStlsPop3(socketserver.StreamRequestHandler):
    """A POP3 server that does not offer STLS (or an attacker who stripped it)."""

    received: list[bytes] = []

    def handle(self) -> None:
        self.wfile.write(b"+OK ready\r\n")
        for line in self.rfile:
            self.received.append(line)
            if line.upper().startswith(b"CAPA"):
                self.wfile.write(b"+OK\r\nUSER\r\nUIDL\r\n.\r\n")
            elif line.upper().startswith(b"QUIT"):
                self.wfile.write(b"+OK bye\r\n")
                return
            else:
                self.wfile.write(b"+OK\r\n")


@pytest.fixture
def no_stls_server() -> Iterator[socketserver.TCPServer]:
    _NoStlsPop3.received = []
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _NoStlsPop3)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_starttls_not_offered_sends_no_password(no_stls_server):
    config = {"apicryptPopHost": "127.0.0.1", "apicryptPopPort": no_stls_server.server_address[1],
              "apicryptPopTls": "starttls", "apicryptPopUser": "jean",
              "apicryptPopPassword": "Secret-123"}
    with pytest.raises(MailTlsError) as caught:
        opened(config)
    assert "does not offer STARTTLS" in caught.value.message
    assert _NoStlsPop3.received == [b"CAPA\r\n"]  # no USER, no PASS in clear


# --- against dovecot ---------------------------------------------------------------------------


@pytest.mark.parametrize("tls", TLS_MODES)
def test_list_fetch_delete_round_trip(dovecot, mail_user, tls):
    raws = [make_message("Résultat 1"), DOTS, make_message("Résultat 3")]
    seeded = [dovecot.seed(mail_user.login, raw) for raw in raws]
    collector = opened(settings(dovecot, mail_user, tls))
    if tls != "none":
        assert collector._pop.sock.version() in ("TLSv1.2", "TLSv1.3")
    listed = collector.list_messages()
    assert [m.size for m in listed] == [len(wire(raw)) for raw in raws]
    for item, raw in zip(listed, raws, strict=True):
        assert fetch(collector, item.server_id) == wire(raw)
    collector.delete([listed[0].server_id, listed[2].server_id])
    assert keys(dovecot, mail_user) == seeded  # nothing deleted before close
    collector.close()
    assert keys(dovecot, mail_user) == [seeded[1]]

    again = opened(settings(dovecot, mail_user, tls))
    assert again.list_messages() == [listed[1]]  # same id, same size, next session
    again.close()


def test_large_attachment_is_byte_identical(dovecot, mail_user):
    raw = make_message("gros examen", attachment=5 * 1024 * 1024) + DOTS
    dovecot.seed(mail_user.login, raw)
    collector = opened(settings(dovecot, mail_user))
    (item,) = collector.list_messages()
    assert fetch(collector, item.server_id) == wire(raw)
    collector.close()


def test_fetch_memory_stays_bounded(dovecot, mail_user):
    line = base64.b64encode(os.urandom(747)) + b"\n"  # 997 characters: RFC 5322's longest
    raw = b"From: labo@example.org\nSubject: 8 MB\n\n" + line * 8200
    dovecot.seed(mail_user.login, raw)
    collector = opened(settings(dovecot, mail_user))
    (item,) = collector.list_messages()

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
    assert sink.size == item.size > 8_000_000
    assert peak < 2 * 1024 * 1024  # measured 0.94 MB (a 256 KiB write batch), whatever the size


def test_empty_mailbox(dovecot, mail_user):
    collector = opened(settings(dovecot, mail_user, "starttls"))
    assert collector.list_messages() == []
    collector.delete([])
    collector.close()
    collector.close()  # a second close is harmless
    collector.abort()


def test_wrong_password(dovecot, mail_user):
    with pytest.raises(MailAuthenticationError) as caught:
        opened(settings(dovecot, mail_user, password="Wrong-Password-42"))
    text = f"{caught.value} {caught.value.fix}"
    assert "Wrong-Password-42" not in text and mail_user.password not in text
    assert "apicryptPopPassword" in caught.value.fix


@pytest.mark.parametrize("tls", ["starttls", "tls"])
def test_untrusted_certificate(dovecot_untrusted, mail_user, tls):
    with pytest.raises(MailTlsError) as caught:
        opened(settings(dovecot_untrusted, mail_user, tls))
    assert "not trusted" in caught.value.message
    assert "apicryptTlsCaFile" in caught.value.fix


def test_certificate_for_another_name(dovecot, mail_user):
    with pytest.raises(MailTlsError) as caught:  # the certificate names localhost only
        opened(settings(dovecot, mail_user, "tls", host=dovecot.ip))
    assert "not trusted" in caught.value.message


def test_system_store_alone_does_not_trust_a_private_ca(dovecot, mail_user):
    config = settings(dovecot, mail_user, "tls") | {"apicryptTlsCaFile": ""}
    with pytest.raises(MailTlsError):
        opened(config)


def test_unreadable_ca_file(dovecot, mail_user, tmp_path):
    config = settings(dovecot, mail_user, "tls") | {"apicryptTlsCaFile": str(tmp_path / "no")}
    with pytest.raises(MailTlsError) as caught:
        opened(config)
    assert "apicryptTlsCaFile" in caught.value.fix


def test_implicit_tls_on_a_plain_port(dovecot, mail_user):
    with pytest.raises(MailTlsError) as caught:
        opened(settings(dovecot, mail_user, "tls", port=dovecot.pop3))
    assert "apicryptPopPort" in caught.value.fix


def test_nothing_listening(dovecot, mail_user):
    from support.net import free_ports

    with pytest.raises(MailConnectionError) as caught:
        opened(settings(dovecot, mail_user, port=free_ports(1)[0]))
    assert "refused" in caught.value.message


@pytest.mark.parametrize("mode", ["close", "reset"])
def test_connection_dropped_mid_message(dovecot, mail_user, drop_proxy, mode):
    raws = [make_message("petit"), make_message("gros", attachment=600_000)]
    seeded = [dovecot.seed(mail_user.login, raw) for raw in raws]
    proxy = drop_proxy(dovecot.pop3, cut_after=100_000, trigger=b"RETR 2", mode=mode)
    collector = opened(settings(dovecot, mail_user, port=proxy.port))
    small, big = collector.list_messages()
    assert fetch(collector, small.server_id) == wire(raws[0])
    collector.delete([small.server_id, big.server_id])
    with pytest.raises(MailConnectionError) as caught:
        fetch(collector, big.server_id)
    assert big.server_id in caught.value.message
    assert proxy.cuts_done == 1
    with pytest.raises(MailConnectionError):
        collector.close()  # a broken session never sends QUIT
    collector.abort()
    assert keys(dovecot, mail_user) == seeded


def test_a_stalled_server_times_out(dovecot, mail_user, drop_proxy):
    dovecot.seed(mail_user.login, make_message("bloqué", attachment=200_000))
    proxy = drop_proxy(dovecot.pop3, cut_after=1000, trigger=b"RETR ", mode="stall")
    collector = opened(settings(dovecot, mail_user, port=proxy.port), timeout=30)
    (item,) = collector.list_messages()  # login and listing under a generous timeout
    collector.delete([item.server_id])
    shorten_timeout(collector, 0.5)  # only the stalled RETR waits on the short one
    with pytest.raises(MailConnectionError) as caught:
        fetch(collector, item.server_id)
    assert "did not answer within 0.5 s" in caught.value.message
    collector.abort()
    assert len(dovecot.messages(mail_user.login)) == 1


def test_close_raises_when_quit_gets_no_answer(dovecot, mail_user, drop_proxy):
    dovecot.seed(mail_user.login, make_message("m"))
    proxy = drop_proxy(dovecot.pop3, cut_after=0, trigger=b"QUIT", mode="reset")
    collector = opened(settings(dovecot, mail_user, port=proxy.port))
    collector.delete([m.server_id for m in collector.list_messages()])
    with pytest.raises(MailConnectionError) as caught:
        collector.close()
    assert "QUIT, which applies the deletions" in caught.value.message
    collector.abort()
    # QUIT reached dovecot, only its answer was lost: here the deletion did happen, which the
    # pipeline tolerates (it deletes only what it stored; a message gone is not listed again)


def test_failed_delete_deletes_nothing(dovecot, mail_user, drop_proxy):
    seeded = [dovecot.seed(mail_user.login, make_message(f"m{n}")) for n in range(3)]
    # the server receives the second DELE but its answer never comes back
    proxy = drop_proxy(dovecot.pop3, cut_after=len(b"+OK Marked to be deleted.\r\n"),
                       trigger=b"DELE ", mode="close")
    collector = opened(settings(dovecot, mail_user, port=proxy.port))
    collector.delete([m.server_id for m in collector.list_messages()])
    with pytest.raises(MailConnectionError):
        collector.close()
    collector.abort()
    assert keys(dovecot, mail_user) == seeded


def test_abort_deletes_nothing(dovecot, mail_user):
    seeded = [dovecot.seed(mail_user.login, make_message(f"m{n}")) for n in range(2)]
    collector = opened(settings(dovecot, mail_user, "tls"))
    listed = collector.list_messages()
    for item in listed:
        fetch(collector, item.server_id)
    collector.delete([m.server_id for m in listed])
    collector.abort()
    collector.abort()
    assert keys(dovecot, mail_user) == seeded


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


def test_deleting_ids_no_longer_on_the_server(dovecot, mail_user):
    seeded = dovecot.seed(mail_user.login, make_message("kept"))
    collector = opened(settings(dovecot, mail_user))
    collector.delete(["00000099deadbeef"])  # e.g. deleted by a previous session already
    collector.close()
    assert keys(dovecot, mail_user) == [seeded]


def test_delete_without_listing_first(dovecot, mail_user):
    dovecot.seed(mail_user.login, make_message("a"))
    keep = dovecot.seed(mail_user.login, make_message("b"))
    probe = opened(settings(dovecot, mail_user))
    first_id = probe.list_messages()[0].server_id
    probe.abort()
    collector = opened(settings(dovecot, mail_user))
    collector.delete([first_id])
    collector.close()
    assert keys(dovecot, mail_user) == [keep]


def test_vanished_message(dovecot, mail_user):
    dovecot.seed(mail_user.login, make_message("a"))
    first = opened(settings(dovecot, mail_user))
    (item,) = first.list_messages()
    first.delete([item.server_id])
    first.close()
    second = opened(settings(dovecot, mail_user))
    with pytest.raises(MailProtocolError):
        fetch(second, item.server_id)
    second.close()


def test_vanished_during_the_session(dovecot, mail_user):
    dovecot.seed(mail_user.login, make_message("a"))
    first = opened(settings(dovecot, mail_user))
    (item,) = first.list_messages()
    other = opened(settings(dovecot, mail_user))  # e.g. a second program on the mailbox
    other.delete([item.server_id])
    other.close()
    with pytest.raises(MailProtocolError) as caught:  # dovecot: "-ERR Message 1 expunged."
        fetch(first, item.server_id)
    assert item.server_id in caught.value.message
    first.abort()


def test_retr_is_streamed_not_loaded_by_poplib(dovecot, mail_user, monkeypatch):
    dovecot.seed(mail_user.login, make_message("a"))

    def refuse(*_args: object) -> None:
        raise AssertionError("poplib.retr / top hold the whole message in memory")

    monkeypatch.setattr(poplib.POP3, "retr", refuse)
    monkeypatch.setattr(poplib.POP3, "top", refuse)
    collector = opened(settings(dovecot, mail_user))
    (item,) = collector.list_messages()
    assert fetch(collector, item.server_id).startswith(b"From: ")
    collector.close()


def test_plaintext_client_on_a_tls_port_times_out_with_a_hint(dovecot, mail_user):
    with pytest.raises(MailConnectionError) as caught:
        opened(settings(dovecot, mail_user, "none", port=dovecot.pop3s), timeout=0.3)
    assert "did not answer within 0.3 s while connecting" in caught.value.message
    assert "apicryptPopTls" in caught.value.fix


def shorten_timeout(collector, seconds: float) -> None:
    """Lower the open session's socket timeout (and the figure its messages quote): a loaded
    machine may take long to log in, but the stall under test must be seen quickly."""
    collector.endpoint = dataclasses.replace(collector.endpoint, timeout=seconds)
    collector._pop.sock.settimeout(seconds)
# --- pipelining (prefetch) ---------------------------------------------------------------------


def spy_writes(collector: Pop3Collector) -> list[bytes]:
    """Record each write the collector makes on the socket (one write = one round trip at
    most; several commands in one write are pipelined)."""
    writes: list[bytes] = []
    sock = collector._pop.sock

    class Spy:
        def __getattr__(self, name: str):
            return getattr(sock, name)

        def sendall(self, data: bytes) -> None:
            writes.append(bytes(data))
            sock.sendall(data)

    collector._pop.sock = Spy()
    return writes


def test_announced_messages_are_pipelined(dovecot, mail_user, monkeypatch):
    monkeypatch.setattr("medshake_pop3.collector.PIPELINE_DEPTH", 4)
    raws = [make_message(f"m{n}", attachment=60_000 if n % 4 == 0 else 0) for n in range(9)]
    raws.append(DOTS)
    for raw in raws:
        dovecot.seed(mail_user.login, raw)
    collector = opened(settings(dovecot, mail_user))
    listed = collector.list_messages()
    writes = spy_writes(collector)
    collector.prefetch([item.server_id for item in listed])
    assert [fetch(collector, item.server_id) for item in listed] == [wire(r) for r in raws]
    retr_writes = [w for w in writes if w.startswith(b"RETR ")]
    assert retr_writes[0].count(b"RETR ") == 4  # four on the wire at once, then one per answer
    assert sum(w.count(b"RETR ") for w in retr_writes) == len(raws)
    collector.delete([item.server_id for item in listed])
    collector.close()
    dele_writes = [w for w in writes if w.startswith(b"DELE ")]
    assert len(dele_writes) == 1 and dele_writes[0].count(b"DELE ") == len(raws)
    assert keys(dovecot, mail_user) == []


def test_pipelined_answers_stay_in_step_when_asked_out_of_order(dovecot, mail_user):
    raws = [make_message(f"m{n}") for n in range(6)]
    seeded = [dovecot.seed(mail_user.login, raw) for raw in raws]
    collector = opened(settings(dovecot, mail_user))
    listed = collector.list_messages()
    collector.prefetch([item.server_id for item in listed])
    assert fetch(collector, listed[0].server_id) == wire(raws[0])
    assert fetch(collector, listed[3].server_id) == wire(raws[3])  # the others are dropped
    assert fetch(collector, listed[1].server_id) == wire(raws[1])
    collector.prefetch([listed[4].server_id, listed[5].server_id])
    assert fetch(collector, listed[4].server_id) == wire(raws[4])
    collector.delete([listed[0].server_id])  # RETR for message 6 still on the wire
    collector.close()
    assert keys(dovecot, mail_user) == seeded[1:]


def test_a_message_deleted_meanwhile_is_reported_and_the_rest_still_comes(dovecot, mail_user):
    raws = [make_message(f"m{n}") for n in range(3)]
    for raw in raws:
        dovecot.seed(mail_user.login, raw)
    collector = opened(settings(dovecot, mail_user))
    listed = collector.list_messages()
    other = opened(settings(dovecot, mail_user))
    other.delete([listed[1].server_id])
    other.close()
    collector.prefetch([item.server_id for item in listed])
    assert fetch(collector, listed[0].server_id) == wire(raws[0])
    with pytest.raises(MailProtocolError) as caught:
        fetch(collector, listed[1].server_id)
    assert listed[1].server_id in caught.value.message
    assert fetch(collector, listed[2].server_id) == wire(raws[2])
    collector.abort()
