"""The whole pipeline as separate processes: producer → worker → incidents topic → board → SSE."""

from __future__ import annotations

import aiohttp
import pytest

from noroshi.broker import free_port
from streams.contract import load_profile
from streams.replay import replay_lines

from .board_client import next_event, sign_in, wait_until_connected
from .conftest import SAMPLE_PROFILE, produce, sample_lines

pytestmark = pytest.mark.integration


async def test_events_produced_reach_the_board_as_a_live_incident(broker, names, spawn, env):
    port = free_port()
    board_env = {"NOROSHI_BOARD_PORT": str(port)}
    base = f"http://127.0.0.1:{port}"
    spawn("worker")
    spawn("board", extra_env=board_env)
    expected = next(iter(replay_lines(sample_lines(), load_profile(SAMPLE_PROFILE)).incidents.values()))

    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        await wait_until_connected(http, base)
        assert (await sign_in(http, base, "demo", env["NOROSHI_BOARD_PASSWORD"])).status == 303
        async with http.get(base + "/events") as stream:
            assert await next_event(stream) == ("snapshot", [])
            await produce(broker.servers, [(names.mentions if b'"mention"' in line else names.accounts,
                                            b"wako", line) for line in sample_lines()])
            kind, incident = await next_event(stream, timeout=60)

    assert kind == "incident"
    assert incident["incident_id"] == expected.incident_id
    assert (incident["type"], incident["target"], incident["opened_at"]) == (
        "flame", "wako_city_official", expected.opened_at)
    assert incident["state"] == "open"
