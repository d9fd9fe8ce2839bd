"""Accepted means storable: what ingest answers 2xx for can be stored as it is published.

NUL (which PostgreSQL's text and jsonb cannot hold) becomes U+FFFD in free text, listed in the event's
`$nul_replaced`, and is refused in ids; times far ahead of their receipt are clamped to it, the claim
kept as `$original_time` and an ingestion warning sent; properties that would flatten to one key
are refused by index; context fields never recurse without bound; every gzip member is read.
"""
import gzip
from datetime import timedelta

import orjson
import pytest

from footfall.messages import EventsCaptured, IdentityCommands, IngestionWarnings
from services.ingest import heap, segment
from services.ingest.normalize import NUL_REPLACED, ORIGINAL_TIME
from tests.ingest.conftest import RECEIVED_AT, drain, no_geo, receipt
from tests.ingest.test_api import post, track


def batch(*messages, **envelope):
    raw = [dict(m) for m in messages]
    return segment.normalize(raw, {"batch": raw, **envelope}, receipt(), no_geo)


def test_nul_in_free_text_becomes_u_fffd_and_the_event_says_where():
    out = batch(track(1, event="Sign\x00ed", properties={"k\x00ey": "v\x00", "ok": "fine", "deep": {"x": "\x00"}}))
    [event] = out.events
    assert event["name"] == "Sign\ufffded"
    assert event["properties"]["k\ufffdey"] == "v\ufffd" and event["properties"]["deep.x"] == "\ufffd"
    assert event["properties"]["ok"] == "fine"
    assert set(event["properties"][NUL_REPLACED].split(",")) == {
        "name", "properties.k\ufffdey", "properties.deep.x"}
    assert "\x00" not in orjson.dumps(out.events).decode("unicode_escape")


def test_nul_in_an_id_refuses_the_item_naming_the_field_and_keeps_the_rest():
    out = batch(track(1, anonymousId="a\x00b"), track(2), track(3, messageId="m\x00"),
                {"type": "identify", "anonymousId": "a4", "userId": "ada\x00"})
    assert out.accepted == 1 and [e["event_id"] for e in out.events] == ["m2"]
    assert [(e["index"], e["field"]) for e in out.errors] == [(0, "anonymousId"), (2, "messageId"), (3, "userId")]
    assert all("NUL" in e["message"] for e in out.errors)


def test_nul_in_traits_is_replaced_in_the_identity_commands():
    out = batch({"type": "identify", "anonymousId": "a1", "userId": "ada", "traits": {"pl\x00n": "p\x00"}})
    [props] = [c for c in out.commands if c["type"] == "set_user_properties"]
    assert props["properties"] == {"pl\ufffdn": "p\ufffd"}


def test_two_keys_equal_once_nul_is_replaced_refuse_the_item():
    out = batch(track(1, properties={"a\x00": 1, "a\ufffd": 2}))
    assert out.accepted == 0 and out.errors[0]["field"].startswith("properties.a")


def test_a_body_without_the_escape_is_not_scanned():
    out = segment.normalize([track(1)], {"batch": [track(1)]}, receipt(may_hold_nul=False), no_geo)
    assert NUL_REPLACED not in out.events[0]["properties"]


@pytest.mark.parametrize("claimed", ["9999-12-31T00:00:00Z", (RECEIVED_AT + timedelta(days=1, seconds=1)).isoformat()])
def test_a_time_more_than_a_day_ahead_is_clamped_with_the_claim_kept_and_a_warning(claimed):
    out = batch(track(1, timestamp=claimed))
    [event] = out.events
    assert event["time"] == RECEIVED_AT
    assert event["properties"][ORIGINAL_TIME].startswith(claimed[:19])
    [warning] = out.warnings
    assert warning["kind"] == "time_clamped" and warning["key"] == "time_clamped:m1"
    assert warning["subject"] == event["user_id"] and warning["details"]["event_id"] == "m1"


def test_a_time_within_the_margin_and_a_clock_skew_trick_are_bounded():
    within = (RECEIVED_AT + timedelta(hours=23)).isoformat()
    assert batch(track(1, timestamp=within)).events[0]["time"] == RECEIVED_AT + timedelta(hours=23)
    # sentAt far in the past makes the skew correction push the event far ahead (a session in 4045).
    skewed = batch(track(2, timestamp="2024-05-01T12:00:00Z", sentAt="0003-05-01T12:00:00Z"))
    assert skewed.events[0]["time"] == RECEIVED_AT and skewed.warnings


def test_the_margin_is_configurable():
    raw = [track(1, timestamp=(RECEIVED_AT + timedelta(minutes=10)).isoformat())]
    out = segment.normalize(raw, {"batch": raw}, receipt(future_margin=timedelta(minutes=5)), no_geo)
    assert out.events[0]["time"] == RECEIVED_AT and out.warnings


