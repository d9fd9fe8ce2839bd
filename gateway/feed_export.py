"""CSV export of the filtered feed: a background job that streams the sessions service's CSV into
an S3 multipart upload, with its progress in the gateway's `exports` table.

The job runs on a thread of the gateway process that was asked for it: the sessions service reads
the users from a server-side cursor and writes one line per user (services/sessions/csv_export.py);
here its chunks gather into parts of PART_BYTES that are uploaded as they fill, so memory holds one
part whatever the export's size (up to MAX_ROWS rows). Lines are counted as they pass (the progress
bar); the row is touched at least every PROGRESS_SECONDS, and a job whose row has not moved for
STALE is reported failed (its process ended: a deploy, a crash), so nobody waits on it for ever.
Downloads go through the gateway (access checked), read from S3 as they are sent.
"""
from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from sqlalchemy import BigInteger, Column, DateTime, ForeignKey, String, Table, Text, select, update
from sqlalchemy.dialects.postgresql import JSONB

from footfall.config import Settings
from footfall.web import ApiError
from gateway.store import get_engine, metadata

log = logging.getLogger("footfall.gateway")

MAX_ROWS = 1_000_000
PART_BYTES = 8 * 1024 * 1024  # S3 wants parts of 5 MB at least (but the last)
PROGRESS_SECONDS = 1.0
STALE = timedelta(minutes=2)
KEEP_DAYS = 7  # the bucket's lifecycle rule deletes export files after this
LIFECYCLE_RULE_ID = "footfall-feed-exports"
PREFIX = "exports/"
COLUMNS = ("user_id", "identity", "display_name", "first_seen", "last_seen", "sessions")

