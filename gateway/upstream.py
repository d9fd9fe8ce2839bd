"""HTTP clients for the internal services: keep-alive sessions, short timeouts, clear errors.

A down service becomes a 503 JSON naming it, a failing one a 502; its own 4xx (a bad filter, an
unknown user) passes through with its message, so the caller sees what to fix.
"""
from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

import orjson
import urllib3
from urllib3.exceptions import HTTPError as Unreachable
from urllib3.exceptions import NewConnectionError
from urllib3.exceptions import TimeoutError as NoAnswer

from footfall.web import ApiError, service_headers

log = logging.getLogger("footfall.gateway")

# Connect fast-fails a dead service; reads allow a slow feed page but never hang a worker thread.
TIMEOUT = urllib3.Timeout(connect=0.5, read=8.0)
JSON_HEADERS = {"Accept": "application/json", "Content-Type": "application/json"}


class Upstream:
    """One internal service over a thread-safe keep-alive pool. urllib3 directly, not requests:
    the feed answers in a few milliseconds, and requests' per-call overhead showed in the
    gateway-to-sessions ratio (bench/HISTORY.md#gateway-http-client)."""

    def __init__(self, name: str, base_url: str, headers: dict[str, str] | None = None):
        self.name, self.base_url = name, base_url.rstrip("/")
        self.headers = {**JSON_HEADERS, **(headers or {})}  # the service token rides on every call
        self._pool = urllib3.PoolManager(num_pools=2, maxsize=16, retries=False, timeout=TIMEOUT)

    def request(self, method: str, path: str, *, params: dict | None = None, json: Any = None,
                allow_404: bool = False) -> Any:
        """The decoded JSON answer; None for a 404 when allow_404; ApiError otherwise."""
        body = None if json is None else orjson.dumps(json)
        url = self.base_url + path + (f"?{urlencode(params)}" if params else "")
        try:
            response = self._pool.request(method, url, body=body, headers=self.headers)
        except NewConnectionError:  # caught first: urllib3 files a refused connection under timeouts
            raise self._unavailable() from None
        except NoAnswer:
            raise ApiError(503, f"the {self.name} service did not answer in time", service=self.name,
                           headers={"Retry-After": "5"}) from None
        except Unreachable:  # reset, DNS, protocol: nothing usable answered
            raise self._unavailable() from None
        if response.status == 404 and allow_404:
            return None
        if response.status >= 500:
            log.warning("upstream error", extra={"service": self.name, "status": response.status,
                                                 "path": path})
            raise ApiError(502, f"the {self.name} service failed ({response.status})",
                           service=self.name)
        try:
            data = orjson.loads(response.data) if response.data else None
        except orjson.JSONDecodeError:
            raise ApiError(502, f"the {self.name} service answered something other than JSON",
                           service=self.name) from None
        if response.status >= 400:
            error = (data or {}).get("error", {}) if isinstance(data, dict) else {}
            message = error.get("message") if isinstance(error, dict) else str(error)
            details = {k: v for k, v in error.items() if k not in ("code", "message")} \
                if isinstance(error, dict) else {}
            raise ApiError(response.status, message or f"{self.name} refused the request",
                           service=self.name, **details)
        return data

    def stream(self, path: str, params: dict | None = None, chunk_bytes: int = 256 * 1024,
               read_s: float = 60.0):
        """The body of a GET as an iterator of byte chunks, its status checked before the first one
        (a 404 answers None): for answers too big to hold (a user's export, a replay)."""
        url = self.base_url + path + (f"?{urlencode(params)}" if params else "")
        try:
            response = self._pool.request("GET", url, headers=self.headers, preload_content=False,
                                          timeout=urllib3.Timeout(connect=0.5, read=read_s))
        except (NewConnectionError, Unreachable):
            raise self._unavailable() from None
        if response.status != 200:
            response.drain_conn()
            if response.status == 404:
                return None
            raise ApiError(502, f"the {self.name} service failed ({response.status})", service=self.name)

        def chunks():
            try:
                yield from response.stream(chunk_bytes)
            finally:
                response.release_conn()

        return chunks()

    def _unavailable(self) -> ApiError:
        return ApiError(503, f"the {self.name} service is unavailable", service=self.name,
                        headers={"Retry-After": "5"})

    def get(self, path: str, params: dict | None = None, **kw) -> Any:
        return self.request("GET", path, params=params, **kw)

    def post(self, path: str, json: Any = None, **kw) -> Any:
        return self.request("POST", path, json=json if json is not None else {}, **kw)

    def put(self, path: str, json: Any, **kw) -> Any:
        return self.request("PUT", path, json=json, **kw)


class Services:
    """The internal services the gateway composes, from Settings."""

    def __init__(self, settings):
        headers = service_headers(settings)
        self.sessions = Upstream("sessions", settings.sessions_url, headers)
        self.definitions = Upstream("definitions", settings.definitions_url, headers)
        self.identity = Upstream("identity", settings.identity_url, headers)
        self.replay = Upstream("replay", settings.replay_url, headers)  # playback, deletions' status
