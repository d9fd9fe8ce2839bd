"""What the identity consumer reads of `event.captured`: a slim view of footfall.messages.Event.

Validating every field of every event (targets, hierarchies, properties) cost more than the whole
database work of a batch; identity needs ids, time and the fields of the initial properties.
`read_events` decodes with one typed msgspec pass that checks exactly those fields (and the
string fields of the parts) and skips the rest unbuilt, about a third of the cost of building
the whole document with orjson and checking it by hand; any message it is not sure of goes
through the slim pydantic models instead, which accept and refuse what they always did. Both
views are duck-compatible with `Event`.
"""
from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

import msgspec

from footfall.messages import (
    SCHEMA_VERSION,
    Campaign,
    Device,
    Geo,
    Message,
    Model,
    Page,
    UnknownMessage,
)


class SlimPage(Model):
    url: str | None = None
    domain: str | None = None
    path: str | None = None
    referrer: str | None = None


class SlimDevice(Model):
    browser: str | None = None
    os: str | None = None
    device_type: Literal["Desktop", "Mobile", "Tablet", "Other"] | None = None


class SlimEvent(Model):
    event_id: str
    device_id: str
    user_id: str
    identity: str | None = None
    time: datetime
    page: SlimPage | None = None
    device: SlimDevice | None = None
    geo: Geo | None = None
    campaign: Campaign | None = None


class SlimEventsCaptured(Message):
    routing_key: ClassVar[str] = "event.captured"
    events: list[SlimEvent]


# --- The typed fast path ---------------------------------------------------------------------------


def _part(model: type[Model]) -> type[msgspec.Struct]:
    """A msgspec twin of a nested part of the contract (page, device, …): its fields, all optional."""
    fields = [(name, field.annotation, None) for name, field in model.model_fields.items()]
    return msgspec.defstruct(f"Wire{model.__name__}", fields, gc=False)


_WirePage, _WireDevice, _WireGeo, _WireCampaign = (_part(model) for model in (Page, Device, Geo, Campaign))


class _WireEvent(msgspec.Struct, gc=False):
    event_id: str
    device_id: str
    user_id: str
    time: str  # parsed by _aware_time (the rule the fast path always had), not by msgspec's own
    identity: str | None = None
    page: _WirePage | None = None
    device: _WireDevice | None = None
    geo: _WireGeo | None = None
    campaign: _WireCampaign | None = None


class _WireMessage(msgspec.Struct, gc=False):
    message_id: str
    env_id: str
    events: list[_WireEvent]
    schema_version: int = SCHEMA_VERSION
    sent_at: str | msgspec.UnsetType = msgspec.UNSET  # absent is fine; null is not (pydantic decides)


_DECODER = msgspec.json.Decoder(_WireMessage)


class WireEvent:
    """The fields of one event identity uses, its time parsed; nested parts as msgspec decoded them."""

    __slots__ = ("campaign", "device", "device_id", "event_id", "geo", "identity", "page", "time", "user_id")

    def __init__(self, raw: _WireEvent, time: datetime):
        self.event_id, self.device_id = raw.event_id, raw.device_id
        self.user_id, self.identity = raw.user_id, raw.identity
        self.time, self.page, self.device, self.geo, self.campaign = time, raw.page, raw.device, raw.geo, raw.campaign


class WireEventsCaptured:
    """An `event.captured` message as the fast path read it (duck-compatible with EventsCaptured)."""

    routing_key: ClassVar[str] = "event.captured"
    __slots__ = ("env_id", "events", "message_id")

    def __init__(self, message_id: str, env_id: str, events: list[WireEvent]):
        self.message_id, self.env_id, self.events = message_id, env_id, events


def _aware_time(value: str) -> datetime | None:
    """An ISO 8601 date-time with an offset (as our producers write it), else None."""
    if len(value) < 20 or value[10] != "T":
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _fast(body: bytes) -> WireEventsCaptured | None:
    """The message when every field identity reads is plainly valid; None when unsure."""
    try:
        document = _DECODER.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError):  # not JSON, or a field of another type
        return None
    if document.sent_at is not msgspec.UNSET and _aware_time(document.sent_at) is None:
        return None
    if document.schema_version > SCHEMA_VERSION:
        raise UnknownMessage(f"schema_version {document.schema_version} is newer than {SCHEMA_VERSION}")
    events = []
    for raw in document.events:
        time = _aware_time(raw.time)
        if time is None:
            return None
        events.append(WireEvent(raw, time))
    return WireEventsCaptured(document.message_id, document.env_id, events)


def read_events(body: bytes) -> WireEventsCaptured | SlimEventsCaptured:
    """Read an `event.captured` body; raises what the pydantic view raises for a bad message."""
    message = _fast(body)
    if message is not None:
        return message
    slim = SlimEventsCaptured.model_validate_json(body)
    if slim.schema_version > SCHEMA_VERSION:
        raise UnknownMessage(f"schema_version {slim.schema_version} is newer than {SCHEMA_VERSION}")
    return slim
