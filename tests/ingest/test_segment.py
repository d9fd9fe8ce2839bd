"""Segment dialect normalisation (pure): every message type, ids, enrichment, errors by index."""

from datetime import UTC, datetime

import pytest

from footfall.ids import anonymous_user_id, identified_user_id
from footfall.messages import EventsCaptured, IdentityCommands
from services.ingest import segment
from tests.ingest.conftest import ENV_ID, RECEIVED_AT, no_geo, receipt

pytestmark = pytest.mark.unit

CHROME_MAC = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
              "Chrome/120.0.0.0 Safari/537.36")


def batch(*messages, **envelope):
    body = {"batch": list(messages), **envelope}
    return segment.normalize(segment.batch_items(body), body, receipt(), no_geo)


def single(message_type, message, geo=no_geo, **receipt_changes):
    return segment.normalize([message], message, receipt(**receipt_changes), geo, message_type)


def events(out):
    """The normalised events, validated against the bus contract."""
    return EventsCaptured.model_validate({"env_id": ENV_ID, "events": out.events}).events


def commands(out):
    return IdentityCommands.model_validate({"env_id": ENV_ID, "commands": out.commands}).commands


def test_track_becomes_a_custom_event_with_flat_properties_and_device_ids():
    out = single("track", {"event": "Signed Up", "anonymousId": "anon-1", "userId": "ada@example.com",
                           "messageId": "m1", "properties": {"plan": {"name": "pro", "seats": 3}, "tags": ["a"]}})
    [event] = events(out)
    assert (event.event_id, event.kind, event.name) == ("m1", "custom", "Signed Up")
    assert event.device_id == "anon-1"
    assert event.user_id == anonymous_user_id("anon-1")
    assert event.identity == "ada@example.com"
    assert event.properties == {"plan.name": "pro", "plan.seats": 3, "tags": '["a"]'}
    assert event.source == "server" and event.time == RECEIVED_AT


def test_server_message_with_only_a_user_id_belongs_to_that_identity():
    [event] = events(single("track", {"event": "Paid", "userId": "ada"}))
    assert event.user_id == event.device_id == identified_user_id(ENV_ID, "ada")


def test_clock_skew_is_corrected_with_sent_at():
    out = batch({"type": "track", "event": "E", "anonymousId": "a", "timestamp": "2024-05-01T10:00:00Z"},
                sentAt="2024-05-01T10:00:05Z")
    assert events(out)[0].time == datetime(2024, 5, 1, 11, 59, 55, tzinfo=UTC)


def test_page_from_a_browser_is_enriched():
    geo_calls = []

    def geo(ip):
        geo_calls.append(ip)
        return {"country": "GB", "region": "England", "city": "London"}

    message = {
        "anonymousId": "a", "name": "Pricing",
        "properties": {"title": "Pricing", "url": "https://shop.example/pricing?utm_source=ads&x=1#plans"},
        "context": {"userAgent": CHROME_MAC, "library": {"name": "analytics.js", "version": "4"},
                    "page": {"referrer": "https://google.com/"}, "screen": {"width": 1440, "height": 900},
                    "campaign": {"medium": "cpc"}},
    }
    [event] = events(single("page", message, geo=geo, ip="81.2.69.160"))
    assert event.kind == "pageview" and event.name == "Pricing" and event.source == "web"
    assert event.page.model_dump() == {
        "url": "https://shop.example/pricing?utm_source=ads&x=1#plans", "domain": "shop.example",
        "path": "/pricing", "query": "utm_source=ads&x=1", "hash": "plans", "title": "Pricing",
        "referrer": "https://google.com/"}
    # context.campaign wins over the URL's utm_* when the client parsed them.
    assert event.campaign.utm_medium == "cpc" and event.campaign.utm_source is None
    assert (event.device.browser, event.device.os, event.device.device_type) == ("Chrome", "Mac OS X", "Desktop")
    assert event.device.screen == "1440x900"
    assert event.geo.country == "GB" and event.ip == "81.2.69.160" and geo_calls == ["81.2.69.160"]


def test_utm_fields_come_from_the_url_when_the_context_has_none():
    message = {"anonymousId": "a", "context": {"page": {"url": "https://x.io/?utm_source=news&utm_campaign=may"}}}
    [event] = events(single("page", message))
    assert (event.campaign.utm_source, event.campaign.utm_campaign) == ("news", "may")


