"""Mastodon streaming: statuses to contract events (pure), then the source against a local Mastodon
that streams server-sent events, drops, rate-limits, and serves the REST timelines for backfill."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from vocabulary.settings import Secret
from vocabulary.contract import AccountEvent, Mention, PostRef, event_from_dict, profile_from_dict
from sources.base import MemorySink, Relevance, Unusable
from vocabulary.waits import Backoff
from sources.mastodon import (
    MastodonConfig,
    MastodonInstance,
    MastodonSource,
    is_about_city,
    mention_from_status,
    official_accts,
    read_status,
    sse_events,
    text_and_links,
)
from tests.peers.sources.peers import AppServer, Start, stopped, until

PROFILE = profile_from_dict({
    "municipality": {"id": "wako", "name": "和光市", "names": ["和光市", "和光"], "areas": ["埼玉県南部"]},
    "accounts": [{"platform": "mastodon", "handle": "wako_city", "name": "和光市",
                  "url": "https://mstdn.example/@wako_city"},
                 {"platform": "x", "handle": "wako_city_official", "name": "和光市役所"}],
    "watch_hashtags": ["和光市"],
    "disaster_hashtags": ["和光市災害"],
})
HOME = "mstdn.example"  # the city's own server
OFFICIALS = official_accts(PROFILE)
TOKEN = "mastodon-token-4711"


def status(n: int, html: str, *, acct: str = "taro@fedibird.example", account_id: str = "2001",
           at: str = "2026-11-22T01:15:00.000Z", host: str = HOME, **extra: Any) -> dict[str, Any]:
    """A status as Mastodon's REST and streaming APIs give it, read on `host`."""
    user, _, server = acct.partition("@")
    server = server or host
    return {"id": str(n), "uri": f"https://{server}/users/{user}/statuses/{n}", "url": f"https://{server}/@{user}/{n}",
            "created_at": at, "visibility": "public", "language": "ja", "sensitive": False, "spoiler_text": "",
            "account": {"id": account_id, "username": user, "acct": acct, "display_name": user.title(),
                        "followers_count": 120, "created_at": "2023-07-01T00:00:00.000Z",
                        "url": f"https://{server}/@{user}"},
            "content": html, "in_reply_to_id": None, "in_reply_to_account_id": None, "reblog": None,
            "mentions": [], "tags": [], "card": None, **extra}


def city(n: int, html: str, **extra: Any) -> dict[str, Any]:
    return status(n, html, acct="wako_city@mstdn.example", account_id="1000", **extra)


# --- statuses (pure) ---------------------------------------------------------------------------


def test_html_content_becomes_text_with_its_line_breaks_and_web_links() -> None:
    html = ('<p><span class="h-card" translate="no"><a href="https://mstdn.example/@wako_city" class="u-url mention">'
            '@<span>wako_city</span></a></span> 市民まつり&amp;花火、<br />延期ですか？</p>'
            '<p><a href="https://mstdn.example/tags/%E5%92%8C%E5%85%89%E5%B8%82" class="mention hashtag" rel="tag">'
            '#<span>和光市</span></a> <a href="https://news.example.jp/a/1" rel="nofollow noopener" target="_blank">'
            '<span class="invisible">https://</span><span class="ellipsis">news.example.jp/a</span>'
            '<span class="invisible">/1</span></a></p>')
    text, links = text_and_links(html)
    assert text == "@wako_city 市民まつり&花火、\n延期ですか？\n\n#和光市 https://news.example.jp/a/1"
    assert links == ("https://news.example.jp/a/1",)


