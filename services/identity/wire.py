"""What the identity consumer reads of `event.captured`: a slim view of footfall.messages.Event.

Validating every field of every event (targets, hierarchies, properties) cost more than the whole
database work of a batch; identity needs ids, time and the fields of the initial properties.
`read_events` parses with orjson and checks exactly those fields by hand (about a tenth of
pydantic's cost); any message it is not sure of goes through the slim pydantic models instead,
which accept and refuse what they always did. Both views are duck-compatible with `Event`.
"""
from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

import orjson

from footfall.messages import SCHEMA_VERSION, Campaign, Geo, Message, Model, UnknownMessage


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


# --- The hand-checked fast path ------------------------------------------------------------------

# The nested fields identity reads (initial properties), each str or null; device_type a literal.
_PARTS = {
    "page": ("url", "domain", "path", "referrer"),
    "device": ("browser", "os", "device_type"),
    "geo": tuple(Geo.model_fields),
    "campaign": tuple(Campaign.model_fields),
}
_DEVICE_TYPES = frozenset({"Desktop", "Mobile", "Tablet", "Other", None})


class Part(dict):
    """A nested object of an event (page, device, …) read by attribute, absent keys as None."""

    __getattr__ = dict.get


class WireEvent:
    """The fields of one event identity uses; nested parts are wrapped only when read."""

    __slots__ = ("_raw", "device_id", "event_id", "identity", "time", "user_id")

    def __init__(self, raw: dict, time: datetime):
        self.event_id, self.device_id, self.user_id = raw["event_id"], raw["device_id"], raw["user_id"]
        self.identity, self.time, self._raw = raw.get("identity"), time, raw

    def _part(self, name: str) -> Part | None:
        fields = self._raw.get(name)
        return None if fields is None else Part(fields)

    page = property(lambda self: self._part("page"))
    device = property(lambda self: self._part("device"))
    geo = property(lambda self: self._part("geo"))
    campaign = property(lambda self: self._part("campaign"))


class WireEventsCaptured:
    """An `event.captured` message as the fast path read it (duck-compatible with EventsCaptured)."""

    routing_key: ClassVar[str] = "event.captured"
    __slots__ = ("env_id", "events", "message_id")

    def __init__(self, message_id: str, env_id: str, events: list[WireEvent]):
        self.message_id, self.env_id, self.events = message_id, env_id, events


def _aware_time(value) -> datetime | None:
    """An ISO 8601 date-time with an offset (as our producers write it), else None."""
    if type(value) is not str or len(value) < 20 or value[10] != "T":
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _fast(document) -> WireEventsCaptured | None:
    """The message when every field identity reads is plainly valid; None when unsure."""
    if type(document) is not dict:
        return None
    message_id, env_id, raw_events = document.get("message_id"), document.get("env_id"), document.get("events")
    version = document.get("schema_version", SCHEMA_VERSION)
    if (type(message_id) is not str or type(env_id) is not str or type(raw_events) is not list
            or type(version) is not int or ("sent_at" in document and _aware_time(document["sent_at"]) is None)):
        return None
    if version > SCHEMA_VERSION:
        raise UnknownMessage(f"schema_version {version} is newer than {SCHEMA_VERSION}")
    events = []
    for raw in raw_events:
        if (type(raw) is not dict or type(raw.get("event_id")) is not str or type(raw.get("device_id")) is not str
                or type(raw.get("user_id")) is not str):
            return None
        identity = raw.get("identity")
        if identity is not None and type(identity) is not str:
            return None
        time = _aware_time(raw.get("time"))
        if time is None:
            return None
        for part, names in _PARTS.items():
            fields = raw.get(part)
            if fields is None:
                continue
            if type(fields) is not dict:
                return None
            for name in names:
                value = fields.get(name)
                if value is not None and type(value) is not str:
                    return None
            if part == "device" and fields.get("device_type") not in _DEVICE_TYPES:
                return None
        events.append(WireEvent(raw, time))
    return WireEventsCaptured(message_id, env_id, events)


def read_events(body: bytes) -> WireEventsCaptured | SlimEventsCaptured:
    """Read an `event.captured` body; raises what the pydantic view raises for a bad message."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        document = None
    message = _fast(document)
    if message is not None:
        return message
    slim = SlimEventsCaptured.model_validate_json(body)
    if slim.schema_version > SCHEMA_VERSION:
        raise UnknownMessage(f"schema_version {slim.schema_version} is newer than {SCHEMA_VERSION}")
    return slim
