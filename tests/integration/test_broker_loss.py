"""A broker that lost its data under a running worker (issue 12, finding 3).

The embedded broker keeps everything in memory: restarted on the same port with its topics
made again, every partition starts at offset 0 while the worker remembers the offsets it
applied. The worker must notice, say so once (log and board), and process the new events.
"""

from __future__ import annotations

import asyncio
import contextlib
import re

import aiohttp
import orjson
import pytest

from dashboards.users import UserStore
from noroshi.broker import free_port
from streams.lineage import BROKER_LOG_LOST
from vocabulary.records import DeadLetter, Detection
from streams.topics import ensure_topics

from tests.peers.board.world import FAST_HASHER

from .conftest import PARTITIONS, produce, read_until, sample_lines, shifted_to_now

pytestmark = pytest.mark.integration


def items(names, lines: list[bytes], tag: str) -> list[tuple[str, bytes, bytes]]:
    out = []
    for line in lines:
        event = orjson.loads(line)
        event["id"] += tag  # new events, not the old ones again
        out.append((names.mentions if event["kind"] == "mention" else names.accounts, b"wako",
                    orjson.dumps(event)))
    return out


PASSWORD = "sakura-2025-board"


async def board_page(http: aiohttp.ClientSession, base: str) -> str:
    """The Now page, signed in (the board may still be starting)."""
    async with asyncio.timeout(30):
        while True:
            with contextlib.suppress(aiohttp.ClientConnectionError):
                page = await (await http.get(base + "/")).text()
                if 'name="password"' not in page:
                    return page
                token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
                await http.post(base + "/login", data={"user": "sato", "password": PASSWORD, "csrf": token})
            await asyncio.sleep(0.2)


async def test_a_worker_notices_the_broker_lost_its_data_says_so_once_and_processes_the_new_events(
        broker, names, spawn, settings):
    UserStore(settings.users_file, hasher=FAST_HASHER).add(
        "sato", role="operator", municipality="wako", password=PASSWORD, display_name="当番 佐藤")
    port = free_port()
    spawn("board", extra_env={"NOROSHI_BOARD_PORT": str(port)})
    lines, _ = shifted_to_now(sample_lines())
    worker = spawn("worker")
    await produce(broker.servers, items(names, lines, ""))
    before = await read_until(broker.servers, [names.detections], lambda rs: len(rs) >= 10)
    assert before

    broker.stop()  # memory only: every topic, offset and committed position is gone
    await asyncio.to_thread(broker.start)  # the same port
    await ensure_topics(broker.servers, names, PARTITIONS, 1)
    after_lines, _ = shifted_to_now(sample_lines()[:60])  # fewer than before: ends below the applied offsets
    await produce(broker.servers, items(names, after_lines, "-after"))

    # New events after the restart become detections on the new broker.
    records = await read_until(broker.servers, [names.detections, names.deadletters],
                               lambda rs: any(r.topic == names.detections for r in rs)
                               and any(r.topic == names.deadletters for r in rs))
    detections = [Detection.from_json(r.value) for r in records if r.topic == names.detections]
    assert detections and all(d.municipality == "wako" for d in detections)
    # ...and the board hears of it: one dead letter whose reason the board shows as a banner.
    letters = [DeadLetter.from_json(r.value) for r in records if r.topic == names.deadletters]
    lost = [d for d in letters if d.reason.startswith(BROKER_LOG_LOST)]
    assert len(lost) == 1
    assert "ブローカーのデータが失われました" in lost[0].reason and "The broker lost its data" in lost[0].reason

    for _ in range(50):  # the log line is written before the dead letter is sent; give it a flush
        log = worker.log_lines()
        if any(line.get("event") == "broker_log_lost" for line in log):
            break
        await asyncio.sleep(0.1)
    said = [line for line in log if line.get("event") == "broker_log_lost"]
    assert len(said) == 1, "said once, in one clear line"
    [line] = said
    assert line["level"] == "error" and line["topic"] in names.inputs + (names.detections,
                                                                         names.commands, names.deadlines,
                                                                         names.effects)
    assert isinstance(line["partition"], int) and isinstance(line["offset"], int)
    assert "ブローカーのデータが失われました" in line["message"]
    # Nothing of the new log was skipped as already applied: every skip is logged with its position.
    new_skips = [s for s in log if s.get("event") == "event_already_applied"
                 and s["timestamp"] > line["timestamp"]]
    assert new_skips == []
    assert all({"topic", "partition", "offset"} <= s.keys()
               for s in log if s.get("event") == "event_already_applied")
    assert worker.proc.poll() is None, "the worker re-synchronised and goes on"

    # The board, which read the old log further than the new one goes, reads it again and says so.
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with asyncio.timeout(30):
            while 'id="broker-lost-banner"' not in (page := await board_page(http, f"http://127.0.0.1:{port}")):
                await asyncio.sleep(0.3)
    assert "ブローカーのデータが失われました" in page and f"{lost[0].topic}:{lost[0].partition}" in page
