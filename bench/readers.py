"""The consumers' fast readers of `event.captured`, alone: µs per event to decode and check a body.

    .venv/bin/python -m bench.readers [--events 20000] [--repeat 7]

The sessions events consumer and the identity consumer read every captured event before any
database work; this times just that step (no broker, no database) on the realistic event mix of
bench/sessions_events.py and on identity's bench events, in messages of 100 events as ingest
publishes them. Prints the best of `repeat` runs per reader (the least disturbed by other load).
"""
from __future__ import annotations

import argparse
import random
import time

from bench.identity import event_messages
from bench.sessions_events import make_messages
from footfall.messages import encode
from services.identity.consumer import IdentityConsumer
from services.sessions.consumer import EventsConsumer


def best_us_per_event(read, bodies: list[bytes], events: int, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        for body in bodies:
            read("event.captured", body)
        best = min(best, time.perf_counter() - started)
    return best / events * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    random.seed(1)
    mixes = {
        "sessions mix": [encode(m) for m in make_messages("bench-readers", args.events // 50, 50)],
        "identity mix": [encode(m) for m in event_messages(args.events, 0, seed=1)],
    }
    # decode() is what the worker calls per delivery; no consumer is started (nothing connects).
    readers = {"sessions events consumer": EventsConsumer.decode, "identity consumer": IdentityConsumer.decode}
    for reader, decode in readers.items():
        for mix, bodies in mixes.items():
            us = best_us_per_event(lambda key, body, decode=decode: decode(None, key, body), bodies, args.events,
                                   args.repeat)
            print(f"{reader:26} {mix:13} {us:6.2f} µs/event")


if __name__ == "__main__":
    main()
