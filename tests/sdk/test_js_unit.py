"""The SDK's own unit tests (vitest, in node + jsdom) as part of `make test`."""
from __future__ import annotations

import subprocess

import pytest

from tests.sdk.conftest import SDK_DIR


def test_vitest_suite_passes():
    if not (SDK_DIR / "node_modules").exists():
        pytest.fail("sdk/js is not installed: run `make sdk-build` (npm ci + build)")
    done = subprocess.run(["npx", "vitest", "run"], cwd=SDK_DIR, capture_output=True, text=True, timeout=180,
                          check=False)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "failed" not in done.stdout.split("Tests")[-1]


def test_core_bundle_within_budget(sdk_dist):
    import gzip

    core = gzip.compress((sdk_dist / "footfall.js").read_bytes())
    assert len(core) <= 15 * 1024, f"core bundle is {len(core)} bytes gzip, over 15 KB"
    assert b"rrweb" not in (sdk_dist / "footfall.js").read_bytes()  # replay stays in its own bundle
