"""End to end with the sandbox network, the bridge's collection, a real MariaDB MedShakeEHR:
a message about DUPONT Hélène is collected, her record is the first candidate, filing creates
the rows and the stored file once, write-back gives an inbox row MedShakeEHR's query lists,
and a broken MedShakeEHR never stops collection into the bridge's own inbox."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from medshakeehr_world import HELENE, PDF, Ehr, collect_helene, configure, install_tables

from medshake_bridge.api import ActingUser, DocumentToFile, FilingAttachment
from medshake_bridge.hprim import LabResult, parse_header

pytestmark = [pytest.mark.real_component("mariadb")]
def php_unserialize(data: bytes) -> dict:
    """What MedShakeEHR's PHP reads from a serialized column (real PHP's unserialize)."""
    import shutil
    import subprocess

    from support.components import require_component

    require_component("php", shutil.which("php") is not None,
                      "no php; install it with `apt-get install -y php-cli`")
    done = subprocess.run(["php", "-r", '$v = unserialize(stream_get_contents(STDIN)); '
                           'echo $v === false ? "FAILED" : json_encode($v, JSON_FORCE_OBJECT);'],
                          input=data, capture_output=True, check=True, timeout=60)
    assert done.stdout != b"FAILED", data
    return json.loads(done.stdout)


def _to_file(world, document) -> DocumentToFile:
    """What the host hands a provider (built here from the bridge's inbox row)."""
    message = [m for m in world.messages() if m.id == document.message_id][0]
    items = json.loads(message.attachments_json)
    return DocumentToFile(
        key=f"bridge-document:{document.id}", document_id=document.id,
        title=document.sender_name, text=document.body, received_at=dt.datetime(2026, 11, 30),
        exam_date=dt.date(2026, 11, 29),
        lab_results=[LabResult(**{k: v for k, v in item.items() if k != "abnormal"})
                     for item in json.loads(document.results_json)],
        attachments=[FilingAttachment(name=i["name"], path=Path(i["file"]),
                                      media_type=i.get("content_type", "")) for i in items])


def test_collected_message_is_written_back_candidate_first_and_filed_once(clinic, ehr: Ehr):
    from medshake_medshakeehr.provider import MedShakeEhrProvider
    from medshake_medshakeehr.storage import folder_for

    document = collect_helene(clinic)
    # write-back: the row MedShakeEHR's inbox page lists for user 3 (archived != 'y')
    rows = ehr.rows("SELECT id, txtFileName, hprimIdentite, hprimExpediteur, hprimDateDossier, "
                    "pjNombre, pjSerializeName, hprimAllSerialize, archived, assoToID FROM "
                    "inbox WHERE mailForUserID IN (3) AND archived != 'y' AND txtNumOrdre=:n",
                    n=document.id)
    assert len(rows) == 1
    row = rows[0]
    assert row.hprimIdentite == "Hélène DUPONT" and row.hprimDateDossier == "29/11/2026"
    assert row.hprimExpediteur == "laboratoire.central"
    assert (row.pjNombre, row.pjSerializeName) == (1, b'a:1:{i:2;s:10:"CR_bio.pdf";}')
    assert b's:3:"nom";s:6:"DUPONT";' in row.hprimAllSerialize
    assert b's:6:"prenom";s:8:"H\xc3\xa9l\xc3\xa8ne";' in row.hprimAllSerialize
    assert row.archived == "n"
    assert php_unserialize(row.hprimAllSerialize)["prenom"] == "Hélène"
    assert php_unserialize(row.hprimAllSerialize)["ddn"] == "15/03/1970"
    assert php_unserialize(row.pjSerializeName) == {"2": "CR_bio.pdf"}
    txt = clinic.ehr_inbox / row.txtFileName
    assert txt.read_text(encoding="utf-8").splitlines()[1:3] == ["DUPONT", "Hélène"]
    assert "RES|Glycémie|GLY|N|0.95|g/l|0.70|1.10||F" in txt.read_text(encoding="utf-8")
    again = parse_header(txt.read_text(encoding="utf-8").splitlines())
    original = parse_header(HELENE.splitlines())
    # the written-back file reads as the message it came from (the blank line after the
    # header aside)
    import dataclasses

    assert dataclasses.replace(again, line_count=0) == dataclasses.replace(original,
                                                                           line_count=0)
    assert (clinic.ehr_inbox / row.txtFileName.replace(".txt", ".f") / "CR_bio.pdf"
            ).read_bytes() == PDF
    # a retry of the hook creates nothing more
    from medshake_medshakeehr.config import connector_config
    from medshake_medshakeehr.writeback import copy_document

    message = [m for m in clinic.messages() if m.id == document.message_id][0]
    with clinic.app.app_context():
        assert copy_document(connector_config(), document, message) == row.id
    assert len(ehr.rows("SELECT id FROM inbox")) == 3  # two fixture rows + ours

    # her MedShakeEHR record is the first candidate (the deleted twin record is not offered)
    header = parse_header(HELENE.splitlines())
    with clinic.app.app_context():
        provider = MedShakeEhrProvider()
        candidates = provider.candidates(header, limit=5)
        assert candidates[0].ref.id == "6" and "8" not in [c.ref.id for c in candidates]
        from medshake_bridge.users import find_user

        bob = find_user("bob")
        user = ActingUser(id=bob.id, login=bob.login)
        record = provider.file_document(_to_file(clinic, document), "6", user=user)
        again = provider.file_document(_to_file(clinic, document), "6", user=user)
    assert record.created and not again.created and again.record_id == record.record_id
    porteur = int(record.record_id)
    assert (ehr.storage / folder_for(porteur) / f"{porteur}.pdf").read_bytes() == PDF
    docs = ehr.rows("SELECT o.instance, t.name, o.value FROM objets_data o JOIN data_types t "
                    "ON t.id=o.typeID WHERE o.toID=6 AND t.groupe='doc' ORDER BY o.id")
    assert [(d.instance, d.name) for d in docs] == [(0, "docPorteur"),
                                                    (porteur, "docOriginalName"),
                                                    (porteur, "docType")]
    assert [tuple(r) for r in ehr.rows("SELECT objetID, labelStandard, resultat FROM hprim "
                                       "WHERE toID=6")] == [(porteur, "GLY", "0.95")]
    # filing marked the written-back inbox row "classé" for Hélène (v8's own filing cannot)
    assert tuple(ehr.rows("SELECT archived, assoToID FROM inbox WHERE id=:i", i=row.id)[0]) \
        == ("c", 6)


def test_a_broken_medshakeehr_never_stops_collection(world, ehr: Ehr, caplog):
    configure(world.app, ehr, medshakeEhrWriteBack=True, medshakeEhrInboxUserId=3,
              medshakeEhrDatabaseUrl=ehr.url.replace("root@", "nobody:wrongpw@"))
    document = collect_helene(world)
    assert document.state == "new" and document.patient_last_name == "DUPONT"
    assert [m.state for m in world.messages()] == ["processed"]
    assert "not copied into MedShakeEHR's inbox" in caplog.text
    assert "wrongpw" not in caplog.text
    assert ehr.rows("SELECT id FROM inbox WHERE txtNumOrdre=:n", n=document.id) == []


def test_a_missing_data_types_row_never_stops_collection(world, ehr: Ehr):
    configure(world.app, ehr, medshakeEhrFilingEnabled=True)
    ehr.execute("DELETE FROM data_types WHERE name='docType'")
    document = collect_helene(world)
    assert document.state == "new"
    result = world.app.test_cli_runner().invoke(args=["bridge", "doctor", "--quiet"])
    assert result.exit_code == 1
    assert "no row named docType" in result.output


def test_through_the_hosts_patient_functions(clinic, ehr: Ehr):
    """The inbox's own path: the host's candidates and filing reach MedShakeEHR once."""
    patients = pytest.importorskip("medshake_bridge.patients")
    from medshake_medshakeehr.storage import folder_for

    from medshake_bridge.users import find_user

    document = collect_helene(clinic)
    with clinic.app.app_context():
        bob = find_user("bob")
        candidates = patients.candidates_for_document(document.id, user=bob)
        assert str(candidates[0].ref) == "medshakeehr:6"
        assert "medshakeehr:8" not in [str(c.ref) for c in candidates]
        record = patients.file_document(document.id, "medshakeehr:6", user=bob)
        again = patients.file_document(document.id, "medshakeehr:6", user=bob)
    assert record.created and not again.created and again.record_id == record.record_id
    porteur = int(record.record_id)
    assert (ehr.storage / folder_for(porteur) / f"{porteur}.pdf").read_bytes() == PDF
    assert len(ehr.rows("SELECT id FROM objets_data WHERE toID=6 AND typeID=:t",
                        t=ehr.type_id("docPorteur"))) == 1
    assert [tuple(r) for r in ehr.rows("SELECT labelStandard, resultat FROM hprim WHERE "
                                       "toID=6")] == [("GLY", "0.95")]
    assert tuple(ehr.rows("SELECT archived, assoToID FROM inbox WHERE txtNumOrdre=:n",
                          n=document.id)[0]) == ("c", 6)


def test_write_back_without_the_tables_names_the_command(clinic, ehr: Ehr, caplog):
    ehr.execute("DROP TABLE bridge_inbox_copies")
    document = collect_helene(clinic)
    assert document.state == "new"
    assert "run medshake-bridge medshakeehr install-tables" in caplog.text
    assert list(clinic.ehr_inbox.iterdir()) == []  # files of the failed copy removed


def test_files_left_by_a_crashed_copy_do_not_block_the_retry(clinic, ehr: Ehr):
    from medshake_medshakeehr.config import connector_config
    from medshake_medshakeehr.writeback import copy_document, received_at

    ehr.execute("DROP TABLE bridge_inbox_copies")  # the first copy fails...
    document = collect_helene(clinic)
    message = [m for m in clinic.messages() if m.id == document.message_id][0]
    stamp = received_at(document, message).strftime("%Y%m%d-%H%M%S")
    orphan = clinic.ehr_inbox / f"{stamp}-{document.id}.txt"
    orphan.write_text("half written")  # ...as if the process died after writing its file
    (clinic.ehr_inbox / f"{stamp}-{document.id}.f").mkdir()
    install_tables(ehr)
    with clinic.app.app_context():
        inbox_id = copy_document(connector_config(), document, message)
    assert inbox_id and orphan.read_text(encoding="utf-8").splitlines()[1] == "DUPONT"
    assert len(ehr.rows("SELECT id FROM inbox WHERE txtNumOrdre=:n", n=document.id)) == 1


def test_the_documented_privileges_are_enough(clinic, ehr: Ehr):
    """A MariaDB account with only the grants docs/medshakeehr.md lists files and writes back."""
    import secrets as random_names

    from medshake_medshakeehr.provider import MedShakeEhrProvider
    from sqlalchemy.engine import make_url

    account, password = f"cx_{random_names.token_hex(4)}", random_names.token_urlsafe(12)
    db = f"`{ehr.name}`"
    ehr.execute(f"CREATE USER '{account}'@'%' IDENTIFIED BY '{password}'")
    try:
        for grant in (f"SELECT ON {db}.*", f"INSERT ON {db}.objets_data",
                      f"INSERT ON {db}.hprim", f"INSERT, UPDATE ON {db}.inbox",
                      f"INSERT, UPDATE ON {db}.bridge_filings",
                      f"INSERT, UPDATE ON {db}.bridge_inbox_copies"):
            ehr.execute(f"GRANT {grant} TO '{account}'@'%'")
        url = make_url(ehr.url).set(username=account, password=password)
        configure(clinic.app, ehr, medshakeEhrDatabaseUrl=url.render_as_string(
            hide_password=False))
        assert clinic.app.test_cli_runner().invoke(args=["medshakeehr", "check"]).exit_code == 0
        document = collect_helene(clinic)
        assert len(ehr.rows("SELECT id FROM inbox WHERE txtNumOrdre=:n", n=document.id)) == 1
        with clinic.app.app_context():
            from medshake_bridge.users import find_user

            bob = find_user("bob")
            record = MedShakeEhrProvider().file_document(
                _to_file(clinic, document), "6", user=ActingUser(id=bob.id, login=bob.login))
        assert record.created
        assert tuple(ehr.rows("SELECT archived, assoToID FROM inbox WHERE txtNumOrdre=:n",
                              n=document.id)[0]) == ("c", 6)
    finally:
        from medshake_medshakeehr import database

        for key in [k for k in database._engines if account in k[0]]:
            database._engines.pop(key).dispose()
        ehr.execute(f"DROP USER IF EXISTS '{account}'@'%'")
