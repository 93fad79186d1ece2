"""The whole pipeline as separate processes: producer → worker → incidents topic → board → SSE."""

from __future__ import annotations

import json
import os
from pathlib import Path

import aiohttp
import pytest

from noroshi.broker import free_port
from vocabulary.profile_files import load_profile
from tools.replay import replay_lines

from tests.sse import next_event

from .board_client import launch_chromium, sign_in, wait_until_connected
from .conftest import SAMPLE_PROFILE, produce, sample_lines

pytestmark = pytest.mark.integration

#: Where the tests leave screenshots of the board for a person to look at.
SCREENSHOTS = Path(os.environ.get("NOROSHI_SCREENSHOTS", Path(__file__).resolve().parents[2] / "var" / "screenshots"))


async def test_events_produced_reach_the_board_as_a_live_incident(broker, names, spawn, env, tmp_path):
    port = free_port()
    board_env = {"NOROSHI_BOARD_PORT": str(port)}
    base = f"http://127.0.0.1:{port}"
    spawn("worker")
    spawn("board", extra_env=board_env)
    expected = next(i for i in replay_lines(sample_lines(), load_profile(SAMPLE_PROFILE)).incidents.values()
                    if i.type == "flame")

    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        await wait_until_connected(http, base)
        assert (await sign_in(http, base, "demo", env["NOROSHI_BOARD_PASSWORD"])).status == 303
        async with http.get(base + "/events") as stream:
            assert await next_event(stream) == ("snapshot", [])
            await produce(broker.servers, [(names.mentions if b'"mention"' in line else names.accounts,
                                            b"wako", line) for line in sample_lines()])
            while True:  # the sample also opens other incidents (and timeline entries); wait for the flame-up
                kind, incident = await next_event(stream, timeout=60)
                if kind == "incident" and incident["type"] == "flame":
                    break

    assert incident["incident_id"] == expected.incident_id
    assert (incident["type"], incident["target"], incident["opened_at"]) == (
        "flame", "wako_city_official", expected.opened_at)
    assert incident["state"] == "escalated"  # replies held, 広報課 notified, awaiting acknowledgement
    assert incident["awaiting"] == "acknowledge"

    # The same incident on the Now page in a real browser, at phone and desktop width.
    async with launch_chromium(tmp_path / "chromium") as browser:
        await browser.call("Page.navigate", url=base + "/")
        await browser.until("location.pathname === '/login' && document.readyState === 'complete'")
        await browser.js(
            "document.querySelector('[name=user]').value = 'demo';"
            f"document.querySelector('[name=password]').value = {json.dumps(env['NOROSHI_BOARD_PASSWORD'])};"
            "document.querySelector('form').submit()")
        await browser.until(f"!!document.querySelector('#incidents tr[data-id=\"{expected.incident_id}\"]')")
        row_text = await browser.js("document.querySelector('#incidents').textContent")
        assert "炎上" in row_text and "受付待ち" in row_text
        for name, width, height, mobile in (("phone", 390, 844, True), ("desktop", 1366, 900, False)):
            shot = await browser.screenshot(SCREENSHOTS / f"now-{name}.png", width, height, mobile=mobile)
            assert shot.stat().st_size > 10_000
