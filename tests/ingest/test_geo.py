"""Geo of a client address: the operator's MaxMind database, else the registries' country (pure)."""
from __future__ import annotations

import pytest
from mmdb_writer import MMDBWriter
from netaddr import IPSet

from services.ingest.geo import geolocator

pytestmark = pytest.mark.unit
NOT_GEO = ("10.0.0.1", "127.0.0.1", "192.168.1.1", "::1", "not an ip", "")


def test_without_a_database_the_country_comes_from_the_registries_allocations():
    geo = geolocator()
    # Blocks allocated by RIPE (GB), ARIN (US), APNIC (JP), LACNIC (BR), in v4 and v6.
    assert geo("81.2.69.160") == {"country": "GB", "region": None, "city": None}
    assert geo("8.8.8.8")["country"] == "US"
    assert geo("2001:4860:4860::8888")["country"] == "US"
    assert geo("133.11.0.1")["country"] == "JP"
    assert geo("200.160.2.3")["country"] == "BR"
    assert all(geo(ip) is None for ip in NOT_GEO)


@pytest.fixture
def city_database(tmp_path):
    """A MaxMind City database of two networks, in the format geoipupdate delivers."""
    writer = MMDBWriter(ip_version=6, database_type="GeoIP2-City", ipv4_compatible=True)
    writer.insert_network(IPSet(["81.2.69.0/24"]), {
        "country": {"iso_code": "GB", "names": {"en": "United Kingdom"}},
        "subdivisions": [{"iso_code": "ENG", "names": {"en": "England"}}],
        "city": {"names": {"en": "London", "de": "London"}}})
    writer.insert_network(IPSet(["2a02:8010::/32"]), {"registered_country": {"iso_code": "GB"}})
    path = tmp_path / "GeoIP2-City.mmdb"
    writer.to_db_file(str(path))
    return str(path)


def test_an_operators_maxmind_database_gives_country_region_and_city(city_database):
    geo = geolocator(city_database)
    assert geo("81.2.69.160") == {"country": "GB", "region": "England", "city": "London"}
    assert geo("2a02:8010::1") == {"country": "GB", "region": None, "city": None}
    assert geo("8.8.8.8") is None  # not in the operator's file: unknown, not guessed
    assert all(geo(ip) is None for ip in NOT_GEO)


def test_a_database_that_cannot_be_opened_stops_the_start(tmp_path):
    with pytest.raises((OSError, ValueError)):
        geolocator(str(tmp_path / "missing.mmdb"))
