"""The identity consumer: joins captured events and identity commands into users, then tells the others.

Run: `python -m services.identity.consumer`.

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

import gc
import logging
import os
import time

from footfall.bus import BrokerUnavailable, Publisher
from footfall.config import Settings
from footfall.messages import (
    DeletionRequested,
    IngestionWarnings,
    Message,
    UsersMerged,
    UsersUpdated,
    encode,
)
from footfall.web import configure_logging
from footfall.worker import Consumer, Delivery
from services.identity import batch_apply, deletion, store
from services.identity.merge import Facts
from services.identity.wire import read_events

log = logging.getLogger(__name__)


class OutboxNotFlushed(ConnectionError):
    """The broker refused the outbox: transient, so the worker retries the batch in place."""


def outgoing(env_id: str, outcome: batch_apply.Outcome) -> list[Message]:
    """One UsersMerged and one UsersUpdated per batch and environment, when there is news."""
    messages: list[Message] = []
    if outcome.merges:
        messages.append(UsersMerged(env_id=env_id, merges=outcome.merges))
    if outcome.snapshots:
        snapshots = sorted(outcome.snapshots, key=lambda s: s.user_id)
        messages.append(UsersUpdated(env_id=env_id, users=snapshots))
    return messages


class IdentityConsumer(Consumer):
    """Consumes `identity.inbox` (event.captured, identity.command)."""

    queue = "identity.inbox"
    # Under a steady load a batch that waits a little to fill costs less per event (a batch's
    # statements and snapshots are per user, and users repeat across a batch's messages).
    max_wait = float(os.environ.get("IDENTITY_BATCH_WAIT_S", "0.2"))
    # Seconds between checks for tables whose statistics went stale (one ~1 ms query): before every
    # batch, since a batch planned on statistics of a table that had just grown from empty (the
    # previous batch filled it) is planned badly (bench/HISTORY.md#identity-stale-statistics).
    analyze_every = 0.0

    def __init__(self, settings: Settings | None = None, publisher: Publisher | None = None):
        super().__init__(settings)
        self.engine = store.make_identity_engine(self.settings)
        self.publisher = publisher or Publisher(self.settings)
        self._next_analyze = 0.0

    def decode(self, routing_key: str, body: bytes) -> Message:
        """Events are read through the slim view (wire.py); commands in full."""
        if routing_key == "event.captured":
            return read_events(body)
        return super().decode(routing_key, body)

    def handle(self, deliveries: list[Delivery]) -> None:
        self._analyze_when_due()
        by_env: dict[str, list[Message]] = {}
        deletions: list[DeletionRequested] = []
        for delivery in deliveries:
            message = delivery.message
            if isinstance(message, DeletionRequested):
                deletions.append(message)
            else:
                by_env.setdefault(message.env_id, []).append(message)
        enqueued: dict[int, bytes] = {}
        late: list[DeletionRequested] = []
        with self.engine.begin() as conn:
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
                for message in outgoing(env_id, batch_apply.apply(conn, facts)):
                    body = encode(message)
                    enqueued[store.enqueue(conn, message.routing_key, message.message_id, body)] = body
                late += deletion.late_member_deletions(env_id, members)
            # Late members go in every service: the message to the others leaves with this batch's.
            for message in late:
                body = encode(message)
                enqueued[store.enqueue(conn, message.routing_key, message.message_id, body)] = body
        self.flush(enqueued)
        # Deletions last, each alone: whatever this batch stored of their users goes with them.
        for request in deletions:
            with self.engine.begin() as conn:
                deletion.apply_deletion(conn, request, self.settings.deletion_tombstone_days)

    def _analyze_when_due(self) -> None:
        if time.monotonic() >= self._next_analyze:
            self._next_analyze = time.monotonic() + self.analyze_every
            if analyzed := store.analyze_if_stale(self.engine):
                log.info("analyzed %s", ", ".join(analyzed))

    def flush(self, held: dict[int, bytes] | None = None) -> int:
        """Publish what the outbox holds: this batch's messages (`held`, by row id) and any a crash left."""
        try:
            return store.flush_outbox(self.engine, self.publisher.publish_raw, held=held)
        except BrokerUnavailable as exc:
            raise OutboxNotFlushed(str(exc)) from exc

    def run(self) -> None:
        # A batch holds ~10^6 short-lived objects (decoded events, facts, rows); with the default
        # threshold (700 allocations) the collector rescans them over and over as they build up,
        # which cost as much as decoding. Reference counting frees them; cycles are rare here.
        gc.set_threshold(100_000, 50, 100)
        try:
            super().run()
        finally:
            self.publisher.close()  # its connection belongs to this (the consuming) thread


def main() -> None:
    consumer = IdentityConsumer()
    configure_logging(consumer.settings.log_level)
    consumer.flush()  # whatever a previous process committed but did not get to publish
    raise SystemExit(consumer.run_forever())


if __name__ == "__main__":
    main()
