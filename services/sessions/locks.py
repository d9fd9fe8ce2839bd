"""Advisory locks per anonymous user id, shared by the events path and merges.

An events batch locks the ids it stores events of: two batches never re-cut the same stream at
once, and the owner it reads for an id (through the merge map) cannot change before it commits. A
merge locks every id whose owner it reads or changes. Ids hash into BUCKETS locks (an environment
of a million visitors must not need a million locks in one transaction), always taken in bucket
order, so two writers never wait for each other in a cycle. Unrelated users rarely share a bucket;
when they do, one waits for the other's commit, nothing more.
"""
from __future__ import annotations

from sqlalchemy import Connection, text

LOCK_SPACE = 4_040  # the first key of the two-key advisory lock: this module's namespace
BUCKETS = 256


def _bucket(env: str, user: str) -> str:
    return f"abs(hashtext({env} || chr(31) || {user})) % {BUCKETS}"


def lock_buckets_sql(ids_query: str) -> str:
    """A statement locking the buckets of the (env_id, anon_user_id) rows `ids_query` returns."""
    return f"""
        select pg_advisory_xact_lock({LOCK_SPACE}, b::int) from (
            select distinct {_bucket("env_id", "anon_user_id")} as b from ({ids_query}) ids order by 1
        ) buckets
    """


_LOCK_IDS = text(lock_buckets_sql(
    "select cast(:env as text) as env_id, unnest(cast(:ids as text[])) as anon_user_id"))


def lock_ids(conn: Connection, env_id: str, user_ids: set[str]) -> None:
    """Lock the buckets of these ids of an environment (a no-op for buckets this transaction holds)."""
    if user_ids:
        conn.execute(_LOCK_IDS, {"env": env_id, "ids": sorted(user_ids)})
