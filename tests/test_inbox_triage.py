"""Triage: search and filters in a shareable URL, exam date and sender columns, the current
tab, last/next collection, removal that asks to confirm and can be undone."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from test_inbox_results import K_NEW, K_OLD, lab
from web_helpers import csrf_token, events, login

from medshake_bridge.db import db
from medshake_bridge.models.mail import InboxDocument

PASSWORD = "password for tests"
LETTER = ("LET1\nMARTIN\nPaul\n\n\n69001 LYON\n05/06/1950\n\nDOS-9\n15/11/2026\n"
          "CHU       cardiologie.chu\nDR0000001 bob.DURAND\n\nCompte rendu de consultation.\n"
          "****FIN****\n****FINFICHIER****\n")


@pytest.fixture
def inbox(world):
    world.deliver(world.mail(text=lab("02/11/2026", K_OLD)))
    world.deliver(world.mail(text=lab("30/11/2026", K_NEW)))
    world.deliver(world.mail(text=LETTER, subject="Consultation"))
    assert world.collect().ok
    with world.app.app_context():
        world.ids = {(doc.patient_last_name, str(doc.exam_date)): doc.id
                     for doc in db.session.scalars(select(InboxDocument))}
    client = world.app.test_client()
    assert login(client, "bob", PASSWORD).status_code == 302
    world.client = client
    return world


def _lines(client, query: str = "") -> list[str]:
    page = client.get(f"/inbox/?{query}").get_data(as_text=True)
    return [row.split("</tr>")[0] for row in page.split("<tr class=")[1:]]


def test_search_matches_any_word_of_name_first_name_birth_date_and_sender(inbox):
    client = inbox.client
    assert len(_lines(client)) == 3
    for query in ("q=Jeanne", "q=DUPONT+Jeanne", "q=jeanne+dupont", "q=12/03/1961",
                  "patient=jeanne"):
        lines = _lines(client, query)
        assert len(lines) == 2 and all("DUPONT" in line for line in lines), query
    assert [("MARTIN" in line) for line in _lines(client, "q=cardiologie")] == [True]
    assert len(_lines(client, "sender=laboratoire")) == 2
    assert _lines(client, "q=Jeanne+Paul") == []


def test_filters_type_abnormal_dates_unread_keep_the_url(inbox):
    client = inbox.client
    assert len(_lines(client, "type=results")) == 2
    assert [("MARTIN" in line) for line in _lines(client, "type=letter")] == [True]
    assert _lines(client, "type=other") == []
    abnormal = _lines(client, "abnormal=1")
    assert len(abnormal) == 1 and "30/11/2026" in abnormal[0]
    assert len(_lines(client, "since=2026-11-10&until=2026-11-20")) == 1
    client.get(f"/inbox/{inbox.ids[('MARTIN', '2026-11-15')]}")
    assert len(_lines(client, "unread=1")) == 2
    page = client.get("/inbox/?q=Jeanne&abnormal=1").get_data(as_text=True)
    # tabs and ordering keep the filters; the current tab is marked
    assert 'state=filed&amp;q=Jeanne&amp;abnormal=1' in page or \
        "state=filed&amp;abnormal=1&amp;q=Jeanne" in page
    assert 'aria-current="page" class="current" data-tab="new"' in page
    assert 'name="q" value="Jeanne"' in page and 'name="abnormal" value="1" checked' in page


def test_columns_exam_date_and_sender_name(inbox):
    # "Paul" is only in the letter (every document's sender address has "MARTIN" in it, and
    # the order of documents stored by the processing pool is not the order of delivery)
    lines = _lines(inbox.client, "q=Paul")
    assert len(lines) == 1 and "MARTIN Paul" in " ".join(lines[0].split())
    assert "15/11/2026" in lines[0] and "cardiologie chu" in lines[0]
    assert "@" not in lines[0]


def test_last_and_next_collection_are_shown(inbox):
    page = inbox.client.get("/inbox/").get_data(as_text=True)
    status = page.split('id="collection-status"')[1].split("</div>")[0]
    assert "Dernière relève (bob)" in status and "réussie" in status
    assert "relève automatique" in status.lower()


def test_removal_asks_to_confirm_and_can_be_undone(inbox):
    client = inbox.client
    document_id = inbox.ids[("MARTIN", "2026-11-15")]
    token = csrf_token(client, "/inbox/")
    ask = client.post(f"/inbox/{document_id}/remove", data={"csrf_token": token})
    assert ask.status_code == 200 and 'id="confirm-remove"' in ask.get_data(as_text=True)
    with inbox.app.app_context():
        assert db.session.get(InboxDocument, document_id).state == "new"
    done = client.post(f"/inbox/{document_id}/remove", data={"csrf_token": token,
                                                             "confirm": "1"},
                       follow_redirects=True)
    assert "Remettre dans la boîte" in done.get_data(as_text=True)
    removed = client.get("/inbox/?state=removed").get_data(as_text=True)
    assert "MARTIN" in removed and "data-restore" in removed
    client.post(f"/inbox/{document_id}/restore", data={"csrf_token": token})
    with inbox.app.app_context():
        document = db.session.get(InboxDocument, document_id)
        assert document.state == "new" and document.removed_at is None
    assert [e.action for e in events(inbox.app) if e.action in (
        "inbox.remove", "inbox.restore")] == ["inbox.remove", "inbox.restore"]
    # someone who may not see the document cannot put it back either
    from medshake_bridge.users import create_user
    with inbox.app.app_context():
        create_user("carol", PASSWORD, role="practitioner")
    carol = inbox.app.test_client()
    login(carol, "carol", PASSWORD)
    refused = carol.post(f"/inbox/{document_id}/restore",
                         data={"csrf_token": csrf_token(carol, "/inbox/")})
    assert refused.status_code == 404


def test_previous_and_next_document_links_follow_the_list(inbox):
    client = inbox.client
    listing = client.get("/inbox/").get_data(as_text=True)
    order = [int(part.split('"')[0]) for part in listing.split('data-document="')[1:]]
    assert len(order) == 3
    middle = client.get(f"/inbox/{order[1]}").get_data(as_text=True)
    nav = middle.split('class="document-nav')[1].split("</nav>")[0]
    assert f'/inbox/{order[0]}" data-key="k"' in nav and f'/inbox/{order[2]}" data-key="j"' in nav
    first = client.get(f"/inbox/{order[0]}").get_data(as_text=True)
    assert 'data-key="k"' not in first.split('class="document-nav')[1].split("</nav>")[0]
