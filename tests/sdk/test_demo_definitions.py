"""The demo's defined events: created once in the demo environment, through the real definitions service."""
import uuid

import requests

from demo.traffic import DEMO_DEFINITIONS, ensure_demo_definitions
from footfall.config import get_settings
from footfall.web import service_headers


def test_demo_definitions_are_created_once(stack, monkeypatch):
    monkeypatch.setenv("DEFINITIONS_URL", stack.url("definitions"))
    # An environment of its own: the stack's main one is shared with the UI tests, whose raw
    # events (a pageview of /pricing) must stay undefined.
    env_id = f"demo-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("FOOTFALL_ENV_ID", env_id)
    ensure_demo_definitions()
    ensure_demo_definitions()  # a restarted `make run` must not duplicate them
    url = f"{stack.url('definitions')}/internal/v1/envs/{env_id}/definitions"
    names = [d["name"] for d in requests.get(url, headers=service_headers(get_settings()), timeout=5)
             .json()["definitions"]]
    for definition in DEMO_DEFINITIONS:
        assert names.count(definition["name"]) == 1
