"""`python -m tests.replay.playback_memory ENV SESSION TOKEN`: play a replay back and print the
peak of traced memory, of the replay service and of the gateway, each measured alone.

Run as a subprocess by test_replay_attacks.py, so that no other test's threads allocate while it
measures. The replay service is measured in this process through its test client; the gateway in
this process, proxying a replay service that gunicorn serves, as in production (werkzeug's
development server itself held up to 10 MB while streaming). Settings come from the environment.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import orjson
import requests
from flask import Flask

from footfall.config import get_settings
from footfall.web import service_headers
from gateway.app import create_app as create_gateway_app
from services.replay.app import create_app as create_replay_app

ROOT = Path(__file__).resolve().parents[2]


def measure(app: Flask, url: str, headers: dict) -> dict:
    """Stream `url` from the app's test client into a file; the traced peak meanwhile."""
    client = app.test_client()
    with tempfile.TemporaryFile() as out:
        tracemalloc.start()
        response = client.get(url, headers=headers, buffered=False)
        written = 0
        for piece in response.response:
            out.write(piece)
            written += len(piece)
        response.close()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        out.seek(0)
        played = orjson.loads(out.read())
    return {"status": response.status_code, "peak": peak, "written": written,
            "events": [e["data"]["texts"][0]["id"] for e in played["events"]]}


def served_by_gunicorn(port: int) -> subprocess.Popen:
    command = [sys.executable, "-m", "gunicorn",
               "-c", "python:footfall.gunicorn_conf", "services.replay.app:create_app()"]
    server = subprocess.Popen(command, cwd=ROOT, env={**os.environ, "BIND": f"127.0.0.1:{port}",
                                                      "WEB_CONCURRENCY": "1"},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 30
    while True:
        try:
            requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return server
        except requests.RequestException:
            if time.monotonic() > deadline or server.poll() is not None:
                raise
            time.sleep(0.2)


def main(env_id: str, session_id: str, token: str) -> None:
    settings = get_settings()
    replay = create_replay_app(settings)
    internal = f"/internal/v1/envs/{env_id}/replays/{session_id}?inline=1"
    answers = {"replay": measure(replay, internal, service_headers(settings))}
    replay.extensions["replays"].publisher.close()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = served_by_gunicorn(port)
    try:
        gateway = create_gateway_app(settings.with_(replay_url=f"http://127.0.0.1:{port}"))
        public = f"/api/v1/environments/{env_id}/replays/{session_id}?inline=1"
        answers["gateway"] = measure(gateway, public, {"Authorization": f"Bearer {token}"})
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(20)
    print(orjson.dumps(answers).decode())


if __name__ == "__main__":
    main(*sys.argv[1:4])
