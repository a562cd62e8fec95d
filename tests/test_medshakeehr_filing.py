"""Filing into ``medshakeehr:<id>`` on a real MariaDB and storage folder: the rows and files
MedShakeEHR's "classer dans le dossier" makes, ``fromID`` from the linked account, once per
bridge document (retry, double click, concurrent filers), nothing left behind on failure."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
from medshakeehr_world import Ehr, configure, install_tables

from medshake_bridge.api import ActingUser, DocumentToFile, FilingAttachment, PatientError
from medshake_bridge.hprim import LabResult

pytestmark = pytest.mark.real_component("mariadb")
PDF = b"%PDF-1.4\n% test report\n%%EOF\n"


@pytest.fixture
def filing_app(ehr_app, ehr: Ehr):
    from medshake_bridge.users import create_user

    configure(ehr_app, ehr, medshakeEhrFilingEnabled=True)
    install_tables(ehr)
    with ehr_app.app_context():
        create_user("alice", "correct horse battery", role="practitioner")
        create_user("bob", "correct horse battery", role="practitioner")
    result = ehr_app.test_cli_runner().invoke(args=["medshakeehr", "link-user", "alice", "3"])
    assert result.exit_code == 0, result.output
    return ehr_app


def _user(app, login="alice") -> ActingUser:
    from medshake_bridge.users import find_user

    with app.app_context():
        user = find_user(login)
        return ActingUser(id=user.id, login=user.login)


def _document(tmp_path, *, key="bridge-document:41", attachments=True) -> DocumentToFile:
    files = []
    if attachments:
        pdf = tmp_path / "CR_bio.pdf"
        pdf.write_bytes(PDF)
        files.append(FilingAttachment(name="CR_bio.pdf", path=pdf, media_type="application/pdf"))
    return DocumentToFile(
        key=key, document_id=41, title="Laboratoire Test",
        text="DUPONT Hélène\nGlycémie 0,95 g/l", received_at=dt.datetime(2026, 11, 30, 8, 5, 9),
        sender="Laboratoire Test", exam_date=dt.date(2026, 11, 29),
        lab_results=[LabResult(label="Glycémie", code="GLY", kind="N", value="0.95", unit="g/l",
                               normal_low="0.70", normal_high="1.10", status="F")],
        attachments=files)


def _file(app, document, patient="6", login="alice"):
    from medshake_medshakeehr.provider import MedShakeEhrProvider

    with app.app_context():
        return MedShakeEhrProvider().file_document(document, patient, user=_user(app, login))


def _documents(ehr: Ehr, patient: int):
    return ehr.rows("SELECT o.id, t.name, o.fromID, o.toID, o.instance, o.parentTypeID, o.value, "
                    "o.titre FROM objets_data o JOIN data_types t ON t.id=o.typeID WHERE "
                    "o.toID=:p AND t.groupe='doc' ORDER BY o.id", p=patient)


def test_filing_creates_what_classer_dans_le_dossier_creates(filing_app, ehr: Ehr, tmp_path):
    record = _file(filing_app, _document(tmp_path))
    assert record.created and str(record.patient) == "medshakeehr:6"
    assert record.url == "http://ehr.test/patient/6/"
    rows = _documents(ehr, 6)
    porteur = int(record.record_id)
    assert [(r.name, r.fromID, r.toID, r.instance, r.parentTypeID) for r in rows] == [
        ("docPorteur", 3, 6, 0, 0), ("docOriginalName", 3, 6, porteur, 0),
        ("docType", 3, 6, porteur, 0)]
    assert rows[0].id == porteur and rows[0].titre == "Laboratoire Test"
    assert rows[0].value == "DUPONT Hélène\nGlycémie 0,95 g/l"
    assert (rows[1].value, rows[2].value) == ("CR_bio.pdf", "pdf")
    from medshake_medshakeehr.storage import folder_for

    stored = ehr.storage / folder_for(porteur) / f"{porteur}.pdf"
    assert stored.read_bytes() == PDF
    lab = ehr.rows("SELECT fromID, toID, date, objetID, label, labelStandard, resultat, unite, "
                   "normaleInf, normaleSup, statutRes FROM hprim WHERE toID=6")
    assert [tuple(r) for r in lab] == [(3, 6, dt.date(2026, 11, 29), porteur, "Glycémie", "GLY",
                                        "0.95", "g/l", "0.70", "1.10", "F")]


def test_patient_history_query_of_medshakeehr_lists_it(filing_app, ehr: Ehr, tmp_path):
    """The query shape of msPeople's history: docPorteur rows with a docType child."""
    record = _file(filing_app, _document(tmp_path))
    rows = ehr.rows(
        "SELECT p.id, p.titre, ext.value FROM objets_data p LEFT JOIN objets_data ext ON "
        "ext.instance=p.id AND ext.typeID=:dt WHERE p.toID=6 AND p.typeID=:dp AND "
        "p.outdated='' AND p.deleted='' ORDER BY p.creationDate DESC",
        dt=ehr.type_id("docType"), dp=ehr.type_id("docPorteur"))
    assert [tuple(r) for r in rows] == [(int(record.record_id), "Laboratoire Test", "pdf")]


