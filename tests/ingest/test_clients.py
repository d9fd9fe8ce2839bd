"""The real Segment and RudderStack Python clients, unchanged, against a running ingest.

Each client runs as shipped (background consumer thread, batching; RudderStack gzips) and the
canonical messages are read back from the real queues.
"""
from datetime import UTC, datetime

import pytest
from rudderstack.analytics import Client as RudderClient
from segment.analytics import Client as SegmentClient

from footfall.ids import anonymous_user_id
from footfall.messages import EventsCaptured, IdentityCommands
from tests.ingest.conftest import ENV_ID, WRITE_KEY, drain


def send_everything(client):
    when = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
    client.identify("ada@example.com", {"plan": "pro", "company": {"name": "Acme"}}, anonymous_id="anon-1")
    client.track("ada@example.com", "Order Completed", {"total": 42.5, "items": [{"sku": "A"}]},
                 anonymous_id="anon-1", timestamp=when, message_id="order-1")
    client.page("ada@example.com", "Docs", "Pricing", {"url": "https://shop.example/pricing?utm_source=ads"},
                anonymous_id="anon-1")
    client.screen("ada@example.com", "App", "Home", anonymous_id="anon-1")
    client.group("ada@example.com", "acme", {"name": "Acme"})
    client.alias("anon-1", "ada@example.com")
    client.flush()
    client.shutdown()


@pytest.mark.parametrize("make_client", [
    lambda url, errors: SegmentClient(WRITE_KEY, host=url, on_error=lambda e, batch: errors.append(e)),
    lambda url, errors: RudderClient(WRITE_KEY, host=url, on_error=lambda e, batch: errors.append(e)),
], ids=["segment-analytics-python", "rudder-sdk-python"])
def test_a_real_client_delivers_canonical_events_and_commands(make_client, live_url, settings, clean_bus):
    errors: list = []
    send_everything(make_client(live_url, errors))
    assert errors == []

    events = [e for m in drain(settings, "sessions.events") for e in m.events]
    inbox = drain(settings, "identity.inbox")
    assert {m.env_id for m in inbox} == {ENV_ID}
    assert [(e.kind, e.name) for e in events] == [("custom", "Order Completed"), ("pageview", "Pricing"),
                                                 ("screen", "Home")]
    order = events[0]
    assert order.event_id == "order-1" and order.identity == "ada@example.com"
    assert order.device_id == "anon-1" and order.user_id == anonymous_user_id("anon-1")
    assert order.source == "server" and order.library == "analytics-python"
    assert abs((order.time - datetime(2024, 5, 1, 9, 30, tzinfo=UTC)).total_seconds()) < 60
    assert order.properties == {"total": 42.5, "items": '[{"sku":"A"}]'}
    assert events[1].campaign.utm_source == "ads" and events[1].page.path == "/pricing"

    commands = [c for m in inbox if isinstance(m, IdentityCommands) for c in m.commands]
    assert sorted(c.type for c in commands) == ["alias", "identify", "set_user_properties", "set_user_properties"]
    [identify] = [c for c in commands if c.type == "identify"]
    assert (identify.identity, identify.device_id) == ("ada@example.com", "anon-1")
    traits = [c for c in commands if c.type == "set_user_properties" and "plan" in c.properties]
    assert traits[0].properties == {"plan": "pro", "company.name": "Acme"}
    # The identity consumer also sees the events (same routing key, its own queue).
    assert sum(len(m.events) for m in inbox if isinstance(m, EventsCaptured)) == 3
