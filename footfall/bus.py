"""RabbitMQ plumbing: the whole topology, a confirming publisher, and dead-letter redrive.

Rules (docs/contracts.md, "The bus"): one durable topic exchange, quorum queues each with a dead-letter exchange
and an explicit delivery limit (RabbitMQ 3.10 has no default), persistent messages published with
confirms and `mandatory`, so a publish that returns has been accepted by a queue.
"""
from __future__ import annotations

import logging
import threading
import time

import pika
from pika.adapters.blocking_connection import BlockingChannel
from pika.exceptions import AMQPChannelError, AMQPConnectionError, AMQPError

from footfall.config import Settings, get_settings
from footfall.messages import Message, encode

log = logging.getLogger(__name__)

EXCHANGE = "footfall"
DEAD_LETTER_EXCHANGE = "footfall.dlx"

# Every working queue and the routing keys bound to it. Each queue has one consumer process type,
# so each can be scaled (KEDA on its length) on its own.
QUEUES: dict[str, tuple[str, ...]] = {
    "identity.inbox": ("event.captured", "identity.command", "user.deletion_requested",
                       "ingest.warning"),
    "sessions.events": ("event.captured",),
    "sessions.facts": ("user.merged", "user.updated", "replay.recorded", "definition.changed",
                       "user.deletion_requested"),
    "replay.deletions": ("replay.deletion_requested",),
}


class BrokerUnavailable(RuntimeError):
    """The broker could not be reached or did not confirm: the caller must not report success."""


def dead_letter_queue(queue: str) -> str:
    return f"{queue}.dead"


def connection_parameters(url: str) -> pika.URLParameters:
    """Parameters with heartbeats on and a bound on how long a blocked (alarmed) broker may stall us."""
    params = pika.URLParameters(url)
    params.heartbeat = 30
    params.blocked_connection_timeout = 30
    params.socket_timeout = 5
    params.connection_attempts = 1
    return params


def declare_topology(channel: BlockingChannel, delivery_limit: int) -> None:
    """Declare exchanges, queues, dead-letter queues and bindings; safe to repeat."""
    channel.exchange_declare(EXCHANGE, exchange_type="topic", durable=True)
    channel.exchange_declare(DEAD_LETTER_EXCHANGE, exchange_type="direct", durable=True)
    for queue, routing_keys in QUEUES.items():
        dead = dead_letter_queue(queue)
        channel.queue_declare(dead, durable=True, arguments={"x-queue-type": "quorum"})
        channel.queue_bind(dead, DEAD_LETTER_EXCHANGE, routing_key=queue)
        channel.queue_declare(
            queue,
            durable=True,
            arguments={
                "x-queue-type": "quorum",
                "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
                "x-dead-letter-routing-key": queue,
                "x-delivery-limit": delivery_limit,
            },
        )
        for key in routing_keys:
            channel.queue_bind(queue, EXCHANGE, routing_key=key)


# Headers a consumer puts on an item it set aside: why, which item, of which environment.
REASON_HEADER = "x-footfall-reason"
ITEM_HEADER = "x-footfall-item"
ENV_HEADER = "x-footfall-env"


def _properties(message_id: str, routing_key: str, headers: dict | None = None) -> pika.BasicProperties:
    return pika.BasicProperties(
        delivery_mode=pika.DeliveryMode.Persistent,
        content_type="application/json",
        message_id=message_id,
        type=routing_key,  # the contract, also when the message travels under another key (dead letters)
        timestamp=int(time.time()),  # when it was published: consumers report their lag from it
        headers=headers,
    )


