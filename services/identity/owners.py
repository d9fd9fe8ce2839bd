"""Who owns each id, read under that owner's lock: the concurrency protocol of the batch write path.

Every change to an id, or to who owns it, is made holding a transaction-scoped advisory lock on
its owner (on its stripe: at most LOCK_STRIPES locks per batch). Owners are read, locked (in key
order), then read again until stable, so a merge racing with new events (or two devices claiming
one new identity) serialise on the identified user, and each recompute sees every committed
member. The last read, under the locks, also gives the seen-state of every id and owner the
batch may write, which is therefore current until the commit.
"""
from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from sqlalchemy import text
from sqlalchemy.engine import Connection

from footfall.ids import hash53
from services.identity.merge import Facts
from services.identity.store import json_rows

_IDS = "any(array(select jsonb_array_elements_text(cast(:ids as jsonb))))"
# Owners only, to know which locks to take; the full state is read again under them.
_OWNERS_OF = text(f"select user_id, owner_id, identity from users where env_id = :env and user_id = {_IDS}")
_RESOLVE = text(f"""
select user_id, owner_id, identity, own_first_seen, own_first_event, own_last_seen, first_seen, first_event,
       last_seen, version
from users where env_id = :env and user_id = {_IDS}
""")

# Locks taken in key order (the sorted subquery) so two batches never wait on each other in a cycle.
_LOCK = text("""
select count(pg_advisory_xact_lock(k)) from (select unnest(cast(:keys as bigint[])) as k order by 1) s
""")


# Owner locks are striped: a batch of 20,000 events names ~6,000 owners (and identifies more), and
# one advisory lock each overflowed PostgreSQL's shared lock table (max_locks_per_transaction × max
# connections, ~6,400 here: "out of shared memory", retried forever). Owners sharing a stripe just
# serialise; the stripes sit in a block of keys of their own, apart from other users of the database.
LOCK_STRIPES = 1024
_LOCK_BASE = int(hash53("identity", "owner locks")) & ~(LOCK_STRIPES - 1)


def lock_key(env_id: str, user_id: str) -> int:
    return _LOCK_BASE + int(hash53(env_id, "lock", user_id)) % LOCK_STRIPES


class Resolved(NamedTuple):
    """An id's owner and identity, and its seen-state: read under the owner's lock, it is current."""

    owner: str
    identity: str | None
    own_first: tuple[datetime, str] | None = None  # (own_first_seen, own_first_event)
    own_last_seen: datetime | None = None
    first: tuple[datetime, str] | None = None  # the materialised (first_seen, first_event) of an owner
    last_seen: datetime | None = None
    version: int = 0


def owners_of(conn: Connection, env: str, ids: list[str]) -> dict[str, Resolved]:
    """The known ids' owners and identities, read before any lock (only to know which to take)."""
    return {user_id: Resolved(owner, identity)
            for user_id, owner, identity in conn.execute(_OWNERS_OF, {"env": env, "ids": json_rows(ids)}).all()}


def resolve(conn: Connection, env: str, ids: list[str]) -> dict[str, Resolved]:
    """The known ids' owners, identities and seen-state (current when read under their owners' locks)."""
    return {
        user_id: Resolved(owner, identity, None if own_first_seen is None else (own_first_seen, own_first_event),
                          own_last_seen, None if first_seen is None else (first_seen, first_event), last_seen, version)
        for (user_id, owner, identity, own_first_seen, own_first_event, own_last_seen, first_seen, first_event,
             last_seen, version) in conn.execute(_RESOLVE, {"env": env, "ids": json_rows(ids)}).all()
    }


def lock_owners(conn: Connection, facts: Facts, ids: list[str], rows: dict) -> dict[str, Resolved]:
    """Lock the owners of `ids` (and every identified user named) until stable.

    `rows` is what owners_of read before; returns the rows of `ids` and of every owner locked,
    all read under the locks (so the seen-state of every user the batch may write is current).
    """
    locked: set[str] = set()
    while True:
        needed = ({rows[i].owner for i in ids if i in rows} | set(facts.identities)) - locked
        if locked and not needed and all(i in rows for i in ids):  # ids another batch inserted are not in `rows` yet
            return rows
        if needed:
            conn.execute(_LOCK, {"keys": sorted({lock_key(facts.env_id, owner) for owner in needed})})
            locked |= needed
        rows = resolve(conn, facts.env_id, sorted(set(ids) | locked))
