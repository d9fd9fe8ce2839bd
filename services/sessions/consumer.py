"""The sessions consumers: `python -m services.sessions.consumer events|facts`.

`events` stores `event.captured` batches and re-cuts their sessions; `facts` applies merges, user
snapshots and replays. Both are idempotent and order-independent (events_path.py, merges.py),
and commit a whole delivery batch before the worker acks it.
"""
from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections import defaultdict
from datetime import datetime
from typing import Annotated

import msgspec
from pydantic import AwareDatetime, BaseModel, ConfigDict, Strict

from footfall.bus import BrokerUnavailable, Publisher
from footfall.config import get_settings
from footfall.db import make_engine
from footfall.messages import (
    SCHEMA_VERSION,
    DefinitionChanged,
    DeletionRequested,
    Kind,
    Message,
    ReplaysRecorded,
    Scalar,
    Source,
    UnknownMessage,
    UsersMerged,
    UsersUpdated,
    decode,
)
from footfall.web import configure_logging
from footfall.worker import Consumer, Delivery
from services.sessions import catalog, deletion, events_path, facts, merges
from services.sessions.tables import SCHEMA

log = logging.getLogger(__name__)

Time = Annotated[AwareDatetime, Strict()]  # ISO 8601 with an offset, as PostgreSQL will read it


class EventHead(BaseModel):
    """The fields of a canonical event the store relies on, validated; the rest is kept as sent."""

    model_config = ConfigDict(extra="ignore")
    event_id: str
    env_id: str
    kind: Kind
    name: str | None = None
    device_id: str
    user_id: str
    identity: str | None = None
    session_id: str | None = None
    time: Time
    received_at: Time
    source: Source
    properties: dict[str, Scalar] = {}


class CapturedHeads(Message):
    """`event.captured` as the events consumer reads it: checked, not rebuilt (the hot path)."""

    events: list[EventHead]


# The fast path of the same check: msgspec reads a body's heads in one typed pass, ~5 times faster
# than the pydantic models above, which then only see the bodies it refuses (to refuse them with
# pydantic's reasons, or to accept what only their lax parts read). It accepts nothing PostgreSQL
# would not read: its datetimes are RFC 3339 with an offset.
WireTime = Annotated[datetime, msgspec.Meta(tz=True)]


class WireHead(msgspec.Struct, gc=False):
    event_id: str
    env_id: str
    kind: Kind
    device_id: str
    user_id: str
    time: WireTime
    received_at: WireTime
    source: Source
    name: str | None = None
    identity: str | None = None
    session_id: str | None = None
    properties: dict[str, str | int | float | bool | None] = {}


class WireCaptured(msgspec.Struct, gc=False):
    message_id: str
    env_id: str
    events: list[WireHead]
    schema_version: int = SCHEMA_VERSION
    sent_at: datetime | msgspec.UnsetType = msgspec.UNSET


_CAPTURED = msgspec.json.Decoder(WireCaptured)


def read_captured(body: bytes) -> WireCaptured | CapturedHeads:
    """The checked heads of an `event.captured` body; raises as `footfall.messages.decode` does."""
    try:
        message = _CAPTURED.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError):
        message = CapturedHeads.model_validate_json(body)
    if message.schema_version > SCHEMA_VERSION:
        raise UnknownMessage(f"schema_version {message.schema_version} is newer than {SCHEMA_VERSION}")
    return message


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


def run_parallel(consumers: list[Consumer]) -> int:
    """Run consumers in threads until SIGTERM/SIGINT; exit non-zero if one dies (to be restarted)."""
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    threads = [threading.Thread(target=c.run, name=f"{c.queue}-{i}") for i, c in enumerate(consumers)]
    for thread in threads:
        thread.start()
    log.info("consuming %s with %d consumers", consumers[0].queue, len(consumers))
    while not stopping.wait(1) and all(t.is_alive() for t in threads):
        pass
    for consumer in consumers:
        consumer.stop()
    for thread in threads:
        thread.join()
    return 0 if stopping.is_set() else 1


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.sessions.consumer")
    parser.add_argument("kind", choices=CONSUMERS)
    parser.add_argument("--parallel", type=int, default=EVENTS_PARALLEL,
                        help=f"events consumers in this process (default {EVENTS_PARALLEL})")
    args = parser.parse_args(argv)
    settings = get_settings()
    configure_logging(settings.log_level)
    if args.kind == "events":
        return run_parallel([EventsConsumer(settings) for _ in range(args.parallel)])
    CONSUMERS[args.kind](settings).run_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
