"""The status board against an in-memory feed: the Now page, the live SSE stream, the
JSON API, shutdown, and how the Kafka feed sorts the records of its topics.

Access rules, the other pages and the pure core are in tests/board/."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer
from structlog.testing import capture_logs

from dashboards.board import STATIC, create_app
from dashboards.feed import KafkaFeed, MemoryFeed
from dashboards.users import UserStore
from vocabulary.settings import Settings
from vocabulary.records import Effect, Incident, TimelineEntry
from vocabulary.topics import TopicNames
from tests.peers.board.conftest import csrf_of
from tests.peers.board.world import FAST_HASHER
from tests.sse import next_event

USER = "kouhou"
PASSWORD = "sakura-2025-kouhou"
SETTINGS = Settings.from_env({
    "NOROSHI_SECRET_KEY": "test-secret-key-of-reasonable-length",
    "NOROSHI_BOARD_URL": "http://board.example:8080",
})


def incident(**changes: Any) -> Incident:
    base = Incident(
        incident_id="wako-flame-1", municipality="wako", type="flame", target="@wako_city",
        opened_at="2025-11-22T10:00:00+09:00", severity="high", evidence_ids=["m1", "m2"],
        summary="市長の発言に批判が急増しています", state="open", change="opened",
        updated_at="2025-11-22T10:00:00+09:00", version=1,
    )
    return dataclasses.replace(base, **changes)


@pytest.fixture
def users(tmp_path: Path) -> UserStore:
    store = UserStore(tmp_path / "users.json", hasher=FAST_HASHER)
    store.add(USER, role="operator", municipality="wako", password=PASSWORD, display_name="広報 花子")
    return store


@pytest.fixture
def feed() -> MemoryFeed:
    return MemoryFeed([incident()])


@pytest.fixture
async def client(feed: MemoryFeed, users: UserStore) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(create_app(SETTINGS, feed, users=users))) as client:
        yield client


async def log_in(client: TestClient, query: str = "") -> None:
    token = csrf_of(await (await client.get("/login" + query)).text())
    response = await client.post("/login" + query, data={"user": USER, "password": PASSWORD, "csrf": token},
                                 allow_redirects=False)
    assert response.status == 303


# --- the Now page ------------------------------------------------------------------------

async def test_incident_text_is_escaped_in_the_page(client: TestClient, feed: MemoryFeed) -> None:
    feed.push(incident(incident_id="x", summary="<script>alert(1)</script>",
                       target='"><img src=x onerror=alert(1)>'))
    await log_in(client)
    page = await (await client.get("/")).text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert(1)" not in page and "<img src=x" not in page
    assert page.count("<script") == 1  # only the static board.js


async def test_english_labels_with_lang_en_are_remembered(client: TestClient) -> None:
    await log_in(client)
    english = await (await client.get("/?lang=en")).text()
    assert '<html lang="en">' in english
    for words in ("Now", "Flame-up", "High", "Open", "Summary", "Sign out"):
        assert words in english
    later = await (await client.get("/")).text()  # no ?lang: the cookie remembers
    assert '<html lang="en">' in later
    japanese = await (await client.get("/?lang=ja")).text()
    for words in ("現在の状況", "炎上", "高", "対応中", "概要", "ログアウト"):
        assert words in japanese


async def test_a_resolved_incident_leaves_the_now_list(client: TestClient, feed: MemoryFeed) -> None:
    await log_in(client)
    assert "wako-flame-1" in await (await client.get("/")).text()
    feed.push(incident(version=2, state="resolved", change="resolved"))
    assert "wako-flame-1" not in await (await client.get("/")).text()
    assert await (await client.get("/api/incidents")).json() == []


def test_the_browser_script_never_parses_record_text_as_html() -> None:
    script = (STATIC / "board.js").read_text(encoding="utf-8")
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert sink not in script


async def test_healthz_answers_without_a_session(client: TestClient) -> None:
    response = await client.get("/healthz")
    body = await response.json()
    assert body["ok"] is True and body["feed"]["incidents"] == 1
    assert body["feed"]["connected"] is True and body["feed"]["live"] is True


# --- live updates ------------------------------------------------------------------------

async def test_events_send_a_snapshot_then_each_change(client: TestClient, feed: MemoryFeed) -> None:
    await log_in(client)
    async with client.get("/events") as events:
        assert events.headers["Content-Type"].startswith("text/event-stream")
        name, snapshot = await next_event(events)
        assert name == "snapshot" and [i["incident_id"] for i in snapshot] == ["wako-flame-1"]
        changed = incident(version=2, severity="critical", summary="報道機関から問い合わせ",
                           metrics={"awaiting": "acknowledge", "ack_due": "2025-11-22T10:10:00+09:00",
                                    "critical": 4, "total": 9})
        feed.push(changed)
        name, row = await next_event(events)
        assert name == "incident"
        assert {k: row[k] for k in ("incident_id", "severity", "summary", "awaiting", "ack_due", "version")} == {
            "incident_id": "wako-flame-1", "severity": "critical", "summary": "報道機関から問い合わせ",
            "awaiting": "acknowledge", "ack_due": "2025-11-22T10:10:00+09:00", "version": 2}
        feed.push(incident(version=3, state="resolved"))
        assert (await next_event(events))[1]["state"] == "resolved"
        feed.push_entry(TimelineEntry(entry_id="e1", incident_id="wako-flame-1", municipality="wako",
                                      at="2025-11-22T10:01:00+09:00", actor={"kind": "person", "name": USER},
                                      action="acknowledged", detail={"command_id": "c1"}))
        assert await next_event(events) == ("timeline", {
            "entry_id": "e1", "incident_id": "wako-flame-1", "at": "2025-11-22T10:01:00+09:00",
            "actor": {"kind": "person", "name": USER}, "action": "acknowledged", "command_id": "c1"})


async def test_events_send_keep_alive_comments(feed: MemoryFeed, users: UserStore) -> None:
    async with TestClient(TestServer(create_app(SETTINGS, feed, users=users, keepalive=0.01))) as client:
        await log_in(client)
        async with client.get("/events") as events:
            async with asyncio.timeout(5):
                while (await events.content.readline()) != b": keep-alive\n":
                    pass


async def test_a_slow_browser_stream_is_closed(users: UserStore) -> None:
    slow_feed = MemoryFeed([incident()], queue_size=1)
    async with TestClient(TestServer(create_app(SETTINGS, slow_feed, users=users))) as client:
        await log_in(client)
        async with client.get("/events") as events:
            await next_event(events)
            for version in (2, 3, 4):  # no await in between: the stream cannot keep up
                slow_feed.push(incident(version=version))
            with pytest.raises(EOFError):
                await next_event(events)
        assert slow_feed.subscriber_count == 0


async def test_shutdown_closes_open_event_streams_at_once(feed: MemoryFeed, users: UserStore) -> None:
    server = TestServer(create_app(SETTINGS, feed, users=users))  # aiohttp would wait 60 s for a stuck handler
    async with TestClient(server) as client:
        await log_in(client)
        async with client.get("/events") as events:
            await next_event(events)
            async with asyncio.timeout(10):
                await server.close()
            with pytest.raises(EOFError):
                await next_event(events)
        assert feed.subscriber_count == 0


# --- reading the topics --------------------------------------------------------------------

NAMES = TopicNames("noroshi")


def record(topic: str, offset: int, value: bytes | None) -> SimpleNamespace:
    return SimpleNamespace(topic=topic, partition=3, offset=offset, value=value)


def test_a_malformed_record_is_logged_and_skipped() -> None:
    feed = KafkaFeed("127.0.0.1:9", NAMES)
    bad = [b"{not json", b"[1, 2]", b'{"incident_id": "x"}', None, incident(version="2").to_json()]
    with capture_logs() as logs:
        for offset, value in enumerate(bad):
            feed.handle(record(NAMES.incidents, offset, value))
        feed.handle(record(NAMES.incidents, 9, incident().to_json()))
        feed.handle(record(NAMES.timeline, 10, b'{"entry_id": 1}'))
    skipped = [e for e in logs if e["event"] == "incident_record_skipped"]
    assert [(e["topic"], e["partition"], e["offset"]) for e in skipped] == [
        (NAMES.incidents, 3, offset) for offset in range(len(bad))
    ]
    assert [(e["topic"], e["offset"]) for e in logs if e["event"] == "board_record_skipped"] == [(NAMES.timeline, 10)]
    assert list(feed.latest) == ["wako-flame-1"]


def test_each_topic_feeds_its_part_of_the_state() -> None:
    feed = KafkaFeed("127.0.0.1:9", NAMES)
    feed.handle(record(NAMES.mentions, 0, orjson.dumps({
        "kind": "mention", "id": "m1", "platform": "x", "ts": "2025-11-22T10:00:00+09:00",
        "author": {"handle": "taro", "name": "和光 太郎"}, "text": "ひどい"})))
    feed.handle(record(NAMES.incidents, 0, incident().to_json()))
    feed.handle(record(NAMES.timeline, 0, TimelineEntry(
        entry_id="e1", incident_id="wako-flame-1", municipality="wako", at="2025-11-22T10:00:00+09:00",
        actor={"kind": "detector"}, action="incident_opened").to_json()))
    feed.handle(record(NAMES.effects, 0, Effect(
        effect_id="e", incident_id="wako-flame-1", municipality="wako", kind="hold_replies",
        at="2025-11-22T10:00:00+09:00", payload={"account": {"handle": "wako_city"}}).to_json()))
    data = feed.state.detail("wako-flame-1")
    assert list(data.evidence) == ["m1"] and list(data.timeline) == ["e1"] and list(data.holds) == ["wako_city"]


def test_without_posts_the_feed_does_not_read_the_input_topics() -> None:
    assert NAMES.mentions not in KafkaFeed("x:1", NAMES, posts=False)._kinds
    assert {NAMES.mentions, NAMES.accounts, NAMES.incidents, NAMES.timeline, NAMES.effects,
            NAMES.deadletters, NAMES.heartbeats} == set(
        KafkaFeed("x:1", NAMES)._kinds)
