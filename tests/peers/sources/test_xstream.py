"""The X filtered stream: rules and mapping (pure), then the source against a local X that speaks
the rules and streaming endpoints, drops, stalls and rate-limits as the real one does."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

import orjson
import pytest
from aiohttp import web
from structlog.testing import capture_logs

from vocabulary.settings import Secret
from vocabulary.contract import Mention, PostRef, event_from_dict, profile_from_dict
from sources.base import MemorySink, Unusable, event_time
from sources.xstream import (
    KEEP_ALIVE,
    STREAM_PARAMS,
    LinearBackoff,
    Malformed,
    Post,
    Rule,
    StreamError,
    XStream,
    XStreamConfig,
    build_rules,
    plan_rules,
    rate_limit_wait,
    read_line,
    rule_terms,
    tweet_event,
)
from tests.peers.sources.peers import AppServer, CountingSink

TOKEN = "AAAAAAAAAAAAAAAAAAAAAbearer-wako-4711"
PROFILE = profile_from_dict({
    "municipality": {"id": "wako", "name": "和光市", "names": ["和光市", "和光"], "areas": ["埼玉県南部"]},
    "accounts": [{"platform": "x", "handle": "wako_city", "name": "和光市"},
                 {"platform": "bluesky", "handle": "wako-city.bsky.social", "name": "和光市"}],
    "watch_hashtags": ["和光市"],
    "disaster_hashtags": ["和光市災害"],
})
OWNER = "noroshi:wako"

TARO = {"id": "55501", "username": "taro_w", "name": "和光 太郎", "created_at": "2019-03-31T15:00:00.000Z",
        "public_metrics": {"followers_count": 120, "following_count": 80, "tweet_count": 900}, "verified": False}
CITY = {"id": "1000", "username": "wako_city", "name": "和光市", "created_at": "2012-04-01T00:00:00.000Z",
        "public_metrics": {"followers_count": 25000}, "verified": True}


def tweet(post_id: int, text: str, *, author: dict[str, Any] = TARO, **data: Any) -> dict[str, Any]:
    """A frame as the filtered stream delivers it with our tweet.fields and expansions."""
    includes = data.pop("includes", {})
    users = [author, *includes.pop("users", [])]
    return {"data": {"id": str(post_id), "text": text, "author_id": author["id"], "lang": "ja",
                     "created_at": "2026-11-22T01:15:00.000Z", "conversation_id": str(post_id),
                     "edit_history_tweet_ids": [str(post_id)], **data},
            "includes": {"users": users, **includes},
            "matching_rules": [{"id": "1790000000000000900", "tag": f"{OWNER}#1"}]}


def line(obj: Any) -> bytes:
    return orjson.dumps(obj) + b"\r\n"


# --- rules ---------------------------------------------------------------------------------------


def test_rule_terms_are_names_hashtags_and_the_city_x_accounts() -> None:
    assert rule_terms(PROFILE) == ('"和光市"', '"和光"', "#和光市", "#和光市災害", "@wako_city", "to:wako_city")


def test_rules_fit_in_one_when_short() -> None:
    config = XStreamConfig(bearer_token=Secret(TOKEN))
    assert build_rules(PROFILE, config) == (
        Rule('"和光市" OR "和光" OR #和光市 OR #和光市災害 OR @wako_city OR to:wako_city', f"{OWNER}#1"),)


def test_rules_are_split_under_the_length_limit_each_with_its_own_tag() -> None:
    config = XStreamConfig(bearer_token=Secret(TOKEN), rule_max_length=30, rule_suffix="-is:nullcast")
    rules = build_rules(PROFILE, config)
    assert [r.tag for r in rules] == [f"{OWNER}#{n}" for n in range(1, len(rules) + 1)]
    assert len(rules) > 1 and all(len(r.value) <= 30 and r.value.endswith(" -is:nullcast") for r in rules)
    joined = " ".join(r.value for r in rules)
    assert all(term in joined for term in rule_terms(PROFILE))


def test_sync_plan_adds_what_is_missing_deletes_our_stale_rules_and_leaves_others_alone() -> None:
    wanted = (Rule('"和光市"', f"{OWNER}#1"), Rule("#和光市災害", f"{OWNER}#2"))
    existing = [
        {"id": "1", "value": '"和光市"', "tag": f"{OWNER}#1"},       # ours, still wanted
        {"id": "2", "value": '"わこう"', "tag": f"{OWNER}#7"},        # ours, stale
        {"id": "3", "value": "cats", "tag": "someone-else"},           # not ours
        {"id": "4", "value": "#asaka", "tag": "noroshi:wakoshi#1"},    # another city whose id starts alike
        {"id": "5", "value": "#和光市災害"},                            # untagged duplicate: X would refuse ours
    ]
    plan = plan_rules(existing, wanted, OWNER)
    assert plan.add == ()
    assert plan.delete == ("2",)
    assert plan_rules([], wanted, OWNER).add == wanted


# --- mapping -------------------------------------------------------------------------------------


def test_a_reply_becomes_a_contract_mention_with_the_replied_accounts_handle() -> None:
    frame = tweet(1790000000000000001, "@wako_city この動画は不謹慎では？ #和光市 https://t.co/abc",
                  referenced_tweets=[{"type": "replied_to", "id": "1789999999999990000"}],
                  entities={"hashtags": [{"start": 30, "end": 34, "tag": "和光市"}],
                            "mentions": [{"start": 0, "end": 10, "username": "wako_city", "id": "1000"}],
                            "urls": [{"url": "https://t.co/abc", "expanded_url": "https://example.jp/a",
                                      "display_url": "example.jp/a"}]},
                  includes={"users": [CITY],
                            "tweets": [{"id": "1789999999999990000", "text": "市の動画です", "author_id": "1000"}]})
    event = tweet_event(frame)
    assert event["id"] == "x:1790000000000000001" and event["ts"] == "2026-11-22T10:15:00+09:00"
    assert event["author"] == {"id": "x:u:55501", "handle": "taro_w", "name": "和光 太郎", "followers": 120,
                               "created_at": "2019-04-01T00:00:00+09:00", "verified": False}
    assert event["hashtags"] == ["和光市"] and event["urls"] == ["https://example.jp/a"]
    assert event["conversation_id"] == "x:1790000000000000001"
    parsed = event_from_dict(event)
    assert isinstance(parsed, Mention)
    assert parsed.reply_to == PostRef("x:1789999999999990000", "wako_city")
    assert parsed.quote_of is None and parsed.repost_of is None and parsed.lang == "ja"


def test_quotes_and_reposts_name_the_referenced_author_or_leave_it_empty_when_deleted() -> None:
    frame = tweet(2, "RT @wako_city: 避難所を開設しました",
                  referenced_tweets=[{"type": "retweeted", "id": "20"}, {"type": "quoted", "id": "21"}],
                  includes={"users": [CITY], "tweets": [{"id": "20", "text": "避難所を開設しました", "author_id": "1000"}]})
    event = tweet_event(frame)
    assert event["repost_of"] == {"post_id": "x:20", "account": "wako_city"}
    assert event["quote_of"] == {"post_id": "x:21", "account": ""}  # post 21 was deleted: not in includes
    assert event["hashtags"] == [] and event["urls"] == []
    event_from_dict(event)


@pytest.mark.parametrize(("frame", "reason"), [
    ({"data": {"id": "7", "text": "x", "author_id": "9", "created_at": "2026-11-22T01:15:00.000Z"},
      "includes": {"users": [TARO]}}, "author '9' is not in includes.users"),
    ({"data": {"id": "7", "text": "x", "author_id": "55501"}, "includes": {"users": [TARO]}}, "created_at: missing"),
    ({"data": {"id": "abc", "text": "x"}}, "data.id: expected a numeric string"),
    ({"data": {"id": "7", "author_id": "55501"}, "includes": {"users": [TARO]}}, "text missing"),
])
def test_a_frame_that_cannot_be_a_mention_says_why(frame: dict[str, Any], reason: str) -> None:
    with pytest.raises(Unusable, match=reason):
        tweet_event(frame)


def test_odd_shapes_in_optional_fields_are_ignored_not_fatal() -> None:
    frame = tweet(5, "和光市", referenced_tweets=[{"type": ["quoted"], "id": "50"}, 7, {"type": "quoted", "id": 51}],
                  entities={"hashtags": {"tag": "和光市"}, "urls": [5, {"expanded_url": None}]})
    event = tweet_event(frame)
    assert (event["reply_to"], event["quote_of"], event["repost_of"]) == (None, None, None)
    assert event["hashtags"] == [] and event["urls"] == []
    event_from_dict(event)


def test_each_line_is_classified() -> None:
    assert read_line(b"\r\n") == KEEP_ALIVE
    assert isinstance(read_line(line(tweet(3, "和光市の図書館"))), Post)
    truncated = read_line(b'{"data": {"id": ')
    assert isinstance(truncated, Malformed) and truncated.reason.startswith("not valid JSON: unexpected end")
    assert read_line(b"[1, 2]") == Malformed("expected a JSON object, got list")
    disconnect = {"errors": [{"title": "operational-disconnect", "disconnect_type": "UpstreamOperationalDisconnect",
                              "detail": "This stream has been disconnected upstream for operational reasons.",
                              "type": "https://api.x.com/2/problems/operational-disconnect"}]}
    assert read_line(line(disconnect)) == StreamError(
        "operational-disconnect", "This stream has been disconnected upstream for operational reasons.", True)
    not_found = {"errors": [{"title": "Not Found Error", "detail": "Could not find tweet", "resource_type": "tweet"}]}
    assert read_line(line(not_found)) == StreamError("Not Found Error", "Could not find tweet", False)
    partial = tweet(4, "和光市", referenced_tweets=[{"type": "quoted", "id": "40"}])
    partial["errors"] = not_found["errors"]
    assert isinstance(read_line(line(partial)), Post)  # a post with partial errors is still a post


def test_x_times_become_municipal_time_in_whole_seconds() -> None:
    assert event_time("2026-11-22T01:15:00.123Z", "ts") == "2026-11-22T10:15:00+09:00"
    with pytest.raises(Unusable, match="no UTC offset"):
        event_time("2026-11-22T01:15:00", "ts")


# --- waits ---------------------------------------------------------------------------------------


def test_network_errors_back_off_linearly_up_to_the_cap() -> None:
    backoff = LinearBackoff(step_s=0.25, cap_s=1.0)
    assert [backoff.next_delay() for _ in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    backoff.reset()
    assert backoff.next_delay() == 0.25


def test_a_429_waits_until_the_rate_limit_window_resets() -> None:
    now = 1_790_000_000.0
    assert rate_limit_wait({"x-rate-limit-reset": str(int(now) + 120)}, now) == 121.0
    assert rate_limit_wait({"retry-after": "30"}, now) == 30.0
    assert rate_limit_wait({"x-rate-limit-reset": "soon"}, now) == 0.0
    assert rate_limit_wait({}, now) == 0.0


def test_the_bearer_token_never_shows_in_reprs() -> None:
    config = XStreamConfig(bearer_token=Secret(TOKEN))
    assert TOKEN not in repr(config) and TOKEN not in repr(XStream(PROFILE, config))


# --- a local X ---------------------------------------------------------------------------------------


@dataclass
class Connection:
    """What the stream endpoint does with one connection, in order."""

    lines: list[bytes] = field(default_factory=list)
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    then: str = "close"  # "close" the response, "drop" the socket, or "stall" (send nothing more)
    pause: float = 0.0  # between writes, so that each tends to arrive as a chunk of its own


@dataclass
class FakeX:
    rules: list[dict[str, Any]] = field(default_factory=list)
    rule_posts: list[Any] = field(default_factory=list)
    connections: list[Connection] = field(default_factory=list)
    stream_requests: list[tuple[float, web.Request]] = field(default_factory=list)
    auth: list[str] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    next_id: int = 9000

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/2/tweets/search/stream/rules", self.get_rules)
        app.router.add_post("/2/tweets/search/stream/rules", self.post_rules)
        app.router.add_get("/2/tweets/search/stream", self.stream)
        return app

    async def get_rules(self, request: web.Request) -> web.Response:
        self.auth.append(request.headers.get("Authorization", ""))
        body: dict[str, Any] = {"meta": {"sent": "2026-11-22T01:00:00.000Z", "result_count": len(self.rules)}}
        if self.rules:
            body["data"] = self.rules
        return web.json_response(body)

    async def post_rules(self, request: web.Request) -> web.Response:
        self.auth.append(request.headers.get("Authorization", ""))
        body = await request.json()
        self.rule_posts.append(body)
        if "add" in body:
            added = []
            for rule in body["add"]:
                self.next_id += 1
                added.append({"id": str(self.next_id), **rule})
            self.rules += added
            return web.json_response({"data": added, "meta": {"summary": {"created": len(added), "not_created": 0}}},
                                     status=201)
        ids = set(body["delete"]["ids"])
        self.rules = [r for r in self.rules if r["id"] not in ids]
        return web.json_response({"meta": {"summary": {"deleted": len(ids), "not_deleted": 0}}})

    async def stream(self, request: web.Request) -> web.StreamResponse:
        self.auth.append(request.headers.get("Authorization", ""))
        self.stream_requests.append((time.monotonic(), request))
        plan = self.connections.pop(0) if self.connections else Connection(then="stall")
        if plan.status != 200:
            return web.json_response({"title": "Too Many Requests", "detail": "Too Many Requests",
                                      "type": "about:blank", "status": plan.status},
                                     status=plan.status, headers=plan.headers)
        resp = web.StreamResponse(headers={"Content-Type": "application/json; charset=utf-8"})
        await resp.prepare(request)
        for chunk in plan.lines:
            await resp.write(chunk)
            await asyncio.sleep(plan.pause)
        if plan.then == "drop":
            assert request.transport is not None
            request.transport.abort()
        elif plan.then == "stall":
            await self.release.wait()
        return resp


Served = Callable[[FakeX], Awaitable[str]]


@pytest.fixture
async def serve(app_server: AppServer) -> AsyncIterator[Served]:
    started: list[FakeX] = []

    async def start(fake: FakeX) -> str:
        server = await app_server(fake.app())
        started.append(fake)
        return str(server.make_url("")).rstrip("/")

    yield start
    for fake in started:
        fake.release.set()  # before the servers close


FAST = XStreamConfig(bearer_token=Secret(TOKEN), stall_timeout_s=5.0, network_backoff_step_s=0.01,
                     network_backoff_cap_s=0.05, http_backoff_base_s=0.02, http_backoff_cap_s=0.1,
                     rate_limit_base_s=0.3, rate_limit_cap_s=1.0, connect_timeout_s=2.0, request_timeout_s=2.0)


@dataclass
class Running:
    source: XStream
    sink: CountingSink
    stop: asyncio.Event
    task: asyncio.Task[None]

    async def finish(self) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, 2.0)


async def start(url: str, config: XStreamConfig = FAST) -> Running:
    source = XStream(PROFILE, replace(config, api_url=url))
    sink, stop = CountingSink(), asyncio.Event()
    return Running(source, sink, stop, asyncio.create_task(source.run(sink, stop)))


def ids(sink: MemorySink) -> list[str]:
    for event in sink.events:
        event_from_dict(event)
    return [e["id"] for e in sink.events]


async def test_syncs_the_rules_then_streams_posts_between_keepalives(serve: Served) -> None:
    fake = FakeX(rules=[{"id": "1", "value": '"わこう"', "tag": f"{OWNER}#3"},
                        {"id": "2", "value": "#asakashi", "tag": "asaka-monitor"}],
                 connections=[Connection([b"\r\n", line(tweet(11, "和光市の図書館")), b"\r\n", b"\r\n",
                                          line(tweet(12, "#和光市 の花火")), b"\r\n"])])
    running = await start(await serve(fake))
    await running.sink.wait_for(2)
    await running.finish()

    assert ids(running.sink) == ["x:11", "x:12"]
    assert fake.rule_posts == [
        {"add": [{"value": '"和光市" OR "和光" OR #和光市 OR #和光市災害 OR @wako_city OR to:wako_city',
                  "tag": f"{OWNER}#1"}]},
        {"delete": {"ids": ["1"]}},
    ]
    assert sorted(r["tag"] for r in fake.rules) == ["asaka-monitor", f"{OWNER}#1"]
    _, request = fake.stream_requests[0]
    assert dict(request.query) == STREAM_PARAMS
    assert set(fake.auth) == {f"Bearer {TOKEN}"}


async def test_rules_already_in_place_are_left_as_they_are(serve: Served) -> None:
    wanted = build_rules(PROFILE, FAST)
    fake = FakeX(rules=[{"id": "5", "value": wanted[0].value, "tag": wanted[0].tag}],
                 connections=[Connection([line(tweet(13, "和光市"))])])
    running = await start(await serve(fake))
    await running.sink.wait_for(1)
    await running.finish()
    assert fake.rule_posts == []


async def test_a_dropped_connection_reconnects_and_a_replayed_post_is_not_published_twice(serve: Served) -> None:
    first = [line(tweet(21, "和光市 一")), line(tweet(22, "和光市 二")), b'{"data": {"id": "23", "te']
    fake = FakeX(connections=[Connection(first, then="drop"),
                              Connection([line(tweet(22, "和光市 二")), line(tweet(24, "和光市 四"))])])
    running = await start(await serve(fake))
    await running.sink.wait_for(3)
    await running.finish()

    assert ids(running.sink) == ["x:21", "x:22", "x:24"]
    assert running.sink.offered == ["x:21", "x:22", "x:24"]  # the repeat never reached the sink
    assert running.sink.rejected == []  # the half line died with its connection
    assert len(fake.stream_requests) >= 2 and running.source.connections >= 2


async def test_a_stream_closed_by_x_is_reconnected(serve: Served) -> None:
    disconnect = {"errors": [{"title": "operational-disconnect", "disconnect_type": "UpstreamOperationalDisconnect",
                              "detail": "This stream has been disconnected upstream for operational reasons."}]}
    fake = FakeX(connections=[Connection([line(tweet(31, "和光市"))]),  # ends cleanly
                              Connection([line(tweet(32, "和光市")), line(disconnect)], then="stall"),
                              Connection([line(tweet(33, "和光市"))])])
    with capture_logs() as logs:
        running = await start(await serve(fake))
        await running.sink.wait_for(3)
        await running.finish()
    assert ids(running.sink) == ["x:31", "x:32", "x:33"]
    reasons = [e["reason"] for e in logs if e["event"] == "x_stream_retrying"]
    assert reasons[:2] == [
        "stream closed by X",
        "operational-disconnect: This stream has been disconnected upstream for operational reasons."]


async def test_backfill_is_asked_for_only_when_reconnecting(serve: Served) -> None:
    fake = FakeX(connections=[Connection([line(tweet(35, "和光市"))]), Connection([line(tweet(36, "和光市"))])])
    running = await start(await serve(fake), replace(FAST, backfill_minutes=2))
    await running.sink.wait_for(2)
    await running.finish()
    (_, first), (_, second) = fake.stream_requests[:2]
    assert "backfill_minutes" not in first.query and second.query["backfill_minutes"] == "2"


async def test_a_429_waits_as_told_then_connects_again(serve: Served) -> None:
    fake = FakeX(connections=[Connection(status=429, headers={"x-rate-limit-limit": "50",
                                                              "x-rate-limit-remaining": "0"}),
                              Connection([line(tweet(41, "和光市"))])])
    with capture_logs() as logs:
        running = await start(await serve(fake))
        await running.sink.wait_for(1)
        await running.finish()
    (refused_at, _), (retried_at, _) = fake.stream_requests[:2]
    assert retried_at - refused_at >= FAST.rate_limit_base_s
    assert ids(running.sink) == ["x:41"]
    retry = next(e for e in logs if e["event"] == "x_stream_retrying")
    assert retry["kind"] == "rate_limited" and retry["delay_s"] >= FAST.rate_limit_base_s


async def test_a_429_with_a_reset_time_waits_for_that_reset(serve: Served) -> None:
    now = 1_790_000_000.0
    fake = FakeX(connections=[Connection(status=429, headers={"x-rate-limit-reset": str(int(now))}),
                              Connection([line(tweet(42, "和光市"))])])
    config = replace(FAST, api_url=await serve(fake), rate_limit_base_s=0.01, rate_limit_cap_s=5.0)
    # The window reset 0.6 s ago by our clock; X's reset is whole seconds, so one more is waited.
    source = XStream(PROFILE, config, clock=lambda: now + 0.6)
    sink, stop = MemorySink(), asyncio.Event()
    task = asyncio.create_task(source.run(sink, stop))
    await sink.wait_for(1)
    stop.set()
    await task
    (refused_at, _), (retried_at, _) = fake.stream_requests[:2]
    assert retried_at - refused_at >= 0.4


async def test_a_server_error_backs_off_and_retries(serve: Served) -> None:
    fake = FakeX(connections=[Connection(status=503), Connection(status=500),
                              Connection([line(tweet(51, "和光市"))], then="stall")])
    with capture_logs() as logs:
        running = await start(await serve(fake))
        await running.sink.wait_for(1)
        await running.finish()
    delays = [e["delay_s"] for e in logs if e["event"] == "x_stream_retrying"]
    assert [e["kind"] for e in logs if e["event"] == "x_stream_retrying"] == ["http", "http"]
    assert delays[0] >= FAST.http_backoff_base_s and delays[1] >= delays[0] * 0.5
    assert ids(running.sink) == ["x:51"]


async def test_a_malformed_line_is_rejected_with_its_reason_while_its_neighbours_publish(serve: Served) -> None:
    broken = b'{"data": {"id": "62", "text": "\xe5\x92\x8c\xe5\x85\x89", "author_id": "77"}}\r\n'
    fake = FakeX(connections=[Connection([line(tweet(61, "和光市")), b"not json at all\r\n", broken,
                                          line(tweet(63, "和光市"))])])
    running = await start(await serve(fake))
    await running.sink.wait_for(4)
    await running.finish()
    assert ids(running.sink) == ["x:61", "x:63"]
    assert [(raw, source) for raw, _, source in running.sink.rejected] == [
        (b"not json at all", "x-stream"), (broken.rstrip(b"\r\n"), "x-stream")]
    reasons = [reason for _, reason, _ in running.sink.rejected]
    assert reasons[0].startswith("not valid JSON") and reasons[1] == "post 62: author '77' is not in includes.users"


async def test_an_overlong_line_is_rejected_once_and_the_stream_goes_on(serve: Served,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sources.xstream.MAX_LINE_BYTES", 1200)
    monkeypatch.setattr("sources.xstream.REJECTED_PREFIX_BYTES", 20)
    # Whether it arrives in one chunk or several is up to TCP: both ways it is one rejection.
    overlong = [b'{"data": {"text": "' + b"a" * 1000, b"a" * 1000, b"a" * 1000 + b'"}}\r\n']
    fake = FakeX(connections=[Connection([line(tweet(65, "和光市")), *overlong, line(tweet(66, "和光市"))],
                                         then="stall", pause=0.02)])
    running = await start(await serve(fake))
    await running.sink.wait_for(3)
    await running.finish()
    assert ids(running.sink) == ["x:65", "x:66"]
    assert running.sink.rejected == [(b'{"data": {"text": "a', "line longer than 1200 bytes", "x-stream")]


async def test_a_stalled_stream_is_reconnected_after_the_stall_timeout(serve: Served) -> None:
    fake = FakeX(connections=[Connection([line(tweet(71, "和光市"))], then="stall"),
                              Connection([line(tweet(72, "和光市"))], then="stall")])
    config = replace(FAST, stall_timeout_s=0.3)
    with capture_logs() as logs:
        running = await start(await serve(fake), config)
        await running.sink.wait_for(2)
        await running.finish()
    (first_at, _), (second_at, _) = fake.stream_requests[:2]
    assert second_at - first_at >= 0.3
    assert ids(running.sink) == ["x:71", "x:72"]
    assert any(e["event"] == "x_stream_stalled" for e in logs)


async def test_keepalives_keep_a_quiet_stream_from_counting_as_stalled(serve: Served) -> None:
    class Trickle(FakeX):
        async def stream(self, request: web.Request) -> web.StreamResponse:
            self.stream_requests.append((time.monotonic(), request))
            resp = web.StreamResponse()
            await resp.prepare(request)
            for _ in range(5):
                await resp.write(b"\r\n")
                await asyncio.sleep(0.06)
            await resp.write(line(tweet(81, "和光市")))
            await self.release.wait()
            return resp

    fake = Trickle()
    running = await start(await serve(fake), replace(FAST, stall_timeout_s=0.2))
    await running.sink.wait_for(1)
    await running.finish()
    assert len(fake.stream_requests) == 1 and ids(running.sink) == ["x:81"]


async def test_a_refused_token_is_logged_without_the_token(serve: Served) -> None:
    fake = FakeX(connections=[Connection(status=401), Connection([line(tweet(91, "和光市"))])])
    with capture_logs() as logs:
        running = await start(await serve(fake))
        await running.sink.wait_for(1)
        await running.finish()
    assert any(e["event"] == "x_stream_refused" and e["status"] == 401 for e in logs)
    assert TOKEN not in repr(logs)


async def test_stop_ends_the_source_while_it_waits_to_reconnect(serve: Served) -> None:
    fake = FakeX(connections=[Connection(status=429)])
    running = await start(await serve(fake), replace(FAST, rate_limit_base_s=60.0, rate_limit_cap_s=120.0))
    while not fake.stream_requests:
        await asyncio.sleep(0.01)
    started = time.monotonic()
    await running.finish()
    assert time.monotonic() - started < 1.0