class Publisher:
    """Publishes messages with confirms; one pika connection per thread, opened lazily (after fork).

    A blocking confirm costs one broker round trip (~0.5 ms here), which is why messages are batches:
    ingest publishes one message per HTTP request, so the confirm is paid per 100 events, not per event.
    """

    def __init__(self, settings: Settings | None = None):
        self.settings = settings or get_settings()
        self._local = threading.local()

    def _channel(self) -> BlockingChannel:
        channel = getattr(self._local, "channel", None)
        if channel is not None and channel.is_open:
            return channel
        self.close()
        connection = pika.BlockingConnection(connection_parameters(self.settings.amqp_url))
        channel = connection.channel()
        declare_topology(channel, self.settings.delivery_limit)
        channel.confirm_delivery()
        self._local.connection, self._local.channel = connection, channel
        return channel

    def publish(self, message: Message) -> None:
        """Publish one message and return only once the broker confirmed it; else BrokerUnavailable."""
        self.publish_raw(message.routing_key, encode(message), message.message_id,
                         mandatory=message.needs_subscriber)

    def publish_raw(self, routing_key: str, body: bytes, message_id: str, exchange: str = EXCHANGE,
                    mandatory: bool = True, contract: str | None = None, headers: dict | None = None) -> None:
        """Publish a body under `routing_key`; `contract` names its message type when the key does not."""
        properties = _properties(message_id, contract or routing_key, headers)
        # One retry on a fresh connection covers a connection the broker or a NAT dropped while idle.
        for attempt in (1, 2):
            try:
                self._channel().basic_publish(exchange, routing_key, body, properties, mandatory=mandatory)
                return
            except (AMQPConnectionError, AMQPChannelError, AMQPError, OSError) as exc:
                self.close()
                if attempt == 2:
                    raise BrokerUnavailable(f"broker did not confirm {routing_key}: {exc!r}") from exc

    def check(self) -> None:
        """Raise BrokerUnavailable unless a channel to the broker is open (readiness)."""
        try:
            self._channel()
        except (AMQPError, OSError) as exc:
            self.close()
            raise BrokerUnavailable(repr(exc)) from exc

    def dead_letter(self, queue: str, contract: str, body: bytes, message_id: str, headers: dict) -> None:
        """Put a body straight into `queue`'s dead-letter queue (confirmed), where redrive finds it."""
        self.publish_raw(queue, body, message_id, exchange=DEAD_LETTER_EXCHANGE, contract=contract,
                         headers=headers)

    def close(self) -> None:
        connection = getattr(self._local, "connection", None)
        self._local.connection = self._local.channel = None
        if connection is not None and connection.is_open:
            try:
                connection.close()
            except (AMQPError, OSError):
                pass


def open_channel(settings: Settings | None = None) -> tuple[pika.BlockingConnection, BlockingChannel]:
    """A connection and channel with the topology declared (CLIs, tests)."""
    settings = settings or get_settings()
    connection = pika.BlockingConnection(connection_parameters(settings.amqp_url))
    channel = connection.channel()
    declare_topology(channel, settings.delivery_limit)
    return connection, channel


def redrive(queue: str, limit: int | None = None, settings: Settings | None = None) -> int:
    """Move dead letters of `queue` back onto it (straight to the queue, not to other subscribers)."""
    connection, channel = open_channel(settings)
    channel.confirm_delivery()
    moved = 0
    try:
        while limit is None or moved < limit:
            method, properties, body = channel.basic_get(dead_letter_queue(queue), auto_ack=False)
            if method is None:
                break
            headers = dict(properties.headers or {})
            # Forget the death history so the delivery limit starts afresh.
            for key in ("x-death", "x-delivery-count", "x-first-death-exchange", "x-first-death-queue",
                        "x-first-death-reason", "x-last-death-exchange", "x-last-death-queue",
                        "x-last-death-reason", REASON_HEADER, ITEM_HEADER, ENV_HEADER):
                headers.pop(key, None)
            properties.headers = headers
            channel.basic_publish("", queue, body, properties, mandatory=True)
            channel.basic_ack(method.delivery_tag)
            moved += 1
    finally:
        connection.close()
    return moved


def queue_depths(settings: Settings | None = None) -> dict[str, int]:
    """Ready messages per working and dead-letter queue."""
    connection, channel = open_channel(settings)
    try:
        depths = {}
        for queue in QUEUES:
            for name in (queue, dead_letter_queue(queue)):
                depths[name] = channel.queue_declare(name, passive=True).method.message_count
        return depths
    finally:
        connection.close()


def purge_all(settings: Settings | None = None) -> None:
    """Empty every queue (tests and local resets only)."""
    connection, channel = open_channel(settings)
    try:
        for queue in QUEUES:
            channel.queue_purge(queue)
            channel.queue_purge(dead_letter_queue(queue))
    finally:
        connection.close()


def _main(argv: list[str]) -> int:
    """`python -m footfall.bus redrive QUEUE [LIMIT]` | `depths` | `declare`."""
    import sys

    if argv[:1] == ["redrive"] and len(argv) in (2, 3):
        moved = redrive(argv[1], int(argv[2]) if len(argv) == 3 else None)
        print(f"moved {moved} dead letters back to {argv[1]}")
    elif argv == ["depths"]:
        for queue, depth in queue_depths().items():
            print(f"{queue:32} {depth}")
    elif argv == ["declare"]:
        open_channel()[0].close()
        print("topology declared")
    else:
        print("usage: python -m footfall.bus redrive QUEUE [LIMIT] | depths | declare", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    import sys

    raise SystemExit(_main(sys.argv[1:]))
