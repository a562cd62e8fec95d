"""Scratch folders of a run of messages (issue 18): one locked work folder held for the run,
a private subfolder per message removed as soon as the message is done, and after a kill -9
the held folder is a leftover like any other."""

from __future__ import annotations

import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from medshake_bridge.paths import ensure_private_dir
from medshake_bridge.workfolders import IN_USE, held_work_dir, remove_leftovers

CLEAR = "NOM DU PATIENT : DUPONT Jean — résultat en clair"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_each_message_gets_a_private_subfolder_emptied_after_it(tmp_path: Path) -> None:
    root = tmp_path / "C"
    root.mkdir(mode=0o700)
    with held_work_dir(root, "collect-") as scratch:
        held = scratch.held
        assert (held / IN_USE).is_file() and _mode(held) == 0o700
        with scratch.fresh() as first:
            parts = ensure_private_dir(first / "parts")
            (parts / "body.txt").write_text(CLEAR)
            (ensure_private_dir(first / "apz-0" / "deep") / "clear.pdf").write_bytes(b"%PDF")
            (first / "link").symlink_to(held / IN_USE)
            assert _mode(first) == 0o700 and _mode(parts) == 0o700
        assert _files(held) == [IN_USE]  # no clear text outlives its message
        assert (held / IN_USE).is_file()  # a link is removed, never followed
        with scratch.fresh() as second:  # the emptied folder is reused: no folder removed
            assert second == first and _files(second) == []
        with pytest.raises(RuntimeError), scratch.fresh() as third:
            (ensure_private_dir(third / "apz-0") / "half.pdf").write_bytes(b"%PDF")
            raise RuntimeError("the program failed")
        assert _files(held) == [IN_USE]  # emptied on error too
    assert list(root.iterdir()) == []  # the held folder goes, empty folders and all


def test_a_folder_that_cannot_be_emptied_is_removed_and_not_reused(tmp_path: Path) -> None:
    root = tmp_path / "C"
    root.mkdir(mode=0o700)
    with held_work_dir(root, "collect-") as scratch:
        with scratch.fresh() as first:
            first.mkdir()
        with scratch.fresh() as second:
            assert second == first
            second.rmdir()
            second.symlink_to(tmp_path)  # replaced by a link: never walked through
        assert not second.is_symlink() and not second.exists()
        with scratch.fresh() as third:
            assert third != first and not third.exists()


def _files(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*")
                  if path.is_file() or path.is_symlink())


def test_a_killed_run_leaves_a_held_folder_that_the_next_run_removes(tmp_path: Path) -> None:
    root = tmp_path / "C"
    root.mkdir(mode=0o700)
    code = textwrap.dedent(f"""
        import time
        from medshake_bridge.paths import ensure_private_dir
        from medshake_bridge.workfolders import held_work_dir
        with held_work_dir({str(root)!r}, "collect-") as scratch:
            with scratch.fresh() as work:
                (ensure_private_dir(work / "parts") / "body.txt").write_text({CLEAR!r})
                print(work, flush=True)
                time.sleep(600)
    """)
    worker = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        work = Path(worker.stdout.readline().strip())
        assert (work / "parts" / "body.txt").read_text() == CLEAR
        assert remove_leftovers(root) == 0  # held by a live process: kept
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
        assert work.exists()
        assert remove_leftovers(root) == 1
        assert list(root.iterdir()) == []
    finally:
        worker.kill()
        worker.wait(timeout=30)


# -- reused_work_dir: one folder per thread within a run of work (issue 18, third pass) -------


def test_outside_a_run_of_work_each_use_gets_a_fresh_folder_removed_after(tmp_path: Path) -> None:
    from medshake_bridge.workfolders import reused_work_dir

    with reused_work_dir(tmp_path, "apicrypt-c-") as first:
        (first / "body.txt").write_text(CLEAR)
    with reused_work_dir(tmp_path, "apicrypt-c-") as second:
        assert second != first and list(second.iterdir()) == [second / IN_USE]
    assert list(tmp_path.iterdir()) == []


def test_within_a_run_of_work_a_thread_reuses_its_folder_emptied_between_uses(
    tmp_path: Path,
) -> None:
    import threading

    from medshake_bridge.workfolders import reused_work_dir, reusing_work_dirs

    seen: dict[str, list[Path]] = {}

    def work(name: str) -> None:
        with reusing_work_dirs():
            for _ in range(3):
                with reused_work_dir(tmp_path, "apicrypt-nc-") as folder:
                    assert _mode(folder) == 0o700
                    assert [p.name for p in folder.iterdir()] == [IN_USE]  # nothing left over
                    (folder / "body.txt").write_text(CLEAR)
                    (folder / "out").mkdir()
                    (folder / "out" / "scan.pdf").write_bytes(b"%PDF")
                    seen.setdefault(name, []).append(folder)
                    with reused_work_dir(tmp_path, "apicrypt-nc-") as nested:
                        assert nested != folder  # nested use: a fresh folder of its own
                assert [p.name for p in folder.iterdir()] == [IN_USE]
            assert remove_leftovers(tmp_path) == 0  # held (locked) while the run goes on

    threads = [threading.Thread(target=work, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(seen["a"])) == 1 and len(set(seen["b"])) == 1
    assert seen["a"][0] != seen["b"][0]  # one per thread, never shared
    assert list(tmp_path.iterdir()) == []  # removed when each run of work ended


def test_a_folder_that_cannot_be_emptied_is_never_handed_out_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from medshake_bridge import workfolders
    from medshake_bridge.workfolders import reused_work_dir, reusing_work_dirs

    with reusing_work_dirs():
        with reused_work_dir(tmp_path, "apicrypt-c-") as first:
            (first / "body.txt").write_text(CLEAR)
            monkeypatch.setattr(workfolders, "_empty", lambda folder: False)  # e.g. EBUSY
        monkeypatch.undo()
        assert not first.exists()  # dropped whole, clear text included
        with reused_work_dir(tmp_path, "apicrypt-c-") as second:
            assert second != first and [p.name for p in second.iterdir()] == [IN_USE]
    assert list(tmp_path.iterdir()) == []
