"""The pure core shared by every dialect: field errors, times, ids, properties, the canonical event.

No I/O here. Dialect modules (`segment`, `heap`) turn client payloads into plain dicts shaped
exactly like `footfall.messages.Event` and the identity commands (times stay UTC datetimes, which
orjson writes as ISO 8601); the tests validate them against those models, and the hot path skips a
second pydantic pass (it would double ingest's CPU cost).
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

import orjson

from footfall.ids import anonymous_user_id, identified_user_id

MAX_ITEMS = 1000  # events (or users) per request
MAX_VALUE_CHARS = 1024  # longer property values and texts are truncated
MAX_ID_CHARS = 255
MAX_DEPTH = 16  # nested properties deeper than this are kept as one JSON string
# PostgreSQL's text and jsonb cannot hold NUL: in free text it becomes U+FFFD, and the event says
# where (a property listing the fields); in an id it is refused, since replacing could merge ids.
NUL, REPLACEMENT = "\x00", "\ufffd"
NUL_REPLACED = "$nul_replaced"
# An event time further ahead of its receipt than the margin is a broken clock: it is stored at its
# receipt time, with the time it claimed kept here, and counted as an ingestion warning.
ORIGINAL_TIME = "$original_time"
DEFAULT_FUTURE_MARGIN = timedelta(days=1)
_ID_NAMESPACE = uuid.UUID("5b1f0f57-8d3c-4a59-9a57-1d0a3c0f2a11")


class FieldError(ValueError):
    """One field of a payload (or of one item of a batch) is wrong; the client can fix it."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


class TooManyItems(FieldError):
    """A batch longer than MAX_ITEMS (answered with 413, not 400)."""


@dataclass(frozen=True)
class Receipt:
    """What the HTTP layer knows about a request: where it goes, when and from whom it came."""

    env_id: str
    received_at: datetime
    ip: str | None = None
    user_agent: str | None = None
    future_margin: timedelta = DEFAULT_FUTURE_MARGIN
    # False when the raw body holds no `\u0000` escape: then no string can hold NUL (JSON has no
    # other way to write one), and the per-item scan is skipped.
    may_hold_nul: bool = True


@dataclass
class Normalized:
    """The outcome of one request: canonical events, identity commands, warnings and per-item errors."""

    events: list[dict] = field(default_factory=list)
    commands: list[dict] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)
    warnings: list[dict] = field(default_factory=list)  # shaped like footfall.messages.IngestionWarning
    accepted: int = 0

    def reject(self, index: int, error: FieldError) -> None:
        self.errors.append({"index": index, "field": error.field, "message": error.message})


def items(body: dict, key: str, single: bool = False) -> list:
    """The list under `key` (or the body itself as one item when `single` and the key is absent)."""
    value = body.get(key)
    if value is None and single:
        return [body]
    if not isinstance(value, list):
        raise FieldError(key, "must be a list")
    if not value:
        raise FieldError(key, "must not be empty")
    if len(value) > MAX_ITEMS:
        raise TooManyItems(key, f"at most {MAX_ITEMS} items per request, got {len(value)}")
    return value


def each(raw_items: list, receipt: Receipt, normalize_one, *args) -> Normalized:
    """Run `normalize_one(raw, out, *args)` on every item, collecting FieldErrors by index; then
    make what it produced storable (no NUL, bounded times) or refuse the item."""
    out = Normalized()
    for index, raw in enumerate(raw_items):
        if not isinstance(raw, dict):
            out.reject(index, FieldError("", "must be a JSON object"))
            continue
        marks = len(out.events), len(out.commands), len(out.warnings)
        try:
            normalize_one(raw, out, *args)
            _storable(out, marks, receipt)
        except FieldError as error:
            del out.events[marks[0]:], out.commands[marks[1]:], out.warnings[marks[2]:]
            out.reject(index, error)
        else:
            out.accepted += 1
    return out


def _storable(out: Normalized, marks: tuple[int, int, int], receipt: Receipt) -> None:
    """The item's new events and commands, NUL replaced and event times bounded."""
    if receipt.may_hold_nul:
        out.events[marks[0]:] = [_without_nul(event, True) for event in out.events[marks[0]:]]
        out.commands[marks[1]:] = [_without_nul(command, False) for command in out.commands[marks[1]:]]
    latest = receipt.received_at + receipt.future_margin
    for event in out.events[marks[0]:]:
        if event["time"] > latest:
            _clamp(event, receipt, out)


