"""The traffic users send, as Segment batches: the realistic mix of bench/pipeline.py.

- ~65% of events from identified users: every event carries `userId` and `anonymousId` (as
  analytics.js and the mobile SDKs send after login); each of their devices is one merge.
- ~20% from anonymous visitors; a share of them sign up midway (an identify, then events with
  `userId`): one merge each.
- ~15% server-side events that carry only `userId` (no device, no merge).
- pages, tracks and identifies; users arrive throughout; everything shuffled, then cut into
  batches of 100; 5% of the messages sent twice (in other batches).
"""
from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from footfall.ids import anonymous_user_id, identified_user_id

UA = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
      "Chrome/124.0 Safari/537.36")
PATHS = ["/", "/pricing", "/docs", "/blog/launch", "/signup", "/checkout", "/account"]
TRACKS = ["Added to Cart", "Viewed Product", "Started Trial", "Invited Teammate", "Searched"]


@dataclass
class Mix:
    """Batches to send and what they must produce."""

    batches: list[list[dict]]
    event_ids: set[str] = field(default_factory=set)  # distinct events (page/track) to be stored
    merged_anon_user_ids: set[str] = field(default_factory=set)  # anonymous users that must merge
    messages: int = 0


def _context(anonymous_id: str | None, path: str) -> dict:
    context = {"userAgent": UA, "ip": "81.2.69.142", "library": {"name": "analytics.js", "version": "5"},
               "page": {"path": path, "url": f"https://shop.example.com{path}?utm_source=bench",
                        "referrer": "https://www.google.com/"}}
    return context if anonymous_id else {"library": {"name": "analytics-python", "version": "2"}}


def _event(rng: random.Random, at: datetime, anonymous_id: str | None, user_id: str | None) -> dict:
    path = rng.choice(PATHS)
    message = {"messageId": str(uuid.UUID(int=rng.getrandbits(128))), "timestamp": at.isoformat(),
               "context": _context(anonymous_id, path)}
    if anonymous_id:
        message["anonymousId"] = anonymous_id
    if user_id:
        message["userId"] = user_id
    if anonymous_id and rng.random() < 0.45:
        message.update(type="page", name=path, properties={"path": path})
    else:
        message.update(type="track", event=rng.choice(TRACKS),
                       properties={"plan": rng.choice(["free", "team", "pro"]), "value": rng.randint(1, 500)})
    return message


def make_mix(env_id: str, events: int, seed: int = 1, now: datetime | None = None,
             per_user: int = 25, batch: int = 100, tag: str = "") -> Mix:
    """About `events` events of the realistic mix over the two hours before `now`."""
    rng = random.Random(seed)
    now = now or datetime.now(UTC)
    mix = Mix(batches=[])
    messages: list[dict] = []
    users = max(1, events // per_user)
    tag = tag or uuid.UUID(int=rng.getrandbits(128)).hex[:8]
    for u in range(users):
        kind = rng.random()
        start = now - timedelta(minutes=rng.uniform(5, 120))  # users arrive throughout
        count = max(1, int(rng.expovariate(1 / per_user)))
        times = sorted(start + timedelta(seconds=rng.uniform(0, 3600)) for _ in range(count))
        times = [min(t, now) for t in times]
        email = f"user-{tag}-{u}@example.com"
        if kind < 0.65:  # identified: every event carries userId and anonymousId
            devices = [f"anon-{tag}-{u}-{d}" for d in range(1 + (rng.random() < 0.3))]
            used = [rng.choice(devices) for _ in times]
            for t, device in zip(times, used):
                messages.append(_event(rng, t, device, email))
            mix.merged_anon_user_ids |= {anonymous_user_id(d) for d in used}
        elif kind < 0.85:  # anonymous visitor; 40% sign up midway
            device = f"anon-{tag}-{u}-0"
            signup = len(times) // 2 if rng.random() < 0.4 and len(times) > 1 else None
            for i, t in enumerate(times):
                if i == signup:
                    messages.append({"type": "identify", "anonymousId": device, "userId": email,
                                     "messageId": str(uuid.UUID(int=rng.getrandbits(128))),
                                     "timestamp": t.isoformat(), "traits": {"email": email, "plan": "trial"}})
                    mix.merged_anon_user_ids.add(anonymous_user_id(device))
                messages.append(_event(rng, t, device, email if signup is not None and i >= signup else None))
        else:  # server-side: userId only
            for t in times:
                messages.append(_event(rng, t, None, email))
    for m in messages:
        if m["type"] != "identify":
            mix.event_ids.add(m["messageId"])
    mix.messages = len(messages)
    messages += rng.sample(messages, len(messages) // 20)  # 5% sent twice
    rng.shuffle(messages)
    mix.batches = [messages[i:i + batch] for i in range(0, len(messages), batch)]
    return mix


def identified(env_id: str, email: str) -> str:
    return identified_user_id(env_id, email)
