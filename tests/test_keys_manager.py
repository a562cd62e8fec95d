"""The Clefs/ manager on real folders, with the sandbox's ApiV2AESUtility as a real program.

Every refusal must say what happened and leave the folder exactly as it was (names, sizes,
contents, hidden work files included).
"""

from __future__ import annotations

import io
import stat
from datetime import date
from pathlib import Path

import pytest
from medshake_keys.errors import (
    AesDecryptError,
    CurrentYearKeyError,
    KeyExistsError,
    KeyFileSizeError,
    KeyFolderError,
    KeyNameError,
    KeyNotFoundError,
    LongCodeError,
)
from medshake_keys.manager import MAX_KEY_BYTES, ClefsManager
from medshake_keys.names import parse_name, validate_name
from support.unprivileged import run_unprivileged

from medshake_bridge.runner import Runner
from medshake_bridge.sandbox import SANDBOX_ENV_VARS, install_programs, make_aes_key, make_keys

BOB = "bob.DURAND"
TODAY = date(2026, 11, 28)


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every entry under ``folder`` (hidden ones too) with its content."""
    if not folder.exists():
        return {}
    if folder.is_file():
        return {".": folder.read_bytes()}
    return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else b"<dir>")
            for p in sorted(folder.rglob("*"))}


class Site:
    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.keys_dir = tmp_path / "site"
        self.keys_dir.mkdir()
        self.clefs = self.keys_dir / "Clefs"
        self.bin = tmp_path / "bin"
        install_programs(self.bin)
        self.source = tmp_path / "from-apicem"
        self.events: list[tuple[str, str, str, str]] = []
        make_keys(BOB, self.source, 2026)

    def manager(self, *, timeout: float = 20, keys_dir: Path | None = None,
                **settings: object) -> ClefsManager:
        values = {"apicryptCheminVersBinaires": str(self.bin), **settings}
        return ClefsManager(keys_dir or self.keys_dir, settings=values,
                            runner=Runner(timeout=timeout, passthrough_env=SANDBOX_ENV_VARS),
                            today=lambda: TODAY,
                            on_event=lambda *event: self.events.append(event))

    def key(self, name: str) -> bytes:
        return (self.source / "Clefs" / name).read_bytes()

    def add(self, name: str, data: bytes | None = None) -> None:
        self.manager().import_key(name, io.BytesIO(self.key(name) if data is None else data))

    def aes(self, year: int = 2027) -> tuple[str, str]:
        path, code = make_aes_key(BOB, self.source, year)
        self.add(path.name, path.read_bytes())
        return path.name, code


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Site:
    monkeypatch.delenv("MEDSHAKE_SANDBOX_FAULT", raising=False)
    return Site(tmp_path)


# -- names --------------------------------------------------------------------------------

def test_key_names_are_parsed():
    assert parse_name("bob.DURAND.126").year == 2026
    assert parse_name("bob.DURAND.126").kind == "key"
    assert parse_name("Master.127").kind == "master"
    aes = parse_name("bob.DURAND.127.aes")
    assert aes.kind == "aes" and aes.user == BOB and aes.decrypted_name == "bob.DURAND.127"
    assert parse_name("notes.txt") is None


@pytest.mark.parametrize(("name", "said"), [
    ("../x", "folder part"),
    ("Clefs/../../x", "folder part"),
    ("..\\x", "folder part"),
    (".hidden", "hidden"),
    (".bob.DURAND.126", "hidden"),
    ("bob.DURAND.126\x00.txt", "control character"),
    ("bob.DURAND.126\n", "control character"),
    ("bob.DURAND", "not a key file name"),
    ("-rf.126", "not a key file name"),
    ("", "no name"),
])
def test_refused_upload_names_leave_the_folder_as_it_was(site: Site, name: str, said: str):
    site.add("bob.DURAND.126")
    before = snapshot(site.keys_dir)
    with pytest.raises(KeyNameError) as caught:
        site.manager().import_key(name, io.BytesIO(b"not a key"))
    assert said in caught.value.message and caught.value.fix
    assert snapshot(site.keys_dir) == before
    assert not (site.tmp / "x").exists()


# -- import -------------------------------------------------------------------------------

def test_import_writes_a_private_file_atomically(site: Site):
    stored = site.manager().import_key("bob.DURAND.126", io.BytesIO(site.key("bob.DURAND.126")))
    path = site.clefs / "bob.DURAND.126"
    assert path.read_bytes() == site.key("bob.DURAND.126")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(site.clefs.stat().st_mode) == 0o700
    assert stored.current_year and stored.parsed.user == BOB
    assert [p.name for p in site.clefs.iterdir()] == ["bob.DURAND.126"]  # no temp file left
    assert site.events == [("keys.import", str(path), "ok", f"{stored.size} bytes")]


def test_an_empty_file_is_refused(site: Site):
    before = snapshot(site.keys_dir)
    with pytest.raises(KeyFileSizeError, match="empty"):
        site.manager().import_key("bob.DURAND.126", io.BytesIO(b""))
    assert snapshot(site.keys_dir) == {**before, "Clefs": b"<dir>"}
    assert list(site.clefs.iterdir()) == []


class CountingReader(io.RawIOBase):
    """A real file, read through a counter: proves how much of it the manager read."""

    def __init__(self, path: Path) -> None:
        self.handle = path.open("rb")
        self.read_bytes = 0

    def read(self, size: int = -1) -> bytes:
        data = self.handle.read(size)
        self.read_bytes += len(data)
        return data

    def close(self) -> None:
        self.handle.close()


def test_a_50_mb_file_is_refused_after_reading_just_past_the_cap(site: Site):
    big = site.tmp / "bob.DURAND.126"
    with big.open("wb") as handle:
        handle.truncate(50 * 1024 * 1024)  # sparse: cheap to make
    reader = CountingReader(big)
    with pytest.raises(KeyFileSizeError, match="larger than") as caught:
        site.manager().import_key("bob.DURAND.126", reader)
    reader.close()
    assert reader.read_bytes == MAX_KEY_BYTES + 1
    assert "key file itself" in caught.value.fix
    assert list(site.clefs.iterdir()) == []


def test_an_existing_key_is_never_overwritten(site: Site):
    site.add("bob.DURAND.126")
    before = snapshot(site.keys_dir)
    with pytest.raises(KeyExistsError, match="not overwritten"):
        site.manager().import_key("bob.DURAND.126", io.BytesIO(b"another key"))
    assert snapshot(site.keys_dir) == before


def test_a_folder_not_configured_is_explained(site: Site):
    manager = ClefsManager(None)
    assert manager.list_keys() == []
    assert "No key folder is configured" in manager.status().problems[0]
    with pytest.raises(KeyFolderError, match="apicryptCheminVersClefs"):
        manager.import_key("bob.DURAND.126", io.BytesIO(b"key"))


def test_a_key_folder_that_cannot_be_written_even_by_root(site: Site):
    """Clefs is a file: nothing can be stored there, whoever runs the bridge."""
    site.clefs.write_bytes(b"someone's file")
    before = snapshot(site.keys_dir)
    manager = site.manager()
    status = manager.status()
    assert not status.writable and not status.readable
    assert "is a file, not a folder" in status.problems[0]
    with pytest.raises(KeyFolderError, match="is a file, not a folder"):
        manager.import_key("bob.DURAND.126", io.BytesIO(site.key("bob.DURAND.126")))
    with pytest.raises(KeyFolderError):
        manager.delete_key("bob.DURAND.126")
    with pytest.raises(KeyFolderError):
        manager.decrypt_aes("bob.DURAND.127.aes", "AAAAA-BBBBB")
    assert manager.list_keys() == []
    assert snapshot(site.keys_dir) == before


READ_ONLY_CLEFS = """
import io, json, os, shutil, tempfile
from pathlib import Path
from medshake_keys.errors import KeyFolderError
from test_keys_manager import Site, snapshot
tmp = Path(tempfile.mkdtemp())
try:
    site = Site(tmp)
    site.add("bob.DURAND.126")
    site.clefs.chmod(0o500)
    before = snapshot(site.keys_dir)
    try:
        site.manager().import_key("Master.126", io.BytesIO(site.key("Master.126")))
        refused = ""
    except KeyFolderError as exc:
        refused = str(exc)
    unchanged = snapshot(site.keys_dir) == before
    site.clefs.chmod(0o700)
    site.add("Master.126")  # writable again: the same import works
    print(json.dumps({"uid": os.geteuid(), "refused": refused, "unchanged": unchanged,
                      "keys": sorted(k.name for k in site.manager().list_keys())}))
