"""The bridge's clock: real time by default, a fixed moment or date when a test asks for one."""

from __future__ import annotations

import datetime as dt

import pytest

from medshake_bridge import clock
from medshake_bridge.errors import ConfigurationError
from medshake_bridge.models.settings import utcnow


def test_real_time_by_default_and_aware():
    before = dt.datetime.now(dt.UTC)
    now = clock.utcnow()
    assert now.tzinfo is dt.UTC and before <= now <= dt.datetime.now(dt.UTC)


def test_frozen_moments_nest_and_reach_the_models_clock():
    first = dt.datetime(2030, 12, 31, 23, 59, 59)
    with clock.frozen(first) as outer:
        assert outer == first.replace(tzinfo=dt.UTC) == utcnow()
        assert clock.today() == dt.date(2030, 12, 31)
        paris = dt.timezone(dt.timedelta(hours=1))
        with clock.frozen(dt.datetime(2031, 1, 1, 0, 30, tzinfo=paris)):
            assert clock.utcnow() == dt.datetime(2030, 12, 31, 23, 30, tzinfo=dt.UTC)
        assert clock.utcnow() == outer
    assert clock.utcnow() != outer


@pytest.mark.parametrize("value", ["2030-06-01", dt.date(2030, 6, 1),
                                   dt.datetime(2030, 6, 1, 23, 0)])
def test_the_app_setting_moves_today(make_app, value):
    app = make_app(MEDSHAKE_BRIDGE_TODAY=value)
    with app.app_context():
        assert clock.today() == dt.date(2030, 6, 1)
    with make_app().app_context():
        assert clock.today() == clock.utcnow().date()


def test_a_bad_today_setting_names_the_fix(make_app):
    app = make_app(MEDSHAKE_BRIDGE_TODAY="tomorrow")
    with app.app_context(), pytest.raises(ConfigurationError,
                                          match="MEDSHAKE_BRIDGE_TODAY='tomorrow'") as caught:
        clock.today()
    assert "2030-12-31" in caught.value.fix