def test_a_remote_reply_to_the_city_becomes_a_contract_mention() -> None:
    reply = status(
        110_000_000_000_000_101,
        '<p><span class="h-card"><a href="https://mstdn.example/@wako_city" class="u-url mention">@<span>wako_city'
        '</span></a></span> この動画は不謹慎では？ <a href="https://mstdn.example/tags/和光市" class="mention hashtag"'
        ' rel="tag">#<span>和光市</span></a></p>',
        in_reply_to_id="110000000000000042", in_reply_to_account_id="1000",
        mentions=[{"id": "1000", "username": "wako_city", "acct": "wako_city",
                   "url": "https://mstdn.example/@wako_city"}],
        tags=[{"name": "和光市", "url": "https://mstdn.example/tags/和光市"}],
        card={"url": "https://www.city.wako.example/video", "title": "広報動画"},
        spoiler_text="市の動画について")

    event = mention_from_status(reply, HOME, OFFICIALS)

    assert event == {
        "kind": "mention", "id": "mastodon:https://fedibird.example/users/taro/statuses/110000000000000101",
        "platform": "mastodon", "ts": "2026-11-22T10:15:00+09:00",
        "author": {"id": "mastodon:u:taro@fedibird.example", "handle": "taro@fedibird.example", "name": "Taro",
                   "followers": 120, "created_at": "2023-07-01T09:00:00+09:00"},
        "text": "市の動画について\n\n@wako_city この動画は不謹慎では？ #和光市",
        "reply_to": {"post_id": "mastodon:https://mstdn.example/users/wako_city/statuses/110000000000000042",
                     "account": "wako_city"},
        "quote_of": None, "repost_of": None,
        "hashtags": ["和光市"], "urls": ["https://www.city.wako.example/video"], "lang": "ja", "geo": None,
        "url": "https://fedibird.example/@taro/110000000000000101",
    }
    parsed = event_from_dict(event)
    assert isinstance(parsed, Mention)
    assert parsed.reply_to == PostRef("mastodon:https://mstdn.example/users/wako_city/statuses/110000000000000042",
                                      "wako_city")


def test_the_same_post_read_on_two_servers_has_one_id_and_one_author() -> None:
    on_home = status(501, "<p>和光市</p>", acct="hana", account_id="77")
    on_other = status(9_001, "<p>和光市</p>", acct="hana@mstdn.example", account_id="4321", host="fedibird.example")
    on_other["uri"] = on_home["uri"]  # the ActivityPub id is the post's own, whichever server relays it
    home, other = read_status(on_home, HOME, OFFICIALS), read_status(on_other, "fedibird.example", OFFICIALS)
    assert home.id == other.id == "mastodon:https://mstdn.example/users/hana/statuses/501"
    assert home.author["id"] == other.author["id"] == "mastodon:u:hana@mstdn.example"
    assert (home.author["handle"], other.author["handle"]) == ("hana", "hana@mstdn.example")  # as Mastodon shows it
    # The city's account is named as the profile names it, on its own server and elsewhere;
    # a namesake on another server is not the city.
    assert read_status(city(1, "<p>お知らせ</p>"), "fedibird.example", OFFICIALS).official == "wako_city"
    assert read_status(status(2, "<p>x</p>", acct="wako_city"), HOME, OFFICIALS).official == "wako_city"
    assert read_status(status(3, "<p>x</p>", acct="wako_city@fake.example"), HOME, OFFICIALS).official is None


def test_a_boost_and_a_quote_name_the_post_they_share() -> None:
    original = city(42, "<p>【和光市】断水のお知らせ</p>")
    boost = status(600, "", acct="hana@mstdn.social", reblog=original)
    event = mention_from_status(boost, "fedibird.example", OFFICIALS)
    assert event["repost_of"] == {"post_id": "mastodon:https://mstdn.example/users/wako_city/statuses/42",
                                  "account": "wako_city"}
    assert event["text"] == "" and event["hashtags"] == []
    quote = status(601, "<p>これ本当？</p>", quote={"state": "accepted", "quoted_status": original})
    assert mention_from_status(quote, HOME, OFFICIALS)["quote_of"] == event["repost_of"]
    pending = status(602, "<p>これ本当？</p>", quote={"state": "pending", "quoted_status": None})
    assert mention_from_status(pending, HOME, OFFICIALS)["quote_of"] is None
    for e in (event, mention_from_status(quote, HOME, OFFICIALS)):
        event_from_dict(e)


