"""The merge map's rules, the pure core (no I/O): which merge of a user stands, and who survives.

Identity may send a user's merge more than once, and with another target when an identify arrives
late; messages arrive in any order. Per merged-away user the merge with the earliest
(at, into_user_id) stands (its *edge*); a merge whose target's chain leads back through the merged
user would close a cycle and is ignored; every user's *root* (final survivor) follows its edges to
the end. Applied in (at, from, into) order, as the consumer sorts each batch, any arrival order of
the same merges gives the same map (tests/sessions/test_merge_map.py).

`MergeMap` holds the part of the map a batch can touch (merges.py loads it): the chains forward of
every id the batch names and the ids behind each merged-away one.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

log = logging.getLogger(__name__)


@dataclass(frozen=True, order=True)
class Edge:
    """A user's chosen merge: the earliest (at, into) wins."""

    at: datetime
    into: str


class MergeMap:
    def __init__(self, edges: dict[str, Edge]):
        self.edges = dict(edges)
        self._behind: dict[str, set[str]] = defaultdict(set)  # into → users whose edge points at it
        for user, edge in self.edges.items():
            self._behind[edge.into].add(user)

    def root(self, user: str) -> str:
        """The final survivor of `user` (itself when never merged away)."""
        seen = {user}
        while user in self.edges:
            user = self.edges[user].into
            if user in seen:  # cannot happen: apply() refuses cycles; a guard, not a rule
                raise ValueError(f"merge map has a cycle through {user}")
            seen.add(user)
        return user

    def behind(self, user: str) -> set[str]:
        """`user` and every user whose chain of edges passes through it."""
        found, todo = {user}, [user]
        while todo:
            for source in self._behind.get(todo.pop(), ()):
                if source not in found:
                    found.add(source)
                    todo.append(source)
        return found

    def apply(self, source: str, into: str, at: datetime) -> bool:
        """Take the merge source → into unless an earlier one stands or it closes a cycle."""
        edge, current = Edge(at, into), self.edges.get(source)
        if current is not None and current <= edge:
            return False  # a redelivery, or a later merge of this user: the earliest one stands
        if into in self.behind(source):
            log.warning("ignoring merge %s -> %s: it would close a cycle", source, into)
            return False
        if current is not None:
            self._behind[current.into].discard(source)
        self.edges[source] = edge
        self._behind[into].add(source)
        return True
