"""Where a client address is: `{country, region, city}` for an event's `geo` (docs/geo.md).

Two sources, chosen once at start:
- an operator's MaxMind database (Settings.geoip_database, a GeoIP2/GeoLite2 City or Country
  .mmdb that MaxMind's geoipupdate keeps current): country, region and city;
- otherwise iptocc's bundled table of the five regional internet registries' allocations, rebuilt
  with every release of the package: the country only. MaxMind's licence keeps its data out of
  packages, and a stale city is worse than none, so no city is guessed without the operator's file.

Lookups are cached per process: the same visitors' addresses repeat across requests.
"""
from __future__ import annotations

import ipaddress
from collections.abc import Callable
from functools import lru_cache
from typing import Any

Geo = Callable[[str], dict | None]


def geolocator(database: str = "", reader: Any = None) -> Geo:
    """`ip -> {country, region, city}` or None (private, reserved and unknown addresses, non-IPs).

    `database` is the operator's MaxMind file; `reader` an already open maxminddb reader (tests).
    A database that cannot be opened stops the start: the operator asked for it.
    """
    if reader is None and database:
        import maxminddb

        reader = maxminddb.open_database(database, maxminddb.MODE_MMAP_EXT)
    record_of = _maxmind(reader) if reader is not None else _registry()

    @lru_cache(maxsize=8192)
    def locate(ip: str) -> dict | None:
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return None
        if not address.is_global:
            return None
        return record_of(address.compressed)

    return locate


def _maxmind(reader: Any) -> Callable[[str], dict | None]:
    def record_of(ip: str) -> dict | None:
        record = reader.get(ip)
        if not record:
            return None
        subdivisions = record.get("subdivisions") or [{}]
        country = (record.get("country") or record.get("registered_country") or {}).get("iso_code")
        return {
            "country": country,
            "region": (subdivisions[0].get("names") or {}).get("en"),
            "city": ((record.get("city") or {}).get("names") or {}).get("en"),
        }

    return record_of


def _registry() -> Callable[[str], dict | None]:
    from iptocc import country_code

    def record_of(ip: str) -> dict | None:
        country = country_code(ip)
        return {"country": country, "region": None, "city": None} if country else None

    return record_of
