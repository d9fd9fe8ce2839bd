"""Ingest over HTTP (Flask test client) on the real broker and Redis: success, every error, limits."""
import gzip
import time

import orjson
import pytest
import redis as redis_lib
import requests

from footfall.messages import EventsCaptured, IdentityCommands
from footfall.pipeline_lag import lag
from services.ingest import api
from services.ingest.app import create_app
from services.ingest.keys import LOADED_FIELD, WRITE_KEYS_HASH
from tests.ingest.conftest import ENV_ID, WRITE_KEY, basic, drain


def track(i=0, **fields):
    return {"type": "track", "event": f"E{i}", "anonymousId": f"a{i}", "messageId": f"m{i}", **fields}


def post(client, path, body, headers=None, content_type="application/json", **kwargs):
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    return client.post(path, data=data, headers={**basic(), **(headers or {})}, content_type=content_type, **kwargs)


def published(settings):
    return drain(settings, "sessions.events"), drain(settings, "identity.inbox")


def test_a_batch_is_one_events_message_and_one_commands_message(client, settings, clean_bus):
    body = {"batch": [track(1), track(2), {"type": "identify", "anonymousId": "a1", "userId": "ada"}]}
    response = post(client, "/v1/batch", body)
    assert response.status_code == 200
    assert response.json == {"success": True, "accepted": 3, "errors": []}
    [events], inbox = published(settings)
    assert isinstance(events, EventsCaptured) and events.env_id == ENV_ID
    assert [e.event_id for e in events.events] == ["m1", "m2"]
    assert sorted(type(m).__name__ for m in inbox) == ["EventsCaptured", "IdentityCommands"]
    [commands] = [m for m in inbox if isinstance(m, IdentityCommands)]
    assert commands.commands[0].identity == "ada"


def test_write_key_may_come_in_the_body_and_json_as_text_plain(client, settings, clean_bus):
    response = client.post("/v1/track", data=orjson.dumps({**track(), "writeKey": WRITE_KEY}),
                           content_type="text/plain;charset=UTF-8")
    assert response.status_code == 200
    assert len(drain(settings, "sessions.events")) == 1


def test_gzip_bodies_are_inflated(client, settings, clean_bus):
    body = gzip.compress(orjson.dumps({"batch": [track(i) for i in range(50)]}))
    response = post(client, "/v1/batch", body, headers={"Content-Encoding": "gzip"})
    assert response.status_code == 200 and response.json["accepted"] == 50


def test_heap_endpoints_accept_with_202(client, settings, clean_bus):
    track_response = post(client, "/api/track", {"app_id": WRITE_KEY, "events": [
        {"identity": "ada", "event": "Paid", "idempotency_key": "k1"}]})
    props = post(client, "/api/add_user_properties", {"app_id": WRITE_KEY, "identity": "ada",
                                                      "properties": {"plan": "pro"}})
    identify = post(client, "/api/v1/identify", {"app_id": WRITE_KEY, "identity": "ada", "user_id": "77"})
    assert [r.status_code for r in (track_response, props, identify)] == [202, 202, 202]
    [events] = drain(settings, "sessions.events")
    assert events.events[0].event_id == "k1"
    commands = [c.type for m in drain(settings, "identity.inbox") if isinstance(m, IdentityCommands)
                for c in m.commands]
    assert sorted(commands) == ["identify", "set_user_properties"]


def test_invalid_items_are_reported_by_index_and_the_rest_accepted(client, settings, clean_bus):
    response = post(client, "/v1/batch", {"batch": [track(0), {"type": "track", "anonymousId": "x"}, track(2)]})
    assert response.status_code == 200
    assert response.json["accepted"] == 2
    assert response.json["errors"] == [{"index": 1, "field": "event", "message": "is required for track"}]
    [events] = drain(settings, "sessions.events")
    assert len(events.events) == 2


def test_a_request_with_no_valid_item_is_400_and_publishes_nothing(client, settings, clean_bus):
    response = post(client, "/v1/batch", {"batch": [{"type": "track", "anonymousId": "x"}]})
    assert response.status_code == 400
    assert response.json["error"]["errors"][0] == {"index": 0, "field": "event", "message": "is required for track"}
    single = post(client, "/v1/track", {"anonymousId": "x"})
    assert single.status_code == 400 and single.json["error"]["field"] == "event"
    assert published(settings) == ([], [])


@pytest.mark.parametrize("path, body, field", [
    ("/v1/batch", b"{not json", "body"),
    ("/v1/batch", b"[1, 2]", "body"),
    ("/v1/batch", {"batch": "nope"}, "batch"),
    ("/v1/batch", {"batch": []}, "batch"),
    ("/v1/batch", {"batch": [track()], "sentAt": "later"}, "sentAt"),
    ("/api/track", {"event": "E", "identity": "x"}, "app_id"),
])
def test_malformed_json_or_envelope_is_400_naming_the_field(client, path, body, field):
    response = post(client, path, body)
    assert response.status_code == 400
    assert response.json["error"]["field"] == field
    assert response.json["code"] == "400" and response.json["message"]  # for Segment-style clients


