"""One request's way through ingest: read, authenticate, limit, normalise, publish, answer.

Ingest is stateless: no database and no consumer. Its only writes are one `event.captured`
message per request (plus one `identity.command` message when the request carried identity
commands), each confirmed by the broker before the client hears success.
"""
from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import orjson
from flask import Request

from footfall.bus import BrokerUnavailable, Publisher
from footfall.clock import utcnow
from footfall.messages import SCHEMA_VERSION, EventsCaptured, IdentityCommands, IngestionWarnings
from footfall.pipeline_lag import Marks
from footfall.web import ApiError
from services.ingest import heap, segment
from services.ingest.bots import BotFilter
from services.ingest.keys import KeysUnavailable, WriteKeys
from services.ingest.limits import RateLimiter, read_json
from services.ingest.normalize import (
    DEFAULT_FUTURE_MARGIN,
    FieldError,
    Normalized,
    Receipt,
    TooManyItems,
)

RETRY_AFTER_S = "5"


@dataclass(frozen=True)
class Dialect:
    """How one endpoint reads its body: who it is for, which items it holds, how they normalise."""

    auth: str  # "write_key" (Basic user or writeKey) or "app_id" (Heap)
    items: Callable[[dict], list]
    normalize: Callable[..., Normalized]  # (items, body, receipt, geo) -> Normalized
    # Segment endpoints answer 200 like Segment: rudder-sdk-python treats any other 2xx as a failure
    # and would resend the batch. Heap's API answers 202 (accepted for asynchronous processing).
    status: int


def segment_dialect(forced_type: str | None) -> Dialect:
    def normalize(raw_items, body, receipt, geo):
        return segment.normalize(raw_items, body, receipt, geo, forced_type)

    items = segment.batch_items if forced_type is None else segment.single_items
    return Dialect("write_key", items, normalize, 200)


def heap_dialect(items: Callable[[dict], list], normalize_items: Callable[[list, Receipt], Normalized]) -> Dialect:
    return Dialect("app_id", items, lambda raw_items, body, receipt, geo: normalize_items(raw_items, receipt), 202)


SEGMENT_BATCH = segment_dialect(None)
HEAP_TRACK = heap_dialect(heap.track_items, heap.normalize_track)
HEAP_USER_PROPERTIES = heap_dialect(heap.users_items, heap.normalize_user_properties)
HEAP_IDENTIFY = heap_dialect(heap.identify_items, heap.normalize_identify)


class Intake:
    """The composition of ingest's parts; one per app, shared by its threads."""

    def __init__(self, publisher: Publisher, keys: WriteKeys, limiter: RateLimiter,
                 geo: Callable[[str], dict | None], clock: Callable[[], datetime] = utcnow,
                 bots: BotFilter | None = None, future_margin: timedelta = DEFAULT_FUTURE_MARGIN,
                 marks: Marks | None = None):
        self.publisher, self.keys, self.limiter, self.geo, self.clock = publisher, keys, limiter, geo, clock
        self.bots, self.future_margin, self.marks = bots, future_margin, marks

    def accept(self, dialect: Dialect, request: Request) -> tuple[dict, int]:
        """The whole request; raises ApiError for every answer but success."""
        received_at = self.clock()
        body, may_hold_nul = read_json(request)
        if not isinstance(body, dict):
            raise ApiError(400, "the body must be a JSON object", field="body")
        env_id = self._environment(dialect, body, request)
        try:
            raw_items = dialect.items(body)
        except TooManyItems as error:
            raise ApiError(413, f"{error.field}: {error.message}", field=error.field) from error
        except FieldError as error:
            raise ApiError(400, f"{error.field}: {error.message}", field=error.field) from error
        self.limiter.take(env_id, len(raw_items))
        receipt = Receipt(env_id, received_at, client_ip(request), request.headers.get("User-Agent"),
                          self.future_margin, may_hold_nul)
        try:
            result = dialect.normalize(raw_items, body, receipt, self.geo)
        except FieldError as error:  # an envelope field (e.g. the batch's sentAt)
            raise ApiError(400, f"{error.field}: {error.message}", field=error.field) from error
        if not result.accepted:
            first = result.errors[0]
            field = first["field"] if len(raw_items) == 1 else f"[{first['index']}].{first['field']}"
            raise ApiError(400, f"no valid item: {field}: {first['message']}", field=first["field"],
                           accepted=0, errors=result.errors)
        if self.bots is not None and result.events:
            result.events = self.bots.screen(env_id, result.events)
        self._publish(env_id, result)
        return {"success": True, "accepted": result.accepted, "errors": result.errors}, dialect.status

    def _environment(self, dialect: Dialect, body: dict, request: Request) -> str:
        try:
            if dialect.auth == "app_id":
                app_id = body.get("app_id")
                if not isinstance(app_id, (str, int)) or isinstance(app_id, bool) or app_id == "":
                    raise ApiError(400, "app_id is required (the environment's write key)", field="app_id")
                env_id = self.keys.env_for_app_id(str(app_id))
                if env_id is None:
                    raise ApiError(401, "unknown app_id", field="app_id")
                return env_id
            write_key = _write_key(body, request)
            env_id = self.keys.env_for(write_key)
        except KeysUnavailable as exc:
            raise ApiError(503, "write keys cannot be checked right now; retry later",
                           headers={"Retry-After": RETRY_AFTER_S}) from exc
        if env_id is None:
            raise ApiError(401, "unknown write key", field="writeKey")
        return env_id

    def _publish(self, env_id: str, result: Normalized) -> None:
        sent_at = self.clock()
        if result.events:
            if self.marks is not None:  # before publishing: the consumer may store them at once
                self.marks.accepted(env_id, sent_at.timestamp())
            self._send(EventsCaptured.routing_key, env_id, sent_at, "events", result.events)
        if result.commands:
            self._send(IdentityCommands.routing_key, env_id, sent_at, "commands", result.commands)
        if result.warnings:  # after the data: a retry of a half-published request repeats nothing
            self._send(IngestionWarnings.routing_key, env_id, sent_at, "warnings", result.warnings)

    def _send(self, routing_key: str, env_id: str, sent_at: datetime, key: str, items: list[dict]) -> None:
        message_id = str(uuid.uuid4())
        body = orjson.dumps({"schema_version": SCHEMA_VERSION, "message_id": message_id, "env_id": env_id,
                             "sent_at": sent_at, key: items})
        try:
            self.publisher.publish_raw(routing_key, body, message_id)
        except BrokerUnavailable as exc:
            # A retry after a half-published request is harmless: event and command ids deduplicate.
            raise ApiError(503, "the event broker is unavailable; retry later",
                           headers={"Retry-After": RETRY_AFTER_S}) from exc


def _write_key(body: dict, request: Request) -> str:
    """Segment clients send the key as the Basic user name; browser SDKs put `writeKey` in the body."""
    auth = request.authorization
    if auth is not None and auth.type == "basic" and auth.username:
        return auth.username
    key = body.get("writeKey")
    if isinstance(key, str) and key:
        return key
    raise ApiError(401, "a write key is required: HTTP Basic user name or writeKey in the body",
                   field="writeKey")


def client_ip(request: Request) -> str | None:
    """The client's address: the peer, or what a trusted proxy forwarded (footfall.web.TrustedProxies)."""
    return request.remote_addr
