"""The patient page shows each analyte over time: the lab results of the documents filed into
that record (SVG drawn on the server, no script, a table under it), only from mail the viewer
may read, and nothing of a document that was not filed into this record."""

from __future__ import annotations

import html as html_lib

import pytest
from test_inbox_results import PASSWORD, reports  # noqa: F401  (the fixture is used by name)
from web_helpers import login, post

from medshake_bridge.db import db
from medshake_bridge.models.patients import Patient
from medshake_bridge.users import create_user


def _patient(app, last_name: str = "DUPONT", first_name: str = "Jeanne") -> str:
    with app.app_context():
        row = Patient(last_name=last_name, first_name=first_name)
        db.session.add(row)
        db.session.commit()
        return f"bridge:{row.id}"


@pytest.fixture
def filed(reports):  # noqa: F811
    """Jeanne Dupont's three reports filed into her record; the 25/11 (MARTIN) one elsewhere."""
    reports.jeanne = _patient(reports.app)
    reports.other = _patient(reports.app, "MARTIN", "Paul")
    client = reports.app.test_client()
    assert login(client, "bob", PASSWORD).status_code == 302
    for day, ref in (("2026-11-02", reports.jeanne), ("2026-11-20", reports.jeanne),
                     ("2026-11-30", reports.jeanne), ("2026-11-25", reports.other)):
        document = reports.ids[day]
        response = post(client, f"/inbox/{document}/file", {"patient": ref},
                        page=f"/inbox/{document}")
        assert response.status_code == 302, day
    reports.client = client
    return reports


def _section(page: str, key: str) -> str:
    return page.split(f'data-analyte-history="{key}"')[1].split("</section>")[0]


def test_patient_page_draws_each_analyte_over_time_without_script(filed):
    response = filed.client.get(f"/patients/{filed.jeanne}")
    assert response.status_code == 200
    page = html_lib.unescape(response.get_data(as_text=True))
    results = page.split('id="patient-results"')[1]
    assert "Résultats dans le temps" in results
    assert "Résultats de 3 documents classés dans ce dossier." in results
    assert "<script" not in page.split("<main")[1].split("</main>")[0]
    potassium = _section(page, "code:K")
    assert "<h3>Potassium" in potassium and "<svg" in potassium and "<polyline" in potassium
    assert potassium.count("<circle") == 3 and 'class="normal-band"' in potassium
    rows = potassium.split("<tbody>")[1].split("</tr>")[:3]
    assert "30/11/2026" in rows[0] and "6,8" in rows[0] and "critique" in rows[0]
    assert "20/11/2026" in rows[1] and "5,6" in rows[1] and "↑" in rows[1]
    assert "02/11/2026" in rows[2] and "4,1" in rows[2]
    assert f'href="/inbox/{filed.ids["2026-11-30"]}"' in rows[0]
    assert "3,0" not in potassium  # Paul Martin's potassium was filed into his own record
    troponin = _section(page, "code:TROP")
    assert troponin.count("<circle") == 2 and "850" in troponin
    sodium = _section(page, "code:NA")
    assert "<svg" not in sodium and "128" in sodium  # one value: the table only
    # the chart's points follow the dates: the newest point is the right-most one
    xs = [float(part.split('"')[0]) for part in potassium.split('<circle cx="')[1:]]
    assert xs == sorted(xs) and xs[0] < xs[-1]
    assert "script-src" in response.headers["Content-Security-Policy"]
    assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"].split(
        "script-src")[1].split(";")[0]


def test_other_patient_and_a_patient_without_results(filed):
    page = html_lib.unescape(filed.client.get(f"/patients/{filed.other}").get_data(as_text=True))
    potassium = _section(page, "code:K")
    assert "3,0" in potassium and "<svg" not in potassium and "6,8" not in potassium
    empty = _patient(filed.app, "BLANC", "Anne")
    page = html_lib.unescape(filed.client.get(f"/patients/{empty}").get_data(as_text=True))
    assert "Aucun résultat de laboratoire classé dans ce dossier" in page
    assert "data-analyte-history" not in page


def test_results_come_only_from_mail_the_viewer_may_read(filed):
    with filed.app.app_context():
        create_user("carol", PASSWORD, role="practitioner")
    carol = filed.app.test_client()
    assert login(carol, "carol", PASSWORD).status_code == 302
    page = html_lib.unescape(carol.get(f"/patients/{filed.jeanne}").get_data(as_text=True))
    assert "Aucun résultat de laboratoire classé dans ce dossier" in page
    assert "6,8" not in page and "data-analyte-history" not in page



def test_patient_and_history_pages_are_in_french_only(filed):
    from test_french_pages import problems, visible_text

    from medshake_bridge.i18n import LANGUAGE_COOKIE

    filed.client.set_cookie(LANGUAGE_COOKIE, "fr")
    urls = [f"/patients/{filed.jeanne}", f"/patients/{filed.other}", "/patients/",
            "/patients/?q=jeanne", f"/inbox/{filed.ids['2026-11-30']}/history",
            f"/inbox/{filed.ids['2026-11-30']}"]
    for url in urls:
        response = filed.client.get(url)
        assert response.status_code == 200, url
        assert problems(visible_text(response.get_data(as_text=True))) == [], url
