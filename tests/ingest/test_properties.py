"""Property tests of the pure core: any JSON a client sends is either accepted as valid contract
messages or rejected with a named field — never an unexpected exception (which would be a 500)."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from footfall.messages import EventsCaptured, IdentityCommands
from services.ingest import heap, segment
from services.ingest.normalize import FieldError
from tests.ingest.conftest import ENV_ID, no_geo, receipt

pytestmark = pytest.mark.unit

scalars = (st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1)
           | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30))
json_values = st.recursive(scalars, lambda children: st.lists(children, max_size=3)
                           | st.dictionaries(st.text(max_size=8), children, max_size=3), max_leaves=12)
times = st.sampled_from(["2024-05-01T10:00:00Z", "2024-05-01T10:00:00.123+02:00", 1714557600000, None, "x"])
ids = st.text(min_size=1, max_size=12) | st.integers(0, 2**53)


def noisy(valid):
    """Valid dicts, and the same with one field replaced by any JSON value."""
    def spoil(args):
        value, key, junk = args
        return {**value, key: junk} if value else junk

    spoiled = st.tuples(valid, st.sampled_from(["type", "anonymousId", "userId", "event", "properties",
                                                "context", "timestamp", "footfall", "target", "hierarchy",
                                                "tag", "classes", "attributes", "nth", "page", "url", "name",
                                                "traits", "previousId", "groupId", "messageId"]), json_values)
    return st.one_of(valid, valid, spoiled.map(spoil))


nodes = noisy(st.fixed_dictionaries({"tag": st.sampled_from(["a", "BUTTON", "div"])}, optional={
    "id": st.text(max_size=5), "classes": st.lists(st.text(max_size=5), max_size=2),
    "attributes": st.dictionaries(st.text(max_size=5), st.text(max_size=5) | st.booleans(), max_size=2),
    "nth": st.integers(1, 5)}))
footfall_ext = noisy(st.fixed_dictionaries({}, optional={
    "device_id": ids, "session_id": ids, "kind": st.sampled_from(["click", "pageview", "submit", "change"]),
    "source": st.sampled_from(["web", "ios", "android", "server"]),
    "target": noisy(st.fixed_dictionaries({}, optional={
        "text": st.text(max_size=20), "href": st.text(max_size=20), "hierarchy": st.lists(nodes, max_size=3)})),
}))
contexts = noisy(st.fixed_dictionaries({}, optional={
    "library": st.fixed_dictionaries({"name": st.sampled_from(["analytics.js", "analytics-ios", "footfall.js"])}),
    "userAgent": st.sampled_from(["Mozilla/5.0 (X11; Linux x86_64) Firefox/125.0", ""]),
    "page": noisy(st.fixed_dictionaries({}, optional={
        "url": st.sampled_from(["https://a.b/c?utm_source=x#h", "http://[::1", "/rel"]),
        "title": st.text(max_size=10), "search": st.sampled_from(["?utm_medium=m", ""])})),
    "campaign": st.dictionaries(st.sampled_from(["source", "name", "utm_term", "other"]), scalars, max_size=2),
    "os": st.fixed_dictionaries({"name": st.sampled_from(["iOS", "Android", "Linux"])}),
    "screen": st.fixed_dictionaries({"width": st.integers(0, 4000), "height": st.integers(0, 4000)}),
    "ip": st.sampled_from(["81.2.69.160", "10.0.0.1", "nonsense"]),
    "footfall": footfall_ext,
}))
segment_messages = noisy(st.fixed_dictionaries(
    {"type": st.sampled_from(segment.TYPES), "anonymousId": ids},
    optional={"userId": ids, "messageId": ids, "event": st.text(min_size=1, max_size=10),
              "name": st.text(max_size=10), "properties": st.dictionaries(st.text(max_size=8), json_values),
              "traits": st.dictionaries(st.text(max_size=8), json_values), "previousId": ids, "groupId": ids,
              "timestamp": times, "sentAt": times, "context": contexts}))


def valid_messages(out):
    EventsCaptured.model_validate({"env_id": ENV_ID, "events": out.events})
    IdentityCommands.model_validate({"env_id": ENV_ID, "commands": out.commands})
    assert out.accepted + len(out.errors) > 0


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(segment_messages, min_size=1, max_size=4), times)
def test_any_segment_batch_is_accepted_as_contract_messages_or_rejected_by_field(batch, sent_at):
    body = {"batch": batch, "sentAt": sent_at}
    try:
        out = segment.normalize(segment.batch_items(body), body, receipt(ip="81.2.69.160"), no_geo)
    except FieldError as error:
        assert error.field == "sentAt"
        return
    valid_messages(out)
    assert out.accepted + len(out.errors) == len(batch)


@settings(max_examples=150)
@given(noisy(st.fixed_dictionaries({}, optional={
    "identity": ids, "user_id": ids, "event": st.text(max_size=8), "timestamp": times, "idempotency_key": ids,
    "properties": st.dictionaries(st.text(max_size=8), json_values)})))
def test_any_heap_item_is_accepted_or_rejected_by_field(item):
    for normalize in (heap.normalize_track, heap.normalize_user_properties, heap.normalize_identify):
        valid_messages(normalize([item], receipt()))
