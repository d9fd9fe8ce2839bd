"""Environments, write keys in Redis for ingest, rotation, API tokens, bootstrap."""
from __future__ import annotations

import subprocess
import sys

import pika
from sqlalchemy import text

from footfall import bus
from gateway import environments
from gateway.bootstrap import bootstrap
from tests.gateway.conftest import bearer, login


def test_created_environment_key_is_published_for_ingest(client, control_plane, redis_client):
    csrf = login(client)
    response = client.post("/api/v1/environments", json={"id": "initech", "name": "Initech"},
                           headers={"X-CSRF-Token": csrf})
    assert response.status_code == 201
    key = response.json["write_key"]
    assert redis_client.hget(environments.WRITE_KEYS_HASH, key) == b"initech"
    assert environments.env_for_write_key(key, control_plane) == "initech"
    again = client.post("/api/v1/environments", json={"id": "initech"}, headers={"X-CSRF-Token": csrf})
    assert again.status_code == 409


def test_environment_ids_are_validated(client):
    csrf = login(client)
    response = client.post("/api/v1/environments", json={"id": "Bad Id!"}, headers={"X-CSRF-Token": csrf})
    assert response.status_code == 400 and response.json["error"]["field"] == "id"


def test_only_admins_create_environments(client):
    response = client.post("/api/v1/environments", json={"id": "x"}, headers=bearer("acme"))
    assert response.status_code == 403


def test_rotation_removes_the_old_key_at_once(client, control_plane, redis_client):
    csrf = login(client)
    rotated = client.post("/api/v1/environments/acme/write-key/rotate", headers={"X-CSRF-Token": csrf})
    assert rotated.status_code == 200
    new_key = rotated.json["write_key"]
    assert new_key != "wk-acme"
    assert redis_client.hget(environments.WRITE_KEYS_HASH, "wk-acme") is None
    assert redis_client.hget(environments.WRITE_KEYS_HASH, new_key) == b"acme"
    assert environments.env_for_write_key("wk-acme", control_plane) is None
    assert environments.env_for_write_key(new_key, control_plane) == "acme"


def test_rotation_announces_environment_changed(client, control_plane, clean_bus):
    connection = pika.BlockingConnection(bus.connection_parameters(control_plane.amqp_url))
    channel = connection.channel()
    queue = channel.queue_declare("", exclusive=True).method.queue
    channel.queue_bind(queue, bus.EXCHANGE, "environment.changed")
    csrf = login(client)
    client.post("/api/v1/environments/acme/write-key/rotate", headers={"X-CSRF-Token": csrf})
    method, _, body = next(channel.consume(queue, inactivity_timeout=5))
    assert method is not None and b'"key_rotated"' in body and b'"acme"' in body
    connection.close()


def test_sync_repairs_a_flushed_redis(control_plane, redis_client):
    redis_client.flushdb()
    redis_client.hset(environments.WRITE_KEYS_HASH, "stale-key", "acme")
    environments.sync_write_keys(control_plane)
    assert redis_client.hgetall(environments.WRITE_KEYS_HASH) == {
        b"wk-acme": b"acme", b"wk-globex": b"globex", b"": b""}  # the last: the keys are loaded


def test_api_tokens_are_created_by_accounts_and_stored_hashed(client, gateway_engine):
    csrf = login(client)
    created = client.post("/api/v1/environments/acme/tokens", json={"name": "ci"}, headers={"X-CSRF-Token": csrf})
    token = created.json["token"]
    feed = client.get("/api/v1/environments/acme/users", headers={"Authorization": f"Bearer {token}"})
    assert feed.status_code == 200
    with gateway_engine.connect() as conn:
        stored = conn.execute(text("select token_hash from gateway.api_tokens")).scalars().all()
    assert token not in stored and len(stored) == 3


def test_tokens_cannot_mint_tokens(client):
    assert client.post("/api/v1/environments/acme/tokens", json={}, headers=bearer("acme")).status_code == 403


def test_bootstrap_is_deterministic_and_rerunnable(control_plane, monkeypatch, client):
    monkeypatch.setenv("FOOTFALL_WRITE_KEY", "boot-key")
    monkeypatch.setenv("FOOTFALL_API_TOKEN", "boot-token-123")
    monkeypatch.setenv("FOOTFALL_ADMIN_PASSWORD", "boot-password")
    monkeypatch.setenv("FOOTFALL_ADMIN_EMAIL", "boss@example.com")
    settings = control_plane.with_(env_id="boot", write_key="boot-key")
    first = bootstrap(settings)
    second = bootstrap(settings)
    assert first == second
    assert first["write_key"] == "boot-key" and first["api_token"] == "boot-token-123"
    assert environments.env_for_write_key("boot-key", settings) == "boot"
    response = client.get("/api/v1/environments/boot", headers={"Authorization": "Bearer boot-token-123"})
    assert response.status_code == 200 and response.json["write_key"] == "boot-key"
    assert client.post("/auth/login", json={"email": "boss@example.com",
                                            "password": "boot-password"}).status_code == 200


def test_bootstrap_without_a_given_write_key_returns_the_one_it_made(control_plane, monkeypatch):
    monkeypatch.delenv("FOOTFALL_WRITE_KEY", raising=False)
    settings = control_plane.with_(env_id="fresh", write_key="")
    first = bootstrap(settings)
    assert first["write_key"].startswith("wk_")
    assert environments.env_for_write_key(first["write_key"], settings) == "fresh"
    assert bootstrap(settings)["write_key"] == first["write_key"]  # a rerun keeps it


def test_bootstrap_command_prints_the_credentials(control_plane):
    env = {"DATABASE_URL": control_plane.database_url, "REDIS_URL": control_plane.redis_url,
           "AMQP_URL": control_plane.amqp_url, "FOOTFALL_ENV_ID": "cli", "FOOTFALL_WRITE_KEY": "cli-key",
           "FOOTFALL_API_TOKEN": "cli-token-1", "FOOTFALL_ADMIN_PASSWORD": "cli-password", "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-m", "gateway.bootstrap"], env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    for shown in ("cli-key", "cli-token-1", "cli-password", "admin@footfall.local"):
        assert shown in done.stdout
