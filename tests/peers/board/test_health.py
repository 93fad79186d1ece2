"""Health that tells the truth (issue 12, finding 5), in the board's own terms: when its
feed counts as live, how `/healthz` and `/readyz` say it, the 最新ではありません banner on
every page and in the stream, and an action the broker does not take, answered at once.

The same through real processes — a real broker stopped and started again under a real
`noroshi board` — is in tests/integration/test_board_health.py."""

from __future__ import annotations

import asyncio
import contextlib
import html
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from structlog.testing import capture_logs

from dashboards import pages
from dashboards.board import create_app
from dashboards.feed import CommandNotSent, KafkaFeed, MemoryFeed, feed_status
from dashboards.users import User, UserStore
from noroshi.broker import free_port
from vocabulary.topics import TopicNames
from tests.sse import next_event

from .conftest import SETTINGS, Client, page_csrf, sign_in
from .world import FLAME, World

PAGES = ("/", f"/incidents/{FLAME}", "/outbound", "/disaster", "/oncall", "/report")
VISIBLE = '<div id="stale-banner" class="banner banner-stale" role="alert">'
HIDDEN = '<div id="stale-banner" class="banner banner-stale" role="alert" hidden>'


# --- when the feed is live (pure) ---------------------------------------------------------------

def test_a_feed_that_never_heard_from_the_broker_is_not_live() -> None:
    status = feed_status(None, now=1000.0, window=10)
    assert not status.live and status.age is None and "no answer" in status.error


def test_a_feed_is_live_while_the_broker_answered_within_the_window() -> None:
    assert feed_status(995.0, now=1000.0, window=10).live
    assert feed_status(990.0, now=1000.0, window=10).live
    stale = feed_status(989.0, now=1000.0, window=10, error="")
    assert not stale.live and stale.age == 11.0 and stale.error == "no answer for 11 s"


def test_the_last_error_is_said_only_while_not_live() -> None:
    assert feed_status(999.0, now=1000.0, error="KafkaConnectionError()").error == ""
    assert feed_status(900.0, now=1000.0, error="KafkaConnectionError()").error == "KafkaConnectionError()"


def test_a_clock_that_went_back_counts_as_an_answer_just_now() -> None:
    status = feed_status(1005.0, now=1000.0, window=10)
    assert status.live and status.age == 0.0


def test_the_kafka_feed_is_live_only_from_its_last_fetch() -> None:
    feed = KafkaFeed("127.0.0.1:9", TopicNames("t"), live_window=10)
    assert not feed.status().live and not feed.connected  # started is not live
    feed.last_fetch = time.time() - 2
    assert feed.status().live and feed.connected
    assert not feed.status(now=feed.last_fetch + 11).live
    assert feed.status().as_json()["last_fetch"].endswith("+09:00")


async def test_the_feed_tells_the_streams_and_the_log_once_per_change() -> None:
    feed = KafkaFeed("127.0.0.1:9", TopicNames("t"), live_window=10)
    queue = feed.subscribe()
    with capture_logs() as logs:
        feed.check_liveness()  # not live from the start: nothing to announce
        feed.last_fetch = time.time()
        feed.check_liveness()
        feed.check_liveness()
        feed.check_liveness(now=feed.last_fetch + 30)
        feed.check_liveness(now=feed.last_fetch + 31)
    assert [e["event"] for e in logs] == ["board_feed_live", "board_feed_stale"]
    assert logs[1]["log_level"] == "warning" and logs[1]["age_s"] == 30.0
    live, stale = queue.get_nowait(), queue.get_nowait()
    assert queue.empty()
    assert live is not None and live.kind == "feed" and b'"live":true' in live.frame
    assert stale is not None and b"event: feed\ndata: {\"live\":false," in stale.frame


# --- commands the broker does not take --------------------------------------------------------

async def test_a_command_to_a_closed_port_is_not_sent_at_once() -> None:
    feed = KafkaFeed(f"127.0.0.1:{free_port()}", TopicNames("t"), send_timeout=5)
    started = time.monotonic()
    with pytest.raises(CommandNotSent):
        await feed.send_command("k", b"{}")
    assert time.monotonic() - started < 5 and feed.unsent == 1
    await feed.stop()


@contextlib.asynccontextmanager
async def black_hole() -> AsyncIterator[str]:
    """A loopback port that accepts connections and never answers: a hung broker."""
    handlers: list[asyncio.Task[None]] = []

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handlers.append(asyncio.current_task())  # type: ignore[arg-type]
        try:
            while await reader.read(65536):
                pass
        except ConnectionError:
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    try:
        yield f"127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)
        await server.wait_closed()


async def test_a_command_to_a_broker_that_never_answers_gives_up_within_the_bound() -> None:
    async with black_hole() as servers:
        feed = KafkaFeed(servers, TopicNames("t"), send_timeout=1.0)
        started = time.monotonic()
        with pytest.raises(CommandNotSent):
            await feed.send_command("k", b"{}")
        assert time.monotonic() - started < 5  # bounded by send_timeout (1 s), not aiokafka's 40 s
        await feed.stop()


# --- the banner (pure rendering) ----------------------------------------------------------------

def test_the_banner_is_in_every_page_hidden_while_live() -> None:
    assert pages.stale_banner("ja", True, None).startswith(HIDDEN)


def test_the_banner_says_not_live_and_since_when_in_the_users_language() -> None:
    at = 1765090800.0  # 2025-12-07 16:00:00 JST
    ja = pages.stale_banner("ja", False, at)
    assert ja.startswith(VISIBLE)
    assert "最新ではありません" in ja and "ブローカーからデータを受信できていません" in ja and "最終受信 12/07 16:00:00" in ja
    en = pages.stale_banner("en", False, None)
    assert "Not live" in en and "nothing received yet" in en