def test_unknown_or_missing_write_key_is_401(client):
    assert post(client, "/v1/track", track(), headers=basic("nope")).status_code == 401
    missing = client.post("/v1/track", json=track())
    assert missing.status_code == 401 and missing.json["error"]["field"] == "writeKey"
    heap = post(client, "/api/track", {"app_id": "no-such-env", "identity": "a", "event": "E"})
    assert heap.status_code == 401 and heap.json["error"]["field"] == "app_id"


def test_write_keys_from_the_gateways_redis_hash(client, redis_client, settings, clean_bus):
    redis_client.hset(WRITE_KEYS_HASH, "gw-key", "env-from-gateway")
    assert post(client, "/v1/track", track(), headers=basic("gw-key")).status_code == 200
    heap = post(client, "/api/track", {"app_id": "gw-key", "identity": "a", "event": "E"})
    assert heap.status_code == 202
    assert {m.env_id for m in drain(settings, "sessions.events")} == {"env-from-gateway"}


def test_an_environment_id_is_no_heap_app_id(client, settings, clean_bus):
    """The attack: the environment id is no secret and cannot be rotated, so it must not open the
    Heap API (it was accepted, even after every key of the environment was rotated)."""
    for path, body in (("/api/track", {"identity": "a", "event": "E"}),
                       ("/api/add_user_properties", {"identity": "a", "properties": {"plan": "pro"}}),
                       ("/api/v1/identify", {"identity": "a", "user_id": "7"})):
        response = post(client, path, {"app_id": ENV_ID, **body})
        assert response.status_code == 401 and response.json["error"]["field"] == "app_id", path
    assert published(settings) == ([], [])


def test_no_key_is_built_in_every_one_is_revocable(ingest_settings, redis_client, settings, clean_bus):
    """The bootstrap environment's key lives in Redis like any other: rotated away, it stops."""
    redis_client.hset(WRITE_KEYS_HASH, mapping={WRITE_KEY: ENV_ID, LOADED_FIELD: ""})
    client = create_app(ingest_settings).test_client()
    assert post(client, "/v1/track", track()).status_code == 200
    redis_client.hdel(WRITE_KEYS_HASH, WRITE_KEY)  # the gateway rotated it
    fresh = create_app(ingest_settings).test_client()  # a process whose cache never saw it
    assert post(fresh, "/v1/track", track()).status_code == 401
    assert post(fresh, "/api/track", {"app_id": WRITE_KEY, "identity": "a", "event": "E"}).status_code == 401


def test_bodies_over_500_kb_are_413_even_when_gzipped(client, settings, clean_bus):
    big = {"batch": [track(i, properties={"pad": "x" * 1000}) for i in range(600)]}
    assert post(client, "/v1/batch", big).status_code == 413
    zipped = post(client, "/v1/batch", gzip.compress(orjson.dumps(big)), headers={"Content-Encoding": "gzip"})
    assert zipped.status_code == 413 and zipped.json["error"]["field"] == "body"
    assert published(settings) == ([], [])


def test_a_chunked_body_over_500_kb_is_413_not_cut(live_url):
    big = orjson.dumps({"batch": [track(i, properties={"pad": "x" * 1000}) for i in range(600)]})
    chunks = (big[i:i + 16384] for i in range(0, len(big), 16384))  # no Content-Length: chunked
    response = requests.post(live_url + "/v1/batch", data=chunks,
                             headers={**basic(), "Content-Type": "application/json"})
    assert response.status_code == 413


def test_a_zip_bomb_is_refused_without_inflating_it(client):
    bomb = gzip.compress(b" " * (64 * 1024 * 1024), compresslevel=9)  # 64 MB of spaces in ~64 KB
    assert len(bomb) < 500 * 1024
    response = post(client, "/v1/batch", bomb, headers={"Content-Encoding": "gzip"})
    assert response.status_code == 413


def test_broken_gzip_is_400(client):
    response = post(client, "/v1/batch", b"not gzip at all", headers={"Content-Encoding": "gzip"})
    assert response.status_code == 400 and response.json["error"]["field"] == "Content-Encoding"
    truncated = gzip.compress(orjson.dumps({"batch": [track()]}))[:-12]
    assert post(client, "/v1/batch", truncated, headers={"Content-Encoding": "gzip"}).status_code == 400


def test_more_than_1000_events_is_413(client):
    response = post(client, "/v1/batch", {"batch": [track(i) for i in range(1001)]})
    assert response.status_code == 413 and response.json["error"]["field"] == "batch"
    heap = post(client, "/api/track", {"app_id": WRITE_KEY, "events": [{"identity": "a", "event": "E"}] * 1001})
    assert heap.status_code == 413 and heap.json["error"]["field"] == "events"


