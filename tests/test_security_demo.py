"""``demo`` only in an instance it created (a marker file) and on loopback unless --public
(issue #17, item 3)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from medshake_bridge.cli import main
from medshake_bridge.cli.demo_cmds import DEMO_MARKER, is_loopback

ANY_ADDRESS = ".".join(["0"] * 4)  # what --host 0.0.0.0 means: every interface


@pytest.fixture
def instance(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "instance"
    monkeypatch.setenv("MEDSHAKE_BRIDGE_INSTANCE", str(folder))
    monkeypatch.delenv("MEDSHAKE_BRIDGE_SECRET_KEYS", raising=False)
    return folder


def _run(*args: str, input: str | None = None):
    return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)


def test_the_demo_marks_its_instance_and_runs_again(instance):
    first = _run("demo", "--no-serve")
    assert first.exit_code == 0, first.output
    assert (instance / DEMO_MARKER).is_file()
    again = _run("demo", "--no-serve")
    assert again.exit_code == 0, again.output


def test_the_demo_refuses_a_real_instance(instance):
    assert _run("init-db").exit_code == 0
    made = _run("create-user", "drmartin", "--role", "admin", "--password-stdin",
                input="une phrase assez longue\n")
    assert made.exit_code == 0, made.output
    assert _run("config", "set", "apicryptAdresse", "drmartin@medical69.apicrypt.org",
                "--user", "1").exit_code == 0
    refused = _run("demo", "--no-serve")
    assert refused.exit_code != 0
    assert "was not created by `demo`" in refused.output
    assert "MEDSHAKE_BRIDGE_INSTANCE=" in refused.output
    listed = _run("users", "list").output.splitlines()
    assert len(listed) == 1 and "drmartin" in listed[0]
    shown = _run("config", "get", "apicryptAdresse", "--user", "1").output
    assert "drmartin@medical69.apicrypt.org" in shown
    assert not (instance / DEMO_MARKER).exists()


@pytest.mark.parametrize("host", [ANY_ADDRESS, "192.168.1.20", "::", "demo.example.org"])
def test_a_public_address_needs_public(instance, host):
    result = _run("demo", "--no-serve", "--host", host)
    assert result.exit_code == 2
    assert "--public" in result.output
    assert not instance.exists() or not (instance / DEMO_MARKER).exists()


def test_public_warns_and_goes_on(instance):
    result = CliRunner().invoke(main, ["demo", "--no-serve", "--host", ANY_ADDRESS, "--public"])
    assert result.exit_code == 0, result.output
    assert "WARNING" in result.output and "published password" in result.output


def test_loopback_names():
    for host in ("127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"):
        assert is_loopback(host)
    for host in (ANY_ADDRESS, "10.0.0.1", "example.org", "::"):
        assert not is_loopback(host)
