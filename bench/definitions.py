"""Labelling speed: 1,000 events against 500 definitions (target ≤ 20 ms), pure Python, no I/O.

    .venv/bin/python bench/definitions.py [--events 1000] [--definitions 500] [--runs 9]

The definitions mix what real accounts hold: click definitions by id, class, data attribute and
ancestry (a few with no indexable key), pageviews by exact and wildcard path, custom events by
name with property conditions, and combos. Events are a realistic mix too (6-node hierarchies).
Prints the median and spread of compile and label times, plus the naive scan for the ratio.
"""
from __future__ import annotations

import argparse
import random
import statistics
import time
from datetime import UTC, datetime, timedelta

from criteria.match import compile_predicate, view
from criteria.model import Criteria
from services.definitions.labeler import Label, LabelDefinition, Labeler

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def make_definitions(n: int, rng: random.Random) -> list[LabelDefinition]:
    out = []
    for i in range(n):
        r = rng.random()
        if r < 0.5:
            selector = rng.choice([f"#btn-{i}", f".cta-{i}", f"form#form-{i % 40} button.submit",
                                   f"nav.menu > a.item-{i}", f'[data-track="track-{i}"]' if i % 25 == 0 else
                                   f"button[data-track='track-{i}']"])
            alternatives = [{"kind": "click", "selector": selector}]
            if rng.random() < 0.3:
                alternatives[0]["text"] = {"op": "contains", "value": "Buy"}
        elif r < 0.8:
            path = f"/blog/{i}/*" if i % 15 == 0 else f"/page-{i}"
            alternatives = [{"kind": "pageview", "path": path}]
        elif r < 0.96:
            alternatives = [{"kind": "custom", "name": f"event-{i % 60}",
                             "properties": [{"property": "plan", "op": "equals", "value": f"p{i % 5}"}]}]
        else:
            alternatives = [{"kind": "pageview", "path": f"/page-{i - 1}"},
                            {"kind": "click", "selector": f"#btn-{i - 2}"}]
        out.append(LabelDefinition(Label(f"d{i}", f"Definition {i}", "#336699"), T0 + timedelta(seconds=i),
                                   [Criteria.model_validate(a) for a in alternatives]))
    return out


def make_events(n: int, n_definitions: int, rng: random.Random) -> list[dict]:
    events = []
    for e in range(n):
        i = rng.randrange(n_definitions)
        r = rng.random()
        if r < 0.5:
            hierarchy = [
                {"tag": "button", "id": f"btn-{i}" if rng.random() < 0.4 else None,
                 "classes": [f"cta-{i}", "submit"], "attributes": {"data-track": f"track-{i}"}, "nth": 2},
                {"tag": "form", "id": f"form-{i % 40}", "classes": ["checkout"], "nth": 1},
                {"tag": "div", "classes": ["container", "row"], "nth": 3},
                {"tag": "section", "classes": ["main"], "nth": 2},
                {"tag": "body", "classes": [], "nth": 2},
                {"tag": "html", "nth": 1},
            ]
            events.append({"event_id": f"e{e}", "kind": "click", "page": {"path": f"/page-{i}"},
                           "target": {"text": rng.choice(["Buy now", "Cancel", "Next"]), "hierarchy": hierarchy}})
        elif r < 0.8:
            path = f"/blog/{i}/post" if rng.random() < 0.1 else f"/page-{i}"
            events.append({"event_id": f"e{e}", "kind": "pageview", "page": {"path": path}})
        else:
            events.append({"event_id": f"e{e}", "kind": "custom", "name": f"event-{i % 60}",
                           "properties": {"plan": f"p{i % 5}"}})
    return events


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--definitions", type=int, default=500)
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    rng = random.Random(7)
    definitions = make_definitions(args.definitions, rng)
    events = make_events(args.events, args.definitions, rng)

    compile_ms = [timed(lambda: Labeler(definitions)) for _ in range(args.runs)]
    labeler = Labeler(definitions)
    label_ms = [timed(lambda: labeler.label_all(events)) for _ in range(args.runs)]
    labelled = sum(label is not None for label in labeler.label_all(events).values())

    predicates = [compile_predicate(c) for d in definitions for c in d.alternatives]
    naive_ms = [timed(lambda: [[p(view(e)) for p in predicates] for e in events]) for _ in range(3)]

    print(f"{args.events} events x {args.definitions} definitions ({labelled} events labelled)")
    print(f"compile labeler: median {statistics.median(compile_ms):.1f} ms "
          f"(min {min(compile_ms):.1f}, max {max(compile_ms):.1f})")
    print(f"label all:       median {statistics.median(label_ms):.1f} ms "
          f"(min {min(label_ms):.1f}, max {max(label_ms):.1f})  target <= 20 ms")
    print(f"naive full scan: median {statistics.median(naive_ms):.1f} ms "
          f"(x{statistics.median(naive_ms) / statistics.median(label_ms):.0f} slower)")


if __name__ == "__main__":
    main()
