"""User state as a join-semilattice: facts from messages, their join, and the users they imply. No I/O.

Every message becomes `Facts`: per user id (anonymous or identified) what was seen (earliest event
with its initial properties, latest time), the earliest claim linking an anonymous user id to an
identity, property writes per key, device sightings and warnings. Each part joins by min, max or
union, so joining facts is commutative, associative and idempotent: any order, duplicates and
redeliveries give the same facts. Users are a pure function of the facts (`derive_users`): an
anonymous user id whose earliest claim names X belongs to X's user (`identified_user_id`), which
survives; every other id owns itself. The store keeps the same facts in tables and materialises
the same function, so its state is order-independent too.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from footfall.ids import anonymous_user_id, identified_user_id
from footfall.messages import (
    AliasCommand,
    Event,
    EventsCaptured,
    IdentifyCommand,
    IdentityCommands,
    IngestionWarnings,
    Message,
    Scalar,
    SetUserPropertiesCommand,
)
from services.identity.properties import (
    PropertyWrite,
    bound_properties,
    clean_properties,
    clip,
    identity_problem,
    initial_properties,
)

# An identified user's events repeat its identity: hash it once per identity, not per event
# (bench/HISTORY.md#identity-consumer).
_identified_user_id = lru_cache(maxsize=65_536)(identified_user_id)


@lru_cache(maxsize=65_536)
def _usable_identity(identity: str) -> bool:
    """An identity that may be used (the common case, known without building a warning's key)."""
    return identity_problem(identity) is None


class Seen:
    """What events said about one user id: the earliest event (and its initial properties), the latest time.

    Immutable by convention: a plain class with slots rather than a frozen dataclass, whose
    __init__ (object.__setattr__ per field) cost half a microsecond per event of a batch.
    """

    __slots__ = ("_initial", "first_event", "first_seen", "last_seen", "source")

    def __init__(self, first_seen: datetime, first_event: str, source: Event, last_seen: datetime):
        self.first_seen = first_seen
        self.first_event = first_event  # tie-break between events at the same instant
        self.source = source  # the earliest event: its initial properties are built when read, which most never are
        self.last_seen = last_seen
        self._initial: dict[str, Scalar] | None = None

    @property
    def initial(self) -> dict[str, Scalar]:
        if self._initial is None:
            self._initial = initial_properties(self.source)
        return self._initial

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Seen) and (self.first_seen, self.first_event, self.last_seen, self.initial) == (
            other.first_seen, other.first_event, other.last_seen, other.initial)

    def __repr__(self) -> str:
        return f"Seen({self.first_seen!r}, {self.first_event!r}, last_seen={self.last_seen!r})"

    def join(self, other: Seen) -> Seen:
        first = self if (self.first_seen, self.first_event) <= (other.first_seen, other.first_event) else other
        return Seen(first.first_seen, first.first_event, first.source, max(self.last_seen, other.last_seen))


@dataclass(frozen=True, order=True)
class Claim:
    """A claim that an anonymous user id is identity X, as of an event time; the earliest wins."""

    claimed_at: datetime
    claim_id: str
    identity: str


@dataclass(frozen=True)
class Warning:
    """An ingestion problem shown to the customer; `key` makes a redelivered one a duplicate."""

    key: str
    kind: str
    message: str
    occurred_at: datetime
    subject: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def join(self, other: Warning) -> Warning:
        return min(self, other, key=lambda w: (w.occurred_at, w.message))


def _join_into(target: dict, source: dict) -> None:
    for key, value in source.items():
        target[key] = value.join(target[key]) if key in target else value


