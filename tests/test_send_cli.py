"""``medshake-bridge send``, ``medshake-bridge sandbox relay`` and ``medshake-bridge demo``."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

from click.testing import CliRunner
from mailworld import BOB, PDF_1
from sendworld import DOMAIN
from sqlalchemy import select

from medshake_bridge.cli import main
from medshake_bridge.db import db
from medshake_bridge.models import InboxDocument, SentMessage

BOB_ADDRESS = f"{BOB}@{DOMAIN}"


def _send(sw, *args: str):
    runner = sw.app.test_cli_runner()
    return runner.invoke(args=["bridge", "send", "--user", str(sw.alice), "--patient",
                               str(sw.patient_id), *args])


def test_send_command_sends_once_per_token(send_world, tmp_path):
    letter = tmp_path / "lettre.txt"
    letter.write_text("Cher confrère,\nci-joint le compte rendu.\n", encoding="utf-8")
    attachment = tmp_path / "cr.pdf"
    attachment.write_bytes(PDF_1)
    args = ["--to", BOB_ADDRESS, "--subject", "Compte rendu", "--body-file", str(letter),
            "--attach", str(attachment), "--token", "cli-1"]
    first = _send(send_world, *args)
    assert first.exit_code == 0, first.output
    assert f"Sent to {BOB_ADDRESS}: <" in first.output
    again = _send(send_world, *args)
    assert again.exit_code == 0 and "Already sent" in again.output
    assert len(send_world.delivered()) == 1
    with send_world.app.app_context():
        (row,) = db.session.scalars(select(SentMessage)).all()
        assert row.attachment_names == ["cr.pdf"] and row.subject == "Compte rendu"


def test_send_command_explains_refusals(send_world, tmp_path):
    letter = tmp_path / "lettre.txt"
    letter.write_text("texte\n", encoding="utf-8")
    result = _send(send_world, "--to", "bob@gmail.com", "--body-file", str(letter),
                   "--subject", "Hélène")
    assert result.exit_code == 1
    assert "recipients:" in result.output and "subject:" in result.output
    assert "Nothing was sent." in result.output and send_world.delivered() == []


def _cli(instance, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MEDSHAKE_BRIDGE_INSTANCE": str(instance)}
    return subprocess.run([sys.executable, "-c", "from medshake_bridge.cli import main; main()",
                           *args], env=env, capture_output=True, text=True, timeout=120,
                          check=False)


def test_demo_then_relay_then_send_then_fetch(tmp_path, monkeypatch):
    """The demo's set-up, its relay run by 'sandbox relay', a send as Alice, a fetch as Bob."""
    instance = tmp_path / "instance"
    monkeypatch.setenv("MEDSHAKE_BRIDGE_INSTANCE", str(instance))
    result = CliRunner().invoke(main, ["demo", "--no-serve"])
    assert result.exit_code == 0, result.output
    assert "alice = alice.MARTIN" in result.output and "demo-medshake" in result.output
    sandbox = instance / "sandbox"
    relay = subprocess.Popen(
        [sys.executable, "-c", "from medshake_bridge.cli import main; main()", "sandbox",
         "relay", "--port", "0", "--network", str(sandbox / "network"), "--maildirs",
         str(sandbox / "maildirs"), "--tls-cert", str(sandbox / "tls" / "relay-cert.pem"),
         "--tls-key", str(sandbox / "tls" / "relay-key.pem")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        env={**os.environ, "MEDSHAKE_BRIDGE_INSTANCE": str(instance)})
    try:
        banner = relay.stdout.readline()
        assert "FAKE" in banner and "STARTTLS required" in banner, banner
        port = re.search(r":(\d+),", banner).group(1)
        assert _cli(instance, "config", "set", "--user", "2", "apicryptSmtpPort",
                    port).returncode == 0
        letter = tmp_path / "lettre.txt"
        letter.write_text("Chère consœur,\nvoici le bilan de Mme Dupont.\n", encoding="utf-8")
        sent = _cli(instance, "send", "--user", "2", "--to", BOB_ADDRESS, "--patient", "1",
                    "--body-file", str(letter))
        assert sent.returncode == 0, sent.stderr + sent.stdout
        assert "œ → oe" in sent.stdout
        fetched = _cli(instance, "fetch", "--user", "3")
        assert fetched.returncode == 0 and "1 document(s)" in fetched.stdout, fetched.stdout
    finally:
        os.killpg(relay.pid, signal.SIGTERM)
        relay.wait(timeout=10)
    from medshake_bridge import create_app

    app = create_app()
    with app.app_context():
        (document,) = db.session.scalars(select(InboxDocument)).all()
        assert document.patient_last_name == "DUPONT" and "consoeur" in document.body
        db.session.remove()
        db.engine.dispose()
