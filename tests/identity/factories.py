"""Builders of canonical events and identity commands for the identity tests."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from footfall.ids import anonymous_user_id
from footfall.messages import (
    AliasCommand,
    Event,
    EventsCaptured,
    IdentifyCommand,
    IdentityCommands,
    SetUserPropertiesCommand,
)

ENV = "env-identity"
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def event(event_id: str, dev: str, minute: float, identity: str | None = None, **fields) -> Event:
    fields.setdefault("page", {"url": f"https://shop.example/{event_id}", "referrer": f"ref-{event_id}"})
    return Event(event_id=event_id, env_id=ENV, kind="pageview", device_id=dev,
                 user_id=anonymous_user_id(dev), identity=identity, time=at(minute),
                 received_at=T0, source="web", **fields)


def events(*items: Event, env_id: str = ENV) -> EventsCaptured:
    return EventsCaptured(env_id=env_id, events=list(items))


def identify(command_id: str, device: str, identity: str, minute: float) -> IdentifyCommand:
    return IdentifyCommand(command_id=command_id, time=at(minute), identity=identity, device_id=device,
                           user_id=anonymous_user_id(device))


def alias(command_id: str, previous_id: str, identity: str, minute: float) -> AliasCommand:
    return AliasCommand(command_id=command_id, time=at(minute), previous_id=previous_id, identity=identity)


def set_properties(command_id: str, minute: float, properties: dict, identity: str | None = None,
                   device: str | None = None) -> SetUserPropertiesCommand:
    return SetUserPropertiesCommand(command_id=command_id, time=at(minute), identity=identity,
                                    device_id=device, properties=properties)


def commands(*items, env_id: str = ENV) -> IdentityCommands:
    return IdentityCommands(env_id=env_id, commands=list(items))
