"""The events consumer's fast check of `event.captured` accepts and refuses as the pydantic heads do."""
import json

import pytest
from pydantic import ValidationError

from footfall.messages import UnknownMessage
from services.sessions.consumer import CapturedHeads, WireCaptured, read_captured
from tests.sessions.conftest import body, ev

pytestmark = pytest.mark.unit


def _message(**changes) -> dict:
    """A valid message of one event, with `changes` to that event's fields."""
    document = json.loads(body([ev("1", 0, kind="custom", name="Signed Up", properties={"plan": "pro", "n": 3})]))
    document["events"][0].update(changes)
    return document


def _without(field: str) -> dict:
    document = _message()
    del document["events"][0][field]
    return document


REFUSED = {
    "no event id": _without("event_id"),
    "an unknown kind": _message(kind="swipe"),
    "an unknown source": _message(source="fax"),
    "a time without an offset": _message(time="2024-05-01T10:00:00"),
    "a time as a number": _message(time=1714557600),
    "a number for a string": _message(user_id=42),
    "a nested property": _message(properties={"cart": {"total": 3}}),
    "no events list": {"message_id": "m", "env_id": "e"},
}


def test_a_valid_message_takes_the_fast_path():
    assert isinstance(read_captured(json.dumps(_message()).encode()), WireCaptured)


@pytest.mark.parametrize("case", REFUSED)
def test_what_pydantic_refuses_is_refused(case):
    raw = json.dumps(REFUSED[case]).encode()
    with pytest.raises(ValidationError):
        CapturedHeads.model_validate_json(raw)
    with pytest.raises(ValidationError):
        read_captured(raw)


def test_what_only_pydantic_reads_is_still_accepted():
    """A message without a message id (pydantic makes one up) goes through the slow path."""
    document = _message()
    del document["message_id"]
    assert isinstance(read_captured(json.dumps(document).encode()), CapturedHeads)


def test_a_newer_schema_is_unknown_on_both_paths():
    newer = _message()
    newer["schema_version"] = 99
    with pytest.raises(UnknownMessage):
        read_captured(json.dumps(newer).encode())
    del newer["message_id"]  # the slow path
    with pytest.raises(UnknownMessage):
        read_captured(json.dumps(newer).encode())
