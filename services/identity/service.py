"""What the identity service does with a batch of messages: join their facts into users in one
transaction, write what the others must hear to the outbox in that same transaction, publish it
after the commit, then apply the batch's deletions.

Publishing goes through a transactional outbox rather than "commit, then publish". With the
latter, a crash between the commit and the publish loses the message for good: the redelivered
batch joins facts the tables already hold, changes nothing, and so has nothing to announce. Here
`UsersMerged` / `UsersUpdated` are written in the same transaction as the state they describe,
then published (from memory: a batch's snapshots weigh megabytes, not read back) and deleted
right after the commit; rows left by a crash go out with the next batch. A failed publish raises
a transient error, so the worker retries the (idempotent) batch in place until the broker
answers, and acks nothing before. Delivery stays at-least-once: a crash after publishing but
before deleting repeats a message, which consumers absorb (merges are idempotent; snapshots carry
a per-user version and consumers keep the highest).
"""
from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine

from footfall.bus import BrokerUnavailable
from footfall.messages import DeletionRequested, IngestionWarnings, Message, UsersMerged, UsersUpdated, encode
from services.identity import batch_store, deletion, store
from services.identity.merge import Facts


class OutboxNotFlushed(ConnectionError):
    """The broker refused the outbox: transient, so the worker retries the batch in place."""


def outgoing(env_id: str, outcome: batch_store.Outcome) -> list[Message]:
    """One UsersMerged and one UsersUpdated per batch and environment, when there is news."""
    messages: list[Message] = []
    if outcome.merges:
        messages.append(UsersMerged(env_id=env_id, merges=outcome.merges))
    if outcome.snapshots:
        snapshots = sorted(outcome.snapshots, key=lambda s: s.user_id)
        messages.append(UsersUpdated(env_id=env_id, users=snapshots))
    return messages


def apply_batch(engine: Engine, messages: list[Message], publish_raw: Callable[..., None],
                tombstone_days: int) -> None:
    """The whole batch: its facts and outbox in one transaction, the outbox published, then deletions."""
    by_env: dict[str, list[Message]] = {}
    deletions: list[DeletionRequested] = []
    for message in messages:
        if isinstance(message, DeletionRequested):
            deletions.append(message)
        else:
            by_env.setdefault(message.env_id, []).append(message)
    enqueued: dict[int, bytes] = {}
    late: list[DeletionRequested] = []
    with engine.begin() as conn:
        for env_id in sorted(by_env):
            # Shared with every batch, exclusive for a deletion: the tombstones read here stay
            # true until the commit (deletion.py).
            deletion.lock_shared(conn, env_id)
            facts = Facts(env_id)
            # Warnings name no data of a user to screen out (and have no events or commands).
            warnings = [m for m in by_env[env_id] if isinstance(m, IngestionWarnings)]
            data = [m for m in by_env[env_id] if not isinstance(m, IngestionWarnings)]
            live, members = deletion.screen(conn, env_id, data)
            for message in live + warnings:
                facts.add_message(message)
            for message in outgoing(env_id, batch_store.apply(conn, facts)):
                body = encode(message)
                enqueued[store.enqueue(conn, message.routing_key, message.message_id, body)] = body
            late += deletion.late_member_deletions(env_id, members)
        # Late members go in every service: the message to the others leaves with this batch's.
        for message in late:
            body = encode(message)
            enqueued[store.enqueue(conn, message.routing_key, message.message_id, body)] = body
    flush(engine, publish_raw, enqueued)
    # Deletions last, each alone: whatever this batch stored of their users goes with them.
    for request in deletions:
        with engine.begin() as conn:
            deletion.apply_deletion(conn, request, tombstone_days)


def flush(engine: Engine, publish_raw: Callable[..., None], held: dict[int, bytes] | None = None) -> int:
    """Publish what the outbox holds: this batch's messages (`held`, by row id) and any a crash left."""
    try:
        return store.flush_outbox(engine, publish_raw, held=held)
    except BrokerUnavailable as exc:
        raise OutboxNotFlushed(str(exc)) from exc