def test_the_layout_carries_the_banner_above_the_page() -> None:
    user = User(name="sato", display_name="佐藤", role="operator", municipality="wako", password_hash="x")
    frame = pages.Frame(lang="ja", user=user, csrf="c", path="/", now=time.time(), feed_live=False)
    page = pages.message_page(frame, "t", "m")
    assert VISIBLE in page and page.index(VISIBLE) < page.index("<main")


# --- the board's answers ---------------------------------------------------------------------

async def test_healthz_is_alive_and_readyz_ready_while_the_feed_is_live(client_for: Client) -> None:
    http = await client_for()
    health = await http.get("/healthz")
    assert health.status == 200 and (await health.json())["feed"]["live"] is True
    ready = await http.get("/readyz")
    assert ready.status == 200 and (await ready.json())["ready"] is True


async def test_healthz_stays_alive_and_readyz_answers_503_while_the_feed_is_not_live(
        client_for: Client, world: World) -> None:
    http = await client_for()
    world.feed.set_live(False)
    health = await http.get("/healthz")
    body = await health.json()
    assert health.status == 200 and body["ok"] is True
    assert body["feed"]["live"] is False and body["feed"]["connected"] is False
    ready = await http.get("/readyz")
    assert ready.status == 503 and (await ready.json())["ready"] is False
    world.feed.set_live(True)
    assert (await http.get("/readyz")).status == 200


async def test_every_page_says_it_is_not_live_while_the_feed_is_not(client_for: Client, world: World) -> None:
    http = await client_for("sato")
    for path in PAGES:
        assert HIDDEN in await (await http.get(path)).text(), path
    world.feed.set_live(False)
    for path in PAGES:
        page = await (await http.get(path)).text()
        assert VISIBLE in page and "最新ではありません" in page, path
    english = await (await http.get("/outbound?lang=en")).text()
    assert VISIBLE in english and "Not live" in english


async def test_the_stream_says_whether_the_feed_is_live_and_when_that_changes(client_for: Client,
                                                                              world: World) -> None:
    http = await client_for("sato")  # of wako: the feed's word reaches every municipality
    async with http.get("/events") as events:
        assert (await next_event(events))[0] == "snapshot"  # live: nothing more to say
        world.feed.set_live(False)
        assert await next_event(events) == ("feed", {"live": False, "last_fetch": None})
        async with http.get("/events") as later:  # connected while not live: told at once
            assert (await next_event(later))[0] == "snapshot"
            assert await next_event(later) == ("feed", {"live": False, "last_fetch": None})
        world.feed.set_live(True)
        assert await next_event(events) == ("feed", {"live": True, "last_fetch": None})


async def test_an_action_the_broker_does_not_take_is_answered_503_with_what_to_do(
        client_for: Client, world: World) -> None:
    http = await client_for("sato")
    world.feed.refuse = "NodeNotReadyError()"
    with capture_logs() as logs:
        response = await http.post(f"/incidents/{FLAME}/actions", allow_redirects=False,
                                   data={"csrf": await page_csrf(http), "action": "escalate"})
    page = await response.text()
    assert response.status == 503
    assert "<h1>送信できませんでした</h1>" in page
    assert "「エスカレーション」を送信できませんでした。ブローカーが5秒以内に受け付けませんでした" in page
    assert "タイムラインに記録されていないことを確かめてから" in page
    assert f'href="/incidents/{FLAME}"' in page
    [logged] = [e for e in logs if e["event"] == "board_command_not_sent"]
    assert (logged["incident_id"], logged["action"], logged["reason"]) == (FLAME, "escalate", "NodeNotReadyError()")
    assert not [e for e in logs if e["event"] == "board_command_failed"]  # said once, without a traceback
    assert (await (await http.get("/healthz")).json())["feed"]["commands_unsent"] == 1

    english = await http.post(f"/incidents/{FLAME}/actions?lang=en", allow_redirects=False,
                              data={"csrf": await page_csrf(http), "action": "escalate"})
    assert english.status == 503
    assert "'Escalate' could not be sent: the broker did not take it within 5 seconds" in html.unescape(
        await english.text())


def test_the_fake_feed_counts_what_it_refused() -> None:
    feed = MemoryFeed()
    feed.refuse = "down"
    with pytest.raises(CommandNotSent):
        asyncio.run(feed.send_command("k", b"{}"))
    assert feed.unsent == 1 and feed.sent == []


async def test_a_stream_hears_only_what_is_news_to_it(store: UserStore) -> None:
    """The watcher says "live" a moment after the feed became live; a browser that connected
    in between already took its snapshot as live and is not told again."""
    feed = KafkaFeed("127.0.0.1:9", TopicNames("t"), live_window=10)  # not started: no broker needed
    feed.last_fetch = time.time()
    async with TestServer(create_app(SETTINGS, feed, users=store)) as server:
        async with aiohttp.ClientSession(base_url=str(server.make_url("/")),
                                         cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            assert (await sign_in(http, "sato")).status == 303
            async with http.get("/events") as events:
                assert (await next_event(events))[0] == "snapshot"
                feed.check_liveness()  # "live": no news to this browser
                feed.check_liveness(now=feed.last_fetch + 30)
                name, data = await next_event(events)
                assert name == "feed" and data["live"] is False and data["last_fetch"].endswith("+09:00")
