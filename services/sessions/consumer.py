"""The sessions consumers: `python -m services.sessions.consumer events|facts`.

`events` stores `event.captured` batches and re-cuts their sessions; `facts` applies merges, user
snapshots and replays. Both are idempotent and order-independent (events_path.py, merges.py),
and commit a whole delivery batch before the worker acks it.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
from collections import defaultdict
from datetime import datetime

import redis

from footfall.bus import BrokerUnavailable, Publisher
from footfall.config import get_settings
from footfall.db import make_engine
from footfall.messages import (
    DefinitionChanged,
    DeletionRequested,
    Event,
    EventsCaptured,
    Message,
    ReplaysRecorded,
    UsersMerged,
    UsersUpdated,
    decode,
)
from footfall.pipeline_lag import Marks
from footfall.readers import FastReader, StrictTime, message_view, twin, view
from footfall.web import configure_logging
from footfall.worker import Consumer, Delivery, run_consumers
from services.sessions import catalog, deletion, events_path, facts, merges
from services.sessions.tables import SCHEMA

log = logging.getLogger(__name__)

# The fields of a canonical event the store relies on, checked; the rest is kept as sent. Their
# times must carry an offset (PostgreSQL reads them as timestamptz).
EventHead = view(Event, "EventHead", ("event_id", "env_id", "kind", "name", "device_id", "user_id", "identity",
                                      "session_id", "time", "received_at", "source", "properties"),
                 types_={"time": StrictTime, "received_at": StrictTime})
# `event.captured` as the events consumer reads it: checked, not rebuilt (the hot path).
CapturedHeads = message_view(EventsCaptured, "CapturedHeads", EventHead)
WireCaptured = twin(CapturedHeads)
# The checked heads of an `event.captured` body; raises as `footfall.messages.decode` does.
read_captured = FastReader(CapturedHeads)


class EventsConsumer(Consumer):
    """Stores events and re-cuts the sessions they touch; one transaction per delivery batch."""

    queue = "sessions.events"
    # A batch's statements cost about the same for 200 events as for 2,000 (bench/pipeline.py): under
    # a steady load, waiting a little longer for a batch to fill halves the CPU each event costs,
    # for a fifth of a second of latency.
    max_wait = float(os.environ.get("SESSIONS_BATCH_WAIT_S", "0.2"))

    def __init__(self, settings=None):
        super().__init__(settings)
        # A batch's work tables hold ~1.5 KB per event; past temp_buffers (8 MB by default) they
        # spill to files that every later step of the batch reads back.
        self.engine = make_engine(SCHEMA, self.settings, server_settings={"temp_buffers": "128MB"})
        self.stored = 0  # events newly stored since start (benchmarks, logs)
        # How far the feed is behind ingest (footfall/pipeline_lag.py): one Redis call per batch.
        self.marks = Marks(redis.Redis.from_url(self.settings.redis_url, socket_timeout=1,
                                                socket_connect_timeout=1))

    def decode(self, routing_key: str, body: bytes) -> Message | WireCaptured:
        # Full Event validation costs ~30 µs per event, more than all the rest of the path; the
        # producer validated against the same contract, and the body is stored as sent.
        if routing_key == "event.captured":
            return read_captured(body)
        return decode(routing_key, body)

    def handle(self, deliveries: list[Delivery]) -> None:
        captured = [d for d in deliveries if d.routing_key == "event.captured"]
        if not captured:
            return
        with self.engine.connect() as conn:
            with conn.begin():
                self.stored += events_path.store_events(conn, [d.body for d in captured],
                                                        {d.message.env_id for d in captured})
            catalog.record(conn)  # its own short transaction, off the events' locks
        self.marks.stored(newest_sent(captured))


def newest_sent(deliveries: list[Delivery]) -> dict[str, float]:
    """Per environment, the newest sent_at of the messages (epoch seconds)."""
    newest: dict[str, float] = {}
    for delivery in deliveries:
        sent_at = delivery.message.sent_at
        if isinstance(sent_at, datetime):
            env_id = delivery.message.env_id
            newest[env_id] = max(newest.get(env_id, 0.0), sent_at.timestamp())
    return newest


class AnnouncementFailed(ConnectionError):
    """The broker did not confirm a deletion's replay part: transient, the batch is retried."""


