"""A small in-process cache of answers from a slower source (Redis, the database).

Each answer is kept for its own TTL (a miss is usually kept shorter than a hit), and after that
it can still be read as stale, for a while, by a caller whose source does not answer: the last
answer known beats an error. The number of entries is bounded, since keys often come from
clients (write keys, tokens): past `max_size`, the oldest entry goes. No lock: a lost update only
means one more read from the source.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import Any, Final

MISSING: Final = object()  # what `fresh` and `stale` answer for nothing usable (None may be cached)


class TTLCache:
    def __init__(self, max_size: int = 10_000, clock: Callable[[], float] = time.monotonic):
        self.max_size, self.clock = max_size, clock
        self._entries: dict[Hashable, tuple[Any, float]] = {}

    def fresh(self, key: Hashable) -> Any:
        """The value cached for `key` if its TTL has not run out, else MISSING."""
        entry = self._entries.get(key)
        return entry[0] if entry is not None and entry[1] > self.clock() else MISSING

    def stale(self, key: Hashable, within: float) -> Any:
        """The value cached for `key`, fresh or expired less than `within` seconds ago, else MISSING."""
        entry = self._entries.get(key)
        return entry[0] if entry is not None and entry[1] + within > self.clock() else MISSING

    def put(self, key: Hashable, value: Any, ttl: float) -> None:
        self._entries.pop(key, None)  # re-inserted last: the oldest entry is the first
        if len(self._entries) >= self.max_size:
            del self._entries[next(iter(self._entries))]
        self._entries[key] = (value, self.clock() + ttl)

    def pop(self, key: Hashable) -> None:
        self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
