"""No default secrets: processes refuse to start without theirs, and `make run` generates them."""
from __future__ import annotations

import os
import stat
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from footfall.config import (
    MIN_SECRET_BYTES,
    MissingSecret,
    get_settings,
    load_secrets_file,
    require_secrets,
)
from footfall.replay_token import (
    InvalidRecordingToken,
    RecordingGrant,
    key_id,
    sign_recording_token,
    verify_recording_token,
)
from footfall.secretfile import complete, read_env_file
from footfall.web import create_service_app

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=timezone.utc)
OLD, NEW = "o" * 40, "n" * 40


def grant(**changes) -> RecordingGrant:
    values = {"env_id": "env-a", "session_id": "s-1", "device_id": "d-1", "expires_at": NOW + timedelta(minutes=15)}
    return RecordingGrant(**{**values, **changes})


def test_the_old_default_secret_is_gone(settings):
    """The attack: tokens signed with the built-in `dev-only-replay-secret` were accepted."""
    source = (ROOT / "footfall" / "config.py").read_text()
    assert "dev-only" not in source
    forged = sign_recording_token("dev-only-replay-secret", grant())
    with pytest.raises(InvalidRecordingToken):
        verify_recording_token(settings.replay_token_secrets, forged, NOW)


@pytest.mark.parametrize("value", ["", "short", "x" * (MIN_SECRET_BYTES - 1), f"{'a' * 40},tooshort"])
def test_missing_empty_or_short_secrets_are_refused(settings, value):
    weak = settings.with_(replay_token_secrets=tuple(v for v in value.split(",") if v),
                          service_tokens=tuple(v for v in value.split(",") if v))
    with pytest.raises(MissingSecret, match="REPLAY_TOKEN_SECRETS"):
        require_secrets(weak, "replay_token_secrets")
    with pytest.raises(MissingSecret, match="SERVICE_TOKENS"):
        create_service_app("weak", [], settings=weak)


def test_gateway_and_replay_refuse_to_start_without_the_replay_key(settings):
    from gateway.app import create_app as create_gateway
    from services.replay.app import create_app as create_replay

    for create in (create_gateway, create_replay):
        with pytest.raises(MissingSecret, match="REPLAY_TOKEN_SECRETS"):
            create(settings.with_(replay_token_secrets=()))


