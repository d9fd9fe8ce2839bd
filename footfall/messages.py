"""Message contracts of the bus: one model per routing key, validated by producer and consumer alike.

Every message is a batch (a list of items) because confirms and acks are priced per message,
not per item: ingest publishes one message per HTTP request, consumers emit one per batch.
Consumers ignore unknown fields so producers can add fields without a lockstep deploy; a change
that breaks a consumer bumps `schema_version`.
"""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal, Union

import orjson
from pydantic import BaseModel, ConfigDict, Field

from footfall.clock import utcnow
from footfall.ids import new_message_id

SCHEMA_VERSION = 1

Scalar = Union[str, int, float, bool, None]
# rage_click and dead_click: frustration signals our browser SDK detects around clicks (sdk/js/src/frustration.ts).
Kind = Literal["pageview", "click", "change", "submit", "rage_click", "dead_click", "custom", "screen", "identify"]
Source = Literal["web", "ios", "android", "server"]


class Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=False)


# --- The canonical event (docs/semantics.md) ----------------------------------------------------


class Page(Model):
    url: str | None = None
    domain: str | None = None
    path: str | None = None
    query: str | None = None
    hash: str | None = None
    title: str | None = None
    referrer: str | None = None


class Node(Model):
    """One element of a target's hierarchy, target first, then its ancestors up to the root."""

    tag: str
    id: str | None = None
    classes: list[str] = Field(default_factory=list)
    attributes: dict[str, str] = Field(default_factory=dict)
    nth: int | None = None  # 1-based position among its element siblings (:nth-child)


class Target(Model):
    hierarchy: list[Node] = Field(default_factory=list)
    text: str | None = None
    href: str | None = None


class Device(Model):
    browser: str | None = None
    browser_version: str | None = None
    os: str | None = None
    os_version: str | None = None
    device_type: Literal["Desktop", "Mobile", "Tablet", "Other"] | None = None
    screen: str | None = None
    user_agent: str | None = None
    model: str | None = None  # mobile apps: context.device.model ("iPhone15,2")
    app_version: str | None = None  # mobile apps: context.app.version


class Geo(Model):
    country: str | None = None
    region: str | None = None
    city: str | None = None


class Campaign(Model):
    utm_source: str | None = None
    utm_medium: str | None = None
    utm_campaign: str | None = None
    utm_term: str | None = None
    utm_content: str | None = None


class Event(Model):
    """One captured event after ingest normalisation; (env_id, event_id) is its dedupe key."""

    event_id: str
    env_id: str
    kind: Kind
    name: str | None = None  # custom/screen events; pageviews and autocaptured ones may leave it empty
    device_id: str
    # The anonymous user id the client holds for this device (SDK id, or hash53(anonymousId)).
    user_id: str
    identity: str | None = None
    session_id: str | None = None  # the client's, when it keeps one (our browser SDK)
    time: datetime  # client time, corrected for clock skew when sent_at was given
    received_at: datetime
    source: Source
    library: str | None = None
    page: Page | None = None
    target: Target | None = None
    device: Device | None = None
    geo: Geo | None = None
    campaign: Campaign | None = None
    ip: str | None = None
    properties: dict[str, Scalar] = Field(default_factory=dict)
    # Why ingest took it for traffic that is not a person (crawler, headless, monitoring,
    # excluded_ip), when the environment keeps such events rather than dropping them.
    bot: str | None = None


# --- Identity commands (ingest → identity) ------------------------------------------------------


class IdentifyCommand(Model):
    """Link a device's anonymous user (or, from Heap's server API, a user id) to an identity."""

    type: Literal["identify"] = "identify"
    command_id: str
    time: datetime
    identity: str
    device_id: str | None = None
    user_id: str | None = None
    source: Source = "server"


class AliasCommand(Model):
    """Segment alias: previous_id's user merges into the user of `identity`."""

    type: Literal["alias"] = "alias"
    command_id: str
    time: datetime
    previous_id: str
    identity: str


class SetUserPropertiesCommand(Model):
    """Traits / add_user_properties: per key, last write by event time wins."""

    type: Literal["set_user_properties"] = "set_user_properties"
    command_id: str
    time: datetime
    identity: str | None = None
    device_id: str | None = None
    user_id: str | None = None
    properties: dict[str, Scalar] = Field(default_factory=dict)


IdentityCommand = Annotated[
    Union[IdentifyCommand, AliasCommand, SetUserPropertiesCommand], Field(discriminator="type")
]


