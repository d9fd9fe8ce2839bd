"""Sessionization, the pure core: which events form a session, its id and its properties.

Rules (docs/semantics.md R1-R6, R10 and "Ids"):
- An event carrying a client session id (our browser SDK) belongs to that session.
- Other events are cut per *stream* = (anonymous user id, source): web and server by 30 min of
  inactivity, iOS and Android by 5 min. A gap equal to the timeout keeps the session (R2: a new one
  starts only when the gap is strictly greater). Sources are separate streams because a WebView
  visit yields separate web and native sessions (R5) and server events get their own (R10).
- The partition depends only on the set of events: ordering is by (time, event_id), and the
  incremental `Sessionizer` recomputes exactly the sessions a new event can touch, so a late event
  that bridges two sessions joins them.
- A cut session's id is derived from (env, anonymous user id, first event id by time), so every
  replay of the same set names it the same; the store computes the same function in SQL.
"""
from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from footfall.ids import MAX_ID

TIMEOUTS: dict[str, timedelta] = {
    "web": timedelta(minutes=30),
    "server": timedelta(minutes=30),
    "ios": timedelta(minutes=5),
    "android": timedelta(minutes=5),
}
SOURCE_LABELS = {"web": "Web", "ios": "iOS", "android": "Android", "server": "Server"}
UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")


def session_key(env_id: str, user_id: str, first_event_id: str) -> str:
    """The id of a cut session: 53 bits of md5 over its parts (PostgreSQL computes md5 too)."""
    digest = hashlib.md5(f"{env_id}\x1f{user_id}\x1f{first_event_id}".encode()).hexdigest()
    return str(int(digest[:16], 16) & MAX_ID)


# Session property -> path in the first event (the store builds its SQL from this same table).
PROPERTY_PATHS: dict[str, tuple[str, ...]] = {
    "platform": ("device", "os"),
    "browser": ("device", "browser"),
    "device_type": ("device", "device_type"),
    "landing_page": ("page", "url"),
    "referrer": ("page", "referrer"),
    "country": ("geo", "country"),
    **{key: ("campaign", key) for key in UTM_KEYS},
}


def session_properties(event: Mapping[str, Any]) -> dict[str, Any]:
    """A session's descriptive properties, taken from its first event (a canonical event dict)."""
    props: dict[str, Any] = {"source": SOURCE_LABELS.get(event["source"], event["source"])}
    for name, (outer, inner) in PROPERTY_PATHS.items():
        props[name] = (event.get(outer) or {}).get(inner)
    return props


@dataclass(frozen=True)
class Point:
    """The few fields of an event that sessionization looks at."""

    event_id: str
    user_id: str  # the anonymous user id the client held
    source: str
    time: datetime
    client_session_id: str | None = None

    @property
    def order(self) -> tuple[datetime, str]:
        return (self.time, self.event_id)

    @property
    def stream(self) -> tuple[str, str]:
        return (self.user_id, self.source)


@dataclass(frozen=True)
class Session:
    session_id: str
    event_ids: tuple[str, ...]  # by (time, event_id)
    start: datetime
    end: datetime
    first_event_id: str
    client: bool

    @property
    def event_count(self) -> int:
        return len(self.event_ids)

    @property
    def duration_s(self) -> float:
        return (self.end - self.start).total_seconds()


def _session(env_id: str, points: list[Point], client_session_id: str | None) -> Session:
    points = sorted(points, key=lambda p: p.order)
    first = points[0]
    sid = client_session_id or session_key(env_id, first.user_id, first.event_id)
    return Session(sid, tuple(p.event_id for p in points), first.time, points[-1].time,
                   first.event_id, client_session_id is not None)


def cut(env_id: str, points: Iterable[Point]) -> list[Session]:
    """Cut the events of ONE stream (no client session ids) by inactivity."""
    ordered = sorted(points, key=lambda p: p.order)
    sessions, current = [], []
    for point in ordered:
        if current and point.time - current[-1].time > TIMEOUTS[point.source]:
            sessions.append(_session(env_id, current, None))
            current = []
        current.append(point)
    if current:
        sessions.append(_session(env_id, current, None))
    return sessions


def partition(env_id: str, points: Iterable[Point]) -> dict[str, Session]:
    """The batch oracle: every session of a set of events (duplicates by event_id collapse)."""
    unique = {p.event_id: p for p in points}.values()
    by_client: dict[str, list[Point]] = defaultdict(list)
    by_stream: dict[tuple[str, str], list[Point]] = defaultdict(list)
    for point in unique:
        if point.client_session_id:
            by_client[point.client_session_id].append(point)
        else:
            by_stream[point.stream].append(point)
    sessions = [_session(env_id, pts, sid) for sid, pts in by_client.items()]
    for pts in by_stream.values():
        sessions.extend(cut(env_id, pts))
    return {s.session_id: s for s in sessions}


class Sessionizer:
    """Incremental sessionization: the algorithm the store runs in SQL, in memory.

    It never re-reads a stored session's events. Per stream touched by a batch, each stored session
    within one timeout of the new events is an interval [start, end] with a known first event, and
    each new event a point; sorted by (start, first event id), a gap above the timeout from the
    furthest end so far separates two sessions. Stored sessions are already separated by more than
    the timeout, so merging intervals gives the partition that re-cutting every event would.
    """

    def __init__(self, env_id: str):
        self.env_id = env_id
        self.points: dict[str, Point] = {}
        self.sessions: dict[str, Session] = {}

    def add(self, batch: Iterable[Point]) -> None:
        fresh = {p.event_id: p for p in batch if p.event_id not in self.points}
        self.points.update(fresh)
        by_key: dict[tuple, list[Point]] = defaultdict(list)
        for point in fresh.values():
            by_key[self._key_of_point(point)].append(point)
        for key, points in by_key.items():
            self._merge(key, points)

    @staticmethod
    def _key_of_point(point: Point) -> tuple:
        if point.client_session_id:
            return ("client", point.client_session_id)
        return ("cut", *point.stream)

    def _key_of_session(self, session: Session) -> tuple:
        if session.client:
            return ("client", session.session_id)
        return ("cut", *self.points[session.first_event_id].stream)

    def _merge(self, key: tuple, new: list[Point]) -> None:
        client = key[0] == "client"
        timeout = None if client else TIMEOUTS[key[2]]
        lo, hi = min(p.time for p in new), max(p.time for p in new)
        stale = [s for s in self.sessions.values() if self._key_of_session(s) == key
                 and (client or (s.start <= hi + timeout and s.end >= lo - timeout))]
        items = sorted([(s.start, s.first_event_id, s.end, s.event_ids) for s in stale]
                       + [(p.time, p.event_id, p.time, (p.event_id,)) for p in new])
        groups: list[list[str]] = []
        reach = None
        for start, _first, end, ids in items:
            if groups and (client or start - reach <= timeout):
                groups[-1].extend(ids)
                reach = max(reach, end)
            else:
                groups.append(list(ids))
                reach = end
        for session in stale:
            del self.sessions[session.session_id]
        for ids in groups:
            session = _session(self.env_id, [self.points[i] for i in ids], key[1] if client else None)
            self.sessions[session.session_id] = session
