"""Heap's server-side API dialect: track, add_user_properties, identify → canonical shapes.

Bodies name the environment with `app_id` (its write key, rotatable). Each item names its
user by `identity` or by Heap's anonymous `user_id` (a 53-bit decimal id); `idempotency_key`
(or `messageId`) is the event / command id, so a retried request deduplicates downstream.
"""
from __future__ import annotations

from services.ingest.normalize import (
    FieldError,
    Normalized,
    Receipt,
    each,
    event,
    event_id,
    flatten,
    identifier,
    identify_command,
    items,
    set_properties_command,
    text,
    timestamp,
    user_ids,
)

LIBRARY = "heap-server-api"


def track_items(body: dict) -> list:
    return items(body, "events", single=True)


def users_items(body: dict) -> list:
    return items(body, "users", single=True)


def identify_items(body: dict) -> list:
    return [body]


def normalize_track(raw_items: list, receipt: Receipt) -> Normalized:
    return each(raw_items, receipt, _track, receipt)


def normalize_user_properties(raw_items: list, receipt: Receipt) -> Normalized:
    return each(raw_items, receipt, _user_properties, receipt)


def normalize_identify(raw_items: list, receipt: Receipt) -> Normalized:
    return each(raw_items, receipt, _identify, receipt)


def _item_id(raw: dict) -> str:
    return event_id(raw.get("idempotency_key", raw.get("messageId")), raw, "idempotency_key")


def _who(raw: dict, receipt: Receipt) -> tuple[str | None, str, str]:
    """(identity, device_id, user_id) of an item named by identity and/or Heap user_id."""
    identity = identifier(raw.get("identity"), "identity")
    heap_user_id = identifier(raw.get("user_id"), "user_id")
    if identity is None and heap_user_id is None:
        raise FieldError("identity", "either identity or user_id is required")
    device_id, user_id = user_ids(receipt.env_id, heap_user_id, identity)
    return identity, device_id, user_id


def _time(raw: dict, receipt: Receipt):
    return timestamp(raw.get("timestamp"), "timestamp") or receipt.received_at


def _track(raw: dict, out: Normalized, receipt: Receipt) -> None:
    identity, device_id, user_id = _who(raw, receipt)
    name = text(raw.get("event"), "event")
    if not name:
        raise FieldError("event", "is required")
    out.events.append(event(
        receipt, event_id=_item_id(raw), kind="custom", name=name, device_id=device_id, user_id=user_id,
        identity=identity, time=_time(raw, receipt), source="server", library=LIBRARY,
        properties=flatten(raw.get("properties"), "properties"),
    ))


def _user_properties(raw: dict, out: Normalized, receipt: Receipt) -> None:
    identity, device_id, user_id = _who(raw, receipt)
    properties = flatten(raw.get("properties"), "properties")
    if not properties:
        raise FieldError("properties", "must be a non-empty object")
    out.commands.append(set_properties_command(
        _item_id(raw), _time(raw, receipt), properties, identity=identity,
        device_id=device_id if identity is None else None, user_id=user_id if identity is None else None,
    ))


def _identify(raw: dict, out: Normalized, receipt: Receipt) -> None:
    identity = identifier(raw.get("identity"), "identity")
    if identity is None:
        raise FieldError("identity", "is required")
    heap_user_id = identifier(raw.get("user_id"), "user_id")
    if heap_user_id is None:
        raise FieldError("user_id", "is required (the anonymous user to identify)")
    _, user_id = user_ids(receipt.env_id, heap_user_id, None)
    out.commands.append(identify_command(_item_id(raw), _time(raw, receipt), identity, user_id=user_id,
                                         device_id=heap_user_id))