# --- Facts published by services ---------------------------------------------------------------


class UserMerge(Model):
    from_user_id: str
    into_user_id: str
    identity: str | None = None
    device_ids: list[str] = Field(default_factory=list)
    at: datetime


class UserSnapshot(Model):
    """The whole state of a user; consumers keep the one with the highest version."""

    user_id: str
    identity: str | None = None
    properties: dict[str, Scalar] = Field(default_factory=dict)
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    version: int = 0


class ReplayRecording(Model):
    session_id: str
    device_id: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    has_full_snapshot: bool = False


class Message(Model):
    """The envelope every message carries."""

    routing_key: ClassVar[str] = ""
    # A batch message names its list of items and the field that identifies one, so a consumer
    # can split a message that fails on its data and set aside only the items that fail.
    items_field: ClassVar[str | None] = None
    item_id_field: ClassVar[str | None] = None
    # Published with `mandatory`: the broker refuses it unless some queue is bound. Facts that
    # nothing is required to hear (announcements for future subscribers) set this False.
    needs_subscriber: ClassVar[bool] = True
    schema_version: int = SCHEMA_VERSION
    message_id: str = Field(default_factory=new_message_id)
    env_id: str
    sent_at: datetime = Field(default_factory=utcnow)


class EventsCaptured(Message):
    routing_key: ClassVar[str] = "event.captured"
    items_field: ClassVar[str | None] = "events"
    item_id_field: ClassVar[str | None] = "event_id"
    events: list[Event]


class IdentityCommands(Message):
    routing_key: ClassVar[str] = "identity.command"
    items_field: ClassVar[str | None] = "commands"
    item_id_field: ClassVar[str | None] = "command_id"
    commands: list[IdentityCommand]


class UsersMerged(Message):
    routing_key: ClassVar[str] = "user.merged"
    items_field: ClassVar[str | None] = "merges"
    item_id_field: ClassVar[str | None] = "from_user_id"
    merges: list[UserMerge]


class UsersUpdated(Message):
    routing_key: ClassVar[str] = "user.updated"
    items_field: ClassVar[str | None] = "users"
    item_id_field: ClassVar[str | None] = "user_id"
    users: list[UserSnapshot]


class ReplaysRecorded(Message):
    routing_key: ClassVar[str] = "replay.recorded"
    items_field: ClassVar[str | None] = "replays"
    item_id_field: ClassVar[str | None] = "session_id"
    replays: list[ReplayRecording]


class DefinitionChanged(Message):
    routing_key: ClassVar[str] = "definition.changed"
    definition_id: str
    action: Literal["created", "updated", "archived"]


class EnvironmentChanged(Message):
    routing_key: ClassVar[str] = "environment.changed"
    # Ingest learns write keys from Redis, so no queue is bound yet; the fact is for subscribers to come.
    needs_subscriber: ClassVar[bool] = False
    action: Literal["created", "key_rotated", "deleted"]


# At most this many users per deletion request (Heap's deletion API takes as many).
MAX_DELETION_USERS = 1000


class DeletionRequested(Message):
    """Delete users for good: every service drops what it holds of them and of every id merged
    into them, and keeps a tombstone so nothing dated up to `requested_at` brings them back."""

    routing_key: ClassVar[str] = "user.deletion_requested"
    deletion_id: str
    requested_at: datetime
    user_ids: list[str] = Field(max_length=MAX_DELETION_USERS)
    # footfall.ids.identity_key of identities the request named (identity may not know them yet).
    identity_keys: list[str] = Field(default_factory=list, max_length=MAX_DELETION_USERS)
    # Set on ids identity learnt were members of an earlier deletion's users after it ran (a
    # claim dated before it arrived late): their counts join that deletion.
    part_of: bool = False


class ReplaysDeletionRequested(Message):
    """The sessions service's part of a deletion for the replay service: the deleted users' sessions."""

    routing_key: ClassVar[str] = "replay.deletion_requested"
    deletion_id: str
    requested_at: datetime
    session_ids: list[str] = Field(default_factory=list)


class EnvironmentSettings(Model):
    """Per-environment data settings: the gateway owns them and mirrors them into Redis
    (footfall.redis_keys.ENV_SETTINGS_HASH) for ingest and retention."""

    # Days events and sessions are kept (None: forever). A session goes whole, with its events.
    events_retention_days: int | None = Field(None, ge=1, le=36_500)
    # What ingest does with traffic that is not a person: drop it, or keep it flagged `bot`.
    bot_traffic: Literal["drop", "keep"] = "drop"
    # Client addresses whose events count as bot traffic (an office, a CI), as CIDR ranges.
    excluded_ip_ranges: list[str] = Field(default_factory=list, max_length=100)


