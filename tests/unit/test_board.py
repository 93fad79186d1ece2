"""The status board against an in-memory feed: sign-in, the Now page, SSE, headers."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import re
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer
from structlog.testing import capture_logs

from dashboards import session
from dashboards.board import STATIC, create_app
from dashboards.feed import IncidentFeed, MemoryFeed
from dashboards.pages import now_list
from noroshi.settings import Settings
from streams.records import Incident
from tests.sse import next_event

USER = "kouhou"
PASSWORD = "sakura-2025"
SETTINGS = Settings.from_env({
    "NOROSHI_BOARD_USER": USER,
    "NOROSHI_BOARD_PASSWORD": PASSWORD,
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
def feed() -> MemoryFeed:
    return MemoryFeed([incident()])


@pytest.fixture
async def client(feed: MemoryFeed) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(create_app(SETTINGS, feed))) as client:
        yield client


def csrf_of(page: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match, "the form carries no CSRF token"
    return match.group(1)


async def log_in(client: TestClient, password: str = PASSWORD, query: str = "") -> ClientResponse:
    form = await client.get("/login" + query)
    token = csrf_of(await form.text())
    return await client.post("/login" + query, data={"user": USER, "password": password, "csrf": token},
                             allow_redirects=False)


# --- signing in --------------------------------------------------------------

async def test_pages_and_streams_require_a_session(client: TestClient) -> None:
    page = await client.get("/", allow_redirects=False)
    assert page.status == 303 and page.headers["Location"] == "/login"
    assert (await client.get("/events")).status == 401
    assert (await client.get("/api/incidents")).status == 401


async def test_sign_in_sets_a_strict_http_only_session_cookie(client: TestClient) -> None:
    response = await log_in(client)
    assert response.status == 303 and response.headers["Location"] == "/"
    cookie = response.cookies[session.SESSION_COOKIE]
    assert cookie["httponly"] and cookie["samesite"] == "Strict"
    assert int(cookie["max-age"]) == 12 * 3600
    assert (await client.get("/")).status == 200
    assert (await client.get("/api/incidents")).status == 200


async def test_wrong_password_shows_the_login_page_again_in_japanese(client: TestClient) -> None:
    response = await log_in(client, password="wrong")
    assert response.status == 401
    assert "ユーザー名またはパスワードが正しくありません" in await response.text()
    assert session.SESSION_COOKIE not in response.cookies
    assert (await client.get("/api/incidents")).status == 401


async def test_wrong_password_message_is_english_with_lang_en(client: TestClient) -> None:
    response = await log_in(client, password="wrong", query="?lang=en")
    assert response.status == 401
    assert "Wrong user name or password" in await response.text()


async def test_sign_in_without_the_csrf_token_is_refused(client: TestClient) -> None:
    await client.get("/login")  # has the CSRF cookie, but the form field is missing
    missing = await client.post("/login", data={"user": USER, "password": PASSWORD}, allow_redirects=False)
    wrong = await client.post("/login", data={"user": USER, "password": PASSWORD, "csrf": "guess"},
                              allow_redirects=False)
    for response in (missing, wrong):
        assert response.status == 403
        assert session.SESSION_COOKIE not in response.cookies
    assert (await client.get("/api/incidents")).status == 401


async def test_a_tampered_or_foreign_session_cookie_is_rejected(client: TestClient) -> None:
    genuine = (await log_in(client)).cookies[session.SESSION_COOKIE].value
    payload, _, signature = genuine.partition(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    forged_payload = base64.urlsafe_b64encode(json.dumps({**claims, "user": "admin"}).encode()).decode()
    forged = [
        f"{forged_payload}.{signature}",
        session.sign_session(USER, "some-other-key", now=claims["exp"] - session.SESSION_TTL),
        genuine[:-2] + ("AA" if not genuine.endswith("AA") else "BB"),
        "garbage",
    ]
    client.session.cookie_jar.clear()
    for value in forged:
        response = await client.get("/api/incidents", headers={"Cookie": f"{session.SESSION_COOKIE}={value}"})
        assert response.status == 401, value
    ok = await client.get("/api/incidents", headers={"Cookie": f"{session.SESSION_COOKIE}={genuine}"})
    assert ok.status == 200


def test_a_session_expires_after_twelve_hours() -> None:
    cookie = session.sign_session(USER, "key", now=1_000_000)
    assert session.verify_session(cookie, "key", now=1_000_000 + 12 * 3600 - 1) == USER
    assert session.verify_session(cookie, "key", now=1_000_000 + 12 * 3600) is None


async def test_sign_out_ends_the_session(client: TestClient) -> None:
    await log_in(client)
    page = await client.get("/")
    response = await client.post("/logout", data={"csrf": csrf_of(await page.text())}, allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == "/login"
    assert (await client.get("/api/incidents")).status == 401


# --- the Now page ------------------------------------------------------------

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


async def test_a_redelivered_lower_version_does_not_overwrite_a_higher_one(feed: MemoryFeed) -> None:
    queue = feed.subscribe()
    assert feed.push(incident(version=3, severity="critical"))
    assert not feed.push(incident(version=2, severity="low"))  # late redelivery
    assert not feed.push(incident(version=3, severity="low"))  # duplicate
    assert feed.latest["wako-flame-1"].severity == "critical"
    assert queue.get_nowait().version == 3
    assert queue.empty()


def test_now_list_puts_the_most_severe_first_then_the_oldest() -> None:
    incidents = [
        incident(incident_id="low", severity="low", opened_at="2025-11-22T08:00:00+09:00"),
        incident(incident_id="crit-late", severity="critical", opened_at="2025-11-22T10:00:00+09:00"),
        incident(incident_id="crit-early", severity="critical", opened_at="2025-11-22T00:30:00Z"),
        incident(incident_id="gone", severity="critical", state="resolved"),
        incident(incident_id="high", severity="high"),
    ]
    # 00:30Z is 09:30 in Japan: earlier than 10:00+09:00, though it reads smaller.
    assert [i.incident_id for i in now_list(incidents)] == ["crit-early", "crit-late", "high", "low"]


async def test_security_headers_are_on_every_response(client: TestClient) -> None:
    responses = [await client.get(path) for path in ("/login", "/healthz", "/events", "/static/board.js", "/nope")]
    await log_in(client)
    responses.append(await client.get("/"))
    for response in responses:
        csp = response.headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "unsafe-inline" not in csp
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"
        assert response.headers["X-Frame-Options"] == "DENY"


def test_the_browser_script_never_parses_incident_text_as_html() -> None:
    script = (STATIC / "board.js").read_text(encoding="utf-8")
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write"):
        assert sink not in script


async def test_healthz_answers_without_a_session(client: TestClient) -> None:
    response = await client.get("/healthz")
    assert await response.json() == {"ok": True, "feed": {"incidents": 1, "connected": True}}


# --- live updates ------------------------------------------------------------

async def test_events_send_a_snapshot_then_each_change(client: TestClient, feed: MemoryFeed) -> None:
    await log_in(client)
    async with client.get("/events") as events:
        assert events.headers["Content-Type"].startswith("text/event-stream")
        name, snapshot = await next_event(events)
        assert name == "snapshot" and [i["incident_id"] for i in snapshot] == ["wako-flame-1"]
        changed = incident(version=2, severity="critical", summary="報道機関から問い合わせ")
        feed.push(changed)
        assert await next_event(events) == ("incident", changed.to_dict())
        resolved = incident(version=3, state="resolved")
        feed.push(resolved)
        assert await next_event(events) == ("incident", resolved.to_dict())


async def test_events_from_a_foreign_origin_are_forbidden(client: TestClient) -> None:
    await log_in(client)
    foreign = await client.get("/events", headers={"Origin": "https://evil.example"})
    assert foreign.status == 403
    async with client.get("/events", headers={"Origin": "http://board.example:8080"}) as own:
        assert own.status == 200


async def test_events_send_keep_alive_comments(feed: MemoryFeed) -> None:
    async with TestClient(TestServer(create_app(SETTINGS, feed, keepalive=0.01))) as client:
        await log_in(client)
        async with client.get("/events") as events:
            async with asyncio.timeout(5):
                while (await events.content.readline()) != b": keep-alive\n":
                    pass


async def test_a_slow_browser_is_dropped_without_holding_up_the_others() -> None:
    feed = MemoryFeed(queue_size=2)
    slow, fast = feed.subscribe(), feed.subscribe()
    for version in (1, 2, 3):
        feed.push(incident(version=version))
        assert fast.get_nowait().version == version
    assert slow.get_nowait() is None  # told to disconnect, nothing else pending
    assert feed.subscriber_count == 1


async def test_a_slow_browser_stream_is_closed(feed: MemoryFeed) -> None:
    slow_feed = MemoryFeed([incident()], queue_size=1)
    async with TestClient(TestServer(create_app(SETTINGS, slow_feed))) as client:
        await log_in(client)
        async with client.get("/events") as events:
            await next_event(events)
            for version in (2, 3, 4):  # no await in between: the stream cannot keep up
                slow_feed.push(incident(version=version))
            with pytest.raises(EOFError):
                await next_event(events)
        assert slow_feed.subscriber_count == 0


async def test_shutdown_closes_open_event_streams_at_once(feed: MemoryFeed) -> None:
    server = TestServer(create_app(SETTINGS, feed))  # aiohttp would wait 60 s for a stuck handler
    async with TestClient(server) as client:
        await log_in(client)
        async with client.get("/events") as events:
            await next_event(events)
            async with asyncio.timeout(10):
                await server.close()
            with pytest.raises(EOFError):
                await next_event(events)
        assert feed.subscriber_count == 0


# --- reading the topic -------------------------------------------------------

def test_a_malformed_record_is_logged_and_skipped() -> None:
    feed = IncidentFeed("127.0.0.1:9", "noroshi.incidents")
    bad = [b"{not json", b"[1, 2]", b'{"incident_id": "x"}', None,
           incident(version="2").to_json()]
    with capture_logs() as logs:
        for offset, value in enumerate(bad):
            feed.handle(SimpleNamespace(topic="noroshi.incidents", partition=3, offset=offset, value=value))
        feed.handle(SimpleNamespace(topic="noroshi.incidents", partition=3, offset=9,
                                    value=incident().to_json()))
    skipped = [e for e in logs if e["event"] == "incident_record_skipped"]
    assert [(e["topic"], e["partition"], e["offset"]) for e in skipped] == [
        ("noroshi.incidents", 3, offset) for offset in range(len(bad))
    ]
    assert list(feed.latest) == ["wako-flame-1"]
