"""Replay chunks in S3 through boto3: any endpoint (AWS, MinIO, the moto server of `make run`)."""
from __future__ import annotations

import hashlib
import hmac
import os
import threading
from collections.abc import Iterator
from datetime import datetime, timezone
from urllib.parse import SplitResult, quote, urlsplit

import boto3
import urllib3
from botocore.config import Config
from botocore.exceptions import ClientError

from footfall.config import Settings, get_settings
from services.replay.chunks import chunk_key, session_prefix

PRESIGNED_URL_SECONDS = 60
LIFECYCLE_RULE_ID = "footfall-replay-retention"
# If-None-Match: S3 writes a key only if it has none: a chunk, once stored, is never replaced.
CHUNK_HEADERS = {"Content-Type": "application/json", "Content-Encoding": "gzip", "If-None-Match": "*"}
READ_PIECE = 64 * 1024
# A chunk is put again on a dropped connection or a 5xx: the same key and bytes, so no harm.
PUT_RETRIES = urllib3.Retry(total=3, backoff_factor=0.1, status_forcelist=(500, 502, 503, 504),
                            allowed_methods=frozenset({"PUT"}), raise_on_status=False)


class StorageUnavailable(Exception):
    """S3 did not take a chunk: unreachable, or still an error after the retries."""


class ChunkExists(Exception):
    """S3 already holds an object under the chunk's key (write-once): nothing was written."""


