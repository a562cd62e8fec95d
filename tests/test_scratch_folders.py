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


def test_each_message_gets_a_private_subfolder_removed_after_it(tmp_path: Path) -> None:
    root = tmp_path / "C"
    root.mkdir(mode=0o700)
    with held_work_dir(root, "collect-") as scratch:
        held = scratch.held
        assert (held / IN_USE).is_file() and _mode(held) == 0o700
        with scratch.fresh() as first:
            parts = ensure_private_dir(first / "parts")
            (parts / "body.txt").write_text(CLEAR)
            assert _mode(first) == 0o700 and _mode(parts) == 0o700
        assert not first.exists()
        with scratch.fresh() as second:
            assert second != first and not second.exists()  # made by its first user only
        with pytest.raises(RuntimeError), scratch.fresh() as third:
            ensure_private_dir(third / "apz-0")
            raise RuntimeError("the program failed")
        assert not third.exists()  # removed on error too
        assert sorted(path.name for path in held.iterdir()) == [IN_USE]
    assert list(root.iterdir()) == []


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