@pytest.mark.parametrize(("change", "reason"), [
    ({"uri": None}, "status.uri: missing"),
    ({"id": None}, "status.id: missing"),
    ({"created_at": "2026-11-22T01:15:00"}, "has no UTC offset"),
    ({"created_at": None}, "status.created_at: missing"),
    ({"account": None}, "status.account: missing"),
    ({"content": None}, "status.content: missing"),
    ({"reblog": {"id": "5"}}, "status.reblog.uri: missing"),
])
def test_malformed_statuses_are_unusable_with_a_reason(change: dict[str, Any], reason: str) -> None:
    with pytest.raises(Unusable, match=reason):
        read_status(status(7, "<p>和光市</p>") | change, HOME)


def test_relevance_on_public_timelines() -> None:
    relevance = Relevance.of(PROFILE)

    def about(s: dict[str, Any], known: set[str] = set()) -> bool:  # noqa: B006
        return is_about_city(read_status(s, HOME, OFFICIALS), relevance, known)

    assert about(status(1, "<p>和光市の図書館</p>"))
    assert about(status(2, "<p>祭り</p>", tags=[{"name": "和光市災害"}]))
    assert about(status(3, "<p>ひどい</p>", in_reply_to_id="9", in_reply_to_account_id="1000",
                        mentions=[{"id": "1000", "acct": "wako_city"}]))
    assert about(city(4, "<p>お知らせ</p>"))
    assert about(status(5, "", reblog=status(6, "<p>和光の駅前</p>", acct="ken")))
    assert about(status(7, "<p>それな</p>", in_reply_to_id="8", in_reply_to_account_id="55",
                        mentions=[{"id": "55", "acct": "ken"}]),
                 known={"mastodon:https://mstdn.example/users/ken/statuses/8"})
    assert not about(status(9, "<p>今日の昼ごはん</p>"))


