"""A stand-in for ingest, the gateway's replay admission and the replay upload, inside Playwright.

Routes the SDK's requests at fake hosts and records what it sent, so the browser tests can assert
the exact payloads without a running stack (tests/sdk/test_e2e_stack.py covers the real one).
"""
from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from pathlib import Path

INGEST = "http://ingest.footfall.test"
GATEWAY = "http://gateway.footfall.test"
REPLAY = "http://replay.footfall.test"
CORS = {"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
        "Access-Control-Allow-Headers": "Authorization, Content-Type"}


@dataclass
class FakeBackend:
    dist: Path
    start_status: int = 200
    fail_batches: int = 0  # abort this many /v1/batch requests first (network errors)
    batches: list[dict] = field(default_factory=list)
    failed_batches: list[dict] = field(default_factory=list)
    starts: list[dict] = field(default_factory=list)
    chunks: list[dict] = field(default_factory=list)

    def install(self, context) -> None:
        context.route(f"{INGEST}/sdk.js", lambda route: route.fulfill(
            path=self.dist / "footfall.js", content_type="application/javascript", headers=CORS))
        context.route(f"{INGEST}/sdk-replay.js", lambda route: route.fulfill(
            path=self.dist / "footfall-replay.js", content_type="application/javascript", headers=CORS))
        context.route(f"{INGEST}/v1/batch", self._batch)
        context.route(f"{GATEWAY}/replay/v1/start", self._start)
        context.route(f"{REPLAY}/replay/v1/chunks**", self._chunk)

    def _batch(self, route) -> None:
        if route.request.method == "OPTIONS":
            return route.fulfill(status=204, headers=CORS)
        body = json.loads(route.request.post_data)
        if self.fail_batches > 0:
            self.fail_batches -= 1
            self.failed_batches.append(body)
            return route.abort("internetdisconnected")
        self.batches.append({**body, "content_type": route.request.headers.get("content-type")})
        route.fulfill(status=200, json={"success": True}, headers=CORS)

    def _start(self, route) -> None:
        if route.request.method == "OPTIONS":
            return route.fulfill(status=204, headers=CORS)
        body = json.loads(route.request.post_data)
        self.starts.append(body)
        if self.start_status != 200:
            return route.fulfill(status=self.start_status, json={"error": {"message": "trial ended"}},
                                 headers=CORS)
        route.fulfill(status=200, headers=CORS, json={
            "token": f"token-{body['session_id']}", "upload_url": f"{REPLAY}/replay/v1/chunks",
            "expires_at": "2099-01-01T00:00:00Z"})

    def _chunk(self, route) -> None:
        if route.request.method == "OPTIONS":
            return route.fulfill(status=204, headers=CORS)
        request = route.request
        self.chunks.append({"url": request.url, "authorization": request.headers.get("authorization"),
                            "events": json.loads(gzip.decompress(request.post_data_buffer))})
        route.fulfill(status=201, json={"duplicate": False}, headers=CORS)

    @property
    def messages(self) -> list[dict]:
        return [m for body in self.batches for m in body["batch"]]

    def everything_sent(self) -> str:
        """Every byte the browser sent, as text, for 'this secret never left' assertions."""
        return json.dumps([self.batches, self.failed_batches, self.starts, [c["events"] for c in self.chunks]])
