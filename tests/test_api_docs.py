"""docs/api.md: its Python examples run against a live bridge, and its PHP verification runs
with ``php`` against a real signed delivery."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from api_helpers import api_site
from mailworld import BOB
from sendworld import DOMAIN
from support.components import require_component
from webhook_receiver import Receiver, free_port

from medshake_bridge.apiv1.tokens import create_token
from medshake_bridge.db import db
from medshake_bridge.models import User
from medshake_bridge.webhooks.delivery import deliver_due
from medshake_bridge.webhooks.subscriptions import add_subscription

DOC = Path(__file__).resolve().parents[1] / "docs" / "api.md"
SECRET = "a-long-shared-secret-for-the-docs"


def _block(language: str, name: str) -> str:
    for body in re.findall(rf"^```{language}\n(.*?)^```", DOC.read_text(encoding="utf-8"),
                           re.M | re.S):
        if f"example: {name}" in body:
            return body
    raise AssertionError(f"no {language} block 'example: {name}' in {DOC}")


@pytest.fixture
def signed_delivery(world):
    """A real document.received delivery, as the receiver got it."""
    receiver = Receiver(free_port()).start()
    with world.app.app_context():
        add_subscription(receiver.url, ["document.received"], secret=SECRET)
    world.deliver(world.mail())
    world.collect()
    with world.app.app_context():
        assert deliver_due(timeout=5).delivered == 1
    yield receiver.received[0]
    receiver.stop()


def test_python_verification_accepts_the_bridges_signature_only(signed_delivery):
    namespace: dict = {}
    exec(compile(_block("python", "verify-python"), "api.md#verify-python", "exec"),  # noqa: S102
         namespace)
    verify = namespace["verify_medshake_webhook"]
    headers, body = signed_delivery.headers, signed_delivery.body
    assert verify(SECRET, headers, body)
    assert not verify("wrong secret", headers, body)
    assert not verify(SECRET, headers, body + b" ")
    assert not verify(SECRET, {**headers, "X-Medshake-Timestamp": "1000000000"}, body)


@pytest.mark.real_component("php")
def test_php_verification_accepts_the_bridges_signature_only(signed_delivery, tmp_path):
    php = shutil.which("php")
    require_component("php", php is not None, "apt-get install php-cli")
    harness = _block("php", "verify-php") + """
$headers = json_decode(file_get_contents($argv[1]), true);
$body = file_get_contents($argv[2]);
echo verify_medshake_webhook($argv[3], $headers, $body) ? "valid" : "invalid";
"""
    (tmp_path / "verify.php").write_text(harness, encoding="utf-8")
    (tmp_path / "headers.json").write_text(json.dumps(signed_delivery.headers))
    (tmp_path / "body.json").write_bytes(signed_delivery.body)
    (tmp_path / "tampered.json").write_bytes(signed_delivery.body.replace(b"}", b" }", 1))

    def run(body: str, secret: str) -> str:
        done = subprocess.run([php, str(tmp_path / "verify.php"), str(tmp_path / "headers.json"),
                               str(tmp_path / body), secret], capture_output=True, text=True,
                              timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    assert run("body.json", SECRET) == "valid"
    assert run("body.json", "wrong secret") == "invalid"
    assert run("tampered.json", SECRET) == "invalid"


def test_the_portal_example_runs_against_a_live_bridge(send_world, live_server):
    site = api_site(send_world.world)
    base = live_server(send_world.app) + "/api/v1"
    with send_world.app.app_context():
        alice = db.session.get(User, send_world.alice)
        token = create_token(alice, ["inbox:read", "inbox:write", "send",
                                     "patients:read"]).text
    namespace = {"BASE": base, "TOKEN": token, "RECIPIENT": f"{BOB}@{DOMAIN}",
                 "PATIENT": f"bridge:{send_world.patient_id}"}
    exec(compile(_block("python", "portal"), "api.md#portal", "exec"), namespace)  # noqa: S102
    assert namespace["first"].json()["state"] == "sent"
    assert len(send_world.delivered()) >= 1
    assert site.document_id
