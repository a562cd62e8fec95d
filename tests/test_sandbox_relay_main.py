"""The FAKE relay's light entry point (issue 18, third pass): the command of
``medshake-bridge sandbox relay``, run without loading the bridge's app, and the demo's way of
starting it (settings on the standard input)."""

from __future__ import annotations

import json
import os
import re
import smtplib
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from medshake_bridge.sandbox import create_network
from medshake_bridge.sandbox.relay_main import RELAY_MAIN, SETTINGS_FROM_STDIN

ALICE, BOB = "alice.MARTIN", "bob.DURAND"


def test_the_light_entry_point_offers_the_same_command(tmp_path: Path) -> None:
    from medshake_bridge.cli import main

    through_cli = CliRunner().invoke(main, ["sandbox", "relay", "--help"])
    assert through_cli.exit_code == 0, through_cli.output
    light = subprocess.run([sys.executable, RELAY_MAIN, "--help"], capture_output=True,
                           text=True, timeout=60, env={**os.environ, "COLUMNS": "80"})
    assert light.returncode == 0, light.stderr
    assert light.stdout.split() == through_cli.output.split()  # the same words (wrap aside)
    missing = subprocess.run([sys.executable, RELAY_MAIN, "--network", str(tmp_path),
                              "--maildirs", str(tmp_path / "m")], capture_output=True,
                             text=True, timeout=60)
    assert missing.returncode == 1 and "No relay users file" in missing.stderr


def test_the_light_relay_listens_without_the_bridge_app(tmp_path: Path) -> None:
    net = create_network(tmp_path / "sandbox", [ALICE, BOB])
    users = tmp_path / "relay-users"
    users.write_text(f"{ALICE}:relay-password\n")
    relay = subprocess.Popen(
        [sys.executable, "-X", "importtime", RELAY_MAIN, "--port", "0", "--network",
         str(net.network_dir), "--maildirs", str(tmp_path / "maildirs"), "--users",
         str(users)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        banner = relay.stdout.readline()
        assert "FAKE" in banner and "WITHOUT TLS" in banner, banner
        port = int(re.search(r":(\d+),", banner).group(1))
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
            code, _ = client.ehlo("test")
            assert code == 250
    finally:
        relay.terminate()
        _, imports = relay.communicate(timeout=30)
    imported = {line.split("|")[-1].strip() for line in imports.splitlines()
                if line.startswith("import time:")}
    assert "medshake_bridge.sandbox.relay" in imported
    assert not {"flask", "sqlalchemy", "medshake_bridge.app"} & imported


def test_the_demo_starts_the_light_relay_with_its_settings_on_stdin(tmp_path: Path) -> None:
    net = create_network(tmp_path / "sandbox", [ALICE, BOB])
    relay = subprocess.Popen([sys.executable, RELAY_MAIN, SETTINGS_FROM_STDIN],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        relay.stdin.write(json.dumps({
            "network": str(net.network_dir), "maildirs": str(tmp_path / "maildirs"),
            "users": {ALICE: "relay-password"}, "cert": None, "key": None,
            "port": 0}) + "\n")
        relay.stdin.flush()
        port = json.loads(relay.stdout.readline())["port"]
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
            assert client.ehlo("test")[0] == 250
    finally:
        relay.stdin.close()  # the demo's signal to stop
        assert relay.wait(timeout=30) == 0