def _clamp(event: dict, receipt: Receipt, out: Normalized) -> None:
    claimed = event["time"].isoformat()
    event["properties"] = {**event["properties"], ORIGINAL_TIME: claimed}
    event["time"] = receipt.received_at
    out.warnings.append({
        "key": f"time_clamped:{event['event_id']}", "kind": "time_clamped",
        "message": (f"event {event['event_id']} claimed the time {claimed}, more than "
                    f"{receipt.future_margin} after it was received: stored at its receipt time, "
                    f"the claimed time kept as the property {ORIGINAL_TIME}"),
        "occurred_at": receipt.received_at, "subject": event["user_id"],
        "details": {"event_id": event["event_id"], "claimed_time": claimed,
                    "received_at": receipt.received_at.isoformat()},
    })


def _without_nul(item: dict, is_event: bool) -> dict:
    """The item with NUL replaced by U+FFFD in every string and key; an event lists where."""
    replaced: list[str] = []
    clean = _replace_nul(item, "", replaced)
    if replaced and is_event:
        clean["properties"] = {**clean["properties"], NUL_REPLACED: ",".join(replaced)[:MAX_VALUE_CHARS]}
    return clean


def _replace_nul(value: Any, path: str, replaced: list[str]) -> Any:
    kind = type(value)
    if kind is str:
        if NUL in value:
            replaced.append(path)
            return value.replace(NUL, REPLACEMENT)
        return value
    if kind is dict:
        out = {}
        for key, item in value.items():
            if NUL in key:
                key = key.replace(NUL, REPLACEMENT)
                replaced.append(f"{path}.{key}" if path else key)
                if key in value or key in out:
                    raise FieldError(f"{path}.{key}" if path else key,
                                     "two keys are the same once NUL is replaced by U+FFFD")
            out[key] = _replace_nul(item, f"{path}.{key}" if path else key, replaced)
        return out
    if kind is list:
        return [_replace_nul(item, f"{path}[{i}]", replaced) for i, item in enumerate(value)]
    return value


# --- scalar fields ------------------------------------------------------------------------------


def text(value: Any, name: str, limit: int = MAX_VALUE_CHARS) -> str | None:
    """An optional string (numbers are accepted and stringified), truncated to `limit`."""
    if type(value) is str:
        return value[:limit]
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise FieldError(name, "must be a string")


def identifier(value: Any, name: str) -> str | None:
    """An optional id: a non-empty string or number, at most MAX_ID_CHARS long, without NUL."""
    if type(value) is str and 0 < len(value) <= MAX_ID_CHARS:
        if NUL in value:
            raise FieldError(name, "must not contain a NUL character (PostgreSQL cannot store it)")
        return value
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise FieldError(name, "must be a string")
    value = str(value)
    if len(value) > MAX_ID_CHARS:
        raise FieldError(name, f"must be at most {MAX_ID_CHARS} characters")
    return value


def obj(value: Any, name: str) -> dict:
    """An optional JSON object (missing or null → {})."""
    if type(value) is dict:
        return value
    if value is None:
        return {}
    raise FieldError(name, "must be an object")


def timestamp(value: Any, name: str) -> datetime | None:
    """An ISO 8601 time (naive means UTC) or a Unix time in milliseconds (seconds if small)."""
    if value is None or value == "":
        return None
    try:
        if isinstance(value, str):
            parsed = datetime.fromisoformat(value)
            if parsed.tzinfo is None:
                return parsed.replace(tzinfo=UTC)
            return parsed if parsed.tzinfo is UTC else parsed.astimezone(UTC)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            seconds = value / 1000 if abs(value) > 1e11 else value
            return datetime.fromtimestamp(seconds, UTC)
    except (ValueError, OverflowError, OSError):
        pass
    raise FieldError(name, "must be an ISO 8601 time or a Unix time in milliseconds")


def corrected_time(client_time: datetime | None, sent_at: datetime | None, received_at: datetime) -> datetime:
    """Client time shifted by the client's clock error (received_at - sent_at), as Segment does."""
    if client_time is None:
        return received_at
    if sent_at is None:
        return client_time
    try:
        return client_time + (received_at - sent_at)
    except OverflowError as exc:
        raise FieldError("sentAt", "is too far from the event time") from exc