exports = Table(
    "exports", metadata,
    Column("id", String(36), primary_key=True),
    Column("env_id", String(64), ForeignKey("environments.id", ondelete="CASCADE"), nullable=False),
    Column("status", String(16), nullable=False), Column("request", JSONB, nullable=False),
    Column("rows_total", BigInteger, nullable=False), Column("rows_done", BigInteger, nullable=False),
    Column("bytes", BigInteger, nullable=False), Column("object_key", String(300), nullable=False),
    Column("error", Text), Column("created_by", String(254), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
)


class ExportStorage:
    """The export files in the stack's bucket (settings.s3_bucket), under `exports/`."""

    def __init__(self, settings: Settings):
        credentials = {}
        if not os.environ.get("AWS_ACCESS_KEY_ID") and urlsplit(settings.s3_endpoint_url).hostname in (
                "127.0.0.1", "localhost"):  # moto or MinIO on loopback take any credentials
            credentials = {"aws_access_key_id": "footfall-local", "aws_secret_access_key": "footfall-local"}
        session = boto3.session.Session(region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
                                        **credentials)
        config = Config(signature_version="s3v4", s3={"addressing_style": "path"}, connect_timeout=2,
                        read_timeout=30, retries={"max_attempts": 3, "mode": "standard"},
                        request_checksum_calculation="when_required",
                        response_checksum_validation="when_required")
        self.client = session.client("s3", endpoint_url=settings.s3_endpoint_url, config=config)
        self.bucket = settings.s3_bucket

    def ensure_bucket(self) -> None:
        """The bucket exists (the replay service may not have made it yet) with our expiry rule;
        other rules on it are kept."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError:
            try:
                self.client.create_bucket(Bucket=self.bucket)
            except self.client.exceptions.BucketAlreadyOwnedByYou:
                pass
        try:
            rules = self.client.get_bucket_lifecycle_configuration(Bucket=self.bucket)["Rules"]
        except ClientError:
            rules = []
        if not any(rule.get("ID") == LIFECYCLE_RULE_ID for rule in rules):
            rules.append({"ID": LIFECYCLE_RULE_ID, "Filter": {"Prefix": PREFIX}, "Status": "Enabled",
                          "Expiration": {"Days": KEEP_DAYS}})
            self.client.put_bucket_lifecycle_configuration(Bucket=self.bucket,
                                                           LifecycleConfiguration={"Rules": rules})

    def upload(self, key: str, chunks: Iterator[bytes], progress) -> tuple[int, int]:
        """Multipart upload of the chunks; `progress(lines, bytes)` as it goes. (lines, bytes)."""
        upload_id = self.client.create_multipart_upload(Bucket=self.bucket, Key=key,
                                                        ContentType="text/csv")["UploadId"]
        parts, buffer, lines, size = [], bytearray(), 0, 0

        def send() -> None:
            number = len(parts) + 1
            etag = self.client.upload_part(Bucket=self.bucket, Key=key, UploadId=upload_id,
                                           PartNumber=number, Body=bytes(buffer))["ETag"]
            parts.append({"ETag": etag, "PartNumber": number})
            buffer.clear()

        try:
            for chunk in chunks:
                buffer += chunk
                lines, size = lines + chunk.count(b"\n"), size + len(chunk)
                if len(buffer) >= PART_BYTES:
                    send()
                progress(lines, size)
            send()  # the last part may be small (an export of no user is its header)
            self.client.complete_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id,
                                                  MultipartUpload={"Parts": parts})
        except BaseException:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
            raise
        return lines, size

    def pieces(self, key: str) -> Iterator[bytes]:
        """The file as it arrives from S3; asked for before the first piece, so that a file gone
        (past KEEP_DAYS) is a clear 410 rather than a broken download."""
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
        except self.client.exceptions.NoSuchKey:
            raise ApiError(410, f"the export's file is gone (files are kept {KEEP_DAYS} days)") from None

        def read() -> Iterator[bytes]:
            try:
                yield from body.iter_chunks(256 * 1024)
            finally:
                body.close()

        return read()


def _names(raw, field: str, allowed: tuple[str, ...] | None, limit: int) -> list[str]:
    if raw is None:
        return list(allowed) if allowed else []
    if not isinstance(raw, list) or len(raw) > limit or not all(
            isinstance(n, str) and 0 < len(n) <= 200 and "," not in n for n in raw):
        raise ApiError(400, f"{field}: a list of at most {limit} names (1 to 200 characters, no comma)",
                       field=field)
    for name in raw:
        if allowed is not None and name not in allowed:
            raise ApiError(400, f"{field}: {name!r} is not one of {', '.join(allowed)}", field=field)
    return list(dict.fromkeys(raw))


def parse_columns(body: dict) -> tuple[list[str], list[str]]:
    columns = _names(body.get("columns"), "columns", COLUMNS, len(COLUMNS)) or list(COLUMNS)
    return columns, _names(body.get("properties"), "properties", None, 50)


def start(env_id: str, params: dict, view: dict, columns: list[str], properties: list[str], who: str,
          settings: Settings, services) -> dict:
    """Count, record and start an export; 413 past MAX_ROWS (before any work)."""
    internal = f"/internal/v1/envs/{env_id}"
    total = services.sessions.get(f"{internal}/feed/count", params)["count"]
    if total > MAX_ROWS:
        raise ApiError(413, f"{total:,} users match: an export holds at most {MAX_ROWS:,}; narrow the "
                       "timeline or the filters", field="filters", count=total)
    export_id, now = str(uuid.uuid4()), datetime.now(UTC)
    key = f"{PREFIX}{env_id}/{export_id}.csv"
    request = {"view": view, "columns": columns, "properties": properties,
               "from": params["from"], "to": params["to"]}
    with get_engine(settings).begin() as conn:
        conn.execute(exports.insert().values(
            id=export_id, env_id=env_id, status="running", request=request, rows_total=total, rows_done=0,
            bytes=0, object_key=key, created_by=who, created_at=now, updated_at=now))
    # The count was read a moment ago: users active since then may join, never past the bound.
    query = {**params, "columns": ",".join(columns), "properties": ",".join(properties), "limit": MAX_ROWS}
    threading.Thread(target=_run, args=(export_id, key, f"{internal}/feed/csv", query, settings, services),
                     name=f"export-{export_id}", daemon=True).start()
    return get(env_id, export_id, settings)


def _run(export_id: str, key: str, path: str, query: dict, settings: Settings, services) -> None:
    engine, last = get_engine(settings), [0.0]

    def mark(**values) -> None:
        with engine.begin() as conn:
            conn.execute(update(exports).where(exports.c.id == export_id)
                         .values(updated_at=datetime.now(UTC), **values))

    def progress(lines: int, size: int) -> None:
        if time.monotonic() - last[0] >= PROGRESS_SECONDS:
            last[0] = time.monotonic()
            mark(rows_done=max(lines - 1, 0), bytes=size)

    try:
        storage = ExportStorage(settings)
        storage.ensure_bucket()
        chunks = services.sessions.stream(path, query)
        if chunks is None:
            raise RuntimeError("the sessions service knows no such environment")
        lines, size = storage.upload(key, chunks, progress)
        mark(status="done", rows_done=max(lines - 1, 0), bytes=size, finished_at=datetime.now(UTC))
    except Exception as exc:  # the job's failure is its status: the row says what went wrong
        log.warning("feed export failed", exc_info=True, extra={"export_id": export_id})
        mark(status="failed", error=f"{type(exc).__name__}: {exc}"[:500], finished_at=datetime.now(UTC))


def _json(row, now: datetime) -> dict:
    status, error = row.status, row.error
    if status == "running" and now - row.updated_at > STALE:
        status, error = "failed", "interrupted: the process running it stopped; start the export again"
    return {"id": row.id, "status": status, "rows_total": row.rows_total, "rows_done": row.rows_done,
            "bytes": row.bytes, "error": error, "created_by": row.created_by, "created_at": row.created_at,
            "finished_at": row.finished_at, "columns": row.request["columns"],
            "properties": row.request["properties"], "view": row.request["view"],
            "from": row.request["from"], "to": row.request["to"],
            "download_url": (f"/api/v1/environments/{row.env_id}/exports/{row.id}/download"
                             if status == "done" else None)}


def get(env_id: str, export_id: str, settings: Settings) -> dict:
    with get_engine(settings).connect() as conn:
        row = conn.execute(select(exports).where(exports.c.env_id == env_id, exports.c.id == export_id)).first()
    if row is None:
        raise ApiError(404, f"no export {export_id!r} in this environment", field="export_id")
    return _json(row, datetime.now(UTC))


def recent(env_id: str, settings: Settings, limit: int = 20) -> list[dict]:
    with get_engine(settings).connect() as conn:
        rows = conn.execute(select(exports).where(exports.c.env_id == env_id)
                            .order_by(exports.c.created_at.desc()).limit(limit)).all()
    now = datetime.now(UTC)
    return [_json(r, now) for r in rows]


def download(env_id: str, export_id: str, settings: Settings) -> tuple[dict, Iterator[bytes]]:
    job = get(env_id, export_id, settings)
    if job["status"] != "done":
        raise ApiError(409, f"the export is {job['status']}, not done", field="export_id",
                       export_status=job["status"])
    with get_engine(settings).connect() as conn:
        key = conn.scalar(select(exports.c.object_key).where(exports.c.id == export_id))
    return job, ExportStorage(settings).pieces(key)