@dataclass
class Facts:
    """Joinable facts about the users of one environment."""

    env_id: str
    seen: dict[str, Seen] = field(default_factory=dict)  # user id → its own events
    identities: dict[str, str] = field(default_factory=dict)  # identified user id → identity
    mentioned: set[str] = field(default_factory=set)  # user ids named by events and commands
    claims: dict[str, Claim] = field(default_factory=dict)  # anonymous user id → earliest claim
    properties: dict[tuple[str, str], PropertyWrite] = field(default_factory=dict)  # (user id, key)
    devices: dict[tuple[str, str], datetime] = field(default_factory=dict)  # (user id, device) → first seen
    warnings: dict[str, Warning] = field(default_factory=dict)

    def absorb(self, other: Facts) -> Facts:
        """Join `other` into these facts (in place) and return them."""
        assert other.env_id == self.env_id, "facts of different environments never join"
        _join_into(self.seen, other.seen)
        self.identities.update(other.identities)  # a function of the id: no conflict possible
        self.mentioned |= other.mentioned
        for user_id, claim in other.claims.items():
            self.claims[user_id] = min(claim, self.claims.get(user_id, claim))
        _join_into(self.properties, other.properties)
        for key, first in other.devices.items():
            self.devices[key] = min(first, self.devices.get(key, first))
        _join_into(self.warnings, other.warnings)
        return self

    def user_ids(self) -> set[str]:
        return self.mentioned | set(self.identities)

    # --- building ---------------------------------------------------------------------------------

    def _identified(self, identity: str) -> str:
        user_id = _identified_user_id(self.env_id, identity)
        self.identities[user_id] = identity
        return user_id

    def _warn(self, key: str, kind: str, message: str, at: datetime, subject: str | None, **details) -> None:
        # Client strings end up here: PostgreSQL text cannot hold NUL, and they may be long.
        key, message = clip(key), clip(message)
        details = {name: clip(value) if isinstance(value, str) else value for name, value in details.items()}
        _join_into(self.warnings, {key: Warning(key, kind, message, at, subject, details)})

    def _device(self, user_id: str, device_id: str | None, at: datetime) -> None:
        """The device's earliest sighting by this id (written only when earlier: once per event)."""
        if device_id:
            first = self.devices.get((user_id, device_id))
            if first is None or at < first:
                self.devices[(user_id, device_id)] = at

    def _claim(self, subject: str, identity: str, at: datetime, claim_id: str) -> None:
        """Record a claim; whether it links is decided from all facts (identified ids never move)."""
        target = self._identified(identity)
        self.mentioned.add(subject)
        if subject != target:
            current = self.claims.get(subject)  # the min, without building claims known to lose
            if current is None or (at, claim_id, identity) < (current.claimed_at, current.claim_id, current.identity):
                self.claims[subject] = Claim(at, claim_id, identity)

    def _check_identity(self, identity: str | None, at: datetime, key: str, subject: str | None) -> bool:
        problem = identity_problem(identity)
        if problem is not None:
            self._warn(key, "identity_refused", f"{problem}: {identity!r} was not used", at, subject,
                       identity=identity)
        return problem is None

    def add_event(self, event: Event) -> None:
        """An event: its user id was seen; one carrying an identity also claims that identity."""
        owner, time = event.user_id, event.time
        self.mentioned.add(owner)
        self._device(owner, event.device_id, time)
        if event.identity is not None and (_usable_identity(event.identity) or self._check_identity(
            event.identity, event.time, f"event-identity:{event.user_id}:{event.identity}", event.user_id
        )):
            # The event belongs to the identity's user whatever its device is linked to (R14).
            owner = self._identified(event.identity)
            self._claim(event.user_id, event.identity, event.time, event.event_id)
            self._device(owner, event.device_id, event.time)
        current = self.seen.get(owner)
        if current is None or (time, event.event_id) < (current.first_seen, current.first_event):
            last = time if current is None else max(current.last_seen, time)
            self.seen[owner] = Seen(time, event.event_id, event, last)
        elif time > current.last_seen:  # the join, without a comparison of first events known to lose
            self.seen[owner] = Seen(current.first_seen, current.first_event, current.source, time)

    def add_identify(self, command: IdentifyCommand) -> None:
        subject = command.user_id or (anonymous_user_id(command.device_id) if command.device_id else None)
        if subject is None:
            self._warn(f"command:{command.command_id}", "identify_refused",
                       "identify names neither a device nor a user id", command.time, None,
                       identity=command.identity)
            return
        if self._check_identity(command.identity, command.time, f"command:{command.command_id}", subject):
            self._claim(subject, command.identity, command.time, command.command_id)
            self._device(subject, command.device_id, command.time)

    def add_alias(self, command: AliasCommand) -> None:
        subject = anonymous_user_id(command.previous_id)
        if command.previous_id == command.identity:
            return
        if identity_problem(command.previous_id) is not None:
            self._warn(f"command:{command.command_id}", "alias_refused",
                       f"alias from {command.previous_id!r} was not used", command.time, None,
                       identity=command.identity)
            return
        if self._check_identity(command.identity, command.time, f"command:{command.command_id}", subject):
            self._claim(subject, command.identity, command.time, command.command_id)

    def add_properties(self, command: SetUserPropertiesCommand) -> None:
        owner = None
        if command.identity is not None and self._check_identity(
            command.identity, command.time, f"command:{command.command_id}:identity", command.user_id
        ):
            owner = self._identified(command.identity)
        elif command.user_id or command.device_id:
            owner = command.user_id or anonymous_user_id(command.device_id)
            self.mentioned.add(owner)
        if owner is None:
            self._warn(f"command:{command.command_id}", "properties_refused",
                       "user properties name no usable identity, user or device", command.time, None)
            return
        cleaned, refused = clean_properties(command.properties)
        if refused:
            self._warn(f"command:{command.command_id}:properties", "properties_refused",
                       f"{len(refused)} user properties were not stored", command.time, owner,
                       reasons=refused)
        for key, value in cleaned.items():
            write = PropertyWrite(value, command.time, command.command_id, command.time)
            _join_into(self.properties, {(owner, key): write})

    def add_message(self, message: Message) -> Facts:
        """The facts a bus message states (EventsCaptured, IdentityCommands or IngestionWarnings)."""
        if message.routing_key == EventsCaptured.routing_key:  # the full contract or wire.py's slim view
            for event in message.events:
                self.add_event(event)
        elif isinstance(message, IdentityCommands):
            handlers = {"identify": self.add_identify, "alias": self.add_alias,
                        "set_user_properties": self.add_properties}
            for command in message.commands:
                handlers[command.type](command)
        elif isinstance(message, IngestionWarnings):  # from ingest, or a consumer that set items aside
            for w in message.warnings:
                self._warn(w.key, w.kind, w.message, w.occurred_at, w.subject, **w.details)
        return self


