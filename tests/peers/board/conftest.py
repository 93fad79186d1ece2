"""Fixtures for the board's unit tests: users, a world made by the real playbooks, a client."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
import aiohttp
from aiohttp import ClientResponse
from aiohttp.test_utils import TestServer

from dashboards.board import create_app
from dashboards.users import UserStore
from vocabulary.settings import Settings
from vocabulary.contract import profile_from_dict

from .world import PASSWORD, PROFILES, World, build, make_users

BOARD_URL = "http://board.example:8080"
SETTINGS = Settings.from_env({"NOROSHI_SECRET_KEY": "board-unit-test-secret", "NOROSHI_BOARD_URL": BOARD_URL})


@pytest.fixture
def store(tmp_path: Path) -> UserStore:
    return make_users(tmp_path / "users.json")


@pytest.fixture
def world(store: UserStore) -> World:
    return build(time.time(), store.users())


def csrf_of(page: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match, "the form carries no CSRF token"
    return match.group(1)


async def sign_in(client: aiohttp.ClientSession, user: str, password: str = PASSWORD) -> ClientResponse:
    token = csrf_of(await (await client.get("/login")).text())
    return await client.post("/login", data={"user": user, "password": password, "csrf": token},
                             allow_redirects=False)


Client = Callable[..., Awaitable[aiohttp.ClientSession]]


@pytest.fixture
async def server(world: World, store: UserStore) -> AsyncIterator[TestServer]:
    app = create_app(SETTINGS, world.feed, users=store,
                     profiles={k: profile_from_dict(v) for k, v in PROFILES.items()}, outcome_wait=0.05)
    async with TestServer(app) as server:
        yield server


@pytest.fixture
async def client_for(server: TestServer) -> AsyncIterator[Client]:
    """A client per person, each with its own cookies, signed in as `user` when given."""
    sessions: list[aiohttp.ClientSession] = []

    async def make(user: str | None = None) -> aiohttp.ClientSession:
        http = aiohttp.ClientSession(base_url=str(server.make_url("/")), cookie_jar=aiohttp.CookieJar(unsafe=True))
        sessions.append(http)
        if user is not None:
            response = await sign_in(http, user)
            assert response.status == 303, await response.text()
        return http

    yield make
    for http in sessions:
        await http.close()


async def page_csrf(client: aiohttp.ClientSession, path: str = "/") -> str:
    return csrf_of(await (await client.get(path)).text())
