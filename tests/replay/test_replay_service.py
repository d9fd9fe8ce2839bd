"""The replay service over moto's S3 server: tokens, uploads, idempotence, playback order, the bus."""
from datetime import timedelta

import botocore.auth
import pytest
import requests
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from footfall import bus
from footfall.messages import decode
from services.replay import chunks
from services.replay.storage import ChunkStorage, StorageUnavailable
from tests.replay.helpers import bearer, chunk_body, rrweb_events, token

CHUNKS = "/replay/v1/chunks"


def upload(client, secret, seq, events, **token_args):
    return client.post(f"{CHUNKS}?seq={seq}", data=chunk_body(events),
                       headers=bearer(token(secret, **token_args)))


def test_tokens_forged_expired_or_for_another_session_are_refused(replay_app, replay_settings, clock):
    client, secret, body = replay_app.test_client(), replay_settings.replay_token_secret, chunk_body(
        rrweb_events(0))
    assert client.post(f"{CHUNKS}?seq=0", data=body).status_code == 401
    forged = client.post(f"{CHUNKS}?seq=0", data=body, headers=bearer(token("another-secret")))
    assert forged.status_code == 401 and "signature" in forged.json["error"]["message"]
    tampered = token(secret)[:-3] + "AAA"
    assert client.post(f"{CHUNKS}?seq=0", data=body, headers=bearer(tampered)).status_code == 401
    expired = client.post(f"{CHUNKS}?seq=0", data=body,
                          headers=bearer(token(secret, now=clock.now - timedelta(minutes=16))))
    assert expired.status_code == 401 and "expired" in expired.json["error"]["message"]
    other_env = client.post(f"{CHUNKS}?seq=0&env_id=env-b", data=body, headers=bearer(token(secret)))
    assert other_env.status_code == 403 and other_env.json["error"]["field"] == "env_id"
    other_session = client.post(f"{CHUNKS}?seq=0&session_id=sess-2", data=body, headers=bearer(token(secret)))
    assert other_session.status_code == 403
    assert client.get("/internal/v1/envs/env-a/replays/sess-1").status_code == 404, "nothing stored"


def test_a_token_of_one_environment_writes_only_into_it(replay_app, replay_settings):
    client = replay_app.test_client()
    secret = replay_settings.replay_token_secret
    assert upload(client, secret, 0, rrweb_events(0), env_id="env-a", session_id="shared").status_code == 201
    assert client.get("/internal/v1/envs/env-b/replays/shared").status_code == 404
    assert client.get("/internal/v1/envs/env-a/replays/shared").status_code == 200


def test_chunks_uploaded_out_of_order_play_back_in_order(replay_app, replay_settings):
    client, secret = replay_app.test_client(), replay_settings.replay_token_secret
    for seq in (3, 0, 2, 1):
        response = upload(client, secret, seq, rrweb_events(seq, full_snapshot=seq == 0))
        assert response.status_code == 201 and response.json == {
            "session_id": "sess-1", "seq": seq, "duplicate": False}
    manifest = client.get("/internal/v1/envs/env-a/replays/sess-1").json
    assert [c["seq"] for c in manifest["chunks"]] == [0, 1, 2, 3]
    assert manifest["has_full_snapshot"] and manifest["chunk_count"] == 4
    assert manifest["device_id"] == "dev-1"
    # The 60-second pre-signed URLs are real: fetched over HTTP from the S3 endpoint.
    # Stored with Content-Encoding: gzip, so a browser (and requests) inflates them on the way.
    fetched = [requests.get(c["url"], timeout=5).json() for c in manifest["chunks"]]
    assert [events[0]["data"]["chunk"] for events in fetched] == [0, 1, 2, 3]
    assert all("X-Amz-Expires=60" in c["url"] for c in manifest["chunks"])
    inline = client.get("/internal/v1/envs/env-a/replays/sess-1?inline=1").json
    timestamps = [event["timestamp"] for event in inline["events"]]
    assert timestamps == sorted(timestamps) and len(timestamps) == 12
    assert inline["events"][0]["type"] == 2


def test_a_repeated_chunk_is_stored_once(replay_app, replay_settings):
    client, secret = replay_app.test_client(), replay_settings.replay_token_secret
    first = upload(client, secret, 0, rrweb_events(0))
    again = upload(client, secret, 0, rrweb_events(0))
    assert (first.status_code, again.status_code, again.json["duplicate"]) == (201, 200, True)
    manifest = client.get("/internal/v1/envs/env-a/replays/sess-1").json
    assert manifest["chunk_count"] == 1 and manifest["bytes"] == len(chunk_body(rrweb_events(0)))


def test_chunks_over_20_mb_get_a_clear_413(replay_app, replay_settings):
    client = replay_app.test_client()
    response = client.post(f"{CHUNKS}?seq=0", data=b"x" * (20 * 1024 * 1024 + 1),
                           headers=bearer(token(replay_settings.replay_token_secret)))
    assert response.status_code == 413
    assert "larger than 20 MB" in response.json["error"]["message"]


def test_bad_bodies_and_seqs_are_400s_naming_the_problem(replay_app, replay_settings):
    client, auth = replay_app.test_client(), bearer(token(replay_settings.replay_token_secret))
    not_gzip = client.post(f"{CHUNKS}?seq=0", data=b"[]", headers=auth)
    assert not_gzip.status_code == 400 and "gzip" in not_gzip.json["error"]["message"]
    no_seq = client.post(CHUNKS, data=chunk_body(rrweb_events(0)), headers=auth)
    assert no_seq.status_code == 400 and "'seq'" in no_seq.json["error"]["message"]


