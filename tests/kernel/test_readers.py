"""footfall.readers: views of a contract, their msgspec twins and the fast reader. Pure: no infrastructure."""
from datetime import UTC, datetime

import msgspec
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from footfall.messages import DeletionRequested, Event, EventsCaptured, UnknownMessage, encode
from footfall.readers import FastReader, StrictTime, message_view, twin, view, with_items

Head = view(Event, "Head", ("event_id", "kind", "time", "page", "properties"), parts={"page": ("url", "path")},
            types_={"time": StrictTime})
Captured = message_view(EventsCaptured, "Captured", Head)
read = FastReader(Captured)


def body(**changes) -> dict:
    event = Event(event_id="e1", env_id="env", kind="pageview", device_id="d", user_id="u",
                  time=datetime(2026, 1, 1, tzinfo=UTC), received_at=datetime(2026, 1, 1, tzinfo=UTC),
                  source="web", page={"url": "https://x.test/a", "path": "/a", "title": "A"},
                  properties={"plan": "pro"})
    document = orjson.loads(encode(EventsCaptured(env_id="env", events=[event])))
    document["events"][0].update(changes)
    return document


def plain(value):
    """A read message as plain data, whichever path read it."""
    if isinstance(value, BaseModel):
        return value.model_dump()
    if isinstance(value, msgspec.Struct):
        return {f: plain(getattr(value, f)) for f in value.__struct_fields__}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def test_a_view_and_its_twin_hold_just_the_named_fields_with_the_contracts_defaults():
    assert list(Head.model_fields) == ["event_id", "kind", "time", "page", "properties"]
    assert set(twin(Head).__struct_fields__) == set(Head.model_fields)
    page = twin(Head).__annotations__["page"]
    assert set(msgspec.inspect.type_info(page).types[0].cls.__struct_fields__) == {"url", "path"}
    assert Captured.routing_key == twin(Captured).routing_key == "event.captured"
    document = body()
    del document["events"][0]["properties"]
    assert read(orjson.dumps(document)).events[0].properties == {}


def test_well_formed_bodies_take_the_fast_path_and_read_as_pydantic_reads():
    raw = orjson.dumps(body())
    fast = read(raw)
    assert isinstance(fast, twin(Captured))
    assert plain(fast) == plain(Captured.model_validate_json(raw))


def test_the_twin_is_stricter_never_looser():
    document = body()
    del document["message_id"]  # a factory fills it in: the fast path makes nothing up
    assert isinstance(read(orjson.dumps(document)), Captured)
    with pytest.raises(ValidationError):  # no offset: refused by both
        read(orjson.dumps(body(time="2026-01-01T00:00:00")))


def test_one_schema_version_check_on_both_paths():
    newer = body() | {"schema_version": 99}
    with pytest.raises(UnknownMessage):
        read(orjson.dumps(newer))
    del newer["message_id"]
    with pytest.raises(UnknownMessage):
        read(orjson.dumps(newer))


def test_a_field_with_a_bound_the_twin_cannot_check_has_no_twin():
    with pytest.raises(TypeError, match="bound"):
        twin(DeletionRequested)


def test_with_items_copies_either_kind_of_message():
    raw = orjson.dumps(body())
    for message in (read(raw), Captured.model_validate_json(raw)):
        copy = with_items(message, [])
        assert copy.events == [] and copy.message_id == message.message_id and len(message.events) == 1


values = st.one_of(st.none(), st.booleans(), st.integers(-10, 2**62), st.floats(allow_nan=False),
                   st.text(max_size=5), st.sampled_from(["pageview", "swipe", "2026-01-01T00:00:00Z",
                                                         "2026-01-01T00:00:00+02:00", "2026-01-01T00:00:00",
                                                         "2026-01-01", "/a"]),
                   st.lists(st.integers(-5, 5), max_size=2),
                   st.dictionaries(st.text(max_size=3), st.integers(-5, 5), max_size=2))


@settings(max_examples=300, deadline=None)
@given(changes=st.dictionaries(st.sampled_from(["event_id", "kind", "time", "page", "properties", "source"]),
                               values | st.fixed_dictionaries({"url": values, "path": values}), max_size=3))
def test_the_fast_reader_accepts_and_refuses_what_the_pydantic_view_does(changes):
    raw = orjson.dumps(body(**changes))
    try:
        expected = Captured.model_validate_json(raw)
    except ValidationError:
        with pytest.raises(ValidationError):
            read(raw)
        return
    assert plain(read(raw)) == plain(expected)
