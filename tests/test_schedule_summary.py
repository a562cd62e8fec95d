"""Schedules in plain French beside the crontab fields."""

from __future__ import annotations

import pytest
from web_helpers import login, make_people

from medshake_bridge.scheduler.summary import summary_fr


@pytest.mark.parametrize(("fields", "expected"), [
    ({"minute": "*/10", "hour": "8-20", "day_of_week": "1-6"},
     "toutes les 10 min, de 8 h à 20 h 59, du lundi au samedi"),
    ({"minute": "0", "hour": "3"}, "à 3 h 00, tous les jours"),
    ({"minute": "30", "hour": "*", "day_of_week": "0"},
     "toutes les heures à la minute 30, le dimanche"),
    ({"minute": "0", "hour": "2", "day": "1", "month": "1-6"},
     "à 2 h 00, le 1er du mois, de janvier à juin"),
    ({"minute": "0,30", "hour": "8,12", "day_of_week": "1,3"},
     "aux minutes 0, 30, de 8 h à 8 h 59, de 12 h à 12 h 59, le lundi, le mercredi"),
    ({"minute": "0", "hour": "*/6"}, "toutes les heures à la minute 0, toutes les 6 heures, "
                                      "tous les jours"),
    ({"minute": "0", "hour": "2", "day_of_week": "mon-fri"}, ""),  # names: not described
])
def test_summary(fields, expected):
    assert summary_fr(fields) == expected


def test_tasks_page_shows_the_summary(app):
    make_people(app)
    client = app.test_client()
    assert login(client, "admin").status_code == 302
    page = client.get("/admin/tasks/").get_data(as_text=True)
    collect = page.split('id="task-apicrypt-collect"')[1].split("</section>")[0]
    assert "data-schedule-summary" in collect
    assert "Toutes les 5 min, de 8 h à 20 h 59, du lundi au samedi." in collect
