"""Serves the built web UI (gateway/ui/dist, built by `make assets`) with a strict CSP."""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, current_app, send_from_directory

UI_DIST = Path(__file__).resolve().parent / "ui" / "dist"

bp = Blueprint("ui", __name__)


def content_security_policy(s3_origin: str) -> str:
    """Scripts only from our own origin (no inline, no eval), so property values and replayed pages
    that smuggle markup cannot run; replay chunks may come straight from S3 via pre-signed URLs."""
    return "; ".join([
        "default-src 'self'",
        "script-src 'self'",
        # rrweb rebuilds recorded pages with their inline styles; styles cannot run code.
        "style-src 'self' 'unsafe-inline'",
        # replayed pages show their own images; images cannot run code either.
        "img-src 'self' data: blob: http: https:",
        "font-src 'self' data: http: https:",
        f"connect-src 'self' {s3_origin}",
        "frame-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ])


def _index() -> Response:
    if not (UI_DIST / "index.html").exists():
        return Response("The web UI is not built yet: run `make assets` (npm run build in gateway/ui).",
                        status=503, mimetype="text/plain")
    response = send_from_directory(UI_DIST, "index.html", max_age=0)
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/")
def index():
    return _index()


@bp.get("/login")
def login_page():
    return _index()


# Every view of the UI has its own address, so a link opened in a new tab or shared lands on it.
@bp.get("/users/<path:user_id>")
@bp.get("/sessions/<path:session_id>")
@bp.get("/definitions")
@bp.get("/ingestion")
def deep_link(**_ids):
    return _index()


@bp.get("/assets/<path:filename>")
def assets(filename: str):
    # Vite puts a content hash in every asset name, so they may be cached for a year.
    return send_from_directory(UI_DIST / "assets", filename, max_age=31536000)


def add_security_headers(response: Response) -> Response:
    settings = current_app.config["SETTINGS"]
    headers = response.headers
    headers.setdefault("Content-Security-Policy", content_security_policy(settings.s3_endpoint_url))
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    return response
