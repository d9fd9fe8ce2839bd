"""Each replay attack found in the security review, reproduced: every one must fail now."""
from __future__ import annotations

import gzip
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import orjson
import pytest
import requests

from footfall.replay_token import RecordingGrant, sign_recording_token
from gateway.app import create_app as create_gateway_app
from services.replay import chunks
from services.replay.app import create_app as create_replay_app
from tests.replay.helpers import BASE_MS, bearer, chunk_body, rrweb_events, token
from tests.replay.test_gateway_replay_api import START, start, status

CHUNKS = "/replay/v1/chunks"
ROOT = Path(__file__).resolve().parents[2]


def manifest(client, env_id="env-a", session_id="sess-1"):
    return client.get(f"/internal/v1/envs/{env_id}/replays/{session_id}")


# --- forged tokens (the default secret, a far expiry, a made-up environment) ------------------------


def test_a_token_signed_with_the_old_default_secret_is_refused(replay_app):
    client = replay_app.test_client()
    forged = sign_recording_token("dev-only-replay-secret", RecordingGrant(
        "env-a", "never-admitted", "d", datetime.now(timezone.utc) + timedelta(minutes=5)))
    response = client.post(f"{CHUNKS}?seq=0", data=chunk_body(rrweb_events(0)), headers=bearer(forged))
    assert response.status_code == 401
    assert manifest(client, session_id="never-admitted").status_code == 404


def test_a_token_expiring_in_2100_is_refused(replay_app, replay_settings):
    client = replay_app.test_client()
    far = token(replay_settings.replay_token_secret, expires_in=datetime(2100, 1, 1, tzinfo=timezone.utc)
                - datetime.now(timezone.utc))
    response = client.post(f"{CHUNKS}?seq=0", data=chunk_body(rrweb_events(0)), headers=bearer(far))
    assert response.status_code == 401 and "further ahead" in response.json["error"]["message"]


def test_a_token_for_an_environment_that_does_not_exist_writes_nothing(replay_app, replay_settings):
    client = replay_app.test_client()
    ghost = token(replay_settings.replay_token_secret, env_id="ghost-env")
    response = client.post(f"{CHUNKS}?seq=0", data=chunk_body(rrweb_events(0)), headers=bearer(ghost))
    assert response.status_code == 401 and "does not exist" in response.json["error"]["message"]
    assert manifest(client, env_id="ghost-env").status_code == 404


# --- memory: inflation and playback -------------------------------------------------------------------


def test_an_upload_inflating_far_beyond_its_size_is_refused(replay_app, replay_settings):
    """The attack: 179 KB of gzip inflating to 60 MB was stored (and later played back whole)."""
    padding = "x" * (60 * 1024 * 1024)
    bomb = gzip.compress(orjson.dumps([{"type": 2, "timestamp": BASE_MS, "data": {"pad": padding}}]), 9)
    assert len(bomb) < 200 * 1024
    response = replay_app.test_client().post(f"{CHUNKS}?seq=0", data=bomb,
                                             headers=bearer(token(replay_settings.replay_token_secret)))
    assert response.status_code == 413 and response.json["error"]["limit_bytes"] == chunks.MAX_INFLATED_BYTES
    assert manifest(replay_app.test_client()).status_code == 404


def _big_chunk(seq: int, events: int = 2_000) -> bytes:
    """About 4 MB of rrweb events once inflated (each ~2 KB of mutation text)."""
    return chunk_body([{"type": 3, "timestamp": BASE_MS + seq * 10_000 + i,
                        "data": {"source": 0, "texts": [{"id": i, "value": f"{seq}-{i}-" + "t" * 2000}]}}
                       for i in range(events)])


