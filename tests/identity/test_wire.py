"""wire.read_events: the typed (msgspec) fast path accepts and refuses what the pydantic view does."""
import orjson
import pytest
from pydantic import ValidationError

from footfall.messages import UnknownMessage, encode
from services.identity.merge import facts_from
from services.identity.wire import SlimEventsCaptured, WireEventsCaptured, read_events
from tests.identity.factories import event, events

pytestmark = pytest.mark.unit


def body(**changes) -> bytes:
    """An event.captured body whose first event has `changes` applied (None removes a field)."""
    document = orjson.loads(encode(events(
        event("e1", "d1", 0, identity="ada", device={"browser": "Edge", "device_type": "Mobile"},
              geo={"country": "DE"}, campaign={"utm_source": "news"}),
        event("e2", "d2", 3))))
    for name, value in changes.items():
        if value is None:
            document["events"][0].pop(name)
        else:
            document["events"][0][name] = value
    return orjson.dumps(document)


def test_well_formed_events_take_the_fast_path_and_give_the_pydantic_facts():
    fast = read_events(body())
    assert isinstance(fast, WireEventsCaptured)
    assert facts_from(fast) == facts_from(SlimEventsCaptured.model_validate_json(body()))
    assert fast.events[0].device.browser == "Edge" and fast.events[0].page.url is not None


@pytest.mark.parametrize("changes", [
    {"user_id": 42}, {"event_id": None}, {"identity": ["ada"]}, {"time": "yesterday"},
    {"time": "2026-01-01T00:00:00"},  # no offset: refused by our producers' contract, left to pydantic
    {"device": {"device_type": "Fridge"}}, {"page": {"url": 7}}, {"geo": "DE"}, {"campaign": {"utm_term": 1}},
])
def test_what_the_fast_path_is_unsure_of_goes_to_pydantic_which_decides(changes):
    raw = body(**changes)
    try:
        expected = SlimEventsCaptured.model_validate_json(raw)
    except ValidationError:
        with pytest.raises(ValidationError):
            read_events(raw)
    else:
        got = read_events(raw)
        assert isinstance(got, SlimEventsCaptured) and facts_from(got) == facts_from(expected)


def test_a_newer_schema_and_broken_json_are_refused():
    document = orjson.loads(body())
    document["schema_version"] = 99
    with pytest.raises(UnknownMessage):
        read_events(orjson.dumps(document))
    with pytest.raises(ValidationError):
        read_events(b'{"events": [')
