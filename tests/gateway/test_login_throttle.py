"""Login throttling: backoff per account and address, the owner's browsers never locked out, and
password checks bounded in number."""
from __future__ import annotations

import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.app import create_app
from gateway.login_throttle import ACCOUNT, ADDRESS, DEVICE_COOKIE
from tests.gateway.conftest import ADMIN, VIEWER

WRONG = "not the password"


class Clock:
    def __init__(self):
        self.now = 1_700_000_000.0

    def __call__(self):
        return self.now


@pytest.fixture
def proxied(control_plane, standins):
    """The gateway behind a trusted proxy, so each test client may come from its own address."""
    app = create_app(control_plane.with_(sessions_url=standins["sessions"], definitions_url=standins["definitions"],
                                         trusted_proxies=("127.0.0.1/32",)))
    app.extensions["login_throttle"].clock = clock = Clock()
    app.clock = clock
    return app


def attempt(client, who=ADMIN, password=None, address="198.51.100.1"):
    return client.post("/auth/login", json={"email": who[0], "password": password or who[1]},
                       headers={"X-Forwarded-For": address})


def test_repeated_wrong_passwords_lock_the_account_with_backoff(proxied):
    """The attack: 200 wrong passwords answered 401, and the right one still worked after them."""
    client = proxied.test_client()
    answers = [attempt(client, password=WRONG).status_code for _ in range(ACCOUNT.free + 1)]
    assert answers == [401] * (ACCOUNT.free + 1)  # the last one locked the account for 1 s
    locked = attempt(client)  # even the right password is not checked while locked
    assert locked.status_code == 429 and locked.headers["Retry-After"] == "1"
    proxied.clock.now += 1.5
    assert attempt(client, password=WRONG).status_code == 401  # now locked for 2 s
    assert attempt(client).headers["Retry-After"] == "2"
    proxied.clock.now += 2.5
    assert attempt(client).status_code == 200  # the lock lapsed: the owner gets in
    assert attempt(client, password=WRONG).status_code == 401, "a success forgets the account's failures"


def test_an_attacker_cannot_lock_the_owner_s_browser_out(proxied):
    """However long someone fails against the admin, from anywhere (even the admin's own network),
    a browser the admin logged in with before gets in at once."""
    owner = proxied.test_client()
    assert attempt(owner, address="203.0.113.7").status_code == 200
    assert owner.get_cookie(DEVICE_COOKIE, path="/auth") is not None
    attacker = proxied.test_client()
    for i in range(60):
        attempt(attacker, password=WRONG, address=f"192.0.2.{i % 3}")
    for _ in range(ADDRESS.free + 5):
        attempt(attacker, who=VIEWER, password=WRONG, address="203.0.113.7")  # the owner's address
    assert attempt(attacker, address="192.0.2.200").status_code == 429  # guessers are locked out
    assert attempt(owner, address="203.0.113.7").status_code == 200
    assert attempt(owner, address="198.51.100.99").status_code == 200


def test_a_lock_never_outlasts_its_cap(proxied):
    client = proxied.test_client()
    for _ in range(40):  # far past the point where the lock reaches its cap
        attempt(client, password=WRONG, address="192.0.2.1")
        proxied.clock.now += ACCOUNT.cap_s + 1
    assert int(attempt(client, address="198.51.100.2").headers.get("Retry-After", "0")) <= ACCOUNT.cap_s
    proxied.clock.now += ACCOUNT.cap_s + 1
    assert attempt(client, address="198.51.100.2").status_code == 200


def test_one_address_is_limited_across_accounts(proxied):
    client = proxied.test_client()
    for i in range(ADDRESS.free + 1):
        assert attempt(client, who=(f"nobody-{i}@example.com", "x" * 10), address="192.0.2.9").status_code == 401
    assert attempt(client, who=VIEWER, address="192.0.2.9").status_code == 429
    assert attempt(client, who=VIEWER, address="192.0.2.10").status_code == 200


@given(failures=st.integers(0, 10_000))
def test_backoff_doubles_from_one_second_up_to_its_cap(failures):
    lock = ACCOUNT.lock_s(failures)
    if failures <= ACCOUNT.free:
        assert lock == 0
    else:
        assert 1 <= lock <= ACCOUNT.cap_s
        assert ACCOUNT.lock_s(failures + 1) in (min(2 * lock, ACCOUNT.cap_s), ACCOUNT.cap_s)


def test_password_checks_run_one_at_a_time(proxied):
    """The attack: 16 concurrent bad logins (argon2 each) took the feed's median from 14 ms to 597 ms."""
    checks = proxied.extensions["password_checks"]
    barrier = threading.Barrier(16)

    def bad_login(i: int) -> None:
        client = proxied.test_client()
        barrier.wait()
        attempt(client, who=(f"someone-{i}@example.com", "x" * 10), address=f"192.0.2.{i}")

    threads = [threading.Thread(target=bad_login, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert checks.peak == 1 and checks.running == 0