@pytest.fixture(scope="module")
def s3_elsewhere():
    """The local S3 in a process of its own: moto's own allocations stay out of the measurement."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-w", "1", "-k", "gthread", "--threads", "4",
                               "-b", f"127.0.0.1:{port}", "footfall.local_s3:app"], cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(url + "/moto-api/", timeout=1)
                break
            except requests.RequestException:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.2)
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(20)


def test_inline_playback_streams_in_flat_memory(settings, replay_settings, s3_elsewhere, serve, trial_tables,
                                                environment, clock):
    """The attack: playing back a 60 MB recording (?inline=1, as the UI does) took the worker to
    760 MB, ~11 bytes per inflated byte. Now the recording is streamed: the gateway's and the
    replay service's memory while serving it stays below one chunk's inflated size."""
    stored_in = replay_settings.with_(s3_endpoint_url=s3_elsewhere)
    replay_app = create_replay_app(stored_in)
    gateway_app = create_gateway_app(settings.with_(replay_url=serve(replay_app)))
    grant = start(gateway_app.test_client(), environment, "long").json
    uploader = replay_app.test_client()
    for seq in range(4):
        assert uploader.post(f"{CHUNKS}?seq={seq}", data=_big_chunk(seq),
                             headers=bearer(grant["token"])).status_code == 201
    replay_app.extensions["replays"].publisher.close()
    # Played back in a process of its own: other tests' threads must not allocate meanwhile.
    env = {**os.environ, "S3_ENDPOINT_URL": s3_elsewhere, "S3_BUCKET": stored_in.s3_bucket}
    done = subprocess.run([sys.executable, "-m", "tests.replay.playback_memory", environment["id"], "long",
                           environment["api_token"]], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    measured = orjson.loads(done.stdout.strip().splitlines()[-1])
    for side, played in measured.items():  # the replay service, then the gateway proxying it
        assert played["status"] == 200 and played["written"] > 15 * 1024 * 1024, side  # 4 chunks of ~4 MB
        assert played["peak"] < 4 * 1024 * 1024, f"{side}: peak {played['peak'] / 2**20:.1f} MB for 16 MB"
        assert len(played["events"]) == 8_000 and played["events"][1999:2001] == [1999, 0], side


# --- quotas per session ---------------------------------------------------------------------------------


@pytest.mark.parametrize("quota, limit_name, limit", [
    ("session_chunks", "MAX_SESSION_CHUNKS", 3),
    ("session_events", "MAX_SESSION_EVENTS", 9),
    ("session_bytes", "MAX_SESSION_BYTES", 3 * len(chunk_body(rrweb_events(0))) + 10),
])
def test_a_session_stops_at_each_quota_saying_which(replay_app, replay_settings, monkeypatch, quota, limit_name,
                                                    limit):
    """The attack: a session could hold 100,000,000 chunks of 256 MB each."""
    monkeypatch.setattr(chunks, limit_name, limit)
    client, secret = replay_app.test_client(), replay_settings.replay_token_secret
    for seq in range(3):
        assert client.post(f"{CHUNKS}?seq={seq}", data=chunk_body(rrweb_events(seq)),
                           headers=bearer(token(secret))).status_code == 201
    over = client.post(f"{CHUNKS}?seq=3", data=chunk_body(rrweb_events(3)), headers=bearer(token(secret)))
    assert over.status_code == 413
    assert over.json["error"]["quota"] == quota and over.json["error"]["limit"] == limit
    assert manifest(client).json["chunk_count"] == 3


def test_the_default_quotas_fit_a_four_hour_session():
    four_hours_s = 4 * 3600
    assert chunks.MAX_SESSION_CHUNKS >= four_hours_s / 5  # the SDK sends a chunk every 5 s at least
    assert chunks.MAX_SESSION_EVENTS >= four_hours_s * 30  # rrweb's sampled moves and scrolls
    assert chunks.MAX_INFLATED_BYTES <= 16 * 1024 * 1024


# --- write-once chunks ------------------------------------------------------------------------------------


def test_a_second_token_for_a_session_cannot_overwrite_its_chunks(replay_app, replays, replay_settings):
    """The attack: a second token for the session rewrote chunk 0 while answering duplicate: true."""
    client, secret = replay_app.test_client(), replay_settings.replay_token_secret
    original = chunk_body(rrweb_events(0, full_snapshot=True))
    assert client.post(f"{CHUNKS}?seq=0", data=original,
                       headers=bearer(token(secret, device_id="dev-1"))).status_code == 201
    forged = chunk_body([{"type": 2, "timestamp": BASE_MS, "data": {"defaced": True}}])
    again = client.post(f"{CHUNKS}?seq=0", data=forged, headers=bearer(token(secret, device_id="dev-2")))
    assert again.status_code == 200 and again.json["duplicate"] is True
    assert replays.storage.get_chunk("env-a", "sess-1", 0) == original


def test_s3_refuses_to_replace_a_chunk_and_an_unindexed_one_is_indexed_as_stored(replay_app, replays,
                                                                                  replay_settings):
    """A chunk stored but not indexed (a failure between the two) is indexed from what S3 holds."""
    from services.replay.storage import ChunkExists

    stored = chunk_body(rrweb_events(5, count=4))
    replays.storage.put_chunk("env-a", "sess-1", 5, stored)
    with pytest.raises(ChunkExists):
        replays.storage.put_chunk("env-a", "sess-1", 5, chunk_body(rrweb_events(5, count=1)))
    client = replay_app.test_client()
    response = client.post(f"{CHUNKS}?seq=5", data=chunk_body(rrweb_events(5, count=1)),
                           headers=bearer(token(replay_settings.replay_token_secret)))
    assert response.status_code == 201
    assert replays.storage.get_chunk("env-a", "sess-1", 5) == stored
    (chunk,) = manifest(client).json["chunks"]
    assert (chunk["event_count"], chunk["bytes"]) == (4, len(stored))


# --- session ids ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("session_id", [".", "..", "-x", "a/b"])
def test_session_ids_that_escape_the_environment_prefix_are_refused(gateway_app, environment, replay_app,
                                                                    session_id):
    """The attack: `.` and `..` wrote `replays/00000000.json.gz`, shared by every environment."""
    response = gateway_app.test_client().post(START, json={
        "write_key": environment["write_key"], "session_id": session_id, "device_id": "d"})
    assert response.status_code == 400
    assert manifest(replay_app.test_client(), environment["id"], session_id).status_code in (404, 308)


# --- admission: tied to its device, rate-limited -------------------------------------------------------


def test_an_admitted_session_gets_tokens_only_for_the_device_that_started_it(gateway_app, environment,
                                                                               trial_store):
    """The attack: after the trial ended, any device got new tokens for an admitted session id."""
    client = gateway_app.test_client()
    assert start(client, environment, "s-1", "dev-1").status_code == 200
    trial_store.set_plan(environment["id"], "trial", trial_limit=1)  # the trial is now used up
    assert start(client, environment, "s-2", "dev-2").status_code == 402
    stolen = start(client, environment, "s-1", "dev-2")
    assert stolen.status_code == 403 and stolen.json["error"]["reason"] == "other_device"
    assert start(client, environment, "s-1", "dev-1").status_code == 200  # the owner goes on


def _limited_app(settings, serve, replay_app, clock, **limits):
    app = create_gateway_app(settings.with_(replay_url=serve(replay_app), **limits))
    app.extensions["replay_trial"].clock = clock
    return app


def _same_minute() -> None:
    """The limits count per clock minute: start well inside one."""
    if time.time() % 60 > 50:
        time.sleep(61 - time.time() % 60)


def test_new_sessions_of_an_environment_are_rate_limited(settings, serve, replay_app, clock, trial_tables,
                                                         environment):
    """The attack: the public write key admitted 78 sessions a second, the trial gone in 2 minutes."""
    client = _limited_app(settings, serve, replay_app, clock, replay_new_sessions_per_env=5,
                          replay_new_sessions_per_ip=0).test_client()
    _same_minute()
    answers = [start(client, environment, f"s-{i}", f"dev-{i}") for i in range(8)]
    assert [a.status_code for a in answers] == [200] * 5 + [429] * 3
    assert int(answers[-1].headers["Retry-After"]) > 0 and answers[-1].json["error"]["limit"] == "env"
    assert status(client, environment)["sessions_used"] == 5
    assert start(client, environment, "s-0", "dev-0").status_code == 200  # asking again is no new session


def test_starts_per_device_and_new_sessions_per_address_are_rate_limited(settings, serve, replay_app, clock,
                                                                          trial_tables, environment):
    client = _limited_app(settings, serve, replay_app, clock, replay_starts_per_device=3,
                          replay_new_sessions_per_ip=4).test_client()
    _same_minute()
    by_device = [start(client, environment, f"d-{i}", "one-device").status_code for i in range(4)]
    assert by_device == [200, 200, 200, 429]
    by_address = [start(client, environment, f"a-{i}", f"device-{i}").status_code for i in range(3)]
    assert by_address == [200, 429, 429]  # four new sessions from 127.0.0.1 this minute already