def test_the_browser_sdk_may_upload_cross_origin(replay_app):
    preflight = replay_app.test_client().options(CHUNKS, headers={
        "Origin": "https://shop.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type"})
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] in ("*", "https://shop.example")
    assert "authorization" in preflight.headers["Access-Control-Allow-Headers"].lower()


def test_replay_recorded_lands_on_sessions_facts_once_per_change(replay_app, replay_settings, clean_bus):
    client, secret = replay_app.test_client(), replay_settings.replay_token_secret
    upload(client, secret, 1, rrweb_events(1))  # no full snapshot yet
    upload(client, secret, 1, rrweb_events(1))  # a repeat: nothing new to say
    upload(client, secret, 0, rrweb_events(0, full_snapshot=True))
    upload(client, secret, 2, rrweb_events(2))  # nothing new for the feed
    connection, channel = bus.open_channel(replay_settings)
    try:
        messages = []
        while (got := channel.basic_get("sessions.facts", auto_ack=True))[0] is not None:
            messages.append(decode(got[0].routing_key, got[2]))
    finally:
        connection.close()
    assert [m.routing_key for m in messages] == ["replay.recorded", "replay.recorded"]
    assert [m.replays[0].has_full_snapshot for m in messages] == [False, True]
    first = messages[0]
    assert first.env_id == "env-a" and first.replays[0].session_id == "sess-1"
    assert first.replays[0].device_id == "dev-1"


def test_a_chunk_whose_announcement_failed_is_announced_when_retried(
        replay_app, replays, replay_settings, clean_bus):
    client, secret = replay_app.test_client(), replay_settings.replay_token_secret
    working = replays.publisher
    replays.publisher = bus.Publisher(replay_settings.with_(amqp_url="amqp://guest:guest@127.0.0.1:1/%2F"))
    failed = upload(client, secret, 0, rrweb_events(0, full_snapshot=True))
    assert failed.status_code == 503 and failed.headers["Retry-After"]
    replays.publisher = working
    retried = upload(client, secret, 0, rrweb_events(0, full_snapshot=True))
    assert retried.status_code == 200 and retried.json["duplicate"]
    assert bus.queue_depths(replay_settings)["sessions.facts"] == 1


@hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(env_id=st.text(min_size=1, max_size=20), session_id=st.text(min_size=1, max_size=40),
       seqs=st.lists(st.integers(0, chunks.MAX_SEQ), min_size=1, max_size=3))
def test_signed_urls_are_the_ones_botocore_presigns(replays, monkeypatch, env_id, session_id, seqs):
    """The storage signs its GET (manifest) and PUT (upload) URLs itself, for speed; they must
    equal botocore's, byte for byte."""
    now = botocore.auth.get_current_datetime()
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: now)
    storage = replays.storage
    keys = [chunks.chunk_key(env_id, session_id, seq) for seq in seqs]
    for method, operation in (("GET", "get_object"), ("PUT", "put_object")):
        expected = [storage.client.generate_presigned_url(
            operation, Params={"Bucket": storage.bucket, "Key": key}, ExpiresIn=60) for key in keys]
        assert storage.signed_urls(method, keys, now=now) == expected
    assert storage.chunk_urls(env_id, session_id, seqs, now=now) == storage.signed_urls("GET", keys, now=now)
    assert "X-Amz-Security-Token=" in expected[0], "the session token of the test credentials is signed in"


def test_a_chunk_is_stored_as_gzip_json(replays):
    body = chunk_body(rrweb_events(0))
    replays.storage.put_chunk("env-put", "sess-put", 7, body)
    stored = replays.storage.client.get_object(Bucket=replays.storage.bucket,
                                               Key=chunks.chunk_key("env-put", "sess-put", 7))
    assert (stored["ContentType"], stored["ContentEncoding"]) == ("application/json", "gzip")
    assert stored["Body"].read() == body


def test_storage_that_refuses_or_cannot_be_reached_is_unavailable(replays, replay_settings):
    body = chunk_body(rrweb_events(0))
    missing_bucket = ChunkStorage(replay_settings.with_(s3_bucket="ff-replay-never-created"))
    missing_bucket._ready = True  # skip the creation: S3 answers 404 NoSuchBucket
    with pytest.raises(StorageUnavailable, match="404"):
        missing_bucket.put_chunk("env-a", "sess-1", 0, body)
    unreachable = ChunkStorage(replay_settings.with_(s3_endpoint_url="http://127.0.0.1:1"))
    unreachable._ready = True
    with pytest.raises(StorageUnavailable, match="unreachable"):
        unreachable.put_chunk("env-a", "sess-1", 0, body)


def test_an_upload_while_s3_is_down_asks_for_a_retry(replay_app, replays, replay_settings):
    client, secret = replay_app.test_client(), replay_settings.replay_token_secret
    working = replays.storage
    replays.storage = ChunkStorage(replay_settings.with_(s3_endpoint_url="http://127.0.0.1:1"))
    replays.storage._ready = True
    failed = upload(client, secret, 0, rrweb_events(0, full_snapshot=True))
    assert failed.status_code == 503 and failed.headers["Retry-After"]
    replays.storage = working
    assert upload(client, secret, 0, rrweb_events(0, full_snapshot=True)).status_code == 201
