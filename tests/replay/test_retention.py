"""Retention: exactly the sessions past it lose their objects and index rows; nothing else."""
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from services.replay.storage import LIFECYCLE_RULE_ID
from services.replay.store import chunks, sessions
from tests.replay.helpers import chunk_body, rrweb_events, token

ROOT = Path(__file__).resolve().parents[2]


def record(client, secret, clock, env_id, session_id, age_days, seqs=(0,)):
    """Upload a session's chunks as if it was recorded `age_days` ago."""
    real_now = clock.now
    clock.now = real_now - timedelta(days=age_days)
    for seq in seqs:
        response = client.post(f"/replay/v1/chunks?seq={seq}", data=chunk_body(rrweb_events(seq)),
                               headers={"Authorization": "Bearer " + token(
                                   secret, env_id=env_id, session_id=session_id, now=clock.now)})
        assert response.status_code == 201
    clock.now = real_now


def stored_keys(replays):
    listing = replays.storage.client.list_objects_v2(Bucket=replays.storage.bucket)
    return sorted(item["Key"] for item in listing.get("Contents", []))


def test_retention_deletes_exactly_the_expired_sessions(replay_app, replays, replay_settings, clock):
    client, secret = replay_app.test_client(), replay_settings.replay_token_secret
    record(client, secret, clock, "env-a", "old", 45, seqs=(0, 1, 2))
    record(client, secret, clock, "env-b", "old", 31)
    record(client, secret, clock, "env-a", "young", 29, seqs=(0, 1))
    record(client, secret, clock, "env-a", "fresh", 0)
    record(client, secret, clock, "env-a", "old-prefix-twin", 1)  # shares a prefix start with "old"
    replays.storage.client.put_object(Bucket=replays.storage.bucket, Key="other/keep.txt", Body=b"x")

    # Past retention a replay is unplayable at once, before the job has run.
    assert client.get("/internal/v1/envs/env-a/replays/old").status_code == 404
    assert client.get("/internal/v1/envs/env-a/replays/young").status_code == 200

    env = {**os.environ, "DATABASE_URL": replay_settings.database_url,
           "AMQP_URL": replay_settings.amqp_url, "S3_ENDPOINT_URL": replay_settings.s3_endpoint_url,
           "S3_BUCKET": replay_settings.s3_bucket, "LOG_LEVEL": "WARNING"}
    done = subprocess.run([sys.executable, "-m", "services.replay.retention", "--days", "30"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "deleted 2 replay sessions" in done.stdout

    assert stored_keys(replays) == [
        "other/keep.txt",
        "replays/env-a/fresh/00000000.json.gz",
        "replays/env-a/old-prefix-twin/00000000.json.gz",
        "replays/env-a/young/00000000.json.gz",
        "replays/env-a/young/00000001.json.gz",
    ]
    with replays.index.engine.connect() as conn:
        left = sorted(conn.execute(select(sessions.c.env_id, sessions.c.session_id)).all())
        chunk_rows = sorted(conn.execute(select(chunks.c.session_id, chunks.c.seq)).all())
    assert left == [("env-a", "fresh"), ("env-a", "old-prefix-twin"), ("env-a", "young")]
    assert chunk_rows == [("fresh", 0), ("old-prefix-twin", 0), ("young", 0), ("young", 1)]

    rules = replays.storage.client.get_bucket_lifecycle_configuration(
        Bucket=replays.storage.bucket)["Rules"]
    ours = [rule for rule in rules if rule["ID"] == LIFECYCLE_RULE_ID]
    assert ours and ours[0]["Expiration"]["Days"] == 31
    assert ours[0]["Filter"]["Prefix"] == "replays/"


def test_a_second_run_deletes_nothing_more(replay_app, replays, replay_settings, clock):
    client, secret = replay_app.test_client(), replay_settings.replay_token_secret
    record(client, secret, clock, "env-a", "old", 40)
    record(client, secret, clock, "env-a", "kept", 3)
    assert replays.delete_expired() == 1
    assert replays.delete_expired() == 0
    assert stored_keys(replays) == ["replays/env-a/kept/00000000.json.gz"]
