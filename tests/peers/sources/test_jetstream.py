"""Bluesky Jetstream: frames to contract events (pure), then the source against a local Jetstream
that replays from a cursor, drops, refuses and sends odd frames, and a local AppView for handles."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from vocabulary.contract import Mention, PostRef, event_from_dict, profile_from_dict
from sources.base import MemorySink, Relevance, Unusable, wait_asked
from vocabulary.waits import Backoff
from sources.jetstream import (
    JetstreamConfig,
    JetstreamSource,
    Who,
    event_time,
    is_about_city,
    mention_from_frame,
    read_frame,
)
from tests.peers.sources.peers import AppServer, CountingSink, Start, stopped, until

PROFILE = profile_from_dict({
    "municipality": {"id": "wako", "name": "和光市", "names": ["和光市", "和光"], "areas": ["埼玉県南部"]},
    "accounts": [{"platform": "bluesky", "handle": "wako-city.bsky.social", "name": "和光市役所",
                  "url": "https://bsky.app/profile/wako-city.bsky.social"},
                 {"platform": "x", "handle": "wako_city_official", "name": "和光市役所"}],
    "watch_hashtags": ["和光市"],
    "disaster_hashtags": ["和光市災害"],
})
CITY = "did:plc:wakocity2222222222222222"
TARO = "did:plc:taro5555555555555555555a"
HANA = "did:plc:hana7777777777777777777b"
KEN = "did:plc:ken99999999999999999999c"
STRANGER = "did:plc:stranger000000000000000d"
#: 2026-11-22T10:15:00+09:00 in Jetstream's microseconds
T0 = int(datetime(2026, 11, 22, 1, 15, tzinfo=timezone.utc).timestamp()) * 1_000_000
SECOND = 1_000_000


def at(did: str, rkey: str, collection: str = "app.bsky.feed.post") -> str:
    return f"at://{did}/{collection}/{rkey}"


def created(time_us: int) -> str:
    return datetime.fromtimestamp(time_us / SECOND, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def post(did: str, rkey: str, time_us: int, text: str, **record: Any) -> dict[str, Any]:
    """A commit frame as Jetstream sends it for a new post."""
    return {"did": did, "time_us": time_us, "kind": "commit",
            "commit": {"rev": "3lbz" + rkey, "operation": "create", "collection": "app.bsky.feed.post",
                       "rkey": rkey, "cid": "bafyreid" + rkey,
                       "record": {"$type": "app.bsky.feed.post", "text": text, "createdAt": created(time_us),
                                  "langs": ["ja"], **record}}}


def repost(did: str, rkey: str, time_us: int, subject: str) -> dict[str, Any]:
    return {"did": did, "time_us": time_us, "kind": "commit",
            "commit": {"rev": "3lbz" + rkey, "operation": "create", "collection": "app.bsky.feed.repost",
                       "rkey": rkey, "cid": "bafyreir" + rkey,
                       "record": {"$type": "app.bsky.feed.repost", "createdAt": created(time_us),
                                  "subject": {"uri": subject, "cid": "bafyreis"}}}}


def identity(did: str, handle: str, time_us: int) -> dict[str, Any]:
    return {"did": did, "time_us": time_us, "kind": "identity",
            "identity": {"did": did, "handle": handle, "seq": 1, "time": created(time_us)}}


def account(did: str, time_us: int) -> dict[str, Any]:
    return {"did": did, "time_us": time_us, "kind": "account",
            "account": {"active": True, "did": did, "seq": 2, "time": created(time_us)}}


def reply_to(uri: str, root: str | None = None) -> dict[str, Any]:
    return {"root": {"uri": root or uri, "cid": "bafyroot"}, "parent": {"uri": uri, "cid": "bafyparent"}}


def mention_facet(did: str) -> dict[str, Any]:
    return {"index": {"byteStart": 0, "byteEnd": 10},
            "features": [{"$type": "app.bsky.richtext.facet#mention", "did": did}]}


def raw(frame: dict[str, Any]) -> str:
    return orjson.dumps(frame).decode()


PROFILES = {
    CITY: {"did": CITY, "handle": "wako-city.bsky.social", "displayName": "和光市役所", "followersCount": 3200,
           "createdAt": "2023-04-01T00:00:00.000Z"},
    TARO: {"did": TARO, "handle": "taro.bsky.social", "displayName": "和光 太郎", "followersCount": 120,
           "createdAt": "2023-07-01T03:00:00.000Z"},
    HANA: {"did": HANA, "handle": "hana.example.jp", "displayName": "はな", "followersCount": 45,
           "createdAt": "2024-02-10T00:00:00.000Z"},
}


# --- frames (pure) -----------------------------------------------------------------------------


def test_a_reply_with_mention_link_tag_and_quote_becomes_a_contract_mention() -> None:
    city_post = at(CITY, "3lcitypost22")
    frame = post(TARO, "3ltaroreply1", T0, "@wako-city.bsky.social 広報動画は不謹慎では？ #和光市",
                 reply=reply_to(city_post),
                 facets=[mention_facet(CITY),
                         {"index": {"byteStart": 60, "byteEnd": 70},
                          "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": "和光市"}]},
                         {"index": {"byteStart": 71, "byteEnd": 90},
                          "features": [{"$type": "app.bsky.richtext.facet#link", "uri": "https://example.jp/a"}]},
                         "not a facet"],
                 embed={"$type": "app.bsky.embed.recordWithMedia",
                        "record": {"$type": "app.bsky.embed.record",
                                   "record": {"uri": at(HANA, "3lhanapost11"), "cid": "bafyq"}},
                        "media": {"$type": "app.bsky.embed.external",
                                  "external": {"uri": "https://news.example.jp/x", "title": "t"}}})
    names = {TARO: Who("taro.bsky.social", "和光 太郎", 120, "2023-07-01T12:00:00+09:00"),
             CITY: Who("wako-city.bsky.social"), HANA: Who("hana.example.jp")}

    event = mention_from_frame(raw(frame), names)

    assert event == {
        "kind": "mention", "id": f"bluesky:{at(TARO, '3ltaroreply1')}", "platform": "bluesky",
        "ts": "2026-11-22T10:15:00+09:00",
        "author": {"id": f"bluesky:{TARO}", "handle": "taro.bsky.social", "name": "和光 太郎", "followers": 120,
                   "created_at": "2023-07-01T12:00:00+09:00"},
        "text": "@wako-city.bsky.social 広報動画は不謹慎では？ #和光市",
        "reply_to": {"post_id": f"bluesky:{city_post}", "account": "wako-city.bsky.social"},
        "quote_of": {"post_id": f"bluesky:{at(HANA, '3lhanapost11')}", "account": "hana.example.jp"},
        "repost_of": None,
        "hashtags": ["和光市"], "urls": ["https://example.jp/a", "https://news.example.jp/x"], "lang": "ja",
        "geo": None, "url": "https://bsky.app/profile/taro.bsky.social/post/3ltaroreply1",
    }
    parsed = event_from_dict(event)
    assert isinstance(parsed, Mention)
    assert parsed.reply_to == PostRef(f"bluesky:{city_post}", "wako-city.bsky.social")


def test_an_unnamed_author_is_named_by_did_and_hashtags_fall_back_to_the_text() -> None:
    event = mention_from_frame(raw(post(KEN, "3lken1", T0, "和光市の祭り ＃わこう祭")))
    assert event is not None
    assert event["author"] == {"id": f"bluesky:{KEN}", "handle": KEN, "name": "", "followers": 0, "created_at": None}
    assert event["hashtags"] == ["わこう祭"]
    event_from_dict(event)


@pytest.mark.parametrize("created_at", ["2026-11-22T10:15:00", "yesterday", "2031-01-01T00:00:00Z", None])
def test_a_created_at_that_is_naive_unreadable_or_far_off_gives_way_to_the_relays_time(created_at: Any) -> None:
    frame = post(KEN, "3lken2", T0 + 7 * SECOND, "和光市")
    frame["commit"]["record"]["createdAt"] = created_at
    event = mention_from_frame(raw(frame))
    assert event is not None and event["ts"] == "2026-11-22T10:15:07+09:00"
    assert event_time("2026-11-22T01:14:01.500Z", T0) == "2026-11-22T10:14:01+09:00"  # near: the author's


def test_a_repost_names_the_reposted_post_and_its_author() -> None:
    subject = at(CITY, "3lcitypost22")
    event = mention_from_frame(raw(repost(HANA, "3lrp1", T0, subject)), {CITY: Who("wako-city.bsky.social")})
    assert event is not None
    assert event["id"] == f"bluesky:{at(HANA, '3lrp1', 'app.bsky.feed.repost')}"
    assert event["repost_of"] == {"post_id": f"bluesky:{subject}", "account": "wako-city.bsky.social"}
    assert event["text"] == ""
    event_from_dict(event)


@pytest.mark.parametrize("frame", [
    identity(TARO, "taro.bsky.social", T0),
    account(TARO, T0),
    {"did": TARO, "time_us": T0, "kind": "commit",
     "commit": {"operation": "delete", "collection": "app.bsky.feed.post", "rkey": "3l1"}},
    {"did": TARO, "time_us": T0, "kind": "commit",
     "commit": {"operation": "create", "collection": "app.bsky.feed.like", "rkey": "3l1", "record": {}}},
    repost(TARO, "3lrp2", T0, at(CITY, "3lfeed", "app.bsky.feed.generator")),
], ids=["identity", "account", "delete", "like", "repost-of-a-feed"])
def test_frames_that_are_no_new_post_give_no_mention_but_keep_their_position(frame: dict[str, Any]) -> None:
    assert mention_from_frame(raw(frame)) is None
    assert read_frame(raw(frame)).time_us == T0


@pytest.mark.parametrize(("data", "reason"), [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "expected a JSON object, got list"),
    (raw({"did": TARO, "kind": "commit"}), "time_us"),
    (raw({"did": TARO, "time_us": T0}), "kind"),
    (raw({"did": TARO, "time_us": T0, "kind": "commit"}), "commit: missing"),
    (raw({**post(TARO, "3l1", T0, "x"), "did": "taro"}), "did: expected a DID"),
    (raw({"did": TARO, "time_us": T0, "kind": "commit",
          "commit": {"operation": "create", "collection": "app.bsky.feed.post", "rkey": "3l1"}}),
     "commit.record: missing"),
    (raw(post(TARO, "3l1", T0, "x") | {"commit": {"operation": "create", "collection": "app.bsky.feed.post",
                                                  "rkey": "3l1", "record": {"createdAt": created(T0)}}}),
     "commit.record.text: missing"),
])
def test_malformed_frames_are_unusable_with_a_reason(data: str, reason: str) -> None:
    with pytest.raises(Unusable, match=reason):
        read_frame(data)


def test_relevance_counts_the_city_its_hashtags_and_replies_quotes_mentions_of_its_accounts() -> None:
    relevance = Relevance.of(PROFILE)
    officials = {CITY: "wako-city.bsky.social"}
    city_post = at(CITY, "3lcity")

    def about(frame: dict[str, Any], known: set[str] = set()) -> bool:  # noqa: B006
        found = read_frame(raw(frame)).post
        assert found is not None
        return is_about_city(found, relevance, officials, known)

    assert about(post(TARO, "1", T0, "和光市の図書館、今日休み？"))
    assert about(post(TARO, "2", T0, "祭り楽しかった", facets=[{"index": {"byteStart": 0, "byteEnd": 3}, "features": [
        {"$type": "app.bsky.richtext.facet#tag", "tag": "和光市災害"}]}]))
    assert about(post(TARO, "3", T0, "ひどい対応", reply=reply_to(city_post)))
    assert about(post(TARO, "4", T0, "ひどい対応", reply=reply_to(at(HANA, "h"), root=city_post)))
    assert about(post(TARO, "5", T0, "これ見て", embed={"$type": "app.bsky.embed.record",
                                                       "record": {"uri": city_post, "cid": "c"}}))
    assert about(post(TARO, "6", T0, "@市役所 どうなってるの", facets=[mention_facet(CITY)]))
    assert about(post(CITY, "7", T0, "お知らせです"))
    assert about(repost(TARO, "8", T0, city_post))
    assert about(post(TARO, "9", T0, "それな", reply=reply_to(at(HANA, "h1"))), known={at(HANA, "h1")})
    assert not about(post(TARO, "10", T0, "今日の昼ごはん"))
    assert not about(repost(TARO, "11", T0, at(HANA, "h2")))


def test_wait_asked_reads_retry_after_and_rate_limit_resets() -> None:
    now = 1_800_000_000.0
    assert wait_asked({"Retry-After": "7"}, now) == 7
    assert wait_asked({"retry-after": "Fri, 15 Jan 2027 08:00:10 GMT"},
                      datetime(2027, 1, 15, 8, 0, tzinfo=timezone.utc).timestamp()) == 10
    assert wait_asked({"x-ratelimit-reset": str(int(now) + 30)}, now) == 30
    assert wait_asked({"x-ratelimit-reset": "2027-01-15T08:00:05.000Z"},
                      datetime(2027, 1, 15, 8, 0, tzinfo=timezone.utc).timestamp()) == 5
    assert wait_asked({"retry-after": "soon"}, now) == 0
    assert wait_asked({"retry-after": "99999999"}, now) == 900  # never believed beyond a quarter hour


# --- a local Jetstream and AppView ---------------------------------------------------------------


class FakeJetstream:
    """Jetstream on loopback: it replays `frames` from the cursor a client asks for (from the start
    without one), closes a connection after `drop_after[n]` frames, refuses the first connections
    with `refusals`, and answers getProfiles from `profiles` (or with `appview_status`)."""

    def __init__(self, frames: list[dict[str, Any] | str], *, drop_after: tuple[int, ...] = (),
                 refusals: tuple[tuple[int, dict[str, str]], ...] = (),
                 profiles: dict[str, dict[str, Any]] | None = None, appview_status: int = 200) -> None:
        self.frames = frames
        self.drop_after = list(drop_after)
        self.refusals = list(refusals)
        self.profiles = PROFILES if profiles is None else profiles
        self.appview_status = appview_status
        self.queries: list[dict[str, list[str]]] = []  # every connection attempt's query
        self.connected_at: list[float] = []
        self.lookups: list[list[str]] = []
        self.sockets: set[web.WebSocketResponse] = set()
        self.app = web.Application()
        self.app.router.add_get("/subscribe", self.subscribe)
        self.app.router.add_get("/xrpc/app.bsky.actor.getProfiles", self.get_profiles)
        self.app.on_shutdown.append(self.close_sockets)

    def start_index(self, cursor: str | None) -> int:
        if cursor is None:
            return 0
        return next((i for i, f in enumerate(self.frames)
                     if isinstance(f, dict) and f["time_us"] >= int(cursor)), len(self.frames))

    async def subscribe(self, request: web.Request) -> web.StreamResponse:
        self.queries.append({k: request.query.getall(k) for k in request.query})
        self.connected_at.append(time.monotonic())
        if self.refusals:
            status, headers = self.refusals.pop(0)
            return web.Response(status=status, headers=headers, text="slow down")
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.sockets.add(ws)
        try:
            limit = self.drop_after.pop(0) if self.drop_after else None
            cursor = request.query.get("cursor")
            for sent, frame in enumerate(self.frames[self.start_index(cursor):]):
                if limit is not None and sent >= limit:
                    await ws.close()
                    return ws
                await ws.send_str(frame if isinstance(frame, str) else raw(frame))
            async for _ in ws:  # a live stream with nothing more to say, until the client leaves
                pass
        finally:
            self.sockets.discard(ws)
        return ws

    async def get_profiles(self, request: web.Request) -> web.Response:
        actors = request.query.getall("actors")
        self.lookups.append(actors)
        if self.appview_status != 200:
            return web.json_response({"error": "InternalServerError"}, status=self.appview_status)
        by_handle = {p["handle"]: p for p in self.profiles.values()}
        found = [self.profiles.get(a) or by_handle.get(a) for a in actors]
        return web.json_response({"profiles": [p for p in found if p]})

    async def close_sockets(self, _app: web.Application) -> None:
        for ws in list(self.sockets):
            await ws.close()


@pytest.fixture
def serve(app_server: AppServer) -> Callable[[FakeJetstream], Awaitable[TestServer]]:
    return lambda fake: app_server(fake.app)


def config_for(server: TestServer, tmp_path: Path, **changes: Any) -> JetstreamConfig:
    settings: dict[str, Any] = {
        "profile": PROFILE, "url": str(server.make_url("/subscribe")).replace("http://", "ws://"),
        "appview_url": str(server.make_url("")), "cursor_dir": tmp_path, "resolve_wait_s": 0.05,
        "heartbeat_s": 5.0, "request_timeout_s": 2.0, **changes}
    return JetstreamConfig(**settings)


# --- the source ----------------------------------------------------------------------------------


async def test_recorded_frames_become_contract_events_with_handles_from_one_lookup(
        serve: Any, start: Start, tmp_path: Path) -> None:
    city_post = at(CITY, "3lcitypost22")
    frames: list[dict[str, Any] | str] = [
        account(STRANGER, T0),
        post(STRANGER, "3lnoise1", T0 + 1 * SECOND, "今日はいい天気"),                       # not about the city
        post(CITY, "3lcitypost22", T0 + 2 * SECOND, "【和光市】市民まつりのお知らせ"),          # the city's own
        post(TARO, "3ltaro1", T0 + 3 * SECOND, "広報動画は不謹慎では？", reply=reply_to(city_post)),
        post(HANA, "3lhana1", T0 + 4 * SECOND, "これは炎上しそう", embed={
            "$type": "app.bsky.embed.record", "record": {"uri": city_post, "cid": "c"}}),
        identity(KEN, "ken.example.jp", T0 + 5 * SECOND),
        post(KEN, "3lken1", T0 + 6 * SECOND, "#和光市 の駅前で事故"),
        repost(STRANGER, "3lrp1", T0 + 7 * SECOND, at(TARO, "3ltaro1")),                  # spreads a relevant post
        repost(STRANGER, "3lrp2", T0 + 8 * SECOND, at(STRANGER, "3lnoise1")),             # spreads noise
        {"did": TARO, "time_us": T0 + 9 * SECOND, "kind": "commit",
         "commit": {"operation": "delete", "collection": "app.bsky.feed.post", "rkey": "3ltaro1"}},
    ]
    fake = FakeJetstream(frames)
    server = await serve(fake)
    source = JetstreamSource(config_for(server, tmp_path), backoff=Backoff(base_s=0.01))
    sink = MemorySink()
    task, stop = start(source, sink)

    await sink.wait_for(5, timeout=5)
    await stopped(task, stop)

    assert sink.rejected == []
    by_id = {e["id"]: e for e in sink.events}
    assert list(by_id) == [
        f"bluesky:official_post:{city_post}", f"bluesky:{at(TARO, '3ltaro1')}", f"bluesky:{at(HANA, '3lhana1')}",
        f"bluesky:{at(KEN, '3lken1')}", f"bluesky:{at(STRANGER, '3lrp1', 'app.bsky.feed.repost')}"]
    for event in sink.events:
        event_from_dict(event)
    official = by_id[f"bluesky:official_post:{city_post}"]
    assert official["type"] == "official_post"
    assert official["account"]["handle"] == "wako-city.bsky.social"
    assert official["post"]["id"] == f"bluesky:{city_post}"
    taro = by_id[f"bluesky:{at(TARO, '3ltaro1')}"]
    assert taro["author"]["handle"] == "taro.bsky.social" and taro["author"]["followers"] == 120
    assert taro["reply_to"] == {"post_id": f"bluesky:{city_post}", "account": "wako-city.bsky.social"}
    assert taro["ts"] == "2026-11-22T10:15:03+09:00"
    assert by_id[f"bluesky:{at(HANA, '3lhana1')}"]["quote_of"]["account"] == "wako-city.bsky.social"
    assert by_id[f"bluesky:{at(KEN, '3lken1')}"]["author"]["handle"] == "ken.example.jp"  # from the identity frame
    spread = by_id[f"bluesky:{at(STRANGER, '3lrp1', 'app.bsky.feed.repost')}"]
    assert spread["repost_of"] == {"post_id": f"bluesky:{at(TARO, '3ltaro1')}", "account": "taro.bsky.social"}

    # The city's DID was looked up once by handle before connecting; then the authors around
    # the first relevant posts in one batched call (the city's own DID is known by then).
    assert fake.lookups[0] == ["wako-city.bsky.social"]
    assert set().union(*fake.lookups[1:]) == {TARO, HANA, STRANGER}  # KEN was named by his identity frame
    assert len(fake.lookups) <= 3
    assert fake.queries[0]["wantedCollections"] == ["app.bsky.feed.post", "app.bsky.feed.repost"]
    assert "cursor" not in fake.queries[0]
    assert "compress" not in fake.queries[0]


async def test_a_dropped_connection_resumes_from_the_cursor_a_little_early_without_duplicates(
        serve: Any, start: Start, tmp_path: Path) -> None:
    frames: list[dict[str, Any] | str] = [post(TARO, f"3lt{n:02d}", T0 + n * SECOND, f"和光市 その{n}")
                                          for n in range(12)]
    fake = FakeJetstream(frames, drop_after=(8,))
    server = await serve(fake)
    sink = CountingSink()
    task, stop = start(JetstreamSource(config_for(server, tmp_path, rewind_s=3.0), backoff=Backoff(base_s=0.01)),
                       sink)

    await sink.wait_for(12)
    await until(lambda: len(fake.queries) == 2)
    await stopped(task, stop)

    assert fake.queries[1]["cursor"] == [str(T0 + 7 * SECOND - 3 * SECOND)]
    assert [e["id"] for e in sink.events] == [f"bluesky:{at(TARO, f'3lt{n:02d}')}" for n in range(12)]
    repeated = [i for i in sink.offered if sink.offered.count(i) > 1]
    assert repeated, "the rewind replays a few posts under the same ids, and the sink drops them"
    assert (tmp_path / "bluesky-jetstream.json").exists()

    # A new run (a restart) resumes from the cursor file, again a little early.
    fake.frames.append(post(HANA, "3lh13", T0 + 13 * SECOND, "和光市 その13"))
    again = CountingSink()
    task2, stop2 = start(JetstreamSource(config_for(server, tmp_path, rewind_s=3.0), backoff=Backoff(base_s=0.01)),
                         again)
    await until(lambda: f"bluesky:{at(HANA, '3lh13')}" in {e["id"] for e in again.events})
    await stopped(task2, stop2)
    assert fake.queries[2]["cursor"] == [str(T0 + 11 * SECOND - 3 * SECOND)]


async def test_a_malformed_frame_is_dead_lettered_and_its_neighbours_published(
        serve: Any, start: Start, tmp_path: Path) -> None:
    frames: list[dict[str, Any] | str] = [
        post(TARO, "3lbefore", T0, "和光市 前"),
        "{oops, not json",
        raw({"did": TARO, "time_us": T0 + SECOND, "kind": "commit",
             "commit": {"operation": "create", "collection": "app.bsky.feed.post", "rkey": "3lnotext",
                        "record": {"createdAt": created(T0)}}}),
        post(TARO, "3lafter", T0 + 2 * SECOND, "和光市 後"),
    ]
    server = await serve(FakeJetstream(frames))
    sink = MemorySink()
    task, stop = start(JetstreamSource(config_for(server, tmp_path), backoff=Backoff(base_s=0.01)), sink)

    await sink.wait_for(4)
    await stopped(task, stop)

    assert [e["id"] for e in sink.events] == [f"bluesky:{at(TARO, '3lbefore')}", f"bluesky:{at(TARO, '3lafter')}"]
    assert [r[0] for r in sink.rejected] == [b"{oops, not json", str(frames[2]).encode()]
    assert {r[2] for r in sink.rejected} == {"bluesky-jetstream"}
    assert "not valid JSON" in sink.rejected[0][1]
    assert "commit.record.text: missing" in sink.rejected[1][1]


async def test_a_refused_handshake_waits_as_long_as_asked_then_connects(
        serve: Any, start: Start, tmp_path: Path) -> None:
    fake = FakeJetstream([post(TARO, "3lt1", T0, "和光市")], refusals=((429, {"Retry-After": "0.3"}),))
    server = await serve(fake)
    sink = MemorySink()
    task, stop = start(JetstreamSource(config_for(server, tmp_path), backoff=Backoff(base_s=0.01)), sink)

    await sink.wait_for(1)
    await stopped(task, stop)

    assert len(fake.connected_at) == 2
    assert fake.connected_at[1] - fake.connected_at[0] >= 0.3


async def test_without_an_appview_authors_are_named_by_did_and_not_held_back(
        serve: Any, start: Start, tmp_path: Path) -> None:
    fake = FakeJetstream([post(TARO, "3lt1", T0, "和光市"), post(HANA, "3lh1", T0 + SECOND, "和光市")],
                         appview_status=500)
    server = await serve(fake)
    sink = MemorySink()
    task, stop = start(JetstreamSource(config_for(server, tmp_path, appview_pause_s=60),
                                       backoff=Backoff(base_s=0.01)), sink)

    await sink.wait_for(2)
    await stopped(task, stop)

    assert [e["author"]["handle"] for e in sink.events] == [TARO, HANA]
    assert len(fake.lookups) == 1  # the failed call pauses look-ups instead of repeating per post


async def test_stop_ends_the_run_promptly_while_the_stream_is_quiet(
        serve: Any, start: Start, tmp_path: Path) -> None:
    fake = FakeJetstream([post(TARO, "3lt1", T0, "和光市")])
    server = await serve(fake)
    sink = MemorySink()
    task, stop = start(JetstreamSource(config_for(server, tmp_path), backoff=Backoff(base_s=0.01)), sink)
    await sink.wait_for(1)

    began = time.monotonic()
    await stopped(task, stop, timeout=1.0)
    assert time.monotonic() - began < 0.5
    saved = orjson.loads((tmp_path / "bluesky-jetstream.json").read_bytes())
    assert saved == {"time_us": T0}