class Chunks:
    """What `sse_events` reads from: a response body arriving in the given pieces."""

    def __init__(self, *chunks: bytes) -> None:
        self.chunks = chunks

    async def iter_any(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            yield chunk


async def test_server_sent_events_are_read_across_chunk_boundaries() -> None:
    split = "data: 和光\n\n".encode()
    body = Chunks(b":)\n", b"event: upd", b"ate\r\ndata: {\"a\":", b" 1}\n\n:thump\n", b"event: delete\ndata: 42\n",
                  b"\nevent: x\ndata: one\ndata: two\n\n", split[:-3], split[-3:])  # 光 cut in two
    seen = [e async for e in sse_events(body)]  # type: ignore[arg-type]
    assert seen == [("", ""), ("update", '{"a": 1}'), ("", ""), ("delete", "42"), ("x", "one\ntwo"),
                    ("message", "和光")]


# --- a local Mastodon ----------------------------------------------------------------------------


def sse(event: str, data: Any) -> bytes:
    return f"event: {event}\ndata: {data if isinstance(data, str) else orjson.dumps(data).decode()}\n\n".encode()


@dataclass
class Connection:
    """What the fake streams on one connection: these bytes, then heartbeats until the client
    leaves, or (with `drop`) the end of the response."""

    chunks: list[bytes] = field(default_factory=list)
    drop: bool = False


class FakeMastodon:
    """Mastodon on loopback: streaming endpoints that play scripted connections per timeline,
    and REST timelines that answer `min_id` pages from `posted`, newest first, as Mastodon does."""

    def __init__(self) -> None:
        self.scripts: dict[str, list[Connection]] = {}
        self.refusals: dict[str, list[tuple[int, dict[str, str]]]] = {}
        self.posted: dict[str, list[dict[str, Any]]] = {}
        self.streams: list[tuple[str, dict[str, str], str | None, float]] = []  # key, query, auth, when
        self.backfills: list[tuple[str, dict[str, str]]] = []
        self.app = web.Application()
        self.app.router.add_get("/api/v1/streaming/{kind}", self.stream)
        self.app.router.add_get("/api/v1/streaming/{kind}/local", self.stream)
        self.app.router.add_get("/api/v1/timelines/tag/{tag}", self.timeline)
        self.app.router.add_get("/api/v1/timelines/public", self.timeline)
        self.app.on_shutdown.append(self.shut)
        self.closing = False

    async def shut(self, _app: web.Application) -> None:
        self.closing = True

    @staticmethod
    def key(request: web.Request) -> str:
        tag = request.match_info.get("tag") or request.query.get("tag")
        return f"hashtag:{tag}" if tag else "public"

    async def stream(self, request: web.Request) -> web.StreamResponse:
        key = self.key(request)
        self.streams.append((key, dict(request.query), request.headers.get("Authorization"), time.monotonic()))
        refusals = self.refusals.get(key)
        if refusals:
            status, headers = refusals.pop(0)
            return web.json_response({"error": "Too many requests"}, status=status, headers=headers)
        scripts = self.scripts.get(key) or []
        connection = scripts.pop(0) if scripts else Connection()
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        try:
            await response.write(b":)\n")
            for chunk in connection.chunks:
                await response.write(chunk)
            while not connection.drop and not self.closing:
                await asyncio.sleep(0.05)
                await response.write(b":thump\n")
        except ConnectionResetError:
            pass  # the client left
        return response

    async def timeline(self, request: web.Request) -> web.Response:
        key = self.key(request)
        self.backfills.append((key, dict(request.query)))
        refusals = self.refusals.get("rest " + key)
        if refusals:
            status, headers = refusals.pop(0)
            return web.json_response({"error": "Too many requests"}, status=status, headers=headers)
        min_id = int(request.query.get("min_id", "0"))
        limit = int(request.query.get("limit", "20"))
        newer = sorted((s for s in self.posted.get(key, []) if int(s["id"]) > min_id), key=lambda s: int(s["id"]))
        return web.json_response(list(reversed(newer[:limit])))


@pytest.fixture
async def mastodon(app_server: AppServer) -> tuple[FakeMastodon, TestServer]:
    fake = FakeMastodon()
    return fake, await app_server(fake.app)


def config_for(server: TestServer, tmp_path: Path, **instance: Any) -> MastodonConfig:
    settings: dict[str, Any] = {"url": str(server.make_url("")), "hashtags": ("和光市",), **instance}
    return MastodonConfig(profile=PROFILE, instances=(MastodonInstance(**settings),), cursor_dir=tmp_path,
                          idle_timeout_s=2.0, request_timeout_s=2.0, page_size=2, cursor_every_s=0.0)


def ids(sink: MemorySink) -> list[str]:
    return [e["id"] for e in sink.events]


def uri_id(n: int, acct: str = "taro@fedibird.example") -> str:
    user, _, server = acct.partition("@")
    return f"mastodon:https://{server}/users/{user}/statuses/{n}"


# --- the source ----------------------------------------------------------------------------------


async def test_recorded_events_become_contract_events_and_public_noise_is_left_out(
        mastodon: tuple[FakeMastodon, TestServer], start: Start, tmp_path: Path) -> None:
    fake, server = mastodon
    fake.scripts["hashtag:和光市"] = [Connection([
        sse("update", status(101, "<p>駅前の桜がきれい</p>", tags=[{"name": "和光市"}])),  # relevant by its tag stream
        sse("delete", "99"),
        b":thump\n",
        sse("status.update", status(101, "<p>駅前の桜がきれい（編集）</p>")),
        sse("notification", {"id": "1", "type": "mention"}),
        sse("update", city(102, "<p>【和光市】市民まつりは明日です</p>")),
    ])]
    fake.scripts["public"] = [Connection([
        sse("update", status(201, "<p>今日の昼ごはん</p>", acct="ken")),                        # noise
        sse("update", status(202, "<p>和光の駅前で事故</p>", acct="hana", account_id="77")),  # names the city
        sse("update", status(203, "", acct="ken", reblog=status(202, "<p>和光の駅前で事故</p>", acct="hana"))),
        sse("update", status(204, "", acct="ken", reblog=status(150, "<p>猫</p>", acct="mika"))),  # boosts noise
    ])]
    source = MastodonSource(config_for(server, tmp_path, public=True, token=Secret(TOKEN)),
                            backoff=Backoff(base_s=0.01))
    sink = MemorySink()
    task, stop = start(source, sink)

    await sink.wait_for(4)
    await asyncio.sleep(0.1)  # nothing more is coming
    await stopped(task, stop)

    assert sink.rejected == []
    assert sorted(ids(sink)) == sorted([
        uri_id(101), "mastodon:official_post:https://mstdn.example/users/wako_city/statuses/102",
        uri_id(202, "hana@mstdn.example"), uri_id(203, "ken@mstdn.example")])
    for event in sink.events:
        event_from_dict(event)
    official = next(e for e in sink.events if e["kind"] == "account")
    assert isinstance(event_from_dict(official), AccountEvent)
    assert official["account"]["handle"] == "wako_city"
    assert official["post"] == {"id": "mastodon:https://mstdn.example/users/wako_city/statuses/102",
                                "text": "【和光市】市民まつりは明日です",
                                "url": "https://mstdn.example/@wako_city/102"}
    boost = next(e for e in sink.events if e["id"] == uri_id(203, "ken@mstdn.example"))
    assert boost["repost_of"] == {"post_id": uri_id(202, "hana@mstdn.example"), "account": "hana"}
    assert {(key, query.get("tag"), auth) for key, query, auth, _ in fake.streams} == {
        ("hashtag:和光市", "和光市", f"Bearer {TOKEN}"), ("public", None, f"Bearer {TOKEN}")}
    assert fake.backfills == []  # a first start has nothing to catch up with
    assert TOKEN not in repr(source.config) and TOKEN not in repr(source)


async def test_a_dropped_stream_backfills_from_the_highest_id_seen_without_duplicates(
        mastodon: tuple[FakeMastodon, TestServer], start: Start, tmp_path: Path) -> None:
    fake, server = mastodon
    tag = "hashtag:和光市"
    posts = [status(n, f"<p>和光市 その{n}</p>") for n in range(301, 308)]
    fake.posted[tag] = posts
    fake.scripts[tag] = [
        Connection([sse("update", posts[0]), sse("update", posts[1])], drop=True),
        # Reconnected: 303–306 were posted meanwhile (backfilled, two per page); 306 also
        # reaches the stream, and 307 only the stream.
        Connection([sse("update", posts[5]), sse("update", posts[6])]),
    ]
    sink = MemorySink()
    task, stop = start(MastodonSource(config_for(server, tmp_path), backoff=Backoff(base_s=0.01)), sink)

    await sink.wait_for(7)
    await asyncio.sleep(0.1)
    await stopped(task, stop)

    assert ids(sink) == [uri_id(n) for n in range(301, 308)]
    assert [q["min_id"] for _, q in fake.backfills] == ["302", "304", "306"]
    assert all(q["limit"] == "2" for _, q in fake.backfills)
    saved = orjson.loads((tmp_path / "mastodon-stream.json").read_bytes())
    assert saved == {"since": {"127.0.0.1 hashtag:和光市": "307"}}

    # A restart catches up from the cursor file before the stream.
    fake.posted[tag].append(status(308, "<p>和光市 その308</p>"))
    again = MemorySink()
    task2, stop2 = start(MastodonSource(config_for(server, tmp_path), backoff=Backoff(base_s=0.01)), again)
    await again.wait_for(1)
    await stopped(task2, stop2)
    assert ids(again) == [uri_id(308)]
    assert fake.backfills[3][1]["min_id"] == "307"


async def test_a_rate_limited_stream_and_backfill_wait_as_asked_then_retry(
        mastodon: tuple[FakeMastodon, TestServer], start: Start, tmp_path: Path) -> None:
    fake, server = mastodon
    tag = "hashtag:和光市"
    reset = (datetime.now(timezone.utc) + timedelta(seconds=0.4)).isoformat(timespec="milliseconds")
    fake.refusals[tag] = [(429, {"X-RateLimit-Reset": reset, "X-RateLimit-Remaining": "0"}), (502, {})]
    fake.refusals["rest " + tag] = [(429, {"Retry-After": "0.2"})]
    fake.posted[tag] = [status(401, "<p>和光市 backfilled</p>"), status(402, "<p>和光市 live</p>")]
    # Streamed on the connection whose backfill is refused, so read only by the next backfill.
    fake.scripts[tag] = [Connection([sse("update", fake.posted[tag][1])])]
    (tmp_path / "mastodon-stream.json").write_bytes(orjson.dumps({"since": {"127.0.0.1 hashtag:和光市": "400"}}))
    sink = MemorySink()
    task, stop = start(MastodonSource(config_for(server, tmp_path), backoff=Backoff(base_s=0.01)), sink)

    await sink.wait_for(2)
    await until(lambda: len(fake.backfills) == 3)  # the page was full: one more to be sure
    await stopped(task, stop)

    assert ids(sink) == [uri_id(401), uri_id(402)]
    when = [w for _, _, _, w in fake.streams]
    assert len(when) == 4  # 429, 502, then a backfill refused with 429, then all well
    assert when[1] - when[0] >= 0.3  # X-RateLimit-Reset was ~0.4 s away (ms precision, clock reading apart)
    assert when[3] - when[2] >= 0.2  # the backfill's Retry-After
    assert [q["min_id"] for _, q in fake.backfills] == ["400", "400", "402"]


async def test_malformed_events_are_dead_lettered_and_their_neighbours_published(
        mastodon: tuple[FakeMastodon, TestServer], start: Start, tmp_path: Path) -> None:
    fake, server = mastodon
    missing_uri = status(502, "<p>和光市</p>")
    del missing_uri["uri"]
    fake.scripts["hashtag:和光市"] = [Connection([
        sse("update", status(501, "<p>和光市 前</p>")),
        sse("update", "{this is not json"),
        sse("update", missing_uri),
        sse("update", status(503, "<p>和光市 後</p>")),
    ])]
    sink = MemorySink()
    task, stop = start(MastodonSource(config_for(server, tmp_path), backoff=Backoff(base_s=0.01)), sink)

    await sink.wait_for(4)
    await stopped(task, stop)

    assert ids(sink) == [uri_id(501), uri_id(503)]
    assert [r[0] for r in sink.rejected] == [b"{this is not json", orjson.dumps(missing_uri)]
    assert "update: not valid JSON" in sink.rejected[0][1]
    assert sink.rejected[1][1] == "127.0.0.1 hashtag:和光市: status.uri: missing or not a string"
    assert {r[2] for r in sink.rejected} == {"mastodon-stream"}


async def test_stop_ends_the_run_promptly_while_streams_are_quiet(
        mastodon: tuple[FakeMastodon, TestServer], start: Start, tmp_path: Path) -> None:
    fake, server = mastodon
    source = MastodonSource(config_for(server, tmp_path, hashtags=None, public=True, local=True),
                            backoff=Backoff(base_s=0.01))
    sink = MemorySink()
    task, stop = start(source, sink)
    await until(lambda: len(fake.streams) == 3)

    began = time.monotonic()
    await stopped(task, stop, timeout=1.0)
    assert time.monotonic() - began < 0.5
    # hashtags=None follows the profile's watch and disaster hashtags; local=True the …/local streams.
    assert sorted(k for k, _, _, _ in fake.streams) == ["hashtag:和光市", "hashtag:和光市災害", "public"]
    assert sink.events == [] and sink.rejected == []


def test_nothing_to_follow_is_a_configuration_error() -> None:
    bare = profile_from_dict({"municipality": {"id": "x", "name": "X町"}, "accounts": []})
    with pytest.raises(ValueError, match="nothing to follow"):
        MastodonSource(MastodonConfig(profile=bare, instances=(MastodonInstance("https://mstdn.example"),)))
