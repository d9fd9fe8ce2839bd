"""The feed's read queries: users by most recent activity (keyset), a user, sessions, events.

A feed page is one index scan of `users_feed` (env, last_seen desc, user_id desc) with the filters
as per-user EXISTS probes, or, when a filter is selective, the few users its events name
(plan.py) with the other filters probed on them; then one LATERAL query for the page's latest
sessions in the window.
A user's events and sessions are those of its members (tables.members_of): itself and every
anonymous user id merged into it.
"""
from __future__ import annotations

import base64
import zlib
from datetime import UTC, datetime, timedelta

import orjson
from sqlalchemy import Connection, and_, func, literal, select, text, tuple_

from footfall.web import ApiError
from services.sessions import plan
from services.sessions.filters import (
    Filter,
    Seen,
    UserProperty,
    any_event_predicate,
    user_predicate,
)
from services.sessions.search import predicate as search_predicate
from services.sessions.summary import with_summaries
from services.sessions.tables import events, merges, owner_of, sessions, users

FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)
ONLINE_WINDOW = timedelta(minutes=5)


def encode_cursor(*key) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(key)).decode().rstrip("=")


def decode_cursor(cursor: str | None, arity: int) -> list | None:
    """The keyset position a cursor carries; ApiError 400 when it was not made by us."""
    if not cursor:
        return None
    try:
        key = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(key, list) or len(key) != arity:
            raise ValueError
        key[0] = datetime.fromisoformat(key[0])
        return key
    except (ValueError, TypeError, orjson.JSONDecodeError):
        raise ApiError(400, "invalid cursor", field="cursor") from None


def display_name(user_id: str, identity: str | None) -> str:
    return identity or f"User {user_id}"


def session_json(row) -> dict:
    return {
        **row.props, "session_id": row.session_id, "user_id": row.owner, "start": row.start,
        "end": row.end, "duration_s": (row.end - row.start).total_seconds(),
        "event_count": row.event_count, "has_replay": row.has_replay,
    }


def event_json(row) -> dict:
    data = row.data
    return {
        "event_id": row.event_id, "kind": data["kind"], "name": data.get("name"), "time": row.time,
        "source": data["source"], "page": data.get("page"), "target": data.get("target"),
        "device": data.get("device"), "geo": data.get("geo"), "campaign": data.get("campaign"),
        "properties": data.get("properties") or {}, "session_id": row.session_id,
        "user_id": row.owner, "anon_user_id": row.anon_user_id, "device_id": row.device_id,
        "identity": data.get("identity"),
    }


def user_json(row, now: datetime | None = None) -> dict:
    now = now or datetime.now(UTC)
    return {
        "user_id": row.user_id, "identity": row.identity,
        "display_name": display_name(row.user_id, row.identity), "first_seen": row.first_seen,
        "last_seen": row.last_seen, "properties": row.properties, "session_count": row.session_count,
        # "Online now": an event in the last ONLINE_WINDOW (a clock running ahead counts too).
        "online": row.last_seen is not None and row.last_seen >= now - ONLINE_WINDOW,
    }


def feed_query(env_id: str, start: datetime, end: datetime | None, filters: list[Filter],
               after: list | None, limit: int | None, probe: bool = True, search: str | None = None,
               among: list[str] | None = None, excluded: list[str] | None = None, probes: tuple = ()):
    """The SELECT of one feed page (limit + 1 rows, to know whether there is a next page).

    Users come by most recent activity (last_seen), newest first. A window that ends in the past
    adds a per-user probe for a session inside it: exact aggregation of the window's sessions
    would cost a scan of all of them (seconds at a million sessions) for every page.
    """
    query = select(users).where(
        users.c.env_id == env_id, users.c.last_seen.is_not(None), users.c.last_seen >= start)
    if among is not None:
        query = query.where(plan.among(among))
    if excluded:
        query = query.where(plan.not_among(excluded))
    if end is not None:
        seen = Seen(type="seen", to=end, **{"from": start})
        query = query.where(user_predicate(seen, env_id, start, end, probe))
    hints = probes or (None,) * len(filters)
    query = query.where(*[user_predicate(f, env_id, start, end, probe, h) for f, h in zip(filters, hints, strict=True)])
    if search:
        query = query.where(search_predicate(search))
    if after is not None:
        query = query.where(tuple_(users.c.last_seen, users.c.user_id)
                            < tuple_(literal(after[0]), literal(after[1])))
    if limit is None:
        return query
    return query.order_by(users.c.last_seen.desc(), users.c.user_id.desc()).limit(limit + 1)


