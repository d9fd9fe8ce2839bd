"""`python -m tests.replay.playback_memory ENV SESSION TOKEN`: play a replay back through the
gateway and the replay service, in this process alone, and print the peak of traced memory.

Run as a subprocess by test_replay_attacks.py, so that no other test's threads allocate while it
measures. Settings (database, Redis, S3 endpoint and bucket, secrets) come from the environment.
"""
from __future__ import annotations

import sys
import tempfile
import threading
import tracemalloc

import orjson
from werkzeug.serving import make_server

from footfall.config import get_settings
from footfall.web import create_service_app
from gateway.replay import api as gateway_replay_api
from services.replay.app import create_app as create_replay_app


def main(env_id: str, session_id: str, token: str) -> None:
    settings = get_settings()
    replay = create_replay_app(settings)
    server = make_server("127.0.0.1", 0, replay, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    gateway = create_service_app("gateway-playback", [gateway_replay_api.bp],
                                 settings=settings.with_(replay_url=f"http://127.0.0.1:{server.server_port}"))
    client = gateway.test_client()
    url = f"/api/v1/environments/{env_id}/replays/{session_id}?inline=1"
    with tempfile.TemporaryFile() as out:
        tracemalloc.start()
        response = client.get(url, headers={"Authorization": f"Bearer {token}"}, buffered=False)
        written = 0
        for piece in response.response:
            out.write(piece)
            written += len(piece)
        response.close()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        out.seek(0)
        played = orjson.loads(out.read())
    server.shutdown()
    print(orjson.dumps({"status": response.status_code, "peak": peak, "written": written,
                        "events": [e["data"]["texts"][0]["id"] for e in played["events"]]}).decode())


if __name__ == "__main__":
    main(*sys.argv[1:4])
