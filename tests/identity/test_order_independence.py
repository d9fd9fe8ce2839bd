"""The same shuffled, duplicated Segment traffic sent twice through the real ingest gives the same users."""
import random
import threading
from datetime import timedelta

import pytest
import requests
from werkzeug.serving import make_server

from footfall.ids import anonymous_user_id, identified_user_id
from services.identity.consumer import IdentityConsumer
from services.ingest.app import create_app as create_ingest_app
from tests.identity.bus_tap import Tap
from tests.identity.factories import T0
from tests.identity.state import db_users, model_users
from tests.support import truncate_schema, wait_until

ENV = "identity-e2e"
WRITE_KEY = "identity-e2e-write-key"
UA = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


def segment_traffic(seed: int = 7) -> list[dict]:
    """Distinct Segment messages over 8 devices and 4 identities, with clashing and generic identifies."""
    rng = random.Random(seed)
    messages = []
    for n in range(160):
        device = f"anon-{rng.randrange(8)}"
        identity = f"user-{rng.randrange(4)}"
        when = (T0 + timedelta(seconds=rng.randrange(0, 3600, 30))).isoformat()  # ties on purpose
        common = {"messageId": f"m{n:04}", "timestamp": when}
        kind = rng.choice(["page", "page", "page", "track", "identified_track", "identify", "alias", "generic"])
        if kind == "page":
            path = rng.choice(["/", "/pricing", "/signup"])
            messages.append({**common, "type": "page", "anonymousId": device, "context": {
                "userAgent": UA, "page": {"url": f"https://shop.example{path}",
                                          "referrer": f"https://ref{n % 3}.example/"}}})
        elif kind == "track":
            messages.append({**common, "type": "track", "event": "Clicked", "anonymousId": device})
        elif kind == "identified_track":
            messages.append({**common, "type": "track", "event": "Bought", "anonymousId": device, "userId": identity})
        elif kind == "identify":
            messages.append({**common, "type": "identify", "anonymousId": device, "userId": identity,
                             "traits": {"plan": rng.choice(["free", "pro", "team"]), "email": f"{identity}@x.example"}})
        elif kind == "alias":
            messages.append({**common, "type": "alias", "previousId": device, "userId": identity})
        else:
            messages.append({**common, "type": "identify", "anonymousId": device, "userId": "undefined"})
    return messages


def shuffled_with_duplicates(messages: list[dict], seed: int) -> list[list[dict]]:
    """Every message at least once, a third of them twice, in a random order and random batches."""
    rng = random.Random(seed)
    sent = messages + rng.sample(messages, len(messages) // 3)
    rng.shuffle(sent)
    batches, i = [], 0
    while i < len(sent):
        size = rng.randint(1, 25)
        batches.append(sent[i:i + size])
        i += size
    return batches


@pytest.fixture
def ingest_url(settings, redis_client):
    redis_client.hset("footfall:write_keys", WRITE_KEY, ENV)  # published by the gateway for ingest
    app = create_ingest_app(settings.with_(env_id=ENV, write_key=WRITE_KEY))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()


def send_through_ingest(settings, engine, ingest_url, batches) -> dict:
    """Post the batches, wait until the consumer applied all of it, and return the users."""
    truncate_schema(engine, "identity")
    tap = Tap(settings, "event.captured", "identity.command")  # what ingest published, for the model
    try:
        with requests.Session() as http:
            for batch in batches:
                response = http.post(f"{ingest_url}/v1/batch", json={"batch": batch}, auth=(WRITE_KEY, ""))
                assert response.status_code == 200, response.text
        published = [m for m in tap.drain() if m.env_id == ENV]  # confirmed, so all here already
    finally:
        tap.close()
    expected = model_users(published, ENV)
    wait_until(lambda: db_users(engine, ENV) == expected, timeout=30, message="the consumer caught up")
    return db_users(engine, ENV)


def test_shuffled_duplicated_traffic_through_ingest_twice_gives_the_same_users(settings, engine, clean_bus,
                                                                               ingest_url):
    consumer = IdentityConsumer(settings).start()
    try:
        traffic = segment_traffic()
        first = send_through_ingest(settings, engine, ingest_url, shuffled_with_duplicates(traffic, seed=1))
        second = send_through_ingest(settings, engine, ingest_url, shuffled_with_duplicates(traffic, seed=2))
    finally:
        consumer.stop()
    assert first == second
    identified = {identified_user_id(ENV, f"user-{i}") for i in range(4)}
    assert identified <= set(first)  # every identity got its user
    merged = {anonymous_user_id(f"anon-{i}") for i in range(8)} - set(first)
    assert merged, "some devices merged into identified users"
    assert any(user[3].get("Initial Browser") == "Firefox" for user in first.values())