# Per member, its latest sessions by index; of those, the user's latest.
LATEST_SESSIONS = text("""
    select s.*, u.user_id as owner from unnest(cast(:ids as text[])) as u(user_id)
    cross join lateral (
        select s.* from (
            select u.user_id as anon_user_id
            union all
            select m.from_user_id from merges m where m.env_id = :env and m.into_user_id = u.user_id
        ) member
        cross join lateral (
            select * from sessions s
            where s.env_id = :env and s.anon_user_id = member.anon_user_id
              and s.start <= :end and s."end" >= :start
            order by s.start desc, s.session_id desc limit 5
        ) s
        order by s.start desc, s.session_id desc limit 5
    ) s
""")


def feed(conn: Connection, env_id: str, start: datetime, end: datetime | None,
         filters: list[Filter], cursor: str | None, limit: int, search: str | None = None) -> dict:
    """One page of the users feed, most recent activity first (`search`: search.py)."""
    rows = _page(conn, env_id, start, end, filters, decode_cursor(cursor, 2), limit, search)
    page, more = rows[:limit], len(rows) > limit
    ids = [r.user_id for r in page]
    latest: dict[str, list] = {i: [] for i in ids}
    if ids:
        params = {"ids": ids, "env": env_id, "start": start, "end": end or FAR_FUTURE}
        for s in conn.execute(LATEST_SESSIONS, params).all():
            latest[s.owner].append(session_json(s))
        with_summaries(conn, env_id, [s for sessions_ in latest.values() for s in sessions_])
    matched = _matched_sessions(conn, env_id, ids, filters, start, end)
    result = [{**user_json(r), "sessions": latest[r.user_id],
               "matched_session_ids": sorted(matched.get(r.user_id, ()))} for r in page]
    next_cursor = encode_cursor(page[-1].last_seen.isoformat(), page[-1].user_id) if more else None
    return {"users": result, "next_cursor": next_cursor}


def _page(conn: Connection, env_id: str, start: datetime, end: datetime | None,
          filters: list[Filter], after: list | None, limit: int, search: str | None = None) -> list:
    """The page's user rows: from the users a selective filter names when there is one; else
    per-user probes along the feed index (no semi-join fallback: with each user's members an
    IN over a UNION, PostgreSQL's semi-join rescans the window's events or sessions per user)."""
    p = plan.make_plan(conn, env_id, filters, start, end)
    return conn.execute(feed_query(env_id, start, end, p.rest, after, limit, search=search, among=p.among,
                                   excluded=p.excluded, probes=p.probes)).all()


# Past this many users in the window, a count that would probe each of them is estimated from
# a sample of about this many (±3 points of selectivity at 95%).
SAMPLE_USERS = 1000
PRESAMPLE = 16