def test_heap_events_are_bounded_too():
    out = heap.normalize_track([{"identity": "ada", "event": "E", "timestamp": "9999-01-01T00:00:00Z"}], receipt())
    assert out.events[0]["time"] == RECEIVED_AT and out.warnings[0]["kind"] == "time_clamped"


@pytest.mark.parametrize("properties, field", [
    ({"a.b": 1, "a": {"b": 2}}, "properties.a.b"),
    ({"a": {"b": 2}, "a.b": 1}, "properties.a.b"),
    ({"x": {"y.z": 1, "y": {"z": 2}}}, "properties.x.y.z"),
])
def test_properties_that_flatten_to_one_key_are_refused_by_index(properties, field):
    out = batch(track(0), track(1, properties=properties))
    assert out.accepted == 1 and out.errors == [{"index": 1, "field": field, "message": out.errors[0]["message"]}]
    assert "rename one" in out.errors[0]["message"]


def nested(depth):
    value = "v"
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize("context", [
    {"campaign": {"source": nested(1000)}},
    {"os": {"name": "iOS", "version": nested(1000)}},
    {"device": {"model": nested(1000)}, "os": {"name": "Android"}},
])
def test_context_fields_nested_1000_deep_are_refused_naming_the_field(context):
    out = batch(track(1, context={"library": {"name": "analytics-ios"}, **context}))
    assert out.accepted == 0 and out.errors[0]["field"].startswith("context.")
    assert "nested too deeply" in out.errors[0]["message"]


def test_shallow_non_string_context_fields_are_kept_as_json():
    out = batch(track(1, context={"library": {"name": "analytics-ios"}, "os": {"name": "iOS", "version": [17, 2]},
                                  "campaign": {"source": {"site": "x"}}}))
    [event] = out.events
    assert event["device"]["os_version"] == "[17,2]" and event["campaign"]["utm_source"] == '{"site":"x"}'


# --- through the app: the body, the warnings message, the answers ------------------------------


def test_a_nul_body_is_accepted_storable_and_published(client, settings, clean_bus):
    response = post(client, "/v1/batch", {"batch": [track(1, properties={"note": "a\x00b"}), track(2)]})
    assert response.status_code == 200 and response.json["accepted"] == 2
    [message] = drain(settings, "sessions.events")
    assert isinstance(message, EventsCaptured)
    assert message.events[0].properties == {"note": "a\ufffdb", NUL_REPLACED: "properties.note"}


def test_a_clamped_event_sends_an_ingestion_warning_to_identity(client, settings, clean_bus):
    response = post(client, "/v1/batch", {"batch": [track(1, timestamp="9999-12-31T00:00:00Z")]})
    assert response.status_code == 200
    [warnings] = [m for m in drain(settings, "identity.inbox") if isinstance(m, IngestionWarnings)]
    assert [w.kind for w in warnings.warnings] == ["time_clamped"]


def test_every_gzip_member_is_read(client, settings, clean_bus):
    whole = orjson.dumps({"batch": [track(1), track(2)]})
    body = gzip.compress(whole[:10]) + gzip.compress(whole[10:])  # `cat a.gz b.gz`
    response = post(client, "/v1/batch", body, headers={"Content-Encoding": "gzip"})
    assert response.status_code == 200 and response.json["accepted"] == 2, response.json
    trailing = post(client, "/v1/batch", gzip.compress(whole) + b"junk", headers={"Content-Encoding": "gzip"})
    assert trailing.status_code == 400 and trailing.json["error"]["field"] == "Content-Encoding"


def test_members_count_against_the_same_limit(client):
    member = gzip.compress(b" " * 400 * 1024)
    response = post(client, "/v1/batch", member + member, headers={"Content-Encoding": "gzip"})
    assert response.status_code == 413


def test_identity_commands_keep_flowing_beside_clamped_events(client, settings, clean_bus):
    body = {"batch": [track(1, timestamp="9999-12-31T00:00:00Z"),
                      {"type": "identify", "anonymousId": "a1", "userId": "ada", "traits": {"plan": "pro"}}]}
    assert post(client, "/v1/batch", body).status_code == 200
    kinds = sorted(type(m).__name__ for m in drain(settings, "identity.inbox"))
    assert kinds == sorted([IdentityCommands.__name__, IngestionWarnings.__name__, EventsCaptured.__name__])


def test_ingest_builds_every_field_of_the_canonical_event_and_no_other():
    """normalize.event spells the event out as a dict literal (the hot path); the contract is Event's."""
    from footfall.messages import Event
    from services.ingest.normalize import event

    built = event(receipt(), event_id="e", kind="custom", name="n", device_id="d", user_id="u", identity=None,
                  time=RECEIVED_AT, source="server")
    assert set(built) == set(Event.model_fields) - {"bot"}  # `bot` is added by bots.py when kept
    Event.model_validate(built)
