"""Export a user (data-subject access): everything Footfall holds about them, streamed.

One JSON document, or a zip of CSV files, composed from identity (the user, its properties,
identities and devices) and the sessions service (sessions, events, replayed sessions), whose
rows arrive as a stream and leave as one: memory stays flat whatever the user's size.
"""
from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable, Iterator
from urllib.parse import quote

import orjson

from footfall.web import ApiError

ZIP_LEVEL = 1  # event JSON compresses 5-10x even at the fastest level, at ~100 MB/s of CPU


def _path(env_id: str, tail: str) -> str:
    return f"/internal/v1/envs/{quote(env_id, safe='')}{tail}"


def _json_array(lines: Iterable[bytes]) -> Iterator[bytes]:
    """JSON lines as a JSON array, chunk by chunk (a line holds no raw newline, so every newline
    ends an element: it becomes a comma, held back until another element follows)."""
    yield b"["
    held = b""
    for chunk in lines:
        data = held + chunk.replace(b"\n", b",")
        held = b"," if data.endswith(b",") else b""
        yield data[:-1] if held else data
    yield b"]"


class _Sink:
    """A write-only file for zipfile that hands over what was written so far."""

    def __init__(self):
        self._parts: list[bytes] = []

    def write(self, data) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        out = b"".join(self._parts)
        self._parts.clear()
        return out


def _csv(rows: Iterable[Iterable]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode()


class UserExport:
    """What an export needs from the services, fetched before the first byte is sent (so an
    unknown user is a 404, not a broken download)."""

    def __init__(self, services, env_id: str, user_id: str, replay_url):
        self.services, self.env_id = services, env_id
        user = services.identity.get(_path(env_id, f"/users/{quote(user_id, safe='')}"), allow_404=True)
        feed_user = services.sessions.get(_path(env_id, f"/users/{quote(user_id, safe='')}"), allow_404=True)
        if user is None and feed_user is None:
            raise ApiError(404, f"no user {user_id!r} in this environment", field="user_id")
        self.user_id = (user or feed_user)["user_id"]
        self.user = user or {"user_id": self.user_id, "identity": feed_user.get("identity"),
                             "properties": feed_user.get("properties") or {}}
        devices = services.identity.get(_path(env_id, f"/users/{quote(self.user_id, safe='')}/devices"),
                                        allow_404=True) or {}
        self.identities, self.devices = devices.get("identities", []), devices.get("devices", [])
        self.user_ids = devices.get("user_ids", [self.user_id])
        replays = self._lines("replays", "json")
        self.replays = [{**orjson.loads(line), "url": replay_url(orjson.loads(line)["session_id"])}
                        for chunk in [b"".join(replays or [])] for line in chunk.splitlines() if line]

    def _lines(self, part: str, fmt: str):
        return self.services.sessions.stream(
            _path(self.env_id, f"/users/{quote(self.user_id, safe='')}/export/{part}"), {"format": fmt})

    def json(self) -> Iterator[bytes]:
        head = {"user": self.user, "identities": self.identities, "user_ids": self.user_ids,
                "devices": self.devices, "replays": self.replays}
        yield orjson.dumps(head, option=orjson.OPT_UTC_Z)[:-1]
        for part in ("sessions", "events"):
            yield f',"{part}":'.encode()
            yield from _json_array(self._lines(part, "json") or [])
        yield b"}"

    def zip(self) -> Iterator[bytes]:
        sink = _Sink()
        with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=ZIP_LEVEL) as archive:
            small = {
                "user.csv": _csv([("user_id", "identity"), (self.user_id, self.user.get("identity"))]),
                "properties.csv": _csv([("key", "value"), *sorted(
                    (k, orjson.dumps(v).decode() if not isinstance(v, str) else v)
                    for k, v in (self.user.get("properties") or {}).items())]),
                "identities.csv": _csv([("identity",), *[(i,) for i in self.identities]]),
                "devices.csv": _csv([("device_id", "first_seen", "user_ids"), *[
                    (d["device_id"], d["first_seen"], " ".join(d["user_ids"])) for d in self.devices]]),
                "replays.csv": _csv([("session_id", "start", "end", "url"), *[
                    (r["session_id"], r["start"], r["end"], r["url"]) for r in self.replays]]),
            }
            for name, data in small.items():
                archive.writestr(name, data)
                yield sink.take()
            for part in ("sessions", "events"):
                with archive.open(f"{part}.csv", "w", force_zip64=True) as member:
                    for chunk in self._lines(part, "csv") or []:
                        member.write(chunk)
                        yield sink.take()
        yield sink.take()
