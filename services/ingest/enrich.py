"""Enrichment of canonical events: user agent, source, URL parts, UTM fields (geo: geo.py).

Pure functions with caches: the same user agents and URLs repeat across a batch and across
requests, so each is parsed once per process.
"""
from __future__ import annotations

from functools import lru_cache
from urllib.parse import parse_qs, urlsplit

import ua_parser

from services.ingest.normalize import MAX_VALUE_CHARS, json_text

UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
# Segment's context.campaign names (analytics.js parses the UTM query into these), or utm_* as is.
_CAMPAIGN_KEYS = {"source": "utm_source", "medium": "utm_medium", "name": "utm_campaign",
                  "term": "utm_term", "content": "utm_content", **{utm: utm for utm in UTM_FIELDS}}
_DESKTOP_OS = {"Windows", "Mac OS X", "Linux", "Ubuntu", "Chrome OS", "ChromeOS", "Fedora", "FreeBSD",
               "Debian", "OpenBSD", "NetBSD", "Solaris"}
SOURCES = ("web", "ios", "android", "server")
# Substrings of context.library.name, checked in this order ("javascript" before "java").
_LIBRARY_SOURCES = (
    (("analytics.js", "analytics-next", "javascript", "footfall.js", "footfall-js", "browser", "web"), "web"),
    (("ios", "swift"), "ios"),
    (("android", "kotlin"), "android"),
    (("python", "node", "ruby", "java", "go", "php", ".net", "csharp", "rust", "elixir", "server"), "server"),
)


@lru_cache(maxsize=1024)
def source_of(explicit: str | None, library: str | None, os_name: str | None, web_hint: bool) -> str:
    """web/ios/android/server: explicit, else from the library name, the OS, or browser signs."""
    if explicit in SOURCES:
        return explicit  # type: ignore[return-value]
    if library:
        lowered = library.lower()
        for markers, source in _LIBRARY_SOURCES:
            if any(marker in lowered for marker in markers):
                return source
    if os_name:
        lowered = os_name.lower()
        if lowered in ("ios", "ipados"):
            return "ios"
        if lowered == "android":
            return "android"
    return "web" if web_hint else "server"


@lru_cache(maxsize=4096)
def device_from_user_agent(user_agent: str) -> dict:
    """Browser, OS and device type of a user agent (ua-parser); cached because UAs repeat."""
    result = ua_parser.parse(user_agent)
    browser = result.user_agent
    os = result.os
    family = result.device.family if result.device else "Other"
    os_family = os.family if os else None
    return {
        "browser": browser.family if browser else None,
        "browser_version": _version(browser.major, browser.minor) if browser else None,
        "os": os_family,
        "os_version": _version(os.major, os.minor) if os else None,
        "device_type": _device_type(family, os_family, user_agent),
        "screen": None,
        "user_agent": user_agent[:MAX_VALUE_CHARS],
    }


@lru_cache(maxsize=4096)
def browser_device(user_agent: str, screen: str | None) -> dict:
    """The device of a browser event (cached; the dict is shared and never mutated)."""
    return {**device_from_user_agent(user_agent), "screen": screen}


def _version(major: str | None, minor: str | None) -> str | None:
    if not major:
        return None
    return f"{major}.{minor}" if minor else major


def _device_type(family: str, os_family: str | None, user_agent: str) -> str:
    if family == "Spider":
        return "Other"
    if "iPad" in family or "Tablet" in family or (os_family == "Android" and "Mobile" not in user_agent):
        return "Tablet"
    if os_family in ("iOS", "Android") or "Mobile" in user_agent or "Phone" in family:
        return "Mobile"
    if os_family in _DESKTOP_OS:
        return "Desktop"
    return "Other"


def context_text(value: object, name: str) -> str:
    """A context field as text: a scalar as written; an object or list as its JSON (never `str()`,
    which recurses without bound: a list nested 1,000 deep raised RecursionError), truncated."""
    if type(value) is str:
        return value[:MAX_VALUE_CHARS]
    if isinstance(value, (int, float)):  # bool included: str(True) is what a client meant
        return str(value)
    return json_text(value, name)[:MAX_VALUE_CHARS]


def device_from_context(os_info: dict, device_info: dict, screen: str | None, app_info: dict | None = None) -> dict:
    """Device fields from a mobile SDK's context.os / context.device / context.app when no user agent
    is given: the model and app version are what a mobile team asks of an event first."""
    raw_model = device_info.get("model")
    model = context_text(raw_model, "context.device.model") if raw_model else ""
    os_name = os_info.get("name")
    mobile = isinstance(os_name, str) and os_name.lower() in ("ios", "ipados", "android")
    device_type = "Tablet" if "ipad" in model.lower() or device_info.get("type") == "tablet" else (
        "Mobile" if mobile else None)
    # A scalar only: str() of a deeply nested object or list recurses without bound.
    app_version = (app_info or {}).get("version")
    app_version = app_version if isinstance(app_version, (str, int, float)) else None
    return {
        "browser": None, "browser_version": None,
        "os": context_text(os_name, "context.os.name") if os_name else None,
        "os_version": context_text(os_info["version"], "context.os.version") if os_info.get("version") else None,
        "device_type": device_type, "screen": screen, "user_agent": None,
        "model": model[:MAX_VALUE_CHARS] or None,
        "app_version": str(app_version)[:MAX_VALUE_CHARS] if app_version not in (None, "") else None,
    }


def screen_of(screen: object) -> str | None:
    """'1440x900' from Segment's context.screen {width, height}."""
    if isinstance(screen, dict):
        width, height = screen.get("width"), screen.get("height")
        if isinstance(width, (int, float)) and isinstance(height, (int, float)):
            return f"{int(width)}x{int(height)}"
    return None


@lru_cache(maxsize=4096)
def url_parts(url: str) -> dict:
    """domain, path, query (without '?') and hash (without '#') of a URL."""
    try:
        parts = urlsplit(url)
        domain = parts.hostname
    except ValueError:  # e.g. a malformed IPv6 host: keep the URL, skip the parts
        return {"url": url, "domain": None, "path": None, "query": None, "hash": None}
    path = parts.path or ("/" if domain else None)
    return {"url": url, "domain": domain, "path": path, "query": parts.query or None,
            "hash": parts.fragment or None}


@lru_cache(maxsize=4096)
def _utm_from_query(query: str) -> tuple[tuple[str, str], ...]:
    parsed = parse_qs(query)
    return tuple((key, values[0][:MAX_VALUE_CHARS]) for key in UTM_FIELDS if (values := parsed.get(key)))


def campaign_of(campaign: dict, query: str | None) -> dict | None:
    """UTM fields from Segment's context.campaign, else from the page URL's query string."""
    fields = {}
    for key, value in campaign.items():
        utm = _CAMPAIGN_KEYS.get(key)
        if utm is not None and value is not None and value != "":
            fields[utm] = context_text(value, f"context.campaign.{key}")
    if not fields and query and "utm_" in query:
        fields = dict(_utm_from_query(query))
    return fields or None
