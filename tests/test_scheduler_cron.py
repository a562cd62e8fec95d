"""Crontab fields → APScheduler: fields mapped by name, crontab's day-of-week numbers."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from medshake_bridge.scheduler.cron import CronFieldError, CronSchedule, crontab_day_of_week

PARIS = ZoneInfo("Europe/Paris")


def _runs(schedule: CronSchedule, start: datetime, count: int) -> list[datetime]:
    trigger = schedule.trigger(timezone="Europe/Paris")
    found, previous, now = [], None, start
    for _ in range(count):
        nxt = trigger.get_next_fire_time(previous, now)
        found.append(nxt)
        previous, now = nxt, nxt
    return found


@pytest.mark.parametrize(("crontab", "names"), [
    ("1-6", "mon,tue,wed,thu,fri,sat"),
    ("0", "sun"),
    ("7", "sun"),
    ("5-7", "fri,sat,sun"),
    ("0-6", "sun,mon,tue,wed,thu,fri,sat"),
    ("*/2", "sun,tue,thu,sat"),
    ("1,3,5", "mon,wed,fri"),
    ("1-5/2", "mon,wed,fri"),
    ("mon-fri", "mon-fri"),
    ("*", "*"),
])
def test_crontab_day_of_week_numbers_become_names(crontab, names):
    assert crontab_day_of_week(crontab) == names


def test_default_collection_schedule_is_monday_to_saturday_8_to_20_55():
    schedule = CronSchedule(minute="*/5", hour="8-20", day="*", month="*", day_of_week="1-6")
    saturday_evening = datetime(2026, 11, 28, 20, 54, tzinfo=PARIS)  # a Saturday
    runs = _runs(schedule, saturday_evening, 2)
    assert runs[0] == datetime(2026, 11, 28, 20, 55, tzinfo=PARIS)
    # nothing on Sunday: the next one is Monday 08:00
    assert runs[1] == datetime(2026, 11, 30, 8, 0, tzinfo=PARIS)
    sunday = datetime(2026, 11, 29, 7, 0, tzinfo=PARIS)
    assert _runs(schedule, sunday, 1)[0].weekday() == 0  # Monday


def test_sunday_is_0_or_7():
    for value in ("0", "7"):
        runs = _runs(CronSchedule(minute="0", hour="9", day_of_week=value),
                     datetime(2026, 11, 25, tzinfo=PARIS), 3)
        assert {run.weekday() for run in runs} == {6}


def test_day_and_month_are_mapped_by_name():
    schedule = CronSchedule(minute="30", hour="6", day="2", month="3")
    run = _runs(schedule, datetime(2026, 11, 28, tzinfo=PARIS), 1)[0]
    assert (run.month, run.day, run.hour, run.minute) == (3, 2, 6, 30)


def test_from_mapping_keeps_each_field_in_its_place():
    schedule = CronSchedule.from_mapping({"day_of_week": "1-6", "month": "4", "day": "15",
                                          "hour": "8-20", "minute": "*/5"})
    assert str(schedule) == "*/5 8-20 15 4 1-6"
    assert schedule.as_dict() == {"minute": "*/5", "hour": "8-20", "day": "15", "month": "4",
                                  "day_of_week": "1-6"}


@pytest.mark.parametrize(("field", "value", "kind"), [
    ("minute", "60", "range"),
    ("hour", "24", "range"),
    ("day", "0", "range"),
    ("month", "13", "range"),
    ("day_of_week", "8", "range"),
    ("minute", "*/0", "invalid"),
    ("hour", "20-8", "invalid"),
    ("day_of_week", "6-1", "invalid"),
    ("minute", "a", "syntax"),
    ("hour", "8;rm", "syntax"),
    ("minute", "", "syntax"),
    ("month", "jan-foo", "invalid"),
])
def test_invalid_fields_are_refused_with_their_name(field, value, kind):
    schedule = CronSchedule(**{field: value})
    problems = schedule.problems()
    assert set(problems) == {field}
    assert problems[field].kind == kind
    with pytest.raises(CronFieldError) as caught:
        schedule.trigger()
    assert caught.value.field == field


def test_a_valid_schedule_has_no_problem():
    assert CronSchedule(minute="*/5", hour="8-20", day="1,15", month="jan-jun",
                        day_of_week="1-6").problems() == {}