def test_filing_again_creates_nothing(filing_app, ehr: Ehr, tmp_path):
    first = _file(filing_app, _document(tmp_path))
    count = len(_documents(ehr, 6))
    files = sorted(ehr.storage.rglob("*.*"))
    again = _file(filing_app, _document(tmp_path))
    assert not again.created and again.record_id == first.record_id
    elsewhere = _file(filing_app, _document(tmp_path), patient="4")  # a second click elsewhere
    assert not elsewhere.created and str(elsewhere.patient) == "medshakeehr:6"
    assert len(_documents(ehr, 6)) == count and _documents(ehr, 4)[-1].id < int(first.record_id)
    assert sorted(ehr.storage.rglob("*.*")) == files
    assert len(ehr.rows("SELECT id FROM hprim WHERE toID=6")) == 1


def test_concurrent_filers_file_once(filing_app, ehr: Ehr, tmp_path):
    document = _document(tmp_path, key="bridge-document:77")
    results, errors = [], []
    barrier = threading.Barrier(4)

    def worker():
        barrier.wait()
        try:
            results.append(_file(filing_app, document))
        except Exception as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert sum(r.created for r in results) == 1
    assert len({r.record_id for r in results}) == 1
    assert len([r for r in _documents(ehr, 6) if r.name == "docPorteur"]) == 1


def test_a_message_without_attachment_is_stored_as_utf8_text(filing_app, ehr: Ehr, tmp_path):
    record = _file(filing_app, _document(tmp_path, attachments=False))
    porteur = int(record.record_id)
    rows = _documents(ehr, 6)
    assert (rows[1].value, rows[2].value) == ("20261130-080509-41.txt", "txt")
    from medshake_medshakeehr.storage import folder_for

    stored = ehr.storage / folder_for(porteur) / f"{porteur}.txt"
    assert stored.read_text(encoding="utf-8") == "DUPONT Hélène\nGlycémie 0,95 g/l"


def test_an_unlinked_user_is_told_to_link(filing_app, ehr: Ehr, tmp_path):
    with pytest.raises(PatientError) as caught:
        _file(filing_app, _document(tmp_path), login="bob")
    assert "medshakeehr link-user bob" in caught.value.fix
    assert _documents(ehr, 6) == []


def test_a_deleted_record_is_refused_and_nothing_is_left(filing_app, ehr: Ehr, tmp_path):
    with pytest.raises(PatientError) as caught:
        _file(filing_app, _document(tmp_path), patient="8")
    assert "deleted" in str(caught.value)
    assert _documents(ehr, 8) == []
    assert ehr.rows("SELECT * FROM bridge_filings") == []
    assert list(ehr.storage.rglob("*.*")) == []


def test_a_storage_failure_rolls_everything_back_and_a_retry_works(filing_app, ehr: Ehr,
                                                                   tmp_path):
    configure(filing_app, ehr, medshakeEhrStorage=str(tmp_path / "missing" / "x"))
    (tmp_path / "missing").write_text("a file where a folder should be")
    with pytest.raises(PatientError) as caught:
        _file(filing_app, _document(tmp_path))
    assert "write access" in caught.value.fix
    assert _documents(ehr, 6) == [] and ehr.rows("SELECT * FROM bridge_filings") == []
    assert ehr.rows("SELECT * FROM hprim WHERE toID=6") == []
    configure(filing_app, ehr, medshakeEhrStorage=str(ehr.storage))
    assert _file(filing_app, _document(tmp_path)).created


def test_filing_needs_the_switch_and_the_tables(ehr_app, filing_app, ehr: Ehr, tmp_path):
    configure(filing_app, ehr, medshakeEhrFilingEnabled=False)
    with pytest.raises(PatientError) as caught:
        _file(filing_app, _document(tmp_path))
    assert "medshakeEhrFilingEnabled" in caught.value.fix
    configure(filing_app, ehr, medshakeEhrFilingEnabled=True)
    ehr.execute("DROP TABLE bridge_filings")
    with pytest.raises(PatientError) as caught:
        _file(filing_app, _document(tmp_path))
    assert "install-tables" in caught.value.fix
    assert _documents(ehr, 6) == []


