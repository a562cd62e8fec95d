"""Work folders: clear text does not survive a crash, a configured folder's permissions are never
changed, and a world-writable one is refused with the fix (issue #17, items 12 and 13)."""

from __future__ import annotations

import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from mailbuild import HPRIM_LAB

from medshake_bridge import bridge_state
from medshake_bridge.errors import ConfigurationError
from medshake_bridge.workfolders import prepare_work_folder, private_work_dir, remove_leftovers

CLEAR = "NOM DU PATIENT : DUPONT Jean — résultat en clair"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _crashing_worker(root: Path, *, hold: bool) -> subprocess.Popen:
    """A process that writes clear text in a work folder, then waits to be killed."""
    code = textwrap.dedent(f"""
        import sys, time
        from medshake_bridge.workfolders import private_work_dir
        with private_work_dir({str(root)!r}, "collect-") as work:
            (work / "body.txt").write_text({CLEAR!r})
            print(work, flush=True)
            time.sleep(600)
    """)
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    return process


def test_clear_text_left_by_a_killed_process_is_removed(tmp_path):
    root = tmp_path / "C"
    root.mkdir(mode=0o700)
    (root / "not-ours.txt").write_text("someone else's file")
    killed = _crashing_worker(root, hold=True)
    running = _crashing_worker(root, hold=True)
    try:
        dead_folder = Path(killed.stdout.readline().strip())
        live_folder = Path(running.stdout.readline().strip())
        assert (dead_folder / "body.txt").read_text() == CLEAR
        killed.send_signal(signal.SIGKILL)
        killed.wait(timeout=30)
        assert dead_folder.exists()  # a kill -9 runs no clean-up
        assert remove_leftovers(root) == 1
        assert not dead_folder.exists()
        assert (live_folder / "body.txt").exists()  # in use by a running process: kept
        assert (root / "not-ours.txt").exists()
    finally:
        running.kill()
        running.wait(timeout=30)
    assert remove_leftovers(root) == 1 and not live_folder.exists()


def test_a_work_folder_is_removed_on_the_way_out_even_on_error(tmp_path):
    with pytest.raises(RuntimeError), private_work_dir(tmp_path, "send-") as work:
        (work / "clear.txt").write_text(CLEAR)
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_an_existing_folder_keeps_its_permissions(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o755)
    assert prepare_work_folder(shared, setting="apicryptCheminFichierC") == shared
    assert _mode(shared) == 0o755
    created = prepare_work_folder(tmp_path / "new" / "C", setting="apicryptCheminFichierC")
    assert _mode(created) == 0o700


def test_a_world_writable_folder_is_refused_with_the_fix(tmp_path):
    public = tmp_path / "tmp-like"
    public.mkdir()
    public.chmod(0o1777)
    with pytest.raises(ConfigurationError) as refused:
        prepare_work_folder(public, setting="apicryptCheminFichierNC")
    assert "apicryptCheminFichierNC" in refused.value.message
    assert "1777" in refused.value.message
    assert "mkdir -m 700" in refused.value.fix
    assert _mode(public) == 0o1777  # untouched


def test_a_collection_neither_chmods_nor_uses_a_world_writable_folder(world):
    public = world.tmp / "public-work"
    public.mkdir()
    public.chmod(0o1777)
    with world.app.app_context():
        bridge_state().settings.set("apicryptCheminFichierC", str(public), level="user",
                                    user_id=world.bob)
    world.deliver(world.mail(HPRIM_LAB))
    world.collect()
    assert _mode(public) == 0o1777
    assert list(public.iterdir()) == []
    assert world.documents() == []
    assert len(world.on_server()) == 1  # nothing lost: the mail waits on the server


def test_a_collection_starts_by_removing_a_crashed_runs_clear_text(world):
    with world.app.app_context():
        work = Path(bridge_state().settings.get("apicryptCheminFichierC", user_id=world.bob))
    work.mkdir(parents=True, exist_ok=True, mode=0o700)
    crashed = _crashing_worker(work, hold=True)
    folder = Path(crashed.stdout.readline().strip())
    crashed.send_signal(signal.SIGKILL)
    crashed.wait(timeout=30)
    assert folder.exists()
    world.deliver(world.mail(HPRIM_LAB))
    world.collect()
    assert not folder.exists()
    assert len(world.documents()) == 1
    assert [p for p in work.iterdir()] == []


def test_the_v1_programs_workspace_leaves_shared_folders_alone(tmp_path):
    from medshake_apicrypt_v1.backend import ApicryptV1ConfigError, build_backend

    from medshake_bridge.runner import Runner

    clear, encrypted = tmp_path / "NC", tmp_path / "C"
    for folder in (clear, encrypted):
        folder.mkdir()
        folder.chmod(0o750)
    backend = build_backend({"apicryptCheminFichierNC": str(clear),
                             "apicryptCheminFichierC": str(encrypted)}, Runner(timeout=5))
    with backend._workspace() as (clear_work, encrypted_work):
        assert _mode(clear_work) == 0o700 and clear_work.parent == clear
        (clear_work / "body.txt").write_text(CLEAR)
    assert _mode(clear) == 0o750 and _mode(encrypted) == 0o750
    assert list(clear.iterdir()) == [] and list(encrypted.iterdir()) == []
    clear.chmod(0o1777)
    with pytest.raises(ApicryptV1ConfigError, match="apicryptCheminFichierNC"), \
            backend._workspace():
        pass
    assert _mode(clear) == 0o1777


def test_the_system_information_page_reports_a_world_writable_work_folder(tmp_path):
    from medshake_bridge.sysinfo.folders import data_folder_check

    public = tmp_path / "public"
    public.mkdir()
    public.chmod(0o1777)
    check = data_folder_check("Working folder", "apicryptCheminFichierNC", str(public))
    assert check.ok is False and "every account" in check.detail
    assert "install -d -m 700" in check.fix
    assert _mode(public) == 0o1777
