"""Reading the whole identity state back, to compare the store with the pure model."""
from __future__ import annotations

from sqlalchemy import select

from services.identity import batch_store, store
from services.identity.merge import Facts, derive_users, facts_from


def db_users(engine, env_id: str) -> dict[str, tuple]:
    """Every surviving user as (identity, first_seen, last_seen, properties, member ids, device ids)."""
    with engine.connect() as conn:
        owners = list(conn.scalars(select(store.users.c.user_id).where(
            store.users.c.env_id == env_id, store.users.c.owner_id == store.users.c.user_id)))
        snapshots, _ = store.load_users(conn, env_id, owners)
        return {
            owner: (s.identity, s.first_seen, s.last_seen, s.properties,
                    frozenset(store.member_ids(conn, env_id, owner)),
                    frozenset(d["device_id"] for d in store.user_devices(conn, env_id, owner)))
            for owner, s in snapshots.items()
        }


def model_users(messages, env_id: str) -> dict[str, tuple]:
    """What the pure core says the users are, in the same shape as `db_users`."""
    facts = Facts(env_id)
    for message in messages:
        facts.absorb(facts_from(message))
    return {u.user_id: (u.identity, u.first_seen, u.last_seen, u.properties, u.members, u.devices)
            for u in derive_users(facts).values()}


def apply_batch(engine, messages) -> batch_store.Outcome:
    """Apply messages as one consumer batch would: join their facts, one transaction."""
    facts = None
    for message in messages:
        facts = facts_from(message) if facts is None else facts.absorb(facts_from(message))
    with engine.begin() as conn:
        return batch_store.apply(conn, facts)