class FactsConsumer(Consumer):
    """Applies user merges, user snapshots, replays and deletions; definition changes need nothing
    stored. Facts about deleted users dated before their deletion are dropped (deletion.py)."""

    queue = "sessions.facts"

    def __init__(self, settings=None, publisher: Publisher | None = None):
        super().__init__(settings)
        self.engine = make_engine(SCHEMA, self.settings)
        self.publisher = publisher or Publisher(self.settings)

    def handle(self, deliveries: list[Delivery]) -> None:
        merged, snapshots, replays = defaultdict(list), defaultdict(list), defaultdict(list)
        deletions: list[DeletionRequested] = []
        keep_days = self.settings.deletion_tombstone_days
        for delivery in deliveries:
            message = delivery.message
            if isinstance(message, DeletionRequested):
                deletions.append(message)
            elif isinstance(message, UsersMerged):
                merged[message.env_id].extend(message.merges)
            elif isinstance(message, UsersUpdated):
                snapshots[message.env_id].extend(message.users)
            elif isinstance(message, ReplaysRecorded):
                replays[message.env_id].extend(message.replays)
            elif isinstance(message, DefinitionChanged):
                # Definitions are evaluated at read time (retroactive), so nothing is cached here.
                log.info("definition %s %s", message.definition_id, message.action)
        # One transaction per kind, each idempotent: merges lock users' feed rows in one order,
        # snapshots and replays in others, and one transaction taking all three orders could wait
        # in a cycle with an events batch. Merges first, so snapshots of users merged away in the
        # same batch are recognised.
        for env_id, items in merged.items():
            with self.engine.begin() as conn:
                live = deletion.live_merges(conn, env_id, sorted(items, key=_merge_order), keep_days)
                merges.apply_merges(conn, env_id, live)
        for env_id, items in snapshots.items():
            with self.engine.begin() as conn:
                facts.apply_snapshots(conn, env_id, deletion.live_snapshots(conn, env_id, items))
        for env_id, items in replays.items():
            with self.engine.begin() as conn:
                facts.apply_replays(conn, env_id, deletion.live_replays(conn, env_id, items))
        # Deletions last: whatever this batch stored of their users goes with them.
        for request in deletions:
            with self.engine.begin() as conn:
                deletion.apply_deletion(conn, request, keep_days)
        if deletions or merged:
            self.announce()

    def announce(self) -> int:
        """Tell the replay service the sessions of deletions done here (what a crash left too)."""
        try:
            return deletion.announce(self.engine, self.publisher.publish)
        except BrokerUnavailable as exc:
            raise AnnouncementFailed(str(exc)) from exc

    def run(self) -> None:
        try:
            super().run()
        finally:
            self.publisher.close()  # its connection belongs to this (the consuming) thread


def _merge_order(item) -> tuple[datetime, str, str]:
    return (item.at, item.from_user_id, item.into_user_id)


CONSUMERS = {"events": EventsConsumer, "facts": FactsConsumer}
# Events consumers per process: while one batch holds its streams' locks, the next is parsed and
# staged on another connection, so PostgreSQL works on both cores (bench/sessions_consumer.py).
EVENTS_PARALLEL = 2


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.sessions.consumer")
    parser.add_argument("kind", choices=CONSUMERS)
    parser.add_argument("--parallel", type=int, default=EVENTS_PARALLEL,
                        help=f"events consumers in this process (default {EVENTS_PARALLEL})")
    args = parser.parse_args(argv)
    settings = get_settings()
    configure_logging(settings.log_level)
    if args.kind == "events":
        return run_consumers([EventsConsumer(settings) for _ in range(args.parallel)], settings)
    return CONSUMERS[args.kind](settings).run_forever()


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