def test_server_events_are_not_located_by_the_servers_address():
    [event] = events(single("track", {"event": "E", "userId": "u"}, geo=lambda ip: {"country": "US"}, ip="8.8.8.8"))
    assert event.ip is None and event.geo is None


def test_screen_from_an_ios_library_uses_its_os_and_device():
    message = {"name": "Home", "anonymousId": "a", "context": {
        "library": {"name": "analytics-ios"}, "os": {"name": "iOS", "version": "17.1"},
        "device": {"model": "iPhone15,2", "type": "ios"}, "app": {"name": "Shop", "version": "4.2.0"}}}
    [event] = events(single("screen", message))
    assert (event.kind, event.name, event.source) == ("screen", "Home", "ios")
    assert (event.device.os, event.device.os_version, event.device.device_type) == ("iOS", "17.1", "Mobile")
    assert (event.device.model, event.device.app_version) == ("iPhone15,2", "4.2.0")


def test_identify_links_the_device_and_sets_traits():
    out = single("identify", {"anonymousId": "a", "userId": "ada", "messageId": "m",
                              "traits": {"email": "ada@example.com", "address": {"city": "Paris"}}})
    identify, props = commands(out)
    assert not out.events
    assert (identify.type, identify.identity, identify.device_id, identify.user_id) == (
        "identify", "ada", "a", anonymous_user_id("a"))
    assert props.type == "set_user_properties" and props.identity == "ada"
    assert props.properties == {"email": "ada@example.com", "address.city": "Paris"}
    assert props.command_id != identify.command_id


def test_anonymous_identify_only_sets_properties_of_the_device_user():
    [props] = commands(single("identify", {"anonymousId": "a", "traits": {"plan": "free"}}))
    assert props.identity is None and props.user_id == anonymous_user_id("a")


def test_alias_and_group_become_identity_commands():
    out = batch({"type": "alias", "previousId": "old", "userId": "ada"},
                {"type": "group", "userId": "ada", "groupId": "acme", "traits": {"name": "Acme"}})
    alias, group = commands(out)
    assert (alias.type, alias.previous_id, alias.identity) == ("alias", "old", "ada")
    assert group.properties == {"group_id": "acme", "group.name": "Acme"}


def test_invalid_messages_are_reported_by_index_and_the_rest_kept():
    out = batch(
        {"type": "track", "event": "ok", "anonymousId": "a"},
        {"type": "track", "anonymousId": "a"},
        {"type": "bogus", "anonymousId": "a"},
        {"type": "track", "event": "E"},
        "not an object",
        {"type": "alias", "userId": "ada"},
        {"type": "track", "event": "E", "anonymousId": "a", "timestamp": "yesterday"},
        {"type": "track", "event": "E", "anonymousId": "a", "properties": [1]},
    )
    assert out.accepted == 1 and len(out.events) == 1
    assert [(e["index"], e["field"]) for e in out.errors] == [
        (1, "event"), (2, "type"), (3, "anonymousId"), (4, ""), (5, "previousId"), (6, "timestamp"),
        (7, "properties")]


def test_missing_message_id_gets_a_stable_one_so_retries_dedupe():
    message = {"event": "E", "anonymousId": "a", "timestamp": "2024-01-01T00:00:00Z"}
    first = single("track", dict(message)).events[0]["event_id"]
    assert first == single("track", dict(message)).events[0]["event_id"]
    assert first != single("track", {**message, "event": "F"}).events[0]["event_id"]


def test_long_values_are_truncated_and_deep_nesting_is_kept_as_text():
    deep: dict = {"leaf": 1}
    for _ in range(40):
        deep = {"d": deep}
    [event] = events(single("track", {"event": "E", "anonymousId": "a",
                                      "properties": {"long": "x" * 5000, "deep": deep}}))
    assert len(event.properties["long"]) == 1024
    [(key, value)] = [(k, v) for k, v in event.properties.items() if k.startswith("deep")]
    assert key.count(".") == 16 and isinstance(value, str) and '"leaf":1' in value


def test_batch_envelope_context_applies_to_every_message():
    out = batch({"type": "track", "event": "E", "anonymousId": "a"},
                context={"library": {"name": "analytics-python"}, "ip": "8.8.8.8"})
    [event] = events(out)
    assert event.library == "analytics-python" and event.ip == "8.8.8.8"


def test_unicode_digits_in_an_anonymous_id_are_hashed_not_parsed():
    [event] = events(single("track", {"event": "E", "anonymousId": "²"}))  # '²'.isdigit() is True
    assert event.device_id == "²" and event.user_id == anonymous_user_id("²") != "²"