def make_session(settings: Settings) -> boto3.session.Session:
    """A boto3 session; on a loopback endpoint without credentials, dummy ones (moto, MinIO dev)."""
    credentials = {}
    if not os.environ.get("AWS_ACCESS_KEY_ID") and urlsplit(settings.s3_endpoint_url).hostname in (
            "127.0.0.1", "localhost"):
        credentials = {"aws_access_key_id": "footfall-local", "aws_secret_access_key": "footfall-local"}
    return boto3.session.Session(region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"), **credentials)


def make_client(session: boto3.session.Session, settings: Settings):
    """A thread-safe S3 client with a connection per gunicorn thread."""
    config = Config(
        signature_version="s3v4",
        s3={"addressing_style": "path"},  # MinIO and moto serve path-style without DNS tricks
        max_pool_connections=32,  # one per gunicorn thread, with room
        retries={"max_attempts": 3, "mode": "standard"},
        connect_timeout=2, read_timeout=10,
        # Not botocore's default since 1.36, a CRC32 of every body sent and received: chunks are
        # checked when read, and S3 asks for a checksum where it needs one (DeleteObjects).
        request_checksum_calculation="when_required", response_checksum_validation="when_required",
    )
    return session.client("s3", endpoint_url=settings.s3_endpoint_url, config=config)


def _host_header(endpoint: SplitResult) -> str:
    """The Host header SigV4 signs: lowercase host, with the port unless it is the scheme's default."""
    default_port = {"http": 80, "https": 443}.get(endpoint.scheme)
    host = f"[{endpoint.hostname}]" if ":" in (endpoint.hostname or "") else endpoint.hostname
    return host if endpoint.port in (None, default_port) else f"{host}:{endpoint.port}"


class ChunkStorage:
    """One session's chunks under one key prefix; the bucket is created (with its lifecycle) on first use."""

    def __init__(self, settings: Settings | None = None):
        self.settings = settings or get_settings()
        self.bucket = self.settings.s3_bucket
        self.session = make_session(self.settings)
        self.client = make_client(self.session, self.settings)
        # Path-style addressing on a configured endpoint: an object's URL is a plain join.
        endpoint = urlsplit(self.client.meta.endpoint_url)
        self._origin = f"{endpoint.scheme}://{endpoint.netloc}"
        self._host = _host_header(endpoint)
        self._bucket_path = f"{endpoint.path.rstrip('/')}/{self.bucket}/"
        self._http = urllib3.PoolManager(maxsize=32, timeout=urllib3.Timeout(connect=2, read=10),
                                         ca_certs=os.environ.get("AWS_CA_BUNDLE"))
        self._ready = False
        self._lock = threading.Lock()

    def ensure_bucket(self) -> None:
        """Create the bucket if missing and set its lifecycle rule (once per process)."""
        if self._ready:
            return
        with self._lock:
            if self._ready:
                return
            try:
                self.client.head_bucket(Bucket=self.bucket)
            except ClientError:
                region = self.client.meta.region_name
                extra = {} if region == "us-east-1" else {
                    "CreateBucketConfiguration": {"LocationConstraint": region}}
                try:
                    self.client.create_bucket(Bucket=self.bucket, **extra)
                except self.client.exceptions.BucketAlreadyOwnedByYou:
                    pass  # another worker created it first
            self._set_lifecycle()
            self._ready = True

    def _set_lifecycle(self) -> None:
        """Expire replay objects a day after retention: a backstop, the retention job deletes first.

        Other rules on the bucket are kept: only ours is replaced.
        """
        try:
            rules = self.client.get_bucket_lifecycle_configuration(Bucket=self.bucket)["Rules"]
        except ClientError:
            rules = []
        rules = [rule for rule in rules if rule.get("ID") != LIFECYCLE_RULE_ID]
        rules.append({"ID": LIFECYCLE_RULE_ID, "Filter": {"Prefix": "replays/"}, "Status": "Enabled",
                      "Expiration": {"Days": self.settings.replay_retention_days + 1}})
        self.client.put_bucket_lifecycle_configuration(
            Bucket=self.bucket, LifecycleConfiguration={"Rules": rules})

    def put_chunk(self, env_id: str, session_id: str, seq: int, body: bytes) -> None:
        """PUT the chunk to a URL pre-signed here, rather than through boto3's put_object; raises
        ChunkExists when the key is taken (a retried PUT whose first answer was lost, or a race).

        botocore's request pipeline, and the SHA-256 of the body it signs over plain HTTP, were a
        fifth of an upload's CPU (bench/HISTORY.md#replay-uploads-and-manifests).
        """
        self.ensure_bucket()
        (url,) = self.signed_urls("PUT", [chunk_key(env_id, session_id, seq)])
        try:
            response = self._http.request("PUT", url, body=body, headers=CHUNK_HEADERS, retries=PUT_RETRIES)
        except urllib3.exceptions.HTTPError as exc:
            raise StorageUnavailable(f"S3 is unreachable: {exc}") from exc
        if response.status == 412:
            raise ChunkExists(chunk_key(env_id, session_id, seq))
        if response.status != 200:
            raise StorageUnavailable(f"S3 answered {response.status} to a chunk: {response.data[:300]!r}")

    def get_chunk(self, env_id: str, session_id: str, seq: int) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=chunk_key(env_id, session_id, seq))["Body"].read()

    def chunk_pieces(self, env_id: str, session_id: str, seq: int) -> Iterator[bytes]:
        """A stored chunk as it arrives from S3, READ_PIECE bytes at a time."""
        body = self.client.get_object(Bucket=self.bucket, Key=chunk_key(env_id, session_id, seq))["Body"]
        try:
            yield from body.iter_chunks(READ_PIECE)
        finally:
            body.close()

    def chunk_urls(self, env_id: str, session_id: str, seqs: list[int], now: datetime | None = None) -> list[str]:
        """Pre-signed GET URLs of a session's chunks, valid for 60 seconds."""
        return self.signed_urls("GET", [chunk_key(env_id, session_id, seq) for seq in seqs], now)

    def signed_urls(self, method: str, keys: list[str], now: datetime | None = None) -> list[str]:
        """Pre-signed URLs for `method` on objects of the bucket, valid for 60 seconds, signed here.

        AWS Signature V4 query signing, done once per call rather than per URL: the scope and
        signing key are shared, only the canonical request differs. botocore's presigner
        re-resolved the endpoint and re-derived all of it for every URL, most of a manifest's CPU
        (bench/HISTORY.md#replay-uploads-and-manifests). Tests hold the URLs equal to botocore's.
        """
        credentials = self.session.get_credentials().get_frozen_credentials()
        amz_date, region = (now or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%SZ"), self.client.meta.region_name
        scope = f"{amz_date[:8]}/{region}/s3/aws4_request"
        signing_key = f"AWS4{credentials.secret_key}".encode()
        for part in (amz_date[:8], region, "s3", "aws4_request"):
            signing_key = hmac.digest(signing_key, part.encode(), "sha256")
        params = {"X-Amz-Algorithm": "AWS4-HMAC-SHA256", "X-Amz-Credential": f"{credentials.access_key}/{scope}",
                  "X-Amz-Date": amz_date, "X-Amz-Expires": str(PRESIGNED_URL_SECONDS),
                  "X-Amz-SignedHeaders": "host"}
        if credentials.token:
            params["X-Amz-Security-Token"] = credentials.token
        query = "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in params.items())
        canonical_query = "&".join(sorted(query.split("&")))
        urls = []
        for key in keys:
            path = self._bucket_path + quote(key, safe="/~")
            canonical = f"{method}\n{path}\n{canonical_query}\nhost:{self._host}\n\nhost\nUNSIGNED-PAYLOAD"
            to_sign = f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
            signature = hmac.digest(signing_key, to_sign.encode(), "sha256").hex()
            urls.append(f"{self._origin}{path}?{query}&X-Amz-Signature={signature}")
        return urls

    def delete_session(self, env_id: str, session_id: str) -> int:
        """Delete every object under the session's prefix; returns how many."""
        deleted = 0
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=session_prefix(env_id, session_id)):
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if keys:  # a page holds at most 1,000 keys, DeleteObjects' limit
                self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": keys, "Quiet": True})
                deleted += len(keys)
        return deleted

    def check(self) -> None:
        """Readiness: the endpoint answers (the bucket may not exist yet)."""
        self.client.list_buckets()
