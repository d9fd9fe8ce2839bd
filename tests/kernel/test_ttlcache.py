"""footfall.ttlcache: per-entry TTLs, stale reads for when the source fails, a bound. Pure."""
from hypothesis import given
from hypothesis import strategies as st

from footfall.ttlcache import MISSING, TTLCache


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_an_answer_is_fresh_for_its_ttl_then_only_stale_for_a_while():
    clock = Clock()
    cache = TTLCache(clock=clock)
    cache.put("hit", "env-1", ttl=30)
    cache.put("miss", None, ttl=5)  # None is an answer too (an unknown key)
    assert cache.fresh("hit") == "env-1" and cache.fresh("miss") is None
    clock.now += 6
    assert cache.fresh("miss") is MISSING and cache.stale("miss", within=10) is None
    clock.now += 25
    assert cache.fresh("hit") is MISSING
    assert cache.stale("hit", within=600) == "env-1"
    clock.now += 600
    assert cache.stale("hit", within=600) is MISSING
    assert cache.fresh("never") is MISSING and cache.stale("never", within=1e9) is MISSING


def test_pop_forgets_an_answer():
    cache = TTLCache()
    cache.put("token", "env", ttl=5)
    cache.pop("token")
    cache.pop("absent")
    assert cache.fresh("token") is MISSING


@given(st.lists(st.integers(0, 50), max_size=200), st.integers(1, 20))
def test_it_never_holds_more_than_its_bound_and_keeps_the_newest(keys, bound):
    cache = TTLCache(max_size=bound, clock=lambda: 0.0)
    for key in keys:
        cache.put(key, key, ttl=1)
        assert len(cache) <= bound
    if keys:
        assert cache.fresh(keys[-1]) == keys[-1]
