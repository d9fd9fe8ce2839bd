"""Fixtures for the browser SDK's tests: the built bundles, Debian's Chromium, the demo site."""
from __future__ import annotations

import subprocess
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest
from werkzeug.serving import make_server

ROOT = Path(__file__).resolve().parents[2]
SDK_DIR = ROOT / "sdk" / "js"
DIST = SDK_DIR / "dist"

@pytest.fixture(scope="session")
def sdk_dist() -> Path:
    """sdk/js/dist, built now when `make` has not built it (needs sdk/js/node_modules)."""
    wanted = [DIST / name for name in ("footfall.js", "footfall-replay.js", "snippet.min.js")]
    if not all(path.exists() for path in wanted):
        if not (SDK_DIR / "node_modules").exists():
            pytest.fail("sdk/js is not installed: run `make sdk-build` (npm ci + build)")
        subprocess.run(["npm", "run", "build"], cwd=SDK_DIR, check=True, capture_output=True)
    return DIST


@pytest.fixture(scope="session")
def browser(chromium):
    """The run's one headless Debian Chromium (tests/conftest.py)."""
    return chromium


@contextmanager
def serve(app):
    """A WSGI app on a free local port in a thread; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)
