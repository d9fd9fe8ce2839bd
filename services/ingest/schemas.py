"""JSON Schemas of ingest's request and response bodies, for /openapi.json (and schemathesis).

The hot path does not validate through these models (the dialect modules check fields by hand, a
few times faster, and report errors by item index); they document the same shapes.
"""
from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from services.ingest.normalize import MAX_ITEMS

Properties = dict[str, object]


class Open(BaseModel):
    model_config = ConfigDict(extra="allow")


# --- our browser SDK's extension (services/ingest/browser.py) ------------------------------------


class HierarchyNode(Open):
    tag: str = Field(min_length=1)
    id: str | None = None
    classes: list[str] = Field(default_factory=list)
    attributes: dict[str, str] = Field(default_factory=dict)
    nth: int | None = Field(default=None, ge=1)


class TargetIn(Open):
    text: str | None = None
    href: str | None = None
    hierarchy: list[HierarchyNode] = Field(default_factory=list, description="target first, then ancestors")


class FootfallContext(Open):
    device_id: str | None = None
    session_id: str | None = None
    kind: Literal["pageview", "click", "change", "submit", "rage_click", "dead_click"] | None = None
    source: Literal["web", "ios", "android", "server"] | None = None
    target: TargetIn | None = None


# --- Segment spec --------------------------------------------------------------------------------


class Library(Open):
    name: str | None = None
    version: str | None = None


class PageContext(Open):
    url: str | None = None
    path: str | None = None
    search: str | None = None
    title: str | None = None
    referrer: str | None = None


class SegmentContext(Open):
    library: Library | None = None
    page: PageContext | None = None
    userAgent: str | None = None
    ip: str | None = None
    screen: dict[str, int] | None = None
    campaign: dict[str, str] | None = None
    os: dict[str, str] | None = None
    device: dict[str, str] | None = None
    traits: Properties | None = None
    footfall: FootfallContext | None = None


class SegmentMessage(Open):
    """One Segment message; on /v1/<type> the path gives the type."""

    type: Literal["track", "page", "screen", "identify", "alias", "group"] | None = None
    messageId: str | None = None
    anonymousId: str | None = None
    userId: str | None = None
    event: str | None = Field(default=None, description="track: the event name")
    name: str | None = Field(default=None, description="page/screen: its name")
    properties: Properties | None = None
    traits: Properties | None = None
    previousId: str | None = Field(default=None, description="alias: the id being merged away")
    groupId: str | None = None
    context: SegmentContext | None = None
    timestamp: datetime | None = None
    sentAt: datetime | None = None
    writeKey: str | None = Field(default=None, description="or the HTTP Basic user name")


class SegmentBatch(Open):
    batch: list[SegmentMessage] = Field(min_length=1, max_length=MAX_ITEMS)
    sentAt: datetime | None = None
    context: SegmentContext | None = None
    writeKey: str | None = Field(default=None, description="or the HTTP Basic user name")


# --- Heap server API -----------------------------------------------------------------------------


class HeapItem(Open):
    identity: str | None = None
    user_id: str | None = Field(default=None, description="Heap's anonymous user id (53-bit decimal)")
    timestamp: datetime | None = None
    idempotency_key: str | None = None


class HeapEvent(HeapItem):
    event: str | None = None
    properties: Properties | None = None


class HeapTrack(HeapEvent):
    app_id: str = Field(description="the environment's write key (rotatable; an environment id is refused)")
    events: list[HeapEvent] | None = Field(default=None, max_length=MAX_ITEMS)


class HeapUser(HeapItem):
    properties: Properties | None = None


class HeapUserProperties(HeapUser):
    app_id: str
    users: list[HeapUser] | None = Field(default=None, max_length=MAX_ITEMS)


class HeapIdentify(HeapItem):
    app_id: str


# --- responses -----------------------------------------------------------------------------------


class ItemError(BaseModel):
    index: int
    field: str
    message: str


class Accepted(BaseModel):
    success: bool = True
    accepted: int
    errors: list[ItemError] = Field(default_factory=list)


class ErrorDetail(Open):
    code: int
    message: str
    field: str | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail
    code: str = Field(description="the same error for Segment-compatible clients")
    message: str


ERRORS = {400: ErrorBody, 401: ErrorBody, 413: ErrorBody, 415: ErrorBody, 429: ErrorBody, 503: ErrorBody}
