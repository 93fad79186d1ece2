"""The board process against a real broker: an incident produced to Kafka reaches a
signed-in event stream, an action goes to the commands topic, the CSV export reads the
whole timeline topic (Tansu's end offsets are wrong; the fetch high watermark is not),
the feed retries until the broker is up, and SIGTERM stops it cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import signal
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from aiokafka import AIOKafkaProducer
from structlog.testing import capture_logs

from dashboards.board import serve
from dashboards.feed import KafkaFeed
from dashboards.users import UserStore
from noroshi.broker import EmbeddedBroker, free_port
from noroshi.stack import resolve_profiles
from vocabulary.settings import Settings
from vocabulary.records import Incident, TimelineEntry
from vocabulary.topics import TopicNames
from streams.topics import ensure_topics
from tests.peers.board.world import FAST_HASHER

from tests.sse import next_event

from .board_client import sign_in, wait_until_connected
from .conftest import read_until

pytestmark = pytest.mark.integration

PASSWORD = "sakura-2025-board"
INCIDENT = Incident(
    incident_id="wako-flame-abc123", municipality="wako", type="flame", target="@wako_city",
    opened_at="2025-11-22T10:00:00+09:00", severity="critical", evidence_ids=["m1"],
    summary="市長の発言に批判が急増しています", state="escalated", change="opened",
    updated_at="2025-11-22T10:00:00+09:00", version=1, metrics={"awaiting": "acknowledge"},
)


async def produce(servers: str, topic: str, *values: bytes, key: str) -> list[Any]:
    producer = AIOKafkaProducer(bootstrap_servers=servers)
    await producer.start()
    try:
        return [await producer.send_and_wait(topic, value, key=key.encode()) for value in values]
    finally:
        await producer.stop()


def board_settings(broker: EmbeddedBroker, tmp_path: Path, prefix: str) -> Settings:
    settings = Settings.from_env({
        "NOROSHI_BROKER": broker.url, "NOROSHI_TOPIC_PREFIX": prefix, "NOROSHI_BOARD_PORT": str(free_port()),
        "NOROSHI_SECRET_KEY": "integration-secret", "NOROSHI_DATA_DIR": str(tmp_path / "var"),
    })
    users = UserStore(settings.users_file, hasher=FAST_HASHER)
    users.add("sato", role="operator", municipality="wako", password=PASSWORD, display_name="佐藤")
    return settings


async def test_an_incident_produced_to_kafka_reaches_the_event_stream(broker: EmbeddedBroker, tmp_path: Path) -> None:
    settings = board_settings(broker, tmp_path, "board-it")
    names = TopicNames(settings.topic_prefix)
    await ensure_topics(broker.servers, names, partitions=3, replication=1)
    board = asyncio.create_task(serve(settings, resolve_profiles(settings)))
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            await wait_until_connected(http, settings.board_url)
            assert (await sign_in(http, settings.board_url, "sato", PASSWORD)).status == 303

            async with http.get(settings.board_url + "/events") as events:
                assert await next_event(events) == ("snapshot", [])
                with capture_logs() as logs:
                    bad, good = await produce(broker.servers, names.incidents, b"{not json", INCIDENT.to_json(),
                                              key=INCIDENT.incident_id)
                    name, row = await next_event(events)
                assert name == "incident" and row["incident_id"] == INCIDENT.incident_id
                assert row["awaiting"] == "acknowledge" and row["summary"] == INCIDENT.summary
                skipped = [e for e in logs if e["event"] == "incident_record_skipped"]
                assert [(e["topic"], e["partition"], e["offset"]) for e in skipped] == [
                    (names.incidents, bad.partition, bad.offset)
                ]

                # An action is a command on the commands topic, keyed by the incident.
                page = await (await http.get(f"{settings.board_url}/incidents/{INCIDENT.incident_id}")).text()
                token = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
                sent = await http.post(f"{settings.board_url}/incidents/{INCIDENT.incident_id}/actions",
                                       data={"csrf": token, "action": "acknowledge"}, allow_redirects=False)
                assert sent.status == 303
                [command] = await read_until(broker.servers, [names.commands], lambda rs: len(rs) >= 1, timeout=20)
                assert command.key == INCIDENT.incident_id.encode()
                body = orjson.loads(command.value)
                assert (body["action"], body["actor"]["name"], body["actor"]["role"]) == ("acknowledge", "sato", "operator")

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


async def test_the_csv_export_reads_the_whole_timeline_topic_not_only_memory(broker: EmbeddedBroker,
                                                                             tmp_path: Path) -> None:
    settings = board_settings(broker, tmp_path, "board-csv")
    names = TopicNames(settings.topic_prefix)
    await ensure_topics(broker.servers, names, partitions=3, replication=1)
    entries = [TimelineEntry(entry_id=f"i{n % 7}:{n}", incident_id=f"i{n % 7}", municipality="wako" if n % 2 else "asaka",
                             at="2025-11-22T10:00:00+09:00", actor={"kind": "detector", "name": "noroshi"},
                             action="evidence_added", detail={"seq": n}) for n in range(500)]
    producer = AIOKafkaProducer(bootstrap_servers=broker.servers, linger_ms=50)  # many records per batch
    await producer.start()
    try:
        await asyncio.gather(*[await producer.send(names.timeline, e.to_json(), key=e.incident_id.encode())
                               for e in entries])
    finally:
        await producer.stop()
    feed = KafkaFeed(broker.servers, names)
    read = [e async for e in feed.timeline_records()]
    assert sorted(e.entry_id for e in read) == sorted(e.entry_id for e in entries)

    board = asyncio.create_task(serve(settings, resolve_profiles(settings), feed=feed))
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            await wait_until_connected(http, settings.board_url)
            await sign_in(http, settings.board_url, "sato", PASSWORD)
            body = await (await http.get(settings.board_url + "/report/timeline.csv?month=2025-11")).text()
        rows = list(csv.DictReader(io.StringIO(body.lstrip("\ufeff"))))
        assert len(rows) == 250 and {r["municipality"] for r in rows} == {"wako"}
    finally:
        board.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await board


async def test_the_feed_keeps_retrying_until_the_broker_is_up() -> None:
    broker = EmbeddedBroker(port=free_port())
    names = TopicNames("board-retry")
    feed = KafkaFeed(broker.servers, names, retry_delay=0.1, max_retry_delay=0.5)
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
                change = await changes.get()
            assert change is not None and change.incident_id == INCIDENT.incident_id
            assert feed.latest[INCIDENT.incident_id] == INCIDENT
            assert feed.connected
        finally:
            await feed.stop()
            await asyncio.to_thread(broker.stop)
