"""Sign-in and sign-out against real `noroshi board` processes (issue 12, findings 7 and 8):
a script spraying sign-ins from the office's one address does not lock out the on-call
operator; X-Forwarded-For counts only from a trusted proxy; a signed-out session cookie is
refused at once by every board process sharing the data directory; a browser that signed in
before is not locked out by guesses at its user's name."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable

import aiohttp
import pytest
from yarl import URL

from dashboards import session
from dashboards.users import UserStore
from vocabulary.settings import Settings
from tests.peers.board.world import FAST_HASHER

from .board_client import start_board
from .conftest import Proc

pytestmark = pytest.mark.integration

PASSWORD = "sakura-2025-board"


def add_users(settings: Settings) -> None:
    users = UserStore(settings.users_file, hasher=FAST_HASHER)
    users.add("sato", role="operator", municipality="wako", password=PASSWORD, display_name="当番 佐藤")
    users.add("tanaka", role="owner", municipality="wako", password=PASSWORD, display_name="課長 田中")


def client() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def try_sign_in(http: aiohttp.ClientSession, base: str, user: str, password: str,
                      forwarded: str | None = None) -> int:
    form = await (await http.get(base + "/login")).text()
    token = re.search(r'name="csrf" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    async with http.post(base + "/login", data={"user": user, "password": password, "csrf": token},
                         headers=headers, allow_redirects=False) as response:
        return response.status


async def sign_out(http: aiohttp.ClientSession, base: str) -> int:
    page = await (await http.get(base + "/")).text()
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    async with http.post(base + "/logout", data={"csrf": token}, allow_redirects=False) as response:
        assert response.status != 303 or response.headers["Location"] == "/login"
        return response.status


def logged(board: Proc, event: str) -> list[dict]:
    return [line for line in board.log_lines() if line.get("event") == event]


async def test_a_spray_from_the_office_address_does_not_lock_out_the_on_call_operator(
        spawn: Callable[..., Proc], settings: Settings) -> None:
    add_users(settings)
    board, base = await start_board(spawn)
    async with client() as script, client() as operator:
        # 25 failed sign-ins from 127.0.0.1 — the office NAT — with made-up and real names;
        # an X-Forwarded-For from a peer that is no trusted proxy changes nothing.
        names = [f"intruder{i}" for i in range(23)] + ["tanaka", "tanaka"]
        statuses = [await try_sign_in(script, base, name, "guess-guess", forwarded=f"198.51.100.{i}")
                    for i, name in enumerate(names)]
        assert statuses[:20] == [401] * 20 and statuses[-1] == 429
        assert await try_sign_in(script, base, "tanaka", PASSWORD) == 429  # a name failing here waits
        assert await try_sign_in(script, base, "someone-new", "guess-guess") == 401  # one more try, checked

        assert await try_sign_in(operator, base, "sato", PASSWORD) == 303  # at once, right password
        async with operator.get(base + "/api/incidents") as response:
            assert response.status == 200

    assert {line["remote"] for line in logged(board, "board_login_failed")} == {"127.0.0.1"}
    [succeeded] = logged(board, "board_login_succeeded")
    assert (succeeded["user"], succeeded["gated"]) == ("sato", True)


async def test_behind_a_trusted_proxy_the_forwarded_client_address_counts(spawn: Callable[..., Proc],
                                                                         settings: Settings) -> None:
    add_users(settings)
    board, base = await start_board(spawn, NOROSHI_BOARD_TRUSTED_PROXIES="127.0.0.0/8")
    async with client() as http:
        # Five wrong passwords for tanaka from one client behind the proxy (what it puts on the left is its own)…
        for fake in range(5):
            assert await try_sign_in(http, base, "tanaka", "guess-guess", forwarded=f"10.6.6.{fake}, 203.0.113.5") == 401
        # …refuse tanaka from that client even with the right password, and from no other.
        assert await try_sign_in(http, base, "tanaka", PASSWORD, forwarded="203.0.113.5") == 429
        assert await try_sign_in(http, base, "tanaka", PASSWORD, forwarded="203.0.113.5, 127.0.0.1") == 429
        assert await try_sign_in(http, base, "tanaka", PASSWORD, forwarded="203.0.113.6") == 303

    assert {line["remote"] for line in logged(board, "board_login_failed")} == {"203.0.113.5"}
    [limited, _] = logged(board, "board_login_limited")
    assert (limited["remote"], limited["peer"]) == ("203.0.113.5", "127.0.0.1")


async def test_a_guess_spread_over_many_addresses_does_not_lock_the_operator_out_of_their_own_phone(
        spawn: Callable[..., Proc], settings: Settings) -> None:
    add_users(settings)
    _, base = await start_board(spawn, NOROSHI_BOARD_TRUSTED_PROXIES="127.0.0.1")
    async with client() as phone, client() as guesser, client() as new_browser:
        assert await try_sign_in(phone, base, "sato", PASSWORD, forwarded="192.0.2.10") == 303
        assert await sign_out(phone, base) == 303  # the shift ended; the phone keeps its device cookie
        # 50 wrong passwords for sato from 10 addresses: the name's own limit, which keeps such guessing slow.
        for i in range(50):
            assert await try_sign_in(guesser, base, "sato", "guess-guess", forwarded=f"198.51.100.{i // 5}") == 401
        assert await try_sign_in(new_browser, base, "sato", PASSWORD, forwarded="192.0.2.11") == 429
        # The phone that signed in as sato before (its device cookie) is not held up.
        assert await try_sign_in(phone, base, "sato", PASSWORD, forwarded="192.0.2.10") == 303


async def test_a_signed_out_cookie_is_refused_at_once_by_every_board_process(spawn: Callable[..., Proc],
                                                                            settings: Settings) -> None:
    add_users(settings)
    (_, base_a), (_, base_b) = await asyncio.gather(start_board(spawn), start_board(spawn))
    async with client() as operator, aiohttp.ClientSession() as thief:
        assert await try_sign_in(operator, base_a, "sato", PASSWORD) == 303
        cookie = {session.SESSION_COOKIE: operator.cookie_jar.filter_cookies(URL(base_a))[session.SESSION_COOKIE].value}
        for base in (base_a, base_b):  # one secret key: the copy works on both, as the original does
            async with thief.get(base + "/api/incidents", cookies=cookie) as response:
                assert response.status == 200

        assert await sign_out(operator, base_a) == 303

        for base in (base_a, base_b):
            async with thief.get(base + "/api/incidents", cookies=cookie) as response:
                assert response.status == 401, base
            async with thief.get(base + "/", cookies=cookie, allow_redirects=False) as response:
                assert (response.status, response.headers["Location"]) == (303, "/login")
    assert (settings.data_dir / session.REVOKED_FILE).exists()  # beside the users file, by default here
