"""Write-back documents not copied into MedShakeEHR (issue 13): counted by ``medshakeehr
check``, the system information page and ``doctor``, and copied once by ``retry-copies`` or
the connector's page (real MariaDB, real collection through the sandbox)."""

from __future__ import annotations

import pytest
from medshakeehr_world import Ehr, collect_helene, configure, install_tables

pytestmark = [pytest.mark.real_component("mariadb")]


def _cli(world, *args: str):
    return world.app.test_cli_runner().invoke(args=list(args))


def _inbox_rows(ehr: Ehr, document_id: int) -> list:
    return ehr.rows("SELECT id FROM inbox WHERE txtNumOrdre=:n", n=document_id)


def test_a_failed_copy_is_counted_everywhere_and_retried_once(clinic, ehr: Ehr):
    configure(clinic.app, ehr, medshakeEhrDatabaseUrl=ehr.url.replace("root@",
                                                                      "nobody:wrongpw@"))
    document = collect_helene(clinic)
    assert document.state == "new"  # the bridge's own copy is there
    check = _cli(clinic, "medshakeehr", "check")
    assert check.exit_code == 1
    assert "BROKEN  MedShakeEHR inbox copies: 1 document(s) not copied into MedShakeEHR's " \
        "inbox since" in check.output
    assert "medshake-bridge medshakeehr retry-copies" in check.output
    assert "wrongpw" not in check.output
    doctor = _cli(clinic, "bridge", "doctor")
    assert "1 document(s) not copied into MedShakeEHR's inbox" in doctor.output
    # still broken: the retry says why and keeps the document counted
    failed = _cli(clinic, "medshakeehr", "retry-copies")
    assert failed.exit_code == 1
    assert f"not copied: document {document.id}:" in failed.output
    assert "0 copied, 1 still failing" in failed.output
    assert _inbox_rows(ehr, document.id) == []
    # fixed: the retry copies it once, the count is back to zero
    configure(clinic.app, ehr)
    done = _cli(clinic, "medshakeehr", "retry-copies")
    assert done.exit_code == 0, done.output
    assert "1 copied, 0 still failing" in done.output
    assert len(_inbox_rows(ehr, document.id)) == 1
    again = _cli(clinic, "medshakeehr", "retry-copies")
    assert "0 copied, 0 still failing" in again.output
    assert len(_inbox_rows(ehr, document.id)) == 1
    check = _cli(clinic, "medshakeehr", "check")
    assert check.exit_code == 0, check.output
    assert "ok      MedShakeEHR inbox copies: every collected document was copied" \
        in check.output


def test_retry_of_one_document_never_copies_twice(clinic, ehr: Ehr):
    """``--document`` retries a document whether or not it was recorded: already copied, it
    is not copied again."""
    document = collect_helene(clinic)
    assert len(_inbox_rows(ehr, document.id)) == 1
    result = _cli(clinic, "medshakeehr", "retry-copies", "--document", str(document.id))
    assert result.exit_code == 0 and "1 copied, 0 still failing" in result.output
    assert len(_inbox_rows(ehr, document.id)) == 1
    gone = _cli(clinic, "medshakeehr", "retry-copies", "--document", "999999")
    assert "no longer in the bridge" in gone.output


def test_the_system_page_shows_the_count_and_its_page_retries(clinic, ehr: Ehr):
    from web_helpers import PASSWORD, csrf_token

    from medshake_bridge.db import db
    from medshake_bridge.models import User
    from medshake_bridge.users import hash_password

    ehr.execute("DROP TABLE bridge_inbox_copies")
    document = collect_helene(clinic)
    with clinic.app.app_context():
        db.session.add(User(login="root", role="admin", display_name="Admin", active=True,
                            password_hash=hash_password(PASSWORD)))
        db.session.commit()
    client = clinic.app.test_client()
    response = client.post("/login", data={"login": "root", "password": PASSWORD,
                                           "csrf_token": csrf_token(client)})
    assert response.status_code == 302
    system = client.get("/admin/system/").get_data(as_text=True)  # French by default
    assert "Copies vers la boîte de MedShakeEHR" in system
    assert "1 document(s) non copié(s) dans la boîte de réception de MedShakeEHR" in system
    assert "puis lancez medshake-bridge medshakeehr retry-copies" in system
    assert 'href="/admin/medshakeehr/copies"' in system
    page = client.get("/admin/medshakeehr/copies").get_data(as_text=True)
    assert f'<tr class="pending-copy"><td>{document.id}</td>' in page
    assert "install-tables" in page
    install_tables(ehr)
    token = csrf_token(client, "/admin/medshakeehr/copies")
    response = client.post("/admin/medshakeehr/copies/retry", data={"csrf_token": token})
    assert response.status_code == 302
    page = client.get("/admin/medshakeehr/copies").get_data(as_text=True)
    assert "1 document(s) copié(s) dans la boîte de MedShakeEHR ; il n&#39;en reste aucun." in page
    assert 'class="pending-copy"' not in page
    assert len(_inbox_rows(ehr, document.id)) == 1
    assert client.post("/admin/medshakeehr/copies/retry").status_code in (400, 403)  # CSRF
    anonymous = clinic.app.test_client().get("/admin/medshakeehr/copies")
    assert anonymous.status_code in (302, 401, 404)


def test_write_back_without_a_database_url_is_counted(world):
    """Write-back on but MedShakeEHR's database not set: collection goes on, the documents
    are counted as not copied and the check names the setting."""
    from medshake_bridge.extension import bridge_state

    with world.app.app_context():
        store = bridge_state(world.app).settings
        store.set("medshakeEhrWriteBack", True)
        store.set("medshakeEhrInboxUserId", 3)
    document = collect_helene(world)
    assert document.state == "new"
    check = _cli(world, "medshakeehr", "check")
    assert check.exit_code == 1
    assert "BROKEN  MedShakeEHR inbox copies: 1 document(s) not copied" in check.output
    assert "last error: MedShakeEHR's database is not set" in check.output
    assert "set medshakeEhrDatabaseUrl" in check.output
