"""The pipeline's heartbeat through real processes: `noroshi worker` sends it every second, it passes
detect and playbook onto the heartbeats topic, and `noroshi board` shows its age on every page;
a worker stopped with SIGSTOP turns the indicator red (naming the late partition), SIGCONT brings
it back. Heartbeats never reach the detectors' statistics, an incident or the timeline."""

from __future__ import annotations

import asyncio
import html
import re
import signal
from typing import Any

import aiohttp
import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from noroshi.broker import EmbeddedBroker
from streams import heartbeat
from tests.integration.board_client import sign_in, start_board
from tests.integration.conftest import PARTITIONS, read_until
from tests.sse import next_event
from vocabulary.topics import TopicNames

LATE_S = 4  # the board's threshold, lowered from 180 s so that the test waits seconds, not minutes
WAKO_PARTITION = heartbeat.partition_for("wako", PARTITIONS)
WATCH = re.compile(r'<p id="watch"[^>]*data-state="(\w+)"[^>]*>([^<]*)</p>')


async def indicator(http: aiohttp.ClientSession, url: str) -> tuple[str, str]:
    """The 監視 indicator of a page: (state, text)."""
    async with http.get(url) as response:
        assert response.status == 200
        found = WATCH.search(await response.text())
    assert found is not None, "no 監視 indicator in the page"
    return found.group(1), html.unescape(found.group(2))


async def until_state(http: aiohttp.ClientSession, url: str, state: str, timeout: float = 30) -> str:
    async with asyncio.timeout(timeout):
        while True:
            shown, text = await indicator(http, url)
            if shown == state:
                return text
            await asyncio.sleep(0.3)


async def topic_ends(servers: str, topics: list[str]) -> dict[str, int]:
    """How many records each topic holds (the high watermarks the broker's fetches report)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=servers, group_id=None, auto_offset_reset="earliest")
    await consumer.start()
    try:
        parts = [TopicPartition(t, p) for t in topics for p in range(PARTITIONS)]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        async with asyncio.timeout(20):
            while any(consumer.highwater(tp) is None for tp in parts):
                await consumer.getmany(*parts, timeout_ms=300)
        return {t: sum(consumer.highwater(TopicPartition(t, p)) for p in range(PARTITIONS)) for t in topics}
    finally:
        await consumer.stop()


async def test_the_heartbeat_goes_through_the_pipeline_to_every_page_and_turns_red_when_the_worker_stops(
        broker: EmbeddedBroker, spawn: Any, env: dict[str, str], names: TopicNames) -> None:
    worker = spawn("worker", extra_env={"NOROSHI_HEARTBEAT_INTERVAL": "1"})
    _, base = await start_board(spawn, NOROSHI_HEARTBEAT_LATE=str(LATE_S))
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        assert (await sign_in(http, base, "demo", env["NOROSHI_BOARD_PASSWORD"])).status == 303

        # Every page says 監視: 正常 with an age of a few seconds once heartbeats flow.
        text = await until_state(http, base + "/", "ok", timeout=40)
        assert re.fullmatch(r"監視: 正常 · \d秒前", text), text
        for path in ("/outbound", "/disaster", "/oncall", "/report"):
            state, text = await indicator(http, base + path)
            assert state == "ok" and text.startswith("監視: 正常 · ") and text.endswith("秒前"), (path, text)
        state, text = await indicator(http, base + "/?lang=en")
        assert state == "ok" and re.fullmatch(r"Monitoring: OK · \d s ago", text), text
        await indicator(http, base + "/?lang=ja")  # the choice is remembered: back to Japanese

        # The live pages hear each heartbeat on their stream.
        async with http.get(base + "/events") as events:
            assert (await next_event(events))[0] == "snapshot"
            name, beat = await next_event(events)
            while name != "heartbeat":
                name, beat = await next_event(events)
            assert beat["partition"] == WAKO_PARTITION and beat["sent_at"]

        # The heartbeats topic holds them with all three hop times, in order.
        records = await read_until(broker.servers, [names.heartbeats], lambda rs: len(rs) >= 2, timeout=20)
        for record in records:
            passed = orjson.loads(record.value)
            assert record.key == f"heartbeat:{WAKO_PARTITION}".encode()
            assert passed["municipality"] == "wako" and passed["partition"] == WAKO_PARTITION
            assert passed["sent_at"] <= passed["detected_at"] <= passed["played_at"], passed

        # No incident, timeline entry or effect came of them; the detectors never counted them,
        # though their offsets were applied (the detector state's changelog says both).
        ends = await topic_ends(broker.servers, [names.incidents, names.timeline, names.effects, names.deadletters])
        assert ends == dict.fromkeys(ends, 0), ends
        states = await read_until(broker.servers, ["noroshi-detector-state-changelog"], lambda rs: len(rs) >= 1,
                                  timeout=20)
        for record in states:
            assert b"hb:" not in record.value and b"heartbeat" not in record.value
            snapshot = orjson.loads(record.value)
            assert f"{names.mentions}:{WAKO_PARTITION}" in snapshot["offsets"]

        # The worker stops answering: past the threshold every page turns red and says what is late.
        assert worker.proc is not None
        worker.proc.send_signal(signal.SIGSTOP)
        try:
            text = await until_state(http, base + "/", "late", timeout=LATE_S + 10)
            assert re.fullmatch(rf"監視: 遅延 · \d+秒前 — パーティション {WAKO_PARTITION}（wako）の心拍が届いていません",
                                text), text
            state, text = await indicator(http, base + "/oncall?lang=en")
            assert state == "late" and f"no heartbeat from partition {WAKO_PARTITION} (wako)" in text, text
        finally:
            worker.proc.send_signal(signal.SIGCONT)

        # Going again, it is 正常 again.
        text = await until_state(http, base + "/?lang=ja", "ok", timeout=40)
        assert text.startswith("監視: 正常 · "), text
