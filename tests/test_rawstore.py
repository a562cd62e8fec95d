"""The raw message store: partial copies of a crashed run are swept once per collection."""

from __future__ import annotations

from pathlib import Path

from medshake_bridge.collect.rawstore import RawMessageFile, raw_file_name, remove_partials


def test_partial_copies_are_removed_and_complete_files_kept(tmp_path: Path) -> None:
    folder = tmp_path / "raw" / "1"
    folder.mkdir(parents=True)
    name = raw_file_name("1700000000:42")
    (folder / f".{name}.999999.part").write_bytes(b"cut in the middle")
    (folder / name).write_bytes(b"complete")
    assert remove_partials(folder) == 1
    assert sorted(p.name for p in folder.iterdir()) == [name]
    assert remove_partials(tmp_path / "missing") == 0


def test_a_message_file_appears_only_when_kept(tmp_path: Path) -> None:
    raw = RawMessageFile(tmp_path, "m.eml")
    raw.writer.write(b"From: a\r\n\r\nbody\r\n")
    assert not (tmp_path / "m.eml").exists()
    final, sha256, size = raw.keep()
    assert final.read_bytes() == b"From: a\r\n\r\nbody\r\n" and size == 17 and len(sha256) == 64
    assert [p.name for p in tmp_path.iterdir()] == ["m.eml"]


def test_a_collection_sweeps_a_crashed_runs_partials(world) -> None:
    world.deliver(world.mail())
    with world.app.app_context():
        from medshake_bridge import bridge_state
        from medshake_bridge.collect.mailboxes import plan_mailboxes
        from medshake_bridge.collect.pipeline import _mailbox_row

        (plan,), _ = plan_mailboxes(bridge_state())
        mailbox = _mailbox_row(plan)
        raw_dir = Path(plan.settings["apicryptCheminInbox"]) / "raw" / str(mailbox.id)
    raw_dir.mkdir(parents=True, exist_ok=True)
    stale = raw_dir / ".deadbeef.eml.4242.part"
    stale.write_bytes(b"half")
    report = world.collect()
    assert report.ok, report
    assert not stale.exists()


def test_a_raw_folder_gone_during_a_run_is_made_again_private(tmp_path: Path) -> None:
    """The pipeline makes the raw folder once per run (``folder_ready``, issue 18 fifth pass);
    if it went missing meanwhile, the next message makes it again (0700) instead of failing."""
    folder = tmp_path / "raw" / "7"
    raw = RawMessageFile(folder, "m.eml", folder_ready=True)
    raw.writer.write(b"From: a\r\n\r\nbody\r\n")
    final, _, _ = raw.keep()
    assert final.read_bytes() == b"From: a\r\n\r\nbody\r\n"
    assert folder.stat().st_mode & 0o777 == 0o700


def test_a_collection_that_stores_mail_makes_a_loosened_raw_folder_private_again(world) -> None:
    """The raw folder is made (and its mode checked) once per run that has new mail: a folder
    an admin's copy left readable by others is 0700 again after the next collection (the
    per-message check this replaced did it; the fifth mutation pass's `if not new` showed no
    test looked)."""
    world.deliver(world.mail())
    assert world.collect().total("processed") == 1
    (raw_dir,) = [path.parent for path in Path(world.app.instance_path).rglob("*.eml")
                  if path.parent.parent.name == "raw"]
    raw_dir.chmod(0o755)
    world.deliver(world.mail(subject="encore"))
    assert world.collect().total("processed") == 1
    assert raw_dir.stat().st_mode & 0o777 == 0o700
