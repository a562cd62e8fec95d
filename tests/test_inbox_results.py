"""Lab results first: arrows, critical HH/LL, the previous value of the same analyte for the
same patient with its date, only among documents the reader may see."""

from __future__ import annotations

import pytest
from mailbuild import HPRIM_LAB
from sqlalchemy import select
from web_helpers import login

from medshake_bridge.db import db
from medshake_bridge.inbox.results import direction_of
from medshake_bridge.models.mail import InboxDocument

PASSWORD = "password for tests"


def lab(exam: str, results: str, last: str = "DUPONT") -> str:
    """HPRIM_LAB with another exam date, results and (optionally) last name."""
    head, _, _tail = HPRIM_LAB.partition("****LAB****\n")
    head = head.replace("27/11/2026", exam).replace("DUPONT\n", f"{last}\n", 1)
    return f"{head}****LAB****\n{results}****FINLAB****\n****FIN****\n****FINFICHIER****\n"


K_OLD = "RES|Potassium|K|N|4,1|mmol/l|3,5|5,0|N|F\nRES|Troponine|TROP|N|12|ng/l||14|N|F\n"
K_MID = "RES|Potassium|K|N|5,6|mmol/l|3,5|5,0|H|F\n"
K_NEW = ("RES|Potassium|K|N|6,8|mmol/l|3,5|5,0|HH|F\nRES|Troponine|TROP|N|850|ng/l||14|HH|F\n"
         "RES|Sodium|NA|N|128|mmol/l|135|145||F\n")


@pytest.fixture
def reports(world):
    for exam, results in (("02/11/2026", K_OLD), ("20/11/2026", K_MID),
                          ("30/11/2026", K_NEW)):
        world.deliver(world.mail(text=lab(exam, results)))
    world.deliver(world.mail(text=lab("25/11/2026", "RES|Potassium|K|N|3,0|mmol/l|3,5|5,0|L|F\n",
                                      last="MARTIN")))
    assert world.collect().ok
    with world.app.app_context():
        rows = {doc.header_json.split('"exam_date": "')[1][:10]: doc.id for doc in
                db.session.scalars(select(InboxDocument))}
    world.ids = rows
    return world


def test_direction_from_flag_or_range():
    assert direction_of({"flag": "HH", "value": "1"}) == "up"
    assert direction_of({"flag": "L"}) == "down"
    assert direction_of({"flag": "", "value": "128", "normal_low": "135"}) == "down"
    assert direction_of({"flag": "", "value": "2,5", "normal_high": "2"}) == "up"
    assert direction_of({"flag": "N", "value": "9", "normal_high": "2"}) == ""
    assert direction_of({"flag": "", "value": "positif", "normal_high": "2"}) == ""


def test_results_come_first_with_arrows_critical_and_previous_values(reports):
    client = reports.app.test_client()
    assert login(client, "bob", PASSWORD).status_code == 302
    page = client.get(f"/inbox/{reports.ids['2026-11-30']}").get_data(as_text=True)
    assert page.index('id="results"') < page.index('class="facts"')
    assert page.index('id="results"') < page.index("document-body")
    assert "Valeurs critiques (HH/LL)" in page
    potassium = page.split('data-analyte="K"')[1].split("</tr>")[0]
    assert "6,8" in potassium and "↑" in potassium and "critique HH" in potassium
    assert "critical" in page.split('data-analyte="K"')[0].rsplit("<tr", 1)[1]
    # previous: the 20/11 value, not the older one, nor the other patient's 3,0
    assert "5,6 mmol/l ↑" in potassium and "le 20/11/2026" in potassium
    troponin = page.split('data-analyte="TROP"')[1].split("</tr>")[0]
    assert "850" in troponin and "12 ng/l" in troponin and "le 02/11/2026" in troponin
    sodium = page.split('data-analyte="NA"')[1].split("</tr>")[0]
    assert "↓" in sodium and "critique" not in sodium and "—" in sodium
    assert "result-down" in page.split('data-analyte="NA"')[0].rsplit("<tr", 1)[1]
    # the oldest report has no previous value
    oldest = client.get(f"/inbox/{reports.ids['2026-11-02']}").get_data(as_text=True)
    assert "le 20/11/2026" not in oldest and "Valeurs critiques" not in oldest


def test_previous_values_come_only_from_mail_the_reader_may_see(reports):
    from mailworld import CAROL

    from medshake_bridge.users import create_user

    with reports.app.app_context():
        carol_dir = reports.tmp / "maildirs" / CAROL
        for sub in ("cur", "new", "tmp"):
            (carol_dir / sub).mkdir(parents=True)
    with reports.app.app_context():
        carol = reports.add_user("carol", CAROL, carol_dir)
        assert carol
        create_user("dave", PASSWORD, role="practitioner")
    # Bob's earlier results exist, but Carol cannot see Bob's mail: her view shows no previous
    from mailbuild import sandbox_mail, seed_maildir
    from mailworld import ALICE
    raw = sandbox_mail(reports.net, reports.tmp / "w2", sender=ALICE, recipient=CAROL,
                       text=lab("01/12/2026", K_NEW))
    seed_maildir(carol_dir, raw, "1700000099.M1P1.test")
    assert reports.collect().ok
    with reports.app.app_context():
        carol_doc = db.session.scalars(select(InboxDocument.id).where(
            InboxDocument.owner_user_id == carol)).one()
    client = reports.app.test_client()
    assert login(client, "carol", PASSWORD).status_code == 302
    page = client.get(f"/inbox/{carol_doc}").get_data(as_text=True)
    assert "6,8" in page and "5,6" not in page and "le 30/11/2026" not in page


def test_results_over_time_chart_and_table_without_script(reports):
    client = reports.app.test_client()
    assert login(client, "bob", PASSWORD).status_code == 302
    view = client.get(f"/inbox/{reports.ids['2026-11-30']}").get_data(as_text=True)
    assert f"/inbox/{reports.ids['2026-11-30']}/history" in view
    response = client.get(f"/inbox/{reports.ids['2026-11-30']}/history")
    page = response.get_data(as_text=True)
    assert "3 documents" in page and "<script>" not in page.split("<main")[1]
    potassium = page.split('data-analyte-history="code:K"')[1].split("</section>")[0]
    assert "<svg" in potassium and "<polyline" in potassium
    assert potassium.count("<circle") == 3 and 'fill="#e3f2e6"' in potassium  # normal band
    rows = potassium.split("<tbody>")[1].split("</tr>")[:3]
    assert "30/11/2026" in rows[0] and "6,8" in rows[0] and "critique" in rows[0]
    assert "02/11/2026" in rows[2] and "4,1" in rows[2]
    # the other patient (MARTIN, potassium 3,0) is not on Jeanne Dupont's chart
    assert "3,0" not in potassium
    sodium = page.split('data-analyte-history="code:NA"')[1].split("</section>")[0]
    assert "<svg" not in sodium and "128" in sodium  # one value: a table, no chart
    assert "script-src" in response.headers.get("Content-Security-Policy", "script-src")
