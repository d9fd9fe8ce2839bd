"""A saved feed view (gateway/feed_view.py): validation naming the field, and the window it means."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from footfall.web import ApiError
from gateway import feed_view

NOW = datetime(2026, 3, 29, 12, 0, tzinfo=UTC)  # the day Europe/Paris moves to summer time


def view(**data):
    return feed_view.parse_view(data)


def test_presets_are_relative_to_now():
    assert feed_view.window(view(), NOW) == (NOW - timedelta(days=7), NOW)
    assert feed_view.window(view(timeline={"range": "90d"}), NOW) == (NOW - timedelta(days=90), NOW)
    start, end = feed_view.window(view(timeline={"range": "today"}, zone="Europe/Paris"), NOW)
    assert start == datetime(2026, 3, 28, 23, 0, tzinfo=UTC) and end == NOW


def test_yesterday_and_custom_days_are_days_of_the_zone():
    start, end = feed_view.window(view(timeline={"range": "yesterday"}, zone="Europe/Paris"), NOW)
    assert (start, end) == (datetime(2026, 3, 27, 23, 0, tzinfo=UTC), datetime(2026, 3, 28, 23, 0, tzinfo=UTC))
    start, end = feed_view.window(view(timeline={"range": "custom", "from": "2026-03-29", "to": "2026-03-29"},
                                       zone="Europe/Paris"), NOW)
    assert end - start == timedelta(hours=23)  # the short day


def test_a_time_filter_is_the_window_and_not_a_condition():
    seen = {"type": "seen", "from": "2026-01-10", "to": "2026-01-11"}
    prop = {"type": "user_property", "property": "plan", "op": "equals", "value": "pro"}
    parsed = view(timeline={"range": "30d"}, filters=[seen, prop])
    assert feed_view.window(parsed, NOW) == (datetime(2026, 1, 10, tzinfo=UTC), datetime(2026, 1, 12, tzinfo=UTC))
    assert feed_view.conditions(parsed) == [prop]


@pytest.mark.parametrize("data, field", [
    ({"timeline": {"range": "custom"}}, "timeline"), ({"timeline": {"range": "7d", "from": "2026-01-01"}}, "timeline"),
    ({"timeline": {"range": "custom", "from": "2026-01-02", "to": "2026-01-01"}}, "timeline"),
    ({"zone": "Nowhere/Land"}, "zone"), ({"q": " a "}, "q"), ({"q": "x" * 201}, "q"),
    ({"filters": [{"type": "seen", "from": "yesterday", "to": "2026-01-01"}]}, "filters.0"),
    ({"filters": [{"type": "did_event", "event": {}}]}, "filters.0"),
    ({"filters": [{}] * 51}, "filters"), ({"colour": "red"}, "colour"), ({"q": "a\x00b"}, "q"),
])
def test_invalid_views_name_the_field(data, field):
    with pytest.raises(ApiError) as raised:
        view(**data)
    assert raised.value.status == 400 and raised.value.details["field"].startswith(field)


ZONES = st.sampled_from(["UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata", "Pacific/Apia"])


@given(first=st.dates(date(2000, 1, 1), date(2100, 1, 1)), days=st.integers(0, 400), zone=ZONES)
def test_custom_days_cover_exactly_those_days(first, days, zone):
    last = first + timedelta(days=days)
    start, end = feed_view.window(view(timeline={"range": "custom", "from": first.isoformat(),
                                                 "to": last.isoformat()}, zone=zone), NOW)
    local = ZoneInfo(zone)
    assert start.astimezone(local).date() == first and start.astimezone(local).time().hour == 0
    assert (end - timedelta(microseconds=1)).astimezone(local).date() == last
    assert end.astimezone(local).date() == last + timedelta(days=1)
