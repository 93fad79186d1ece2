"""The board process against a real broker (an incident produced to Kafka reaches a
signed-in event stream; SIGTERM stops it cleanly) and the Now page in a real browser."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiokafka import AIOKafkaProducer
from structlog.testing import capture_logs

from aiohttp import web

from dashboards.board import create_app, serve
from dashboards.feed import IncidentFeed, MemoryFeed
from noroshi.broker import EmbeddedBroker, free_port
from noroshi.settings import Settings
from streams.records import Incident
from streams.topics import TopicNames, ensure_topics

from tests.sse import next_event

from .board_client import Browser, launch_chromium, sign_in, wait_until_connected

pytestmark = pytest.mark.integration

PASSWORD = "sakura-2025"
INCIDENT = Incident(
    incident_id="wako-flame-abc123", municipality="wako", type="flame", target="@wako_city",
    opened_at="2025-11-22T10:00:00+09:00", severity="critical", evidence_ids=["m1"],
    summary="市長の発言に批判が急増しています", state="open", change="opened",
    updated_at="2025-11-22T10:00:00+09:00", version=1,
)


async def produce(servers: str, topic: str, *values: bytes, key: str) -> list[Any]:
    producer = AIOKafkaProducer(bootstrap_servers=servers)
    await producer.start()
    try:
        return [await producer.send_and_wait(topic, value, key=key.encode()) for value in values]
    finally:
        await producer.stop()


async def test_an_incident_produced_to_kafka_reaches_the_event_stream(broker: EmbeddedBroker) -> None:
    settings = Settings.from_env({
        "NOROSHI_BROKER": broker.url, "NOROSHI_TOPIC_PREFIX": "board-it",
        "NOROSHI_BOARD_PORT": str(free_port()), "NOROSHI_BOARD_PASSWORD": PASSWORD,
        "NOROSHI_SECRET_KEY": "integration-secret",
    })
    topic = TopicNames(settings.topic_prefix).incidents
    await ensure_topics(broker.servers, TopicNames(settings.topic_prefix), partitions=3, replication=1)
    board = asyncio.create_task(serve(settings))
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            await wait_until_connected(http, settings.board_url)
            signed_in = await sign_in(http, settings.board_url, settings.board_user, PASSWORD)
            assert signed_in.status == 303

            async with http.get(settings.board_url + "/events") as events:
                assert await next_event(events) == ("snapshot", [])
                with capture_logs() as logs:
                    bad, good = await produce(broker.servers, topic, b"{not json", INCIDENT.to_json(),
                                              key=INCIDENT.incident_id)
                    assert await next_event(events) == ("incident", INCIDENT.to_dict())
                skipped = [e for e in logs if e["event"] == "incident_record_skipped"]
                assert [(e["topic"], e["partition"], e["offset"]) for e in skipped] == [
                    (topic, bad.partition, bad.offset)
                ]

                # SIGTERM with a browser still connected: the stream ends and serve() returns.
                signal.raise_signal(signal.SIGTERM)
                async with asyncio.timeout(10):
                    await board
                with pytest.raises(EOFError):
                    await next_event(events)
    finally:
        board.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await board


async def test_the_feed_keeps_retrying_until_the_broker_is_up() -> None:
    broker = EmbeddedBroker(port=free_port())
    names = TopicNames("board-retry")
    feed = IncidentFeed(broker.servers, names.incidents, retry_delay=0.1, max_retry_delay=0.5)
    changes = feed.subscribe()
    with capture_logs() as logs:
        await feed.start()
        try:
            async with asyncio.timeout(10):
                while not any(e["event"] == "incident_feed_unavailable" for e in logs):
                    await asyncio.sleep(0.05)
            assert not feed.connected
            await asyncio.to_thread(broker.start)
            await ensure_topics(broker.servers, names, partitions=2, replication=1)
            await produce(broker.servers, names.incidents, INCIDENT.to_json(), key=INCIDENT.incident_id)
            async with asyncio.timeout(20):
                assert await changes.get() == INCIDENT
            assert feed.connected
        finally:
            await feed.stop()
            await asyncio.to_thread(broker.stop)

# --- the Now page in a real browser (Debian's chromium, driven over DevTools) ---

@pytest.fixture
async def browser(tmp_path: Path) -> AsyncIterator[Browser]:
    async with launch_chromium(tmp_path) as browser:
        yield browser


async def test_the_now_page_updates_live_in_a_browser(browser: Browser) -> None:
    port = free_port()
    settings = dataclasses.replace(
        Settings.from_env({"NOROSHI_BOARD_PASSWORD": PASSWORD}), board_url=f"http://127.0.0.1:{port}")
    feed = MemoryFeed([dataclasses.replace(INCIDENT, incident_id="low", severity="low")])
    runner = web.AppRunner(create_app(settings, feed))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    rows = "[...document.querySelectorAll('#incidents tr')].map(r => r.dataset.id).join()"
    try:
        await browser.call("Page.navigate", url=settings.board_url + "/")
        await browser.until("location.pathname === '/login' && document.readyState === 'complete'")
        await browser.js(
            f"document.querySelector('[name=user]').value = {json.dumps(settings.board_user)};"
            f"document.querySelector('[name=password]').value = {json.dumps(PASSWORD)};"
            "document.querySelector('form').submit()")
        await browser.until("document.getElementById('connection')?.textContent === '接続中'")
        assert await browser.js(rows) == "low"

        attack = "<img src=x onerror=window.pwned=1>"
        feed.push(dataclasses.replace(INCIDENT, summary=attack))  # critical: goes on top
        await browser.until(f"{rows} === 'wako-flame-abc123,low'")
        assert await browser.js("document.querySelector('#incidents .summary').textContent") == attack
        assert await browser.js("window.pwned") is None
        assert await browser.js("document.documentElement.scrollWidth") <= 390

        feed.push(dataclasses.replace(INCIDENT, version=2, state="resolved"))
        await browser.until(f"{rows} === 'low'")

        await runner.cleanup()  # the board goes away: the page says it is reconnecting
        await browser.until("document.getElementById('connection').textContent === '再接続中…'")
    finally:
        await runner.cleanup()
