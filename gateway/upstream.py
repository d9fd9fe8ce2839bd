"""HTTP clients for the internal services: keep-alive sessions, short timeouts, clear errors.

A down service becomes a 503 JSON naming it, a failing one a 502; its own 4xx (a bad filter, an
unknown user) passes through with its message, so the caller sees what to fix.
"""
from __future__ import annotations

import logging
import threading
from typing import Any

import orjson
import requests
from requests.adapters import HTTPAdapter

from footfall.web import ApiError

log = logging.getLogger("footfall.gateway")

# Connect fast-fails a dead service; reads allow a slow feed page but never hang a worker thread.
TIMEOUT = (0.5, 8.0)


class Upstream:
    """One internal service; one requests.Session per thread (Session is not thread-safe)."""

    def __init__(self, name: str, base_url: str):
        self.name, self.base_url = name, base_url.rstrip("/")
        self._local = threading.local()

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            session.mount("http://", HTTPAdapter(pool_connections=1, pool_maxsize=4))
            session.headers["Accept"] = "application/json"
        return session

    def request(self, method: str, path: str, *, params: dict | None = None, json: Any = None,
                allow_404: bool = False) -> Any:
        """The decoded JSON answer; None for a 404 when allow_404; ApiError otherwise."""
        body = None if json is None else orjson.dumps(json)
        headers = {"Content-Type": "application/json"} if body is not None else None
        try:
            response = self._session().request(method, self.base_url + path, params=params, data=body,
                                               headers=headers, timeout=TIMEOUT)
        except requests.Timeout:
            raise ApiError(503, f"the {self.name} service did not answer in time", service=self.name,
                           headers={"Retry-After": "5"}) from None
        except requests.ConnectionError:
            raise ApiError(503, f"the {self.name} service is unavailable", service=self.name,
                           headers={"Retry-After": "5"}) from None
        if response.status_code == 404 and allow_404:
            return None
        if response.status_code >= 500:
            log.warning("upstream error", extra={"service": self.name, "status": response.status_code,
                                                 "path": path})
            raise ApiError(502, f"the {self.name} service failed ({response.status_code})",
                           service=self.name)
        try:
            data = orjson.loads(response.content) if response.content else None
        except orjson.JSONDecodeError:
            raise ApiError(502, f"the {self.name} service answered something other than JSON",
                           service=self.name) from None
        if response.status_code >= 400:
            error = (data or {}).get("error", {}) if isinstance(data, dict) else {}
            message = error.get("message") if isinstance(error, dict) else str(error)
            details = {k: v for k, v in error.items() if k not in ("code", "message")} \
                if isinstance(error, dict) else {}
            raise ApiError(response.status_code, message or f"{self.name} refused the request",
                           service=self.name, **details)
        return data

    def get(self, path: str, params: dict | None = None, **kw) -> Any:
        return self.request("GET", path, params=params, **kw)

    def post(self, path: str, json: Any = None, **kw) -> Any:
        return self.request("POST", path, json=json if json is not None else {}, **kw)

    def put(self, path: str, json: Any, **kw) -> Any:
        return self.request("PUT", path, json=json, **kw)

    def ping(self) -> None:
        """Readiness: the service answers its /healthz."""
        self._session().get(self.base_url + "/healthz", timeout=(0.5, 1.0)).raise_for_status()


class Services:
    """The internal services the gateway composes, from Settings."""

    def __init__(self, settings):
        self.sessions = Upstream("sessions", settings.sessions_url)
        self.definitions = Upstream("definitions", settings.definitions_url)
        self.identity = Upstream("identity", settings.identity_url)
        self.replay = Upstream("replay", settings.replay_url)
