"""Enrichment and the shared normalisation helpers (pure; hypothesis for the general properties)."""
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.ingest import enrich
from services.ingest.normalize import (
    MAX_VALUE_CHARS,
    FieldError,
    corrected_time,
    flatten,
    timestamp,
)

pytestmark = pytest.mark.unit

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=2000),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=20,
)


@given(st.dictionaries(st.text(max_size=10), json_values, max_size=5))
def test_flattened_properties_are_flat_short_scalars(properties):
    flat = flatten(properties, "properties")
    for value in flat.values():
        assert value is None or isinstance(value, (bool, int, float, str))
        assert not isinstance(value, str) or len(value) <= MAX_VALUE_CHARS
    assert len(flat) >= sum(1 for v in properties.values() if not isinstance(v, dict))


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)),
       st.timedeltas(min_value=timedelta(days=-30), max_value=timedelta(days=30)))
def test_skew_correction_keeps_the_clients_offset_to_sent_at(client_time, transit):
    received = datetime(2024, 5, 1, tzinfo=UTC)
    sent_at = client_time + transit
    assert received - corrected_time(client_time, sent_at, received) == transit


def test_timestamps_accept_iso_and_unix_milliseconds_and_name_bad_ones():
    assert timestamp("2024-05-01T12:00:00Z", "t") == datetime(2024, 5, 1, 12, tzinfo=UTC)
    assert timestamp("2024-05-01T12:00:00", "t").tzinfo == UTC
    assert timestamp(1714564800000, "t") == timestamp(1714564800, "t")
    for bad in ("soon", True, 1e300, "0001-01-01T00:00:00+01:00"):
        with pytest.raises(FieldError) as error:
            timestamp(bad, "timestamp")
        assert error.value.field == "timestamp"


@pytest.mark.parametrize("user_agent, expected", [
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
     ("Chrome", "Windows", "Desktop")),
    (("Mozilla/5.0 (iPad; CPU OS 16_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.0 "
      "Mobile/15E148 Safari/604.1"), ("Mobile Safari", "iOS", "Tablet")),
    (("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile "
      "Safari/537.36"), ("Chrome", "Android", "Mobile")),
    ("Googlebot/2.1 (+http://www.google.com/bot.html)", ("Googlebot", None, "Other")),
])
def test_user_agents_give_browser_os_and_device_type(user_agent, expected):
    device = enrich.device_from_user_agent(user_agent)
    assert (device["browser"], device["os"], device["device_type"]) == expected


def test_sources_from_explicit_library_os_and_browser_signs():
    assert enrich.source_of("android", "analytics.js", None, True) == "android"
    assert enrich.source_of(None, "analytics-ios", None, False) == "ios"
    assert enrich.source_of(None, "analytics-android", None, False) == "android"
    assert enrich.source_of(None, "analytics-python", None, True) == "server"
    assert enrich.source_of(None, "RudderLabs JavaScript SDK", None, False) == "web"
    assert enrich.source_of(None, None, "Android", False) == "android"
    assert enrich.source_of(None, None, None, True) == "web"
    assert enrich.source_of(None, None, None, False) == "server"


def test_url_parts():
    assert enrich.url_parts("https://a.example/x/y?q=1#h") == {
        "url": "https://a.example/x/y?q=1#h", "domain": "a.example", "path": "/x/y", "query": "q=1", "hash": "h"}
    assert enrich.url_parts("https://a.example")["path"] == "/"
    assert enrich.url_parts("http://[::1")["domain"] is None


