"""Realistic canonical events for the sessions benchmarks (web pageviews and clicks, some mobile)."""
from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from footfall.messages import Event, EventsCaptured

PATHS = ["/", "/pricing", "/docs", "/blog/post-1", "/signup", "/checkout", "/account"]


def make_event(rng: random.Random, env_id: str, user: int, n: int, when: datetime) -> Event:
    """One event of user `user`; every 4th user is on iOS, the rest on the web."""
    mobile = user % 4 == 0
    path = rng.choice(PATHS)
    kind = rng.choice(["pageview", "click", "click", "custom"])
    return Event(
        event_id=f"ev-{user}-{n}", env_id=env_id, kind=kind,
        name="Add to cart" if kind == "custom" else None,
        device_id=f"dev-{user}", user_id=str(1_000_000 + user), time=when, received_at=when,
        source="ios" if mobile else "web", library="bench",
        page={"url": f"https://shop.test{path}?utm_source=news", "domain": "shop.test", "path": path,
              "title": "Shop", "referrer": "https://google.com/"},
        target={"hierarchy": [{"tag": "button", "id": "buy", "classes": ["btn", "primary"]},
                              {"tag": "div", "classes": ["header"]}], "text": "Buy now"}
        if kind == "click" else None,
        device={"browser": "Chrome", "os": "iOS" if mobile else "Mac OS X",
                "device_type": "Mobile" if mobile else "Desktop",
                "user_agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) Chrome/124.0"},
        geo={"country": "FR", "city": "Paris"}, campaign={"utm_source": "news"},
        properties={"plan": rng.choice(["free", "pro", "team"]), "cart_value": rng.randint(1, 500)},
    )


def make_messages(env_id: str, users: int, events_per_user: int, per_message: int = 100,
                  seed: int = 7) -> list[EventsCaptured]:
    """Events of `users` users, a minute or so apart, grouped into messages of `per_message`."""
    rng = random.Random(seed)
    start = datetime.now(UTC) - timedelta(hours=2)
    events = [make_event(rng, env_id, u, n, start + timedelta(seconds=70 * n + rng.randint(0, 30)))
              for n in range(events_per_user) for u in range(users)]
    return [EventsCaptured(env_id=env_id, events=events[i:i + per_message])
            for i in range(0, len(events), per_message)]