def test_other_content_types_are_415(client):
    response = post(client, "/v1/batch", b"batch=1", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415 and response.json["error"]["field"] == "Content-Type"
    brotli = post(client, "/v1/batch", b"x", headers={"Content-Encoding": "br"})
    assert brotli.status_code == 415 and brotli.json["error"]["field"] == "Content-Encoding"


def test_rate_limit_per_environment_is_429_with_retry_after(ingest_settings, registered_key, settings, clean_bus):
    client = create_app(ingest_settings.with_(ingest_rate_limit=150, ingest_rate_window_s=60)).test_client()
    body = {"batch": [track(i) for i in range(100)]}
    assert post(client, "/v1/batch", body).status_code == 200
    limited = post(client, "/v1/batch", body)
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    [events] = drain(settings, "sessions.events")
    assert len(events.events) == 100  # the limited request published nothing
    refused = redis_lib.Redis.from_url(settings.redis_url).hgetall(f"footfall:ingest:rate_limited:{ENV_ID}")
    assert list(refused.values()) == [b"100"]  # counted per day for the gateway's ingestion page


def test_accepted_events_leave_a_pipeline_mark(client, settings, clean_bus):
    before = time.time()
    assert post(client, "/v1/batch", {"batch": [track(1)]}).status_code == 200
    found = lag(redis_lib.Redis.from_url(settings.redis_url), ENV_ID, time.time())
    assert before <= found["last_accepted"] <= time.time() and found["pending_since"] is not None


def test_cors_preflight_and_headers(client):
    preflight = client.options("/v1/batch", headers={"Origin": "https://shop.example",
                                                     "Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert "Content-Type" in preflight.headers["Access-Control-Allow-Headers"]
    error = client.post("/v1/track", json=track())
    assert error.headers["Access-Control-Allow-Origin"] == "*"
    custom = client.options("/v1/batch", headers={"Origin": "https://shop.example",
                                                  "Access-Control-Request-Method": "POST",
                                                  "Access-Control-Request-Headers": "content-type, x-retry-count"})
    assert custom.headers["Access-Control-Allow-Headers"] == "content-type, x-retry-count"


def test_sdk_bundles_are_served_with_long_cache_or_a_clear_404(client, tmp_path, monkeypatch):
    monkeypatch.setattr(api, "SDK_DIST", tmp_path)
    missing = client.get("/sdk.js")
    assert missing.status_code == 404 and "sdk/js/dist/footfall.js" in missing.json["error"]["message"]
    (tmp_path / "footfall-replay.js").write_text("window.FootfallReplay = {};")
    served = client.get("/sdk-replay.js")
    assert served.status_code == 200 and served.data == b"window.FootfallReplay = {};"
    assert served.mimetype == "text/javascript"
    assert "max-age=86400" in served.headers["Cache-Control"] and "public" in served.headers["Cache-Control"]
    assert served.headers["Access-Control-Allow-Origin"] == "*"


def test_openapi_describes_every_route(client):
    spec = client.get("/openapi.json").json
    assert set(spec["paths"]) >= {f"/v1/{t}" for t in ("batch", "track", "identify", "page", "screen", "alias",
                                                       "group")} | {"/api/track", "/api/add_user_properties",
                                                                    "/api/v1/identify", "/sdk.js", "/sdk-replay.js"}
    batch_schema = spec["paths"]["/v1/batch"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert batch_schema == {"$ref": "#/components/schemas/SegmentBatch"}
    assert "footfall" in spec["components"]["schemas"]["SegmentContext"]["properties"]


def test_client_address_from_x_forwarded_for_locates_browser_events(ingest_settings, registered_key, settings,
                                                                    clean_bus):
    behind_two_proxies = ingest_settings.with_(trusted_proxies=("127.0.0.1/32",), trusted_proxy_hops=2)
    client = create_app(behind_two_proxies).test_client()
    message = {**track(), "context": {"userAgent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/125.0"}}
    response = post(client, "/v1/track", message,
                    headers={"X-Forwarded-For": "203.0.113.9, 81.2.69.160, 10.0.0.2"})
    assert response.status_code == 200
    [events] = drain(settings, "sessions.events")
    event = events.events[0]
    # The two hops the proxies added count; what the client itself sent in front does not.
    assert event.ip == "81.2.69.160" and event.geo.country == "GB" and event.source == "web"


def test_x_forwarded_for_from_an_untrusted_peer_is_ignored(client, settings, clean_bus):
    """The attack: any client reaching ingest chose its own address (rate limits, geo, logs)."""
    message = {**track(), "context": {"userAgent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/125.0"}}
    response = post(client, "/v1/track", message, headers={"X-Forwarded-For": "81.2.69.160"})
    assert response.status_code == 200
    [events] = drain(settings, "sessions.events")
    assert events.events[0].ip == "127.0.0.1" and events.events[0].geo is None


def test_a_body_without_content_type_is_read_as_json(client, settings, clean_bus):
    response = client.post("/v1/track", data=orjson.dumps(track()), headers=basic())
    assert response.status_code == 200
