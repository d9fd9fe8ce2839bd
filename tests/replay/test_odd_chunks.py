"""Replay inputs that once ended in a 5xx or lost data silently."""
import gzip

import orjson
import pytest

from services.replay import chunks
from tests.replay.helpers import bearer, rrweb_events, token
from tests.replay.test_gateway_replay_api import START

CHUNKS = "/replay/v1/chunks"


@pytest.mark.parametrize("seq", ["²", "٣", "1²"])
def test_a_seq_of_non_ascii_digits_is_400(replay_app, replay_settings, seq):
    body = gzip.compress(orjson.dumps(rrweb_events(0)))
    response = replay_app.test_client().post(f"{CHUNKS}?seq={seq}", data=body,
                                             headers=bearer(token(replay_settings.replay_token_secret)))
    assert response.status_code == 400 and "seq" in response.json["error"]["message"]


def test_a_chunk_nested_5000_deep_is_400(replay_app, replay_settings):
    deep = b'[{"type":2,"timestamp":1,"data":' + b"[" * 5000 + b"]" * 5000 + b"}]"
    response = replay_app.test_client().post(f"{CHUNKS}?seq=0", data=gzip.compress(deep),
                                             headers=bearer(token(replay_settings.replay_token_secret)))
    assert response.status_code == 400 and "nested too deeply" in response.json["error"]["message"]


def test_every_gzip_member_of_a_chunk_is_read_and_stored_as_one(replay_app, replay_settings):
    events = rrweb_events(0, count=4, full_snapshot=True)
    whole = orjson.dumps(events)
    body = gzip.compress(whole[:40]) + gzip.compress(whole[40:])
    client = replay_app.test_client()
    response = client.post(f"{CHUNKS}?seq=0", data=body, headers=bearer(token(replay_settings.replay_token_secret)))
    assert response.status_code == 201
    inline = client.get("/internal/v1/envs/env-a/replays/sess-1?inline=1").json
    assert len(inline["events"]) == 4
    stored = replay_app.extensions["replays"].storage.get_chunk("env-a", "sess-1", 0)
    assert gzip.decompress(stored) == whole and stored.count(chunks.GZIP_MAGIC) == 1


def test_data_after_the_last_member_that_is_not_gzip_is_refused():
    with pytest.raises(chunks.BadChunk, match="after the last gzip member"):
        chunks.read_events(gzip.compress(orjson.dumps(rrweb_events(0))) + b"junk")


def test_a_nul_in_the_write_key_at_the_start_of_recording_is_400(gateway_app, environment):
    response = gateway_app.test_client().post(START, json={"write_key": "wk\x00", "session_id": "s",
                                                           "device_id": "d"})
    assert response.status_code == 400
    assert response.json["error"]["field"] == "write_key"  # the gateway refuses a NUL in any body