def test_a_production_process_exits_when_its_secret_is_missing(settings):
    """gunicorn with the replay service, as the Procfile and the image run it: it does not serve."""
    env = {**os.environ, "REPLAY_TOKEN_SECRETS": "", "BIND": "127.0.0.1:0", "WEB_CONCURRENCY": "1"}
    env.pop("FOOTFALL_SECRETS_FILE", None)
    done = subprocess.run([sys.executable, "-m", "gunicorn", "-c", "python:footfall.gunicorn_conf",
                           "services.replay.app:create_app()"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode != 0
    assert "REPLAY_TOKEN_SECRETS is not set" in done.stdout + done.stderr


def test_tokens_name_their_key_so_keys_rotate_without_downtime():
    token = sign_recording_token((OLD,), grant())
    assert token.startswith(key_id(OLD) + ".") and OLD not in token
    # Step 1: every verifier accepts the new key too (listed after the current one).
    assert verify_recording_token((OLD, NEW), token, NOW).session_id == "s-1"
    # Step 2: signers move to the new key; tokens of the old one stay valid while listed.
    rotated = sign_recording_token((NEW, OLD), grant())
    assert rotated.startswith(key_id(NEW) + ".")
    assert verify_recording_token((NEW, OLD), token, NOW).session_id == "s-1"
    # Step 3: the old key is dropped; its tokens are refused, naming the unknown key.
    with pytest.raises(InvalidRecordingToken, match="unknown key id"):
        verify_recording_token((NEW,), token, NOW)
    assert verify_recording_token((NEW,), rotated, NOW).session_id == "s-1"


def test_a_token_cannot_claim_another_key_id():
    token = sign_recording_token((OLD,), grant())
    swapped = key_id(NEW) + token[token.index("."):]
    with pytest.raises(InvalidRecordingToken, match="signature"):
        verify_recording_token((OLD, NEW), swapped, NOW)


def test_a_far_expiry_is_refused_when_the_verifier_bounds_it():
    """The attack's token expired in 2100; the gateway never issues more than 15 minutes."""
    token = sign_recording_token((OLD,), grant(expires_at=datetime(2100, 1, 1, tzinfo=timezone.utc)))
    with pytest.raises(InvalidRecordingToken, match="further ahead"):
        verify_recording_token((OLD,), token, NOW, max_lifetime=timedelta(hours=1))


@pytest.mark.parametrize("session_id", [".", "..", "a/b", "", "x" * 129, "-lead"])
def test_unsafe_session_ids_are_neither_signed_nor_accepted(session_id):
    with pytest.raises(ValueError):
        sign_recording_token((OLD,), grant(session_id=session_id))
    from itsdangerous import URLSafeTimedSerializer

    payload = {"env": "env-a", "sid": session_id, "did": "d", "exp": int((NOW + timedelta(minutes=5)).timestamp())}
    forged = key_id(OLD) + "." + URLSafeTimedSerializer(OLD, salt="footfall.replay.recording").dumps(payload)
    with pytest.raises(InvalidRecordingToken):
        verify_recording_token((OLD,), forged, NOW)


def test_the_secret_file_is_generated_once_and_kept(tmp_path):
    path = tmp_path / "local" / "secrets.env"
    assert set(complete(path)) == {"REPLAY_TOKEN_SECRETS", "SERVICE_TOKENS"}
    first = read_env_file(path)
    assert all(len(first[k].encode()) >= MIN_SECRET_BYTES for k in ("REPLAY_TOKEN_SECRETS", "SERVICE_TOKENS"))
    assert first["REPLAY_TOKEN_SECRETS"] != first["SERVICE_TOKENS"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert complete(path) == [] and read_env_file(path) == first  # a restart keeps them
    other = tmp_path / "elsewhere.env"
    complete(other)
    assert read_env_file(other)["SERVICE_TOKENS"] != first["SERVICE_TOKENS"]  # never a shared value


def test_the_secret_file_replaces_weak_values_and_keeps_template_keys(tmp_path):
    template = tmp_path / "secrets.env.example"
    template.write_text("# fill in\nREDIS_URL=redis://r:6379/0\nAWS_SECRET_ACCESS_KEY=\n")
    path = tmp_path / "secrets.env"
    path.write_text("SERVICE_TOKENS=short\n")
    generated = complete(path, template, also=("AWS_SECRET_ACCESS_KEY",))
    entries = read_env_file(path)
    assert set(generated) == {"REPLAY_TOKEN_SECRETS", "SERVICE_TOKENS", "AWS_SECRET_ACCESS_KEY"}
    assert entries["REDIS_URL"] == "redis://r:6379/0" and len(entries["AWS_SECRET_ACCESS_KEY"]) == 40
    assert len(entries["SERVICE_TOKENS"]) >= MIN_SECRET_BYTES


def test_the_secret_file_fills_what_the_environment_does_not_set(tmp_path, monkeypatch):
    path = tmp_path / "secrets.env"
    complete(path)
    monkeypatch.delenv("REPLAY_TOKEN_SECRETS")
    monkeypatch.setenv("SERVICE_TOKENS", "s" * 40)
    monkeypatch.setenv("FOOTFALL_SECRETS_FILE", str(path))
    load_secrets_file()
    settings = get_settings()
    assert settings.replay_token_secrets == (read_env_file(path)["REPLAY_TOKEN_SECRETS"],)
    assert settings.service_tokens == ("s" * 40,)  # the environment wins


def test_make_run_generates_and_keeps_its_secrets_before_starting_anything():
    makefile = (ROOT / "Makefile").read_text()
    run = makefile.split("\nrun:", 1)[1].split("\n\n", 1)[0]
    assert "secrets" in run.splitlines()[0]  # a prerequisite: generated before bootstrap and honcho
    assert run.count("FOOTFALL_SECRETS_FILE=$(SECRETS_FILE)") == 2
    ignored = subprocess.run(["git", "check-ignore", "-q", ".footfall/secrets.env"], cwd=ROOT, check=False)
    assert ignored.returncode == 0
