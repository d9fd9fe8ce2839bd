"""A private queue bound to the bus exchange: sees copies of what is published, whoever consumes."""
from __future__ import annotations

from footfall import bus
from footfall.messages import decode


class Tap:
    """Collects messages of some routing keys through an exclusive queue (read with basic_get).

    Reading a copy rather than the working queue (e.g. `sessions.facts`) keeps the test honest when
    another process of the test session (the `stack` fixture) consumes that queue too.
    """

    def __init__(self, settings, *routing_keys: str):
        self.connection, self.channel = bus.open_channel(settings)
        self.queue = self.channel.queue_declare("", exclusive=True, auto_delete=True).method.queue
        for key in routing_keys:
            self.channel.queue_bind(self.queue, bus.EXCHANGE, routing_key=key)
        self.messages = []

    def drain(self) -> list:
        """Everything that arrived since the last call is appended to `messages`; return all so far."""
        while True:
            method, properties, body = self.channel.basic_get(self.queue, auto_ack=True)
            if method is None:
                return self.messages
            self.messages.append(decode(properties.type or method.routing_key, body))

    def of(self, message_type) -> list:
        return [m for m in self.drain() if isinstance(m, message_type)]

    def close(self) -> None:
        if self.connection.is_open:
            self.connection.close()