def count(conn: Connection, env_id: str, start: datetime, end: datetime | None,
          filters: list[Filter], search: str | None = None) -> dict:
    """How many users the feed lists: exact when a selective filter names them, when nothing is
    left to probe per user but user properties (and the search), or when the window is small;
    else estimated from a sample of the window's users (`estimated`: true)."""
    p = plan.make_plan(conn, env_id, filters, start, end)
    # Per-user probes even here: at most MAX_EVENTS users (among) or SAMPLE_USERS (a small window),
    # where PostgreSQL's own semi-join over the members of each user scans every session or
    # event of the window once per user.
    exact = feed_query(env_id, start, end, p.rest, None, None, search=search, among=p.among,
                       excluded=p.excluded, probes=p.probes)
    probes = end is not None or any(not isinstance(f, UserProperty) for f in p.rest)
    if p.among is not None or not probes:
        return {"count": _count(conn, exact), "estimated": False}
    # The window's users counted, and every PRESAMPLE-th of them (by a hash of the id) listed, in
    # one pass over the feed index alone.
    window = [users.c.env_id == env_id, users.c.last_seen.is_not(None), users.c.last_seen >= start]
    hashed = func.abs(func.hashtext(users.c.user_id))
    in_window, listed = conn.execute(select(
        func.count(), func.array_agg(users.c.user_id).filter(hashed % PRESAMPLE == 0)).where(*window)).one()
    if in_window <= SAMPLE_USERS:
        return {"count": _count(conn, exact), "estimated": False}
    if in_window >= PRESAMPLE * SAMPLE_USERS:  # 1 in k of the listed ones, by another hash
        k = max(1, len(listed or []) // SAMPLE_USERS)
        sample = [u for u in listed or [] if zlib.crc32(u.encode()) % k == 0]
    else:  # too few listed: every k-th user of the window, by the same hash
        sample = conn.scalars(select(users.c.user_id).where(
            *window, hashed % (in_window // SAMPLE_USERS) == 0)).all()
    if not sample:
        return {"count": 0, "estimated": True}
    hits = _count(conn, feed_query(env_id, start, end, p.rest, None, None, search=search, among=list(sample),
                                   excluded=p.excluded, probes=p.probes))
    return {"count": round(in_window * hits / len(sample)), "estimated": True}


def _count(conn: Connection, query) -> int:
    return conn.execute(select(func.count()).select_from(query.subquery())).scalar()


def _matched_sessions(conn: Connection, env_id: str, ids: list[str], filters: list[Filter],
                      start: datetime | None, end: datetime | None) -> dict[str, set[str]]:
    predicate = any_event_predicate(filters)
    if predicate is None or not ids:
        return {}
    window = [events.c.time >= start] if start else []
    window += [events.c.time <= end] if end else []
    members = (select(merges.c.into_user_id.label("owner"), merges.c.from_user_id.label("anon_user_id"))
               .where(merges.c.env_id == env_id, merges.c.into_user_id.in_(ids))
               .union_all(select(users.c.user_id, users.c.user_id)
                          .where(users.c.env_id == env_id, users.c.user_id.in_(ids)))).subquery()
    query = (select(members.c.owner, events.c.session_id).distinct()
             .join_from(members, events, and_(events.c.env_id == env_id,
                                              events.c.anon_user_id == members.c.anon_user_id))
             .where(*window, predicate))
    matched: dict[str, set[str]] = {}
    for user_id, session_id in conn.execute(query):
        matched.setdefault(user_id, set()).add(session_id)
    return matched


def resolve_user(conn: Connection, env_id: str, user_id: str) -> str:
    into = conn.execute(select(merges.c.into_user_id).where(
        merges.c.env_id == env_id, merges.c.from_user_id == user_id)).scalar()
    return into or user_id


def user(conn: Connection, env_id: str, user_id: str) -> dict | None:
    """One feed user (following merges), without sessions."""
    row = conn.execute(select(users).where(
        users.c.env_id == env_id, users.c.user_id == resolve_user(conn, env_id, user_id))).first()
    return user_json(row) if row else None


def user_sessions(conn: Connection, env_id: str, user_id: str, filters: list[Filter],
                  start: datetime | None, end: datetime | None, cursor: str | None, limit: int) -> dict:
    """A user's sessions newest first; `matched` marks those holding an event the filters name."""
    owner = resolve_user(conn, env_id, user_id)
    predicate = any_event_predicate(filters)
    if predicate is None:
        matched = literal(False)
    else:
        window = [events.c.time >= start] if start else []
        window += [events.c.time <= end] if end else []
        matched = (select(1).where(events.c.env_id == env_id, events.c.session_id == sessions.c.session_id,
                                   *window, predicate).exists())
    after = decode_cursor(cursor, 2)
    members = [owner, *conn.scalars(select(merges.c.from_user_id).where(
        merges.c.env_id == env_id, merges.c.into_user_id == owner))]
    rows = []
    for member in members:  # each member's page by index; the user's page is the newest of them
        query = select(sessions, matched.label("matched"), literal(owner).label("owner")).where(
            sessions.c.env_id == env_id, sessions.c.anon_user_id == member,
            *([sessions.c.end >= start] if start else []), *([sessions.c.start <= end] if end else []))
        if after is not None:
            query = query.where(tuple_(sessions.c.start, sessions.c.session_id)
                                < tuple_(literal(after[0]), literal(after[1])))
        rows += conn.execute(query.order_by(sessions.c.start.desc(), sessions.c.session_id.desc())
                             .limit(limit + 1)).all()
    rows.sort(key=lambda r: (r.start, r.session_id), reverse=True)
    page = rows[:limit]
    next_cursor = (encode_cursor(page[-1].start.isoformat(), page[-1].session_id)
                   if len(rows) > limit else None)
    listed = with_summaries(conn, env_id, [{**session_json(r), "matched": bool(r.matched)} for r in page])
    return {"sessions": listed, "next_cursor": next_cursor}


def _with_owner(env_id: str):
    return select(events, owner_of(env_id, events.c.anon_user_id).label("owner"))


def session_events(conn: Connection, env_id: str, session_id: str) -> list[dict] | None:
    """A session's events by time, or None when the session is unknown."""
    rows = conn.execute(_with_owner(env_id).where(events.c.env_id == env_id, events.c.session_id == session_id)
                        .order_by(events.c.time, events.c.event_id)).all()
    return [event_json(r) for r in rows] if rows else None


def event(conn: Connection, env_id: str, event_id: str) -> dict | None:
    row = conn.execute(_with_owner(env_id).where(events.c.env_id == env_id, events.c.event_id == event_id)).first()
    return event_json(row) if row else None
