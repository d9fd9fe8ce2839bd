"""The identity consumer: joins captured events and identity commands into users, then tells the others.

Run: `python -m services.identity.consumer`.

It decodes (events through the slim view, wire.py) and hands each batch to service.py, which
holds the transaction and the outbox.
"""
from __future__ import annotations

import gc
import logging
import os
import time

from footfall.bus import Publisher
from footfall.config import Settings
from footfall.messages import Message
from footfall.web import configure_logging
from footfall.worker import Consumer, Delivery
from services.identity import service, store
from services.identity.wire import read_events

log = logging.getLogger(__name__)


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
        service.apply_batch(self.engine, [d.message for d in deliveries], self.publisher.publish_raw,
                            self.settings.deletion_tombstone_days)

    def _analyze_when_due(self) -> None:
        if time.monotonic() >= self._next_analyze:
            self._next_analyze = time.monotonic() + self.analyze_every
            if analyzed := store.analyze_if_stale(self.engine):
                log.info("analyzed %s", ", ".join(analyzed))

    def flush(self) -> int:
        """Publish whatever a previous process committed to the outbox but did not get to publish."""
        return service.flush(self.engine, self.publisher.publish_raw)

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