class IngestionWarning(Model):
    """A problem with data a client sent, shown to the customer (identity keeps them per environment).

    `key` makes a repeated warning a duplicate: the same problem seen again is recorded once.
    """

    key: str
    kind: str  # e.g. time_clamped, dead_lettered
    message: str
    occurred_at: datetime
    subject: str | None = None  # the user id it concerns, when there is one
    details: dict[str, Any] = Field(default_factory=dict)


class IngestionWarnings(Message):
    """Warnings from the producers of data (ingest, and any consumer that sets items aside)."""

    routing_key: ClassVar[str] = "ingest.warning"
    items_field: ClassVar[str | None] = "warnings"
    item_id_field: ClassVar[str | None] = "key"
    warnings: list[IngestionWarning]


MESSAGE_TYPES: dict[str, type[Message]] = {
    m.routing_key: m
    for m in (
        EventsCaptured,
        IdentityCommands,
        UsersMerged,
        UsersUpdated,
        ReplaysRecorded,
        DefinitionChanged,
        EnvironmentChanged,
        DeletionRequested,
        ReplaysDeletionRequested,
        IngestionWarnings,
    )
}


class UnknownMessage(ValueError):
    """A routing key no contract describes, or a schema version this code cannot read."""


def check_schema_version(version: int) -> None:
    """Refuse a message of a newer schema than this code reads (every reader calls this)."""
    if version > SCHEMA_VERSION:
        raise UnknownMessage(f"schema_version {version} is newer than {SCHEMA_VERSION}")


def decode(routing_key: str, body: bytes) -> Message:
    """Parse and validate a message body; raises pydantic.ValidationError or UnknownMessage."""
    model = MESSAGE_TYPES.get(routing_key)
    if model is None:
        raise UnknownMessage(f"no contract for routing key {routing_key!r}")
    message = model.model_validate_json(body)
    check_schema_version(message.schema_version)
    return message


def encode(message: Message) -> bytes:
    """Serialise a message for the wire (validated: models refuse bad fields when built)."""
    return message.model_dump_json().encode()


def json_schemas() -> dict[str, Any]:
    """JSON Schema per routing key, for docs and contract tests."""
    return {key: model.model_json_schema() for key, model in MESSAGE_TYPES.items()}


def _items_of(routing_key: str, body: bytes) -> tuple[dict, str, list] | None:
    """(document, items field, items) of a batch message body, or None when it is not one."""
    model = MESSAGE_TYPES.get(routing_key)
    if model is None or model.items_field is None:
        return None
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    items = document.get(model.items_field) if isinstance(document, dict) else None
    return (document, model.items_field, items) if isinstance(items, list) else None


def split_items(routing_key: str, body: bytes, parts: int | None = 2) -> list[bytes] | None:
    """The body as up to `parts` bodies (one per item when None) of the same message sharing its
    items in order; None when it holds fewer than two items (or is not a batch message)."""
    found = _items_of(routing_key, body)
    if found is None or len(found[2]) < 2:
        return None
    document, field, items = found
    size = 1 if parts is None else -(-len(items) // parts)
    return [orjson.dumps({**document, field: items[i:i + size]}) for i in range(0, len(items), size)]


def join_items(routing_key: str, bodies: list[bytes]) -> bytes:
    """One body holding the items of several bodies of the same message (split_items' inverse)."""
    field = MESSAGE_TYPES[routing_key].items_field
    documents = [orjson.loads(body) for body in bodies]
    return orjson.dumps({**documents[0], field: [item for d in documents for item in d[field]]})


def describe_item(routing_key: str, body: bytes) -> tuple[str | None, str | None]:
    """(env_id, item id) of a one-item message body, as far as they can be read (for dead letters)."""
    found = _items_of(routing_key, body)
    model = MESSAGE_TYPES.get(routing_key)
    if found is None:
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None, None
        env_id = document.get("env_id") if isinstance(document, dict) else None
        return (env_id if isinstance(env_id, str) else None), None
    document, _, items = found
    env_id = document.get("env_id")
    item_id = None
    if len(items) == 1 and isinstance(items[0], dict) and model.item_id_field:
        value = items[0].get(model.item_id_field)
        item_id = value if isinstance(value, str) else None
    return (env_id if isinstance(env_id, str) else None), item_id