def facts_from(message: Message) -> Facts:
    return Facts(message.env_id).add_message(message)


# --- Users implied by facts -----------------------------------------------------------------------


def owner_of(env_id: str, user_id: str, claim: Claim | None, identified: bool) -> str:
    """The surviving user an id belongs to: its claimed identity's user, else itself."""
    if claim is None or identified:
        return user_id
    return identified_user_id(env_id, claim.identity)


def user_properties(writes: dict[str, PropertyWrite], initial: dict[str, Scalar]) -> tuple[dict, list[str]]:
    """A user's visible properties (bounded custom ones, then the initial ones) and what was dropped."""
    kept, dropped = bound_properties(writes)
    return {**kept, **initial}, dropped


def bounds_warning(user_id: str, dropped: list[str], at: datetime) -> Warning:
    digest = hashlib.blake2b("\x1f".join(sorted(dropped)).encode(), digest_size=8).hexdigest()
    return Warning(f"bounds:{user_id}:{digest}", "properties_dropped",
                   f"{len(dropped)} user properties over the 1000 keys / 64 KB bound were dropped",
                   at, user_id, {"keys": sorted(dropped)[:50]})


@dataclass(frozen=True)
class User:
    """A surviving user as the facts imply it (the reference the store must agree with)."""

    user_id: str
    identity: str | None
    first_seen: datetime | None
    last_seen: datetime | None
    properties: dict[str, Scalar]
    members: frozenset[str]
    devices: frozenset[str]


def derive_users(facts: Facts) -> dict[str, User]:
    """Every surviving user implied by the facts, keyed by user id."""
    members: dict[str, set[str]] = {}
    for user_id in facts.user_ids():
        owner = owner_of(facts.env_id, user_id, facts.claims.get(user_id), user_id in facts.identities)
        members.setdefault(owner, set()).add(user_id)
    users = {}
    for owner, ids in members.items():
        seens = [facts.seen[i] for i in ids if i in facts.seen]
        seen = None
        for s in seens:
            seen = s if seen is None else seen.join(s)
        writes: dict[str, PropertyWrite] = {}
        for (user_id, key), write in facts.properties.items():
            if user_id in ids:
                _join_into(writes, {key: write})
        properties, _ = user_properties(writes, seen.initial if seen else {})
        users[owner] = User(
            owner, facts.identities.get(owner), seen.first_seen if seen else None,
            seen.last_seen if seen else None, properties, frozenset(ids),
            frozenset(d for (u, d) in facts.devices if u in ids),
        )
    return users
