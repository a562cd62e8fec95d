"""The example plugin, tested with the bridge's testing kit only."""

from __future__ import annotations

from medshake_bridge_example import journal

from medshake_bridge.api import settings


def test_drop_folder_collection_reaction_page_and_check(
        bridge_app, bridge_client, login_as, sandbox_network, collect, system_checks, tmp_path):
    drop = tmp_path / "drop"
    drop.mkdir()
    bob = login_as("practitioner", "bob")
    sandbox_network.configure(bob.id, apicryptCollector="dropfolder",
                              exampleDropFolder=str(drop))
    (drop / "lab.eml").write_bytes(sandbox_network.mail())

    report = collect()

    assert report.ok, report
    assert (drop / "done" / "lab.eml").is_file()  # "deleted" once safely stored
    with bridge_app.app_context():
        [entry] = journal.entries(bob.id)
    assert entry["documents"] == 1 and entry["abnormal"] == 1 and entry["results"] == 2
    page = bridge_client.get("/example/")
    assert page.status_code == 200 and 'id="example-journal"' in page.get_data(as_text=True)
    assert system_checks()["Drop folder (bob)"].ok is True


def test_the_page_needs_a_login(bridge_client):
    assert bridge_client.get("/example/").status_code in (302, 401, 404)


def test_the_trim_job_keeps_the_newest_lines(bridge_app):
    from medshake_bridge_example.plugin import trim_journal

    with bridge_app.app_context():
        settings().set("exampleJournalKeep", 2)
        path = journal.journal_file()
        path.write_text("".join(f'{{"message": {n}, "owners": [1]}}\n' for n in range(5)))
    assert trim_journal(bridge_app) == {"removed": 3}
    with bridge_app.app_context():
        assert [entry["message"] for entry in journal.entries()] == [3, 4]


def test_a_missing_drop_folder_is_the_users_mailbox_error_only(
        bridge_app, login_as, sandbox_network, maildir_mailbox, collect, tmp_path):
    bob = login_as("practitioner", "bob")
    sandbox_network.configure(bob.id, apicryptCollector="dropfolder",
                              exampleDropFolder=str(tmp_path))
    (tmp_path / "gone").mkdir()
    sandbox_network.configure(bob.id, exampleDropFolder=str(tmp_path / "gone"))
    (tmp_path / "gone").rmdir()
    alice = login_as("practitioner", "alice")
    sandbox_network.configure(alice.id, apicryptCollector="maildir",
                              apicryptMaildir=str(maildir_mailbox.folder))
    maildir_mailbox.deliver(sandbox_network.mail())

    report = collect()

    outcomes = {mailbox.mailbox.split(":")[0]: mailbox.outcome for mailbox in report.mailboxes}
    assert outcomes["dropfolder"] == "error" and outcomes["maildir"] == "ok"
    assert maildir_mailbox.waiting() == []
