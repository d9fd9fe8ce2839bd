"""Retention of events and sessions per environment: `python -m services.sessions.retention`.

An environment's `events_retention_days` (gateway settings, mirrored in Redis; none: kept forever)
sets a cutoff; a session that ended before it goes whole, with its events, so what stays is
always complete sessions. Expired sessions are found through a BRIN index on `start` (the block
ranges of sessions that started before the cutoff: never the whole table), their events by the
`events_session` index, in batches of BATCH sessions, each one transaction under the locks of
its anonymous user ids (the events path and merges take the same). Then the roll-ups of those ids
(`anon_users`) and their owners' feed rows are recounted from what stays, so first_seen,
last_seen and session counts equal a recount right at the boundary. Expired tombstones go too.
Run it hourly or daily (a CronJob in deploy/k8s).
"""
from __future__ import annotations

import argparse
import logging
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta

import orjson
import redis
from sqlalchemy import Connection, Engine, text

from footfall.config import get_settings
from footfall.db import make_engine
from footfall.messages import EnvironmentSettings
from footfall.redis_keys import ENV_SETTINGS_HASH
from footfall.web import configure_logging
from services.sessions.locks import lock_ids
from services.sessions.tables import SCHEMA

log = logging.getLogger("footfall.sessions.retention")

BATCH = 20_000  # sessions per transaction (~200k events): bounded locks, WAL and undo

_EXPIRED = text("""
    select session_id, anon_user_id from sessions
    where env_id = :e and start < :cutoff and "end" < :cutoff limit :n
""")
_EXPIRED_TABLE = text("""
    create temp table expired (session_id text collate "C", anon_user_id text collate "C") on commit drop
""")
_DROP = text("""
    with gone as (
        delete from sessions s using unnest(cast(:ids as text[])) as x(session_id)
        where s.env_id = :e and s.session_id = x.session_id and s."end" < :cutoff
        returning s.session_id, s.anon_user_id
    ) insert into expired select * from gone
""")
_DROP_EVENTS = text("""
    delete from events e using expired x where e.env_id = :e and e.session_id = x.session_id
""")
_DROP_REPLAY_MARKS = text("delete from replays r using expired x where r.env_id = :e and r.session_id = x.session_id")
# Roll-ups of the ids that lost sessions, recounted from the sessions that stay.
_RECOUNT_ANON = text("""
    with ids as (select distinct anon_user_id from expired),
    now_ as (
        select i.anon_user_id, min(s.start) as first_seen, max(s."end") as last_seen, count(s.session_id) as n
        from ids i left join sessions s on s.env_id = :e and s.anon_user_id = i.anon_user_id
        group by i.anon_user_id
    ), emptied as (
        delete from anon_users a using now_ where a.env_id = :e and a.anon_user_id = now_.anon_user_id
            and now_.n = 0
    )
    update anon_users a set first_seen = now_.first_seen, last_seen = now_.last_seen, session_count = now_.n
    from now_ where a.env_id = :e and a.anon_user_id = now_.anon_user_id and now_.n > 0
""")
# Their owners' feed rows, recounted from their members' roll-ups (as a merge recomputes them),
# in user id order (the order every writer locks feed rows in).
_RECOUNT_USERS = text("""
    with owners as (
        select distinct coalesce(m.into_user_id, x.anon_user_id) as root from expired x
        left join merges m on m.env_id = :e and m.from_user_id = x.anon_user_id
    ), members as (
        select root, root as anon_user_id from owners
        union all
        select o.root, m.from_user_id from owners o join merges m on m.env_id = :e and m.into_user_id = o.root
    ), agg as (
        select members.root, min(a.first_seen) as first_seen, max(a.last_seen) as last_seen,
               coalesce(sum(a.session_count), 0) as session_count
        from members left join anon_users a on a.env_id = :e and a.anon_user_id = members.anon_user_id
        group by members.root
    ), locked as (
        select u.user_id from users u join agg on u.env_id = :e and u.user_id = agg.root
        order by u.user_id for update of u
    )
    update users u set first_seen = agg.first_seen, last_seen = agg.last_seen, session_count = agg.session_count
    from agg join locked on locked.user_id = agg.root
    where u.env_id = :e and u.user_id = agg.root
""")
# A feed row left with no activity and no snapshot from identity is no user any more.
_DROP_EMPTY_USERS = text("""
    delete from users u using (select distinct anon_user_id from expired) x
    where u.env_id = :e and u.user_id = x.anon_user_id and u.last_seen is null and u.version < 0
""")


def drop_batch(conn: Connection, env_id: str, cutoff: datetime, batch: int = BATCH) -> Counter:
    """Drop up to `batch` sessions of `env_id` that ended before `cutoff`, with their events."""
    found = conn.execute(_EXPIRED, {"e": env_id, "cutoff": cutoff, "n": batch}).all()
    if not found:
        return Counter()
    lock_ids(conn, env_id, {r.anon_user_id for r in found})
    params = {"e": env_id, "cutoff": cutoff}
    conn.execute(_EXPIRED_TABLE)
    conn.execute(_DROP, {**params, "ids": [r.session_id for r in found]})
    counts = Counter(sessions=conn.scalar(text("select count(*) from expired")))
    counts["events"] = conn.execute(_DROP_EVENTS, params).rowcount
    conn.execute(_DROP_REPLAY_MARKS, params)
    conn.execute(_RECOUNT_ANON, params)
    conn.execute(_RECOUNT_USERS, params)
    conn.execute(_DROP_EMPTY_USERS, params)
    return counts


def apply_retention(engine: Engine, env_id: str, days: int, now: datetime | None = None) -> Counter:
    """Drop every session of the environment that ended more than `days` ago, batch by batch."""
    cutoff = (now or datetime.now(UTC)) - timedelta(days=days)
    total = Counter()
    while True:
        with engine.begin() as conn:
            conn.execute(text("set local work_mem = '64MB'"))
            counts = drop_batch(conn, env_id, cutoff)
        total += counts
        if counts["sessions"] < BATCH:
            return total


def drop_expired_tombstones(engine: Engine, now: datetime | None = None) -> int:
    with engine.begin() as conn:
        return conn.execute(text("delete from tombstones where expires_at < :now"),
                            {"now": now or datetime.now(UTC)}).rowcount


def retention_days(settings) -> dict[str, int]:
    """Per environment with a retention, its days (the gateway's settings, mirrored in Redis)."""
    client = redis.Redis.from_url(settings.redis_url, socket_timeout=5)
    days = {}
    for env_id, raw in client.hgetall(ENV_SETTINGS_HASH).items():
        configured = EnvironmentSettings.model_validate(orjson.loads(raw)).events_retention_days
        if configured is not None:
            days[env_id.decode()] = configured
    return days


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.sessions.retention", description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    settings = get_settings()
    configure_logging(settings.log_level)
    engine = make_engine(SCHEMA, settings)
    for env_id, days in sorted(retention_days(settings).items()):
        counts = apply_retention(engine, env_id, days)
        log.info("retention applied", extra={"env_id": env_id, "days": days, **counts})
        print(f"{env_id}: dropped {counts['sessions']} sessions and {counts['events']} events older than {days} days")
    print(f"dropped {drop_expired_tombstones(engine)} expired tombstones")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
