"""What the identity consumer reads of `event.captured`: a slim view of footfall.messages.Event.

Validating every field of every event (targets, hierarchies, properties) cost more than the whole
database work of a batch; identity needs ids, time and the fields of the initial properties. The
slim models still validate what they keep, ignore the rest, and are duck-compatible with `Event`.
"""
from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from footfall.messages import Campaign, Geo, Message, Model


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