def test_storage_layout_matches_msstockage_getfolder():
    from medshake_medshakeehr.storage import folder_for

    assert [folder_for(i) for i in (7, 15, 123, 1234, 98765, 123456)] == [
        "70/0", "15/0", "12/0", "12/1", "98/98", "12/123"]


TWO_PROCESS_FILER = """
import datetime as dt, json, os, sys, time
from pathlib import Path
from medshake_bridge import create_app
from medshake_bridge.api import ActingUser, DocumentToFile, FilingAttachment
instance, key, go, pdf = sys.argv[1:5]
app = create_app({"INSTANCE_PATH": instance,
                  "MEDSHAKE_BRIDGE_SECRET_KEYS": [os.environ["TEST_KEY"]]})
with app.app_context():
    from medshake_bridge.users import find_user
    from medshake_medshakeehr.provider import MedShakeEhrProvider
    user = find_user("alice")
    document = DocumentToFile(key=key, document_id=5, title="t", text="x",
                              received_at=dt.datetime(2026, 1, 1),
                              attachments=[FilingAttachment(name="a.pdf", path=Path(pdf),
                                                            media_type="application/pdf")])
    provider = MedShakeEhrProvider()
    Path(f"{go}.ready.{os.getpid()}").touch()
    while not os.path.exists(go):
        time.sleep(0.002)
    record = provider.file_document(document, "6", user=ActingUser(id=user.id, login=user.login))
    print(json.dumps([record.created, record.record_id]))
"""


def test_two_processes_file_once(filing_app, ehr: Ehr, tmp_path):
    import json
    import os
    import subprocess
    import sys

    from conftest import TEST_SECRET_KEY

    pdf = tmp_path / "a.pdf"
    pdf.write_bytes(PDF)
    go = tmp_path / "go"
    env = {**os.environ, "TEST_KEY": TEST_SECRET_KEY}
    processes = [subprocess.Popen(
        [sys.executable, "-c", TWO_PROCESS_FILER, filing_app.instance_path,
         "bridge-document:500", str(go), str(pdf)], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env=env) for _ in range(2)]
    deadline = time.monotonic() + 120
    while len(list(tmp_path.glob("go.ready.*"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)  # both processes built their app and wait for the signal
    go.write_text("go")
    answers = []
    for process in processes:
        out, err = process.communicate(timeout=180)
        assert process.returncode == 0, err
        answers.append(json.loads(out.strip().splitlines()[-1]))
    assert sorted(created for created, _ in answers) == [False, True]
    assert answers[0][1] == answers[1][1]
    assert len([r for r in _documents(ehr, 6) if r.name == "docPorteur"]) == 1
    assert len(list(ehr.storage.rglob("*.pdf"))) == 1


def test_legacy_type_ids_are_found_by_name(filing_app, ehr: Ehr, tmp_path):
    """An install made before v5.5 has other data_types ids: nothing is hard-coded."""
    ehr.execute("UPDATE data_types SET id = id + 1000")
    ehr.execute("UPDATE objets_data SET typeID = typeID + 1000")
    from medshake_medshakeehr.provider import MedShakeEhrProvider

    with filing_app.app_context():
        assert [s.ref.id for s in MedShakeEhrProvider().search("hélène", limit=5)] == ["6"]
    record = _file(filing_app, _document(tmp_path))
    rows = ehr.rows("SELECT typeID FROM objets_data WHERE id >= :i ORDER BY id",
                    i=int(record.record_id))
    assert [r.typeID for r in rows] == [ehr.type_id("docPorteur"),
                                        ehr.type_id("docOriginalName"), ehr.type_id("docType")]
    assert ehr.type_id("docPorteur") == 1108


def test_lab_results_in_their_json_form_are_filed_too(filing_app, ehr: Ehr, tmp_path):
    """The host's inbox keeps results as dicts (results_json): both forms are accepted."""
    import dataclasses

    document = _document(tmp_path)
    as_dicts = [dataclasses.asdict(result) for result in document.lab_results]
    record = _file(filing_app, dataclasses.replace(document, lab_results=as_dicts))
    assert [tuple(r) for r in ehr.rows("SELECT objetID, labelStandard, resultat FROM hprim "
                                       "WHERE toID=6")] == [(int(record.record_id), "GLY",
                                                             "0.95")]


def test_without_a_title_the_hprim_sender_is_the_title(filing_app, ehr: Ehr, tmp_path):
    import dataclasses

    from medshake_bridge.hprim.header import HprimHeader

    document = dataclasses.replace(_document(tmp_path), title="",
                                   identity=HprimHeader(sender_name="Laboratoire Central"))
    record = _file(filing_app, document)
    assert ehr.rows("SELECT titre FROM objets_data WHERE id=:i", i=int(record.record_id)
                    )[0][0] == "Laboratoire Central"
