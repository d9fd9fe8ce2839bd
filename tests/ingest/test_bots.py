"""Traffic that is not a person: flagged from the maintained user-agent list and the environment's
excluded ranges, dropped or kept as the environment says, counted per reason."""
from __future__ import annotations

import pytest

from footfall.redis_keys import ENV_SETTINGS_HASH
from services.ingest.bots import reason_of_user_agent
from tests.ingest.conftest import ENV_ID, basic, drain

CHROME = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/126.0.0.0 Safari/537.36")
AGENTS = {
    "crawler": "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "headless": CHROME.replace("Chrome/", "HeadlessChrome/"),
    "monitoring": "Mozilla/5.0 (compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)",
}


@pytest.mark.parametrize("reason", sorted(AGENTS))
def test_user_agents_of_the_list_are_flagged_with_their_reason(reason):
    assert reason_of_user_agent(AGENTS[reason]) == reason


@pytest.mark.parametrize("agent", [CHROME, "analytics-python/2.3.0", "rudder-analytics-python/2.0",
                                   "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15"])
def test_people_and_server_libraries_are_not(agent):
    assert reason_of_user_agent(agent) is None


def _batch(*agents_and_ips):
    return {"batch": [{"type": "page", "anonymousId": f"a{i}", "messageId": f"m{i}",
                       "context": {"userAgent": agent, **({"ip": ip} if ip else {})}}
                      for i, (agent, ip) in enumerate(agents_and_ips)]}


def _metric(client, reason: str, action: str) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(f'ingest_bot_events_total{{action="{action}",reason="{reason}"}}'):
            return float(line.split()[-1])
    return 0.0


def test_bots_are_dropped_by_default_and_counted(client, settings, clean_bus, redis_client):
    before = _metric(client, "crawler", "dropped")
    answer = client.post("/v1/batch", json=_batch((CHROME, None), (AGENTS["crawler"], None),
                                                  (AGENTS["headless"], None)), headers=basic())
    assert answer.status_code == 200 and answer.json["accepted"] == 3  # the client is not told to resend
    events = [e for m in drain(settings, "sessions.events") for e in m.events]
    assert [e.event_id for e in events] == ["m0"] and events[0].bot is None
    assert _metric(client, "crawler", "dropped") == before + 1
    counts = {k.decode().split(":", 1)[1]: int(v)
              for k, v in redis_client.hgetall(f"footfall:bot_traffic:{ENV_ID}").items()}
    assert counts == {"crawler": 1, "headless": 1}
    dropped = {k.decode().split(":", 1)[1]: int(v)
               for k, v in redis_client.hgetall(f"footfall:bot_dropped:{ENV_ID}").items()}
    assert dropped == counts  # dropped, counted apart for the ingestion page


def test_an_environment_may_keep_them_flagged_and_exclude_its_own_addresses(app, client, settings, clean_bus,
                                                                             redis_client):
    redis_client.hset(ENV_SETTINGS_HASH, ENV_ID,
                      b'{"bot_traffic": "keep", "excluded_ip_ranges": ["203.0.113.0/24", "2001:db8::/32"]}')
    answer = client.post("/v1/batch", json=_batch((CHROME, "203.0.113.9"), (CHROME, "198.51.100.1"),
                                                  (AGENTS["monitoring"], None), (CHROME, "2001:db8::1")),
                         headers=basic())
    assert answer.status_code == 200
    events = {e.event_id: e.bot for m in drain(settings, "sessions.events") for e in m.events}
    assert events == {"m0": "excluded_ip", "m1": None, "m2": "monitoring", "m3": "excluded_ip"}
    assert redis_client.hgetall(f"footfall:bot_dropped:{ENV_ID}") == {}  # kept: flagged, not dropped