finally:
    shutil.rmtree(tmp)
"""


@pytest.mark.real_component("unprivileged-user")
def test_a_read_only_clefs_folder():
    """Run as an unprivileged account (root ignores permission bits)."""
    found = run_unprivileged(READ_ONLY_CLEFS)
    assert found["uid"] != 0
    assert "may not write" in found["refused"] and found["unchanged"]
    assert found["keys"] == ["Master.126", "bob.DURAND.126"]


# -- list and delete ---------------------------------------------------------------------

def test_list_shows_names_years_sizes_and_access(site: Site):
    site.add("bob.DURAND.126")
    site.add("Master.126")
    name, _code = site.aes()
    (site.clefs / "notes.txt").write_text("kept by the admin")
    (site.clefs / ".work").mkdir()
    listed = {key.name: key for key in site.manager().list_keys()}
    assert list(listed) == ["bob.DURAND.126", "bob.DURAND.127.aes", "Master.126", "notes.txt"]
    assert listed["bob.DURAND.126"].current_year and listed["Master.126"].current_year
    assert listed["Master.126"].kind == "master"
    assert listed[name].kind == "aes" and not listed[name].current_year
    assert listed["notes.txt"].kind == "other"
    assert listed["bob.DURAND.126"].size == len(site.key("bob.DURAND.126"))
    assert all(key.readable and key.writable for key in listed.values())


def test_deleting_a_key_that_does_not_exist(site: Site):
    site.add("bob.DURAND.126")
    before = snapshot(site.keys_dir)
    with pytest.raises(KeyNotFoundError, match=r"no key file bob\.DURAND\.125"):
        site.manager().delete_key("bob.DURAND.125")
    assert snapshot(site.keys_dir) == before


def test_deleting_a_key_of_another_folder(site: Site, tmp_path: Path):
    other = tmp_path / "other-user"
    make_keys("carol.PETIT", other, 2025)
    site.add("bob.DURAND.126")
    before, theirs = snapshot(site.keys_dir), snapshot(other)
    manager = site.manager()
    with pytest.raises(KeyNotFoundError, match="another folder"):
        manager.delete_key("carol.PETIT.125")
    with pytest.raises(KeyNameError, match="folder part"):
        manager.delete_key("../../other-user/Clefs/carol.PETIT.125")
    assert snapshot(site.keys_dir) == before and snapshot(other) == theirs


def test_the_current_year_key_needs_a_second_confirmation(site: Site):
    site.add("bob.DURAND.126")
    path = site.clefs / "bob.DURAND.126"
    with pytest.raises(CurrentYearKeyError, match="current year") as caught:
        site.manager().delete_key("bob.DURAND.126")
    assert "--confirm-current-year" in caught.value.fix
    assert path.exists()
    site.manager().delete_key("bob.DURAND.126", confirm_current_year=True)
    assert not path.exists()
    assert [e[2] for e in site.events if e[0] == "keys.delete"] == ["denied", "ok"]


def test_an_old_key_is_deleted_with_one_confirmation(site: Site):
    old = make_keys(BOB, site.source, 2024)[0]
    site.add(old.name)
    site.manager().delete_key(old.name)
    assert not (site.clefs / old.name).exists()
    assert site.events[-1] == ("keys.delete", str(site.clefs / old.name), "ok", "")


# -- .aes keys -------------------------------------------------------------------------------

def test_decrypting_an_aes_key_with_the_long_code(site: Site):
    name, code = site.aes()
    opened = site.manager().decrypt_aes(name, f"  {code.lower()}  ")
    key = site.clefs / "bob.DURAND.127"
    assert opened.name == "bob.DURAND.127" and key.read_bytes().startswith(b"-----BEGIN")
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert sorted(p.name for p in site.clefs.iterdir()) == ["bob.DURAND.127"]
    assert code not in repr(site.events) and site.events[-1][2] == "ok"


def test_a_wrong_long_code(site: Site, caplog: pytest.LogCaptureFixture):
    name, code = site.aes()
    before = snapshot(site.keys_dir)
    wrong = code[:-1] + ("A" if code[-1] != "A" else "B")
    with pytest.raises(AesDecryptError, match="long code is most likely wrong") as caught:
        site.manager().decrypt_aes(name, wrong)
    assert "the .aes key is kept" in caught.value.fix
    assert snapshot(site.keys_dir) == before
    assert wrong not in str(caught.value) and wrong not in caplog.text
    assert wrong not in repr(site.events)
    assert site.events[-1][:3] == ("keys.decrypt", str(site.clefs / name), "failed")


@pytest.mark.parametrize("code", ["-rf", "AB", "abc\ndef", "code;rm", "x" * 300])
def test_a_malformed_long_code_runs_nothing(site: Site, code: str):
    name, _code = site.aes()
    before = snapshot(site.keys_dir)
    with pytest.raises(LongCodeError):
        site.manager().decrypt_aes(name, code)
    assert snapshot(site.keys_dir) == before


def test_only_aes_files_are_decrypted_and_an_existing_key_wins(site: Site):
    site.add("bob.DURAND.126")
    with pytest.raises(KeyNameError, match="not an encrypted"):
        site.manager().decrypt_aes("bob.DURAND.126", "AAAAA-BBBBB")
    name, code = site.aes(2026)  # bob.DURAND.126.aes while bob.DURAND.126 is there
    before = snapshot(site.keys_dir)
    with pytest.raises(KeyExistsError):
        site.manager().decrypt_aes(name, code)
    assert snapshot(site.keys_dir) == before


def test_aes_utility_missing(site: Site, tmp_path: Path):
    name, code = site.aes()
    before = snapshot(site.keys_dir)
    manager = site.manager(apicryptCheminVersBinaires=str(tmp_path / "no-programs-here"))
    assert not manager.aes_available()
    with pytest.raises(AesDecryptError, match="cannot be run") as caught:
        manager.decrypt_aes(name, code)
    assert "apicryptCheminVersBinaires" in caught.value.fix
    assert snapshot(site.keys_dir) == before


@pytest.mark.parametrize(("fault", "said"), [
    ("exit1", "refused to open"),
    ("noout", "without writing the key"),
    ("empty", "without writing the key"),
])
def test_aes_utility_failing(site: Site, monkeypatch: pytest.MonkeyPatch, fault: str,
                             said: str):
    name, code = site.aes()
    before = snapshot(site.keys_dir)
    monkeypatch.setenv("MEDSHAKE_SANDBOX_FAULT", f"ApiV2AESUtility:{fault}")
    with pytest.raises(AesDecryptError, match=said):
        site.manager().decrypt_aes(name, code)
    assert snapshot(site.keys_dir) == before


def test_aes_utility_hanging_is_stopped(site: Site, monkeypatch: pytest.MonkeyPatch):
    name, code = site.aes()
    before = snapshot(site.keys_dir)
    monkeypatch.setenv("MEDSHAKE_SANDBOX_FAULT", "ApiV2AESUtility:hang")
    with pytest.raises(AesDecryptError, match="did not finish in time") as caught:
        site.manager(timeout=1).decrypt_aes(name, code)
    assert "apicryptCommandTimeout" in caught.value.fix
    assert snapshot(site.keys_dir) == before


def test_the_aes_command_template_is_the_v2_setting(site: Site, tmp_path: Path):
    """The v2 plugin's apicrypt2AesCommand is used (here: a bad one, refused clearly)."""
    name, code = site.aes()
    manager = site.manager(apicrypt2AesCommand="ApiV2AESUtility {source} {code}")
    with pytest.raises(AesDecryptError, match="apicrypt2AesCommand"):
        manager.decrypt_aes(name, code)
    assert validate_name(name).encrypted


def test_decrypt_is_offered_for_v2_users_even_without_the_program(site: Site, tmp_path: Path):
    missing = str(tmp_path / "none")
    assert site.manager().aes_available()
    assert not site.manager(apicryptCheminVersBinaires=missing).aes_available()
    assert site.manager(apicryptCheminVersBinaires=missing, apicryptVersion="2").aes_available()
