"""A deleted user's replays: their S3 objects and index rows go; chunks still on their way are refused."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import text

from footfall import bus
from footfall.messages import ReplaysDeletionRequested
from footfall.replay_token import RecordingGrant
from services.replay.consumer import ReplayDeletionsConsumer
from services.replay.service import SessionDeleted
from tests.replay.helpers import bearer, chunk_body, rrweb_events, token
from tests.support import wait_until

ENV = "env-a"
NOW = datetime.now(timezone.utc)


def _grant(session_id: str) -> RecordingGrant:
    return RecordingGrant(ENV, session_id, "dev-1", NOW.replace(year=NOW.year + 1))


def _objects(replays) -> int:
    replays.storage.ensure_bucket()
    listed = replays.storage.client.list_objects_v2(Bucket=replays.storage.bucket, Prefix=f"replays/{ENV}/")
    return listed.get("KeyCount", 0)


def test_the_consumer_deletes_replays_and_later_chunks_are_refused(replay_settings, replays, replay_app,
                                                                    clean_bus):
    for session_id in ("s1", "s2", "kept"):
        for seq in range(3):
            replays.store_chunk(_grant(session_id), seq, chunk_body(rrweb_events(seq, full_snapshot=seq == 0)))
    assert _objects(replays) == 9
    consumer = ReplayDeletionsConsumer(replay_settings).start()
    publisher = bus.Publisher(replay_settings)
    request = ReplaysDeletionRequested(env_id=ENV, deletion_id="del-1", requested_at=NOW,
                                       session_ids=["s1", "s2", "never-recorded"])
    try:
        publisher.publish(request)
        publisher.publish(request)  # redelivered, or announced again: nothing more happens
        wait_until(lambda: consumer.handled >= 2, message="both deliveries handled")
    finally:
        consumer.stop()
        publisher.close()
    assert _objects(replays) == 3
    with replays.index.engine.connect() as conn:
        assert conn.execute(text("select session_id from sessions")).scalars().all() == ["kept"]
        counts = conn.execute(text("select counts from deletions")).scalar()
    assert counts == {"replays": 2, "chunks": 6, "objects": 6}
    with pytest.raises(SessionDeleted):
        replays.store_chunk(_grant("s1"), 3, chunk_body(rrweb_events(3)))
    client = replay_app.test_client()
    answer = client.post("/replay/v1/chunks?seq=4", data=chunk_body(rrweb_events(4)),
                         headers=bearer(token(replay_settings.replay_token_secret, ENV, "s2")))
    assert answer.status_code == 410 and _objects(replays) == 3