def event_id(given: Any, raw: dict, name: str) -> str:
    """The client's id for the item, else one derived from its content (so a retry dedupes)."""
    value = identifier(given, name)
    if value is not None:
        return value
    return str(uuid.uuid5(_ID_NAMESPACE, json_text(raw, name, sort=True)))


def json_text(value: Any, name: str, sort: bool = False) -> str:
    """Compact JSON of a parsed value; orjson refuses very deep nesting, which the client must fix."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS if sort else 0).decode()
    except orjson.JSONEncodeError as exc:
        raise FieldError(name, "is nested too deeply") from exc


def user_ids(env_id: str, anonymous_id: str | None, identity: str | None) -> tuple[str, str]:
    """(device_id, anonymous user_id) of an item; server items without a device use the identity's user."""
    if anonymous_id is not None:
        return anonymous_id, _anonymous_user_id(anonymous_id)
    if identity is None:
        raise FieldError("anonymousId", "either userId or anonymousId is required")
    user_id = identified_user_id(env_id, identity)
    return user_id, user_id


# A batch's events mostly come from a few devices: hash each anonymous id once.
_anonymous_user_id = lru_cache(maxsize=8192)(anonymous_user_id)


# --- properties ---------------------------------------------------------------------------------


def flatten(value: Any, name: str, prefix: str = "") -> dict[str, Any]:
    """Nested objects become dotted keys; lists become JSON strings; long strings are truncated."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise FieldError(name, "must be an object")
    out: dict[str, Any] = {}
    _flatten_into(out, value, prefix, 0, name)
    return out


_SCALARS = (int, float, bool, type(None))  # orjson reads huge integers as floats, so ints fit 64 bits


def _flatten_into(out: dict, value: dict, prefix: str, depth: int, name: str) -> None:
    for key, item in value.items():
        path = prefix + key if prefix else key
        if path in out:  # {"a.b": 1, "a": {"b": 2}}: both would be a.b, and one value be lost
            raise FieldError(f"{name}.{path}", "two properties flatten to this key (a dotted key and a "
                                               "nested object); rename one")
        kind = type(item)
        if kind is str:
            out[path] = item if len(item) <= MAX_VALUE_CHARS else item[:MAX_VALUE_CHARS]
        elif kind in _SCALARS:
            out[path] = item
        elif kind is dict and depth < MAX_DEPTH:
            _flatten_into(out, item, path + ".", depth + 1, name)
        else:
            out[path] = json_text(item, f"{name}.{path}")[:MAX_VALUE_CHARS]


# --- the canonical shapes -----------------------------------------------------------------------


def event(
    receipt: Receipt,
    *,
    event_id: str,
    kind: str,
    name: str | None,
    device_id: str,
    user_id: str,
    identity: str | None,
    time: datetime,
    source: str,
    session_id: str | None = None,
    library: str | None = None,
    page: dict | None = None,
    target: dict | None = None,
    device: dict | None = None,
    geo: dict | None = None,
    campaign: dict | None = None,
    ip: str | None = None,
    properties: dict | None = None,
) -> dict:
    """A dict shaped like footfall.messages.Event."""
    return {
        "event_id": event_id, "env_id": receipt.env_id, "kind": kind, "name": name,
        "device_id": device_id, "user_id": user_id, "identity": identity, "session_id": session_id,
        "time": time, "received_at": receipt.received_at, "source": source,
        "library": library, "page": page, "target": target, "device": device, "geo": geo,
        "campaign": campaign, "ip": ip, "properties": properties or {},
    }


def identify_command(command_id: str, time: datetime, identity: str, *, device_id: str | None = None,
                     user_id: str | None = None, source: str = "server") -> dict:
    """A dict shaped like footfall.messages.IdentifyCommand."""
    return {"type": "identify", "command_id": command_id, "time": time, "identity": identity,
            "device_id": device_id, "user_id": user_id, "source": source}


def alias_command(command_id: str, time: datetime, previous_id: str, identity: str) -> dict:
    """A dict shaped like footfall.messages.AliasCommand."""
    return {"type": "alias", "command_id": command_id, "time": time, "previous_id": previous_id,
            "identity": identity}


def set_properties_command(command_id: str, time: datetime, properties: dict, *, identity: str | None = None,
                           device_id: str | None = None, user_id: str | None = None) -> dict:
    """A dict shaped like footfall.messages.SetUserPropertiesCommand."""
    return {"type": "set_user_properties", "command_id": command_id, "time": time,
            "identity": identity, "device_id": device_id, "user_id": user_id, "properties": properties}
