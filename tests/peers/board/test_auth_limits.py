"""Sign-in limits that cannot lock the on-call staff out, the trusted-proxy address, and
sign-out that ends the session on the server (issue 12, findings 7 and 8). The limiter and
the address are pure; the sessions use a real SQLite file; the sign-in goes over real HTTP."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from structlog.testing import capture_logs

from dashboards import session
from dashboards.board import create_app
from dashboards.ratelimit import Limits, LoginLimiter, address_key, client_address
from dashboards.session import RevokedSessions, SessionCodec, new_session
from dashboards.users import UserStore
from vocabulary.settings import Settings, SettingsError

from .conftest import BOARD_URL, page_csrf, sign_in
from .world import PASSWORD, World

LIMITS = Limits(per_name_and_address=5, per_address=20, per_name=50, window_s=900)
OFFICE = "203.0.113.7"  # the 広報課's NAT: everyone there shares this address


# --- the limiter ------------------------------------------------------------------------

def _spray(limiter: LoginLimiter, address: str, count: int, now: float = 0) -> None:
    for i in range(count):
        limiter.failed(f"intruder{i}", address, now=now)


def test_a_spray_from_the_office_address_leaves_a_name_that_has_not_failed_there_its_try() -> None:
    limiter = LoginLimiter(LIMITS)
    _spray(limiter, OFFICE, 25)
    verdict = limiter.check("sato", OFFICE, now=1)
    assert verdict.wait == 0 and verdict.gated and verdict.address_wait > 0
    assert limiter.check("sato", "198.51.100.1", now=1) == limiter.check("nobody", "198.51.100.1", now=1)
    assert not limiter.check("sato", "198.51.100.1", now=1).gated  # another address is not affected


def test_past_its_limit_an_address_gets_two_tries_per_name_then_refusals_unchecked() -> None:
    limiter = LoginLimiter(LIMITS)
    _spray(limiter, OFFICE, 20)
    for name in ("tanaka", "intruder3", "no-such-user"):
        tries = 0
        while limiter.check(name, OFFICE, now=1).wait == 0:
            assert limiter.check(name, OFFICE, now=1).gated
            limiter.failed(name, OFFICE, now=1)
            tries += 1
        assert tries == (1 if name == "intruder3" else 2)  # intruder3 had failed once already
        assert 0 < limiter.check(name, OFFICE, now=1).wait <= 900
    assert limiter.check("tanaka", OFFICE, now=901).wait == 0  # the window slid past


def test_the_per_name_limit_still_protects_a_name_guessed_from_many_addresses() -> None:
    limiter = LoginLimiter(LIMITS)
    for i in range(50):
        limiter.failed("sato", f"10.0.{i // 200}.{i % 200}", now=0)
    assert limiter.check("sato", "192.0.2.99", now=1).wait > 0  # from an address never seen
    assert limiter.check("tanaka", "192.0.2.99", now=1).wait == 0


def test_five_failures_of_one_name_from_one_address_refuse_it_there_even_below_the_address_limit() -> None:
    limiter = LoginLimiter(LIMITS)
    for i in range(5):
        assert limiter.check("sato", OFFICE, now=i).wait == 0
        limiter.failed("sato", OFFICE, now=i)
    assert limiter.check("sato", OFFICE, now=5).wait == 895
    limiter.succeeded("sato", "198.51.100.1")  # a success elsewhere clears nothing here
    assert limiter.check("sato", OFFICE, now=5).wait == 895


def test_a_browser_that_signed_in_before_skips_the_per_name_and_address_limits_until_it_fails_five_times() -> None:
    limiter = LoginLimiter(LIMITS)
    for i in range(50):
        limiter.failed("sato", f"10.0.{i // 200}.{i % 200}", now=0)
    _spray(limiter, OFFICE, 25)
    assert limiter.check("sato", OFFICE, now=1).wait > 0  # a new browser waits
    assert limiter.check("sato", OFFICE, now=1, device="phone") == limiter.check("x", "192.0.2.1", now=1)
    for _ in range(5):
        limiter.failed("sato", OFFICE, now=1, device="stolen")
    assert limiter.check("sato", OFFICE, now=2, device="stolen").wait > 0
    assert limiter.check("sato", OFFICE, now=2, device="phone").wait == 0


def test_a_device_cookie_is_no_session_and_a_session_cookie_no_device() -> None:
    codec = SessionCodec("key")
    device = codec.seal_device("sato", now=1000)
    opened = codec.open_device(device, now=1001)
    assert opened is not None and opened.user == "sato" and opened.device_id
    assert codec.open(device, now=1001) is None
    assert codec.open_device(codec.seal(new_session("sato", "fp", now=1000)), now=1001) is None
    assert codec.open_device(device, now=1000 + session.DEVICE_TTL) is None
    assert SessionCodec("other-key").open_device(device, now=1001) is None


def test_ipv6_clients_are_counted_per_64_block() -> None:
    limiter = LoginLimiter(LIMITS)
    for i in range(20):
        limiter.failed(f"intruder{i}", f"2001:db8:1:2::{i + 1:x}", now=0)
    assert limiter.check("intruder0", "2001:db8:1:2:ffff::1", now=1).gated
    assert not limiter.check("intruder0", "2001:db8:1:3::1", now=1).gated
    assert address_key("::ffff:192.0.2.1") == "192.0.2.1"


# --- which address counts ------------------------------------------------------------------

def test_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy() -> None:
    assert client_address("192.0.2.10", ["198.51.100.1"], ()) == "192.0.2.10"
    assert client_address("192.0.2.10", ["198.51.100.1"], ("10.0.0.0/8",)) == "192.0.2.10"
    assert client_address("10.1.1.1", [], ("10.0.0.0/8",)) == "10.1.1.1"


def test_behind_trusted_proxies_the_rightmost_untrusted_hop_is_the_client() -> None:
    proxies = ("10.0.0.0/8", "192.168.5.5/32")
    # The client may put anything on the left; the proxies append what they saw.
    assert client_address("10.0.0.2", ["6.6.6.6, 198.51.100.1, 192.168.5.5"], proxies) == "198.51.100.1"
    assert client_address("10.0.0.2", ["6.6.6.6", "198.51.100.1"], proxies) == "198.51.100.1"  # two header lines
    assert client_address("10.0.0.2", ["[2001:db8::5]:4431"], proxies) == "2001:db8::5"
    assert client_address("10.0.0.2", ["203.0.113.9:5000"], proxies) == "203.0.113.9"
    # Every hop trusted: the leftmost; a hop that is no address ends the walk at the last trusted one.
    assert client_address("10.0.0.2", ["10.3.3.3, 192.168.5.5"], proxies) == "10.3.3.3"
    assert client_address("10.0.0.2", ["not-an-ip, 10.3.3.3"], proxies) == "10.3.3.3"
    assert client_address("::ffff:10.0.0.2", ["198.51.100.1"], proxies) == "198.51.100.1"


def test_the_trusted_proxies_setting_takes_addresses_and_cidrs_and_names_a_bad_one() -> None:
    settings = Settings.from_env({"NOROSHI_BOARD_TRUSTED_PROXIES": " 10.0.0.1, 172.16.0.0/12 ,::1"})
    assert settings.board_trusted_proxies == ("10.0.0.1/32", "172.16.0.0/12", "::1/128")
    assert Settings.from_env(settings.to_env()).board_trusted_proxies == settings.board_trusted_proxies
    assert Settings.from_env({}).board_trusted_proxies == ()
    with pytest.raises(SettingsError, match="NOROSHI_BOARD_TRUSTED_PROXIES: 'proxy.local'"):
        Settings.from_env({"NOROSHI_BOARD_TRUSTED_PROXIES": "10.0.0.1,proxy.local"})


# --- revoked sessions ------------------------------------------------------------------------

def test_a_session_revoked_through_one_store_is_refused_by_another_on_the_same_file(tmp_path: Path) -> None:
    path = tmp_path / session.REVOKED_FILE
    a = SessionCodec("key", RevokedSessions(path))
    b = SessionCodec("key", RevokedSessions(path))  # another board process
    mine, other = new_session("sato", "fp", now=1000), new_session("sato", "fp", now=1000)
    cookie, other_cookie = a.seal(mine), a.seal(other)
    assert b.open(cookie, now=1001) == mine and mine.sid and mine.sid != other.sid
    a.revoke(mine, now=1001)
    assert a.open(cookie, now=1002) is None and b.open(cookie, now=1002) is None
    assert b.open(other_cookie, now=1002) == other  # only that session ends


def test_revoked_ids_go_once_their_session_would_have_expired(tmp_path: Path) -> None:
    now = int(time.time())
    store = RevokedSessions(tmp_path / session.REVOKED_FILE)
    store.revoke("old", expires=now + 10, now=now)
    store.revoke("new", expires=now + 100, now=now)
    store.revoke("later", expires=now + 10_000, now=now)
    assert len(store) == 3
    store.revoke("newer", expires=now + 200, now=now + 10)  # a sign-out prunes what has expired
    assert len(store) == 3 and not store.is_revoked("old") and store.is_revoked("new")
    assert store.prune(now + 300) == 2 and len(store) == 1
    store.revoke("stale", expires=now - 1, now=now - 100)
    again = RevokedSessions(tmp_path / session.REVOKED_FILE)  # and so does a start
    assert len(again) == 1 and again.is_revoked("later")


def test_a_cookie_without_a_session_id_is_refused() -> None:
    codec = SessionCodec("key")
    without = session.Session(user="sato", expires=10_000, csrf="c", fingerprint="fp")
    assert codec.open(codec.seal(without), now=1) is None


def test_a_store_that_cannot_be_read_refuses_every_session_and_says_so_once(tmp_path: Path) -> None:
    path = tmp_path / session.REVOKED_FILE
    codec = SessionCodec("key", RevokedSessions(path))
    cookie = codec.seal(new_session("sato", "fp", now=1000))
    with sqlite3.connect(path) as db:
        db.execute("ALTER TABLE revoked_sessions RENAME TO broken")
    with capture_logs() as logs:
        assert codec.open(cookie, now=1001) is None
        assert codec.open(cookie, now=1001) is None
        with sqlite3.connect(path) as db:
            db.execute("ALTER TABLE broken RENAME TO revoked_sessions")
        assert codec.open(cookie, now=1001) is not None
    assert [(e["event"], e.get("refused")) for e in logs] == [
        ("board_session_store_failed", None), ("board_session_store_recovered", 2)]


# --- over HTTP -------------------------------------------------------------------------------

def _settings(tmp_path: Path, **env: str) -> Settings:
    return Settings.from_env({"NOROSHI_SECRET_KEY": "auth-limits-secret", "NOROSHI_BOARD_URL": BOARD_URL,
                              "NOROSHI_DATA_DIR": str(tmp_path / "var"), **env})


def _client(server: TestServer) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(base_url=str(server.make_url("/")), cookie_jar=aiohttp.CookieJar(unsafe=True))


async def _try(http: aiohttp.ClientSession, user: str, password: str, forwarded: str | None = None) -> int:
    token = await page_csrf(http, "/login")
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    response = await http.post("/login", data={"user": user, "password": password, "csrf": token},
                               headers=headers, allow_redirects=False)
    return response.status


async def test_after_a_spray_the_operator_signs_in_and_names_real_or_not_are_answered_alike(
        tmp_path: Path, world: World, store: UserStore) -> None:
    app = create_app(_settings(tmp_path), world.feed, users=store, limiter=LoginLimiter(LIMITS))
    async with TestServer(app) as server, _client(server) as attacker, _client(server) as sato:
        statuses = [await _try(attacker, f"intruder{i}", "guess-guess") for i in range(25)]
        assert statuses == [401] * 20 + [401] * 5  # intruder20…24: each its first try past the limit
        # A real name and a made-up one get the same answers: a try, then "limited".
        for name in ("tanaka", "made-up-name"):
            assert [await _try(attacker, name, "guess-guess") for _ in range(3)] == [401, 429, 429]
        assert await _try(attacker, "tanaka", PASSWORD) == 429  # tanaka has failed here twice
        assert await _try(sato, "sato", PASSWORD) == 303  # never failed here: straight in
        assert (await sato.get("/api/incidents")).status == 200


async def test_a_guess_spread_over_many_addresses_does_not_lock_the_operator_out_of_their_own_phone(
        tmp_path: Path, world: World, store: UserStore) -> None:
    app = create_app(_settings(tmp_path, NOROSHI_BOARD_TRUSTED_PROXIES="127.0.0.1"), world.feed, users=store,
                     limiter=LoginLimiter(LIMITS))
    async with TestServer(app) as server, _client(server) as phone, _client(server) as guesser, \
            _client(server) as new_browser:
        assert await _try(phone, "sato", PASSWORD) == 303  # the on-call phone, signed in before
        await phone.post("/logout", data={"csrf": await page_csrf(phone)}, allow_redirects=False)
        for i in range(50):
            assert await _try(guesser, "sato", "guess-guess", forwarded=f"198.51.100.{i}") == 401
        assert await _try(new_browser, "sato", PASSWORD, forwarded="192.0.2.1") == 429
        assert await _try(phone, "sato", PASSWORD, forwarded="198.51.100.1") == 303


async def test_behind_a_trusted_proxy_the_forwarded_address_counts(tmp_path: Path, world: World,
                                                                   store: UserStore) -> None:
    app = create_app(_settings(tmp_path, NOROSHI_BOARD_TRUSTED_PROXIES="127.0.0.1"), world.feed, users=store,
                     limiter=LoginLimiter(LIMITS))
    async with TestServer(app) as server, _client(server) as http:
        for _ in range(5):
            assert await _try(http, "tanaka", "guess-guess", forwarded="6.6.6.6, 198.51.100.1") == 401
        assert await _try(http, "tanaka", PASSWORD, forwarded="7.7.7.7, 198.51.100.1") == 429
        assert await _try(http, "tanaka", PASSWORD, forwarded="6.6.6.6, 198.51.100.2") == 303


async def test_sign_out_ends_the_session_in_every_board_sharing_the_data_dir(tmp_path: Path, world: World,
                                                                             store: UserStore) -> None:
    settings = _settings(tmp_path)
    board_a, board_b = create_app(settings, world.feed, users=store), create_app(settings, world.feed, users=store)
    async with TestServer(board_a) as a, TestServer(board_b) as b, _client(a) as http, _client(b) as thief:
        assert (await sign_in(http, "sato")).status == 303
        copied = {session.SESSION_COOKIE: http.cookie_jar.filter_cookies(a.make_url("/"))[session.SESSION_COOKIE].value}
        assert (await thief.get("/api/incidents", cookies=copied)).status == 200
        response = await http.post("/logout", data={"csrf": await page_csrf(http)}, allow_redirects=False)
        assert response.status == 303
        async with _client(a) as thief_a:
            assert (await thief_a.get("/api/incidents", cookies=copied)).status == 401
        assert (await thief.get("/api/incidents", cookies=copied)).status == 401


async def test_a_sign_out_the_store_cannot_record_says_so_in_both_languages(tmp_path: Path, world: World,
                                                                           store: UserStore) -> None:
    settings = _settings(tmp_path)
    async with TestServer(create_app(settings, world.feed, users=store)) as server, _client(server) as http:
        assert (await sign_in(http, "sato")).status == 303
        with sqlite3.connect(settings.users_file.parent / session.REVOKED_FILE) as db:  # reads work, writes fail
            db.execute("CREATE TRIGGER refuse BEFORE INSERT ON revoked_sessions "
                       "BEGIN SELECT RAISE(ABORT, 'disk says no'); END")
        with capture_logs() as logs:
            response = await http.post("/logout", data={"csrf": await page_csrf(http)}, allow_redirects=False)
        assert response.status == 503
        text = await response.text()
        assert "サインアウトをサーバーに記録できませんでした" in text and "Sign-out could not be recorded" in text
        assert [e["event"] for e in logs if e["log_level"] == "error"] == ["board_logout_failed"]
