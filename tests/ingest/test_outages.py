"""Broker or Redis down: ingest never claims success it does not have."""
import socket
import time

import pytest
import redis

from services.ingest.app import create_app
from services.ingest.keys import LOADED_FIELD, WRITE_KEYS_HASH, KeysUnavailable, WriteKeys
from tests.ingest.conftest import basic, drain


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_broker_down_is_503_with_retry_after_and_nothing_published(ingest_settings, registered_key,
                                                                   settings, clean_bus):
    down = ingest_settings.with_(amqp_url=f"amqp://guest:guest@127.0.0.1:{closed_port()}/%2F")
    client = create_app(down).test_client()
    response = client.post("/v1/batch", headers=basic(),
                           json={"batch": [{"type": "track", "event": "E", "anonymousId": "a"}]})
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) > 0
    assert "broker" in response.json["error"]["message"]
    ready = client.get("/readyz")
    assert ready.status_code == 503 and "broker" in ready.json["failures"]
    assert drain(settings, "sessions.events") == [] and drain(settings, "identity.inbox") == []


def test_redis_down_keeps_recently_seen_keys_working_and_others_answer_503(ingest_settings, registered_key,
                                                                           settings, clean_bus):
    app = create_app(ingest_settings)
    client = app.test_client()
    message = {"type": "track", "event": "E", "anonymousId": "a"}
    assert client.post("/v1/track", headers=basic(), json=message).status_code == 200
    keys = app.extensions["ingest"].keys
    keys._redis = redis.Redis(port=closed_port(), socket_connect_timeout=1)  # Redis goes away
    later = time.monotonic() + 31  # and the cached answers are due for a refresh
    keys._cache.clock = lambda: later
    assert client.post("/v1/track", headers=basic(), json=message).status_code == 200  # limits fail open
    other = client.post("/v1/track", headers=basic("gateway-made-key"), json=message)
    assert other.status_code == 503 and other.headers["Retry-After"]
    assert len(drain(settings, "sessions.events")) == 2


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_a_rotated_key_stops_working_within_the_cache_ttl(redis_client):
    clock = Clock()
    keys = WriteKeys(redis_client, ttl=30, miss_ttl=5, clock=clock)
    redis_client.hset(WRITE_KEYS_HASH, mapping={"k1": "env-1", LOADED_FIELD: ""})
    assert keys.env_for("k1") == "env-1"
    redis_client.hdel(WRITE_KEYS_HASH, "k1")  # the gateway rotated it
    assert keys.env_for("k1") == "env-1"  # still cached
    clock.now += 31
    assert keys.env_for("k1") is None


def test_a_new_key_works_once_its_miss_expires_and_app_ids_are_write_keys(redis_client):
    clock = Clock()
    keys = WriteKeys(redis_client, ttl=30, miss_ttl=5, clock=clock)
    redis_client.hset(WRITE_KEYS_HASH, LOADED_FIELD, "")  # the gateway's keys are loaded
    assert keys.env_for("k2") is None
    redis_client.hset(WRITE_KEYS_HASH, "k2", "env-2")
    assert keys.env_for("k2") is None
    clock.now += 6
    assert keys.env_for("k2") == "env-2"
    assert keys.env_for_app_id("k2") == "env-2" and keys.env_for_app_id("env-2") is None


def test_an_unreachable_redis_is_reported_not_mistaken_for_an_unknown_key():
    keys = WriteKeys(redis.Redis(port=closed_port(), socket_connect_timeout=1))
    with pytest.raises(KeysUnavailable):
        keys.env_for("other")
