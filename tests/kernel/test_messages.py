from datetime import datetime, timezone

import pytest
from pydantic import ValidationError

from footfall import messages as m

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)


def an_event(**changes):
    fields = dict(event_id="e1", env_id="env", kind="pageview", device_id="d1", user_id="1",
                  time=NOW, received_at=NOW, source="web", properties={"plan": "pro", "n": 3})
    return m.Event(**(fields | changes))


def test_round_trip_keeps_every_field():
    message = m.EventsCaptured(env_id="env", events=[an_event(page=m.Page(path="/pricing"))])
    decoded = m.decode("event.captured", m.encode(message))
    assert decoded == message
    assert decoded.schema_version == m.SCHEMA_VERSION


def test_identity_commands_are_a_tagged_union():
    message = m.IdentityCommands(env_id="env", commands=[
        m.IdentifyCommand(command_id="c1", time=NOW, identity="ada", device_id="d1"),
        m.SetUserPropertiesCommand(command_id="c2", time=NOW, identity="ada", properties={"plan": "pro"}),
    ])
    decoded = m.decode("identity.command", m.encode(message))
    assert [type(c) for c in decoded.commands] == [m.IdentifyCommand, m.SetUserPropertiesCommand]


def test_producer_side_refuses_a_bad_event():
    with pytest.raises(ValidationError):
        an_event(kind="teleport")


def test_consumer_side_refuses_unknown_keys_and_newer_schemas():
    with pytest.raises(m.UnknownMessage):
        m.decode("no.such.key", b"{}")
    body = m.encode(m.DefinitionChanged(env_id="env", definition_id="d", action="created"))
    newer = body.replace(b'"schema_version":1', b'"schema_version":99')
    with pytest.raises(m.UnknownMessage):
        m.decode("definition.changed", newer)
    with pytest.raises(ValidationError):
        m.decode("event.captured", b'{"env_id": "env", "events": [{"kind": "click"}]}')


def test_every_contract_has_a_json_schema():
    schemas = m.json_schemas()
    assert set(schemas) == set(m.MESSAGE_TYPES)
    assert "events" in schemas["event.captured"]["properties"]
