"""The demo shop: a few server-rendered pages with the Footfall snippet, pointed at the local stack.

Run by `make run` (Procfile `demo-site`, gunicorn on 127.0.0.1:8090). The snippet comes from the
built SDK (sdk/js/dist/snippet.min.js, the bundle itself is served by ingest at /sdk.js), with the
ingest and gateway addresses of `footfall.config.Settings` and the demo environment's write key as
it is now (FOOTFALL_WRITE_KEY when set; otherwise the key bootstrap made, rotations followed). `?replay=0` on any page
turns recording off for that visit's page loads (the traffic driver uses it for some visitors).
"""
from __future__ import annotations

import json
from pathlib import Path

from flask import Blueprint, Flask, abort, current_app, render_template, request
from markupsafe import Markup

from demo import catalog
from footfall.config import Settings, get_settings
from footfall.web import create_service_app
from gateway import environments

ROOT = Path(__file__).resolve().parents[1]
SNIPPET_FILES = (ROOT / "sdk/js/dist/snippet.min.js", ROOT / "sdk/js/src/snippet.js")

bp = Blueprint("demo", __name__, template_folder="templates")


def snippet_source() -> str:
    """The minified snippet when the SDK is built, else its readable source (it runs as is)."""
    for path in SNIPPET_FILES:
        if path.exists():
            return path.read_text()
    raise FileNotFoundError("sdk/js/src/snippet.js is missing")


def install_script(settings: Settings, replay: bool) -> Markup:
    """The <script> a site pastes into <head>: snippet, then init with this stack's addresses."""
    options = {"ingestHost": settings.ingest_url, "gatewayHost": settings.gateway_url, "replay": replay}
    # `<\/` keeps a configured value from closing the <script> element early.
    init = f"footfall.init({json.dumps(write_key(settings))}, {json.dumps(options)});".replace("</", "<\\/")
    return Markup(f"<script>{snippet_source().strip()}\n{init}</script>")


def write_key(settings: Settings) -> str:
    """The demo environment's write key: there is no default one."""
    if settings.write_key:
        return settings.write_key
    environment = environments.get_environment(settings.env_id, settings)
    return environment["write_key"] if environment else ""


@bp.app_context_processor
def _snippet():
    replay = current_app.config["DEMO_REPLAY"] and request.args.get("replay", "1") != "0"
    return {"footfall_snippet": install_script(current_app.config["SETTINGS"], replay)}


@bp.get("/")
def home():
    return render_template("home.html", products=catalog.PRODUCTS)


@bp.get("/products/<slug>")
def product(slug: str):
    item = catalog.product(slug)
    if item is None:
        abort(404)
    return render_template("product.html", product=item)


@bp.get("/pricing")
def pricing():
    return render_template("pricing.html", plans=catalog.PLANS)


@bp.get("/signup")
def signup():
    return render_template("signup.html", plans=catalog.PLANS, plan=request.args.get("plan", "pro"))


@bp.get("/login")
def login():
    return render_template("login.html")


@bp.get("/welcome")
def welcome():
    return render_template("welcome.html")


@bp.get("/checkout")
def checkout():
    return render_template("checkout.html", product=catalog.product(request.args.get("sku", "")))


def create_app(settings: Settings | None = None, replay: bool = True) -> Flask:
    """The demo shop; `replay=False` installs the SDK without session recording."""
    settings = settings or get_settings()
    app = create_service_app("demo-site", [bp], settings=settings)
    app.config["SETTINGS"] = settings
    app.config["DEMO_REPLAY"] = replay
    return app
