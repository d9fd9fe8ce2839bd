"""The replay consumer: `python -m services.replay.consumer` deletes deleted users' replays.

Replay takes chunks over HTTP and publishes `replay.recorded`; this consumer only applies the
replay part of user deletions (`replay.deletion_requested`, deletion.py), so a replay service
that is down when a user is deleted catches up from its queue.
"""
from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError

from footfall.config import get_settings
from footfall.messages import ReplaysDeletionRequested
from footfall.web import configure_logging
from footfall.worker import Consumer, Delivery
from services.replay import deletion
from services.replay.app import build_replays


class ReplayDeletionsConsumer(Consumer):
    queue = "replay.deletions"
    # S3 unreachable is the storage's fault, not the message's: retried in place.
    transient_errors = Consumer.transient_errors + (BotoCoreError, ClientError)

    def __init__(self, settings=None):
        super().__init__(settings)
        self.replays = build_replays(self.settings)

    def handle(self, deliveries: list[Delivery]) -> None:
        for delivery in deliveries:
            if isinstance(delivery.message, ReplaysDeletionRequested):
                deletion.delete_replays(self.replays.index.engine, self.replays.storage, delivery.message,
                                        self.settings.deletion_tombstone_days)


def main() -> None:
    settings = get_settings()
    configure_logging(settings.log_level)
    raise SystemExit(ReplayDeletionsConsumer(settings).run_forever())


if __name__ == "__main__":
    main()
