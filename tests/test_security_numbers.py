"""Huge ids and page numbers answer 404 (or the first page), never a 500 (issue #17, item 15)."""

from __future__ import annotations

import re

import pytest
from web_helpers import login, make_people

HUGE = ["99999999999999999999", str(2**63), str(2**31)]


@pytest.fixture
def admin(app):
    make_people(app)
    client = app.test_client()
    login(client, "admin")
    return client


def _int_routes(app) -> list[str]:
    """Every GET route of the bridge with an integer part, the integers left as {}."""
    routes = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or "<int:" not in rule.rule:
            continue
        routes.append(re.sub(r"<int:[^>]+>", "{}", rule.rule))
    return routes


def test_every_integer_route_answers_404_for_a_huge_id(app, admin):
    routes = _int_routes(app)
    assert any(route.startswith("/inbox/") for route in routes)
    for route in routes:
        for number in HUGE:
            for url in (route.replace("{}", number), route.replace("{}", number, 1)
                        .replace("{}", "1")):
                response = admin.get(url)
                assert response.status_code == 404, (url, response.status_code)


@pytest.mark.parametrize("page", ["/inbox/", "/send/sent", "/admin/audit/", "/admin/tasks/history"])
def test_huge_pages_answer_404(app, admin, page):
    for number in HUGE:
        response = admin.get(f"{page}?page={number}")
        assert response.status_code == 404, (page, number)
    assert admin.get(f"{page}?page=abc").status_code == 200
    assert admin.get(f"{page}?page=-3").status_code == 200
    assert admin.get(f"{page}?page=2").status_code == 200


def test_huge_patient_or_document_on_the_compose_page(app, admin):
    for number in HUGE:
        assert admin.get(f"/send/compose?patient={number}").status_code == 404
        assert admin.get(f"/send/compose?document={number}").status_code == 404
        assert admin.get(f"/send/sent?patient={number}").status_code == 404  # no such patient
