"""Account discovery: queries and mapping (pure), then rounds against a local server that answers
as Bluesky's AppView, a Mastodon instance and X's users search do."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from structlog.testing import capture_logs

from vocabulary.settings import Secret
from vocabulary.contract import AccountEvent, event_from_dict, profile_from_dict
from sources.avatars import AvatarConfig, hash_avatar, load_hasher
from sources.base import Cursor, MemorySink, Unusable
from sources.discovery import (
    Discovery,
    DiscoveryConfig,
    bluesky_account,
    fingerprint,
    handle_stem,
    html_text,
    is_official,
    mastodon_account,
    platforms_for,
    search_queries,
    seen_event,
    x_account,
)
from streams.detectors.common import Context
from streams.detectors.impersonation import ImpersonationConfig, ImpersonationDetector
from streams.detectors.impersonation_text import phash_distance
from tests.images import city_avatar, encoded, portrait, recoloured, resized
from tests.peers.sources.peers import AppServer

X_TOKEN = "AAAAAAAAAAAAAAAAAAAAAx-discovery-0815"
MASTODON_TOKEN = "mastodon-token-4242"
NOW = 1_795_000_000.0  # 2026-11-18T20:06:40+09:00

PROFILE = profile_from_dict({
    "municipality": {"id": "wako", "name": "和光市", "names": ["和光市", "和光"]},
    "accounts": [
        {"platform": "x", "handle": "wako_city_official", "name": "和光市役所", "url": "https://x.com/wako_city_official"},
        {"platform": "bluesky", "handle": "wako-city.bsky.social", "name": "和光市"},
        {"platform": "mastodon", "handle": "wako_city", "name": "和光市", "url": "https://mstdn.example/@wako_city"},
    ],
})

FAKE_BSKY = {"did": "did:plc:fake0001", "handle": "wako-clty.bsky.social", "displayName": "和光市【公式】",
             "description": "和光市の公式アカウントです",
             "avatar": "https://cdn.bsky.app/img/avatar/plain/did:plc:fake0001/bafk1@jpeg",
             "createdAt": "2026-11-17T00:00:00.000Z", "indexedAt": "2026-11-17T00:00:05.000Z", "labels": []}
OFFICIAL_BSKY = {"did": "did:plc:city", "handle": "wako-city.bsky.social", "displayName": "和光市",
                 "description": "埼玉県和光市の公式アカウント", "createdAt": "2023-07-01T00:00:00.000Z",
                 "verification": {"verifiedStatus": "valid", "trustedVerifierStatus": "none", "verifications": []}}
FAKE_MASTODON = {"id": "110000000000000001", "username": "wako_city", "acct": "wako_city@evil.example",
                 "display_name": "和光市 公式", "note": "<p>和光市の公式です&amp;お知らせ<br />DMください</p>",
                 "url": "https://evil.example/@wako_city", "avatar": "https://evil.example/a.png",
                 "avatar_static": "https://evil.example/a.png", "followers_count": 3,
                 "created_at": "2026-11-17T00:00:00.000Z", "bot": False, "locked": False, "fields": []}
OFFICIAL_MASTODON = {"id": "7", "username": "wako_city", "acct": "wako_city", "display_name": "和光市",
                     "note": "", "url": "https://mstdn.example/@wako_city",
                     "avatar": "https://mstdn.example/avatars/original/missing.png", "followers_count": 900,
                     "created_at": "2022-11-01T00:00:00.000Z"}
FAKE_X = {"id": "991", "username": "wako_clty_official", "name": "和光市【公式】",
          "description": "和光市の公式アカウントです", "profile_image_url": "https://pbs.twimg.com/profile_images/1/a_normal.jpg",
          "public_metrics": {"followers_count": 3, "following_count": 0, "tweet_count": 2, "listed_count": 0},
          "created_at": "2026-11-17T00:00:00.000Z", "verified": False}
RESIDENT_X = {"id": "55501", "username": "taro_w", "name": "和光 太郎", "description": "和光市在住",
              "public_metrics": {"followers_count": 120}, "created_at": "2019-03-31T15:00:00.000Z"}


# --- queries and accounts (pure) ---------------------------------------------------------------


def test_stems_keep_the_part_of_a_handle_that_names_the_city() -> None:
    assert handle_stem("wako_city_official") == "wako"
    assert handle_stem("aosawacity.bsky.social") == "aosawa"
    assert handle_stem("city.wako.lg.jp") == "wako"
    assert handle_stem("hanasaki_pr") == "hanasaki"
    assert handle_stem("minami_boso_koho") == "minami_boso"
    assert handle_stem("@wako_city@mstdn.example") == "wako"
    assert handle_stem("city_pr") == ""


def test_queries_are_the_names_and_each_handles_core_and_stem_once() -> None:
    assert search_queries(PROFILE, ["わこう"]) == (
        "和光市", "和光", "わこう", "wako_city_official", "wako", "wako-city", "wako_city")


def test_a_bluesky_actor_becomes_a_contract_account() -> None:
    account = bluesky_account(FAKE_BSKY)
    assert account == {"id": "bluesky:did:plc:fake0001", "handle": "wako-clty.bsky.social", "name": "和光市【公式】",
                       "bio": "和光市の公式アカウントです", "url": "https://bsky.app/profile/wako-clty.bsky.social",
                       "avatar_phash": None, "avatar_url": FAKE_BSKY["avatar"], "followers": 0,
                       "created_at": "2026-11-17T09:00:00+09:00", "verified": False}
    assert bluesky_account(OFFICIAL_BSKY)["verified"] is True


def test_a_mastodon_account_keeps_its_instance_in_the_handle_and_its_bio_as_text() -> None:
    account = mastodon_account(FAKE_MASTODON)
    assert account["id"] == "mastodon:u:110000000000000001" and account["handle"] == "wako_city@evil.example"
    assert account["bio"] == "和光市の公式です&お知らせ\nDMください"
    assert account["followers"] == 3 and account["avatar_url"] == "https://evil.example/a.png"
    assert mastodon_account(OFFICIAL_MASTODON)["avatar_url"] is None  # the instance's "missing" picture
    assert html_text("<p>一行目</p><p>二行目</p>") == "一行目\n二行目"


def test_an_x_user_becomes_a_contract_account() -> None:
    account = x_account(FAKE_X)
    assert account["id"] == "x:u:991" and account["url"] == "https://x.com/wako_clty_official"
    assert account["followers"] == 3 and account["created_at"] == "2026-11-17T09:00:00+09:00"


@pytest.mark.parametrize(("convert", "raw", "reason"), [
    (bluesky_account, {"handle": "a.bsky.social"}, "bluesky actor: did missing"),
    (bluesky_account, {"did": "did:plc:x"}, "bluesky actor did:plc:x: handle missing"),
    (mastodon_account, {"id": "5", "acct": ""}, "mastodon account 5: acct missing"),
    (x_account, "not an object", "x user: expected an object, got str"),
])
def test_an_account_that_cannot_be_mapped_says_why(convert: Callable[[Any], Any], raw: Any, reason: str) -> None:
    with pytest.raises(Unusable, match=reason):
        convert(raw)


def test_the_fingerprint_changes_with_the_profile_not_with_the_followers() -> None:
    account = x_account(FAKE_X)
    assert fingerprint({**account, "followers": 5000}) == fingerprint(account)
    for key in ("handle", "name", "bio", "avatar_url"):
        assert fingerprint({**account, key: "changed"}) != fingerprint(account)


def test_a_seen_event_passes_the_contract_and_its_id_names_the_profile_version() -> None:
    account = x_account(FAKE_X)
    event = seen_event("x", account, ts="2026-11-18T10:00:00+09:00", query="和光市")
    parsed = event_from_dict(event)
    assert isinstance(parsed, AccountEvent) and parsed.type == "seen" and parsed.account.handle == "wako_clty_official"
    changed = seen_event("x", {**account, "bio": "別の文"}, ts=event["ts"], query="和光市")
    assert event["id"].startswith("x:acct:u:991:") and changed["id"] != event["id"]


def test_the_citys_own_accounts_are_recognised_by_handle_or_profile_url() -> None:
    assert is_official("bluesky", bluesky_account(OFFICIAL_BSKY), PROFILE.accounts)
    assert is_official("mastodon", mastodon_account(OFFICIAL_MASTODON), PROFILE.accounts)
    remote_view = {**mastodon_account(OFFICIAL_MASTODON), "handle": "wako_city@mstdn.example"}
    assert is_official("mastodon", remote_view, PROFILE.accounts)  # seen from another instance
    assert not is_official("mastodon", mastodon_account(FAKE_MASTODON), PROFILE.accounts)
    assert not is_official("bluesky", {"handle": "wako_city_official", "url": ""}, PROFILE.accounts)


def test_platforms_are_on_only_when_configured_and_tokens_stay_hidden() -> None:
    assert [p.platform for p in platforms_for(DiscoveryConfig())] == ["bluesky"]
    config = DiscoveryConfig(mastodon_url="https://mstdn.example", mastodon_token=Secret(MASTODON_TOKEN),
                             x_bearer_token=Secret(X_TOKEN))
    assert [p.platform for p in platforms_for(config)] == ["bluesky", "mastodon", "x"]
    shown = repr(config) + repr(platforms_for(config)) + repr(Discovery(PROFILE, config))
    assert X_TOKEN not in shown and MASTODON_TOKEN not in shown


# --- a local Bluesky, Mastodon and X -----------------------------------------------------------------


def matches(query: str, *texts: Any) -> bool:
    return any(isinstance(t, str) and query.lower() in t.lower() for t in texts)


@dataclass
class FakePlatforms:
    bluesky: list[dict[str, Any]] = field(default_factory=list)
    mastodon: list[dict[str, Any]] = field(default_factory=list)
    x: list[dict[str, Any]] = field(default_factory=list)
    followers: dict[str, int] = field(default_factory=dict)  # Bluesky did → followersCount
    failing: dict[str, int] = field(default_factory=dict)  # path → HTTP status
    asked: list[tuple[str, dict[str, str], dict[str, str]]] = field(default_factory=list)
    pictures: dict[str, bytes] = field(default_factory=dict)  # /avatars/NAME → the picture
    unsized: set[str] = field(default_factory=set)  # pictures sent in chunks, without a Content-Length
    stalled: set[str] = field(default_factory=set)  # pictures that never come (until `released`)
    released: asyncio.Event = field(default_factory=asyncio.Event)
    fetched: list[str] = field(default_factory=list)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/avatars/{name}", self.avatar)
        app.router.add_get("/xrpc/app.bsky.actor.searchActors", self.search_actors)
        app.router.add_get("/xrpc/app.bsky.actor.getProfiles", self.get_profiles)
        app.router.add_get("/api/v2/search", self.mastodon_search)
        app.router.add_get("/2/users/search", self.x_search)
        return app

    def _failure(self, request: web.Request) -> web.Response | None:
        self.asked.append((request.path, dict(request.query), dict(request.headers)))
        status = self.failing.get(request.path)
        if status is None:
            return None
        return web.json_response({"error": "InternalServerError"}, status=status)

    async def avatar(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        self.fetched.append(name)
        if name in self.stalled:
            await self.released.wait()
        if name not in self.pictures:
            return web.Response(status=404)
        if name not in self.unsized:
            return web.Response(body=self.pictures[name], content_type="image/png")
        resp = web.StreamResponse(headers={"Content-Type": "image/png"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        picture = self.pictures[name]
        for start in range(0, len(picture), 16 * 1024):
            await resp.write(picture[start:start + 16 * 1024])
        await resp.write_eof()
        return resp

    async def search_actors(self, request: web.Request) -> web.Response:
        if failure := self._failure(request):
            return failure
        q, limit = request.query["q"], int(request.query["limit"])
        found = [a for a in self.bluesky if matches(q, a["handle"], a.get("displayName"), a.get("description"))]
        return web.json_response({"actors": found[:limit]})

    async def get_profiles(self, request: web.Request) -> web.Response:
        if failure := self._failure(request):
            return failure
        dids = request.query.getall("actors")
        profiles = [{**a, "followersCount": self.followers.get(a["did"], 0), "followsCount": 1, "postsCount": 2}
                    for a in self.bluesky if a["did"] in dids]
        return web.json_response({"profiles": profiles})

    async def mastodon_search(self, request: web.Request) -> web.Response:
        if failure := self._failure(request):
            return failure
        assert request.query["type"] == "accounts" and request.query["resolve"] == "false"
        q = request.query["q"]
        found = [a for a in self.mastodon if matches(q, a["acct"], a.get("display_name"), a.get("note"))]
        return web.json_response({"accounts": found, "statuses": [], "hashtags": []})

    async def x_search(self, request: web.Request) -> web.Response:
        if failure := self._failure(request):
            return failure
        if request.headers.get("Authorization") != f"Bearer {X_TOKEN}":
            return web.json_response({"title": "Unauthorized", "status": 401}, status=401)
        q = request.query["query"]
        found = [u for u in self.x if matches(q, u["username"], u.get("name"), u.get("description"))]
        body: dict[str, Any] = {"meta": {"result_count": len(found)}}
        if found:
            body["data"] = found
        return web.json_response(body)


Served = Callable[[FakePlatforms], Awaitable[DiscoveryConfig]]


@pytest.fixture
def serve(app_server: AppServer) -> Served:
    async def start(fake: FakePlatforms) -> DiscoveryConfig:
        url = str((await app_server(fake.app())).make_url("")).rstrip("/")
        # The sample accounts' avatars live on the platforms' CDNs, not here: the avatar tests
        # below turn hashing on with pictures this server serves.
        return DiscoveryConfig(interval_s=0.05, bluesky_url=url, mastodon_url=url,
                               mastodon_token=Secret(MASTODON_TOKEN), x_api_url=url,
                               x_bearer_token=Secret(X_TOKEN), request_timeout_s=2.0,
                               avatars=AvatarConfig(enabled=False))

    return start


def everyone() -> FakePlatforms:
    return FakePlatforms(bluesky=[copy.deepcopy(FAKE_BSKY), copy.deepcopy(OFFICIAL_BSKY)],
                         mastodon=[copy.deepcopy(FAKE_MASTODON), copy.deepcopy(OFFICIAL_MASTODON)],
                         x=[copy.deepcopy(FAKE_X), copy.deepcopy(RESIDENT_X)],
                         followers={"did:plc:fake0001": 4})


def discovery(config: DiscoveryConfig, cursor: Cursor | None = None) -> Discovery:
    return Discovery(PROFILE, config, cursor, clock=lambda: NOW)


def handles(sink: MemorySink) -> list[tuple[str, str]]:
    for event in sink.events:
        event_from_dict(event)
    return [(e["platform"], e["account"]["handle"]) for e in sink.events]


async def test_a_new_account_is_seen_once_and_again_only_when_its_profile_changes(serve: Served) -> None:
    fake = everyone()
    source = discovery(await serve(fake))
    sink = MemorySink()

    report = await source.run_once(sink)
    assert handles(sink) == [("bluesky", "wako-clty.bsky.social"), ("mastodon", "wako_city@evil.example"),
                             ("x", "wako_clty_official"), ("x", "taro_w")]
    assert report.official == 2 and report.failures == []
    first = sink.events[0]
    assert first["ts"] == "2026-11-18T20:06:40+09:00" and first["query"] == "和光市"
    assert first["account"]["followers"] == 4  # from getProfiles: searchActors does not say

    assert (await source.run_once(sink)).published == 0
    assert len(sink.events) == 4

    fake.x[0]["description"] = "和光市の公式アカウントです。給付金のお知らせはDMで"
    fake.bluesky[0]["avatar"] = "https://cdn.bsky.app/img/avatar/plain/did:plc:fake0001/bafk2@jpeg"
    report = await source.run_once(sink)
    assert report.published == 2
    assert handles(sink)[4:] == [("bluesky", "wako-clty.bsky.social"), ("x", "wako_clty_official")]
    assert sink.events[5]["account"]["bio"] == "和光市の公式アカウントです。給付金のお知らせはDMで"
    assert sink.events[5]["id"] != sink.events[2]["id"]


async def test_one_platform_failing_does_not_stop_the_others_and_the_next_round_retries(serve: Served) -> None:
    fake = everyone()
    fake.failing["/xrpc/app.bsky.actor.searchActors"] = 500
    source = discovery(await serve(fake))
    sink = MemorySink()

    with capture_logs() as logs:
        report = await source.run_once(sink)
    assert handles(sink) == [("mastodon", "wako_city@evil.example"), ("x", "wako_clty_official"), ("x", "taro_w")]
    # A 5xx is one query's failure: the other queries were still asked.
    assert len(report.failures) == len(source.queries)
    assert {e["event"] for e in logs if e["log_level"] == "warning"} == {"discovery_search_failed"}

    del fake.failing["/xrpc/app.bsky.actor.searchActors"]
    await source.run_once(sink)
    assert handles(sink)[3:] == [("bluesky", "wako-clty.bsky.social")]


async def test_a_rate_limited_platform_waits_for_the_next_round(serve: Served) -> None:
    fake = everyone()
    fake.failing["/2/users/search"] = 429
    source = discovery(await serve(fake))
    sink = MemorySink()
    report = await source.run_once(sink)
    assert [p for p, _, _ in report.failures] == ["x"]  # asked once, then left alone this round
    assert sum(1 for path, _, _ in fake.asked if path == "/2/users/search") == 1
    assert handles(sink) == [("bluesky", "wako-clty.bsky.social"), ("mastodon", "wako_city@evil.example")]


async def test_unknown_followers_do_not_hold_back_a_bluesky_account(serve: Served) -> None:
    fake = everyone()
    fake.failing["/xrpc/app.bsky.actor.getProfiles"] = 502
    source = discovery(replace(await serve(fake), mastodon_url="", x_bearer_token=Secret("")))
    sink = MemorySink()
    await source.run_once(sink)
    assert handles(sink) == [("bluesky", "wako-clty.bsky.social")] and sink.events[0]["account"]["followers"] == 0


async def test_the_requests_carry_what_each_platform_needs(serve: Served) -> None:
    fake = everyone()
    source = discovery(replace(await serve(fake), limit=10))
    await source.run_once(MemorySink())
    by_path: dict[str, list[tuple[dict[str, str], dict[str, str]]]] = {}
    for path, query, headers in fake.asked:
        by_path.setdefault(path, []).append((query, headers))
    assert [q["q"] for q, _ in by_path["/xrpc/app.bsky.actor.searchActors"]] == list(source.queries)
    assert all(q["limit"] == "10" and "Authorization" not in h for q, h in by_path["/xrpc/app.bsky.actor.searchActors"])
    assert all(h["Authorization"] == f"Bearer {MASTODON_TOKEN}" for _, h in by_path["/api/v2/search"])
    x_query, x_headers = by_path["/2/users/search"][0]
    assert x_query["max_results"] == "10" and x_headers["Authorization"] == f"Bearer {X_TOKEN}"
    assert "public_metrics" in x_query["user.fields"]


async def test_fingerprints_survive_a_restart(serve: Served, tmp_path: Path) -> None:
    fake = everyone()
    config = await serve(fake)
    sink = MemorySink()
    await discovery(config, Cursor(tmp_path, "discovery-wako")).run_once(sink)
    assert len(sink.events) == 4 and (tmp_path / "discovery-wako.json").exists()

    fake.mastodon[0]["display_name"] = "和光市役所"
    restarted = discovery(config, Cursor(tmp_path, "discovery-wako"))
    assert restarted.remembered() == 4
    fresh = MemorySink()  # a new process: the sink remembers nothing either
    await restarted.run_once(fresh)
    assert handles(fresh) == [("mastodon", "wako_city@evil.example")]


async def test_the_memory_of_fingerprints_is_bounded(serve: Served, tmp_path: Path) -> None:
    config = replace(await serve(everyone()), remembered_cap=3)
    source = discovery(config, Cursor(tmp_path, "discovery-wako"))
    await source.run_once(MemorySink())
    assert source.remembered() == 3
    assert discovery(config, Cursor(tmp_path, "discovery-wako")).remembered() == 3


async def test_run_searches_every_interval_until_stopped(serve: Served) -> None:
    fake = everyone()
    fake.x, fake.mastodon = [], []
    source = discovery(await serve(fake))
    sink, stop = MemorySink(), asyncio.Event()
    task = asyncio.create_task(source.run(sink, stop))
    await sink.wait_for(1, timeout=2.0)
    fake.x.append(copy.deepcopy(FAKE_X))
    await sink.wait_for(2, timeout=2.0)
    stop.set()
    await asyncio.wait_for(task, 1.0)
    assert handles(sink) == [("bluesky", "wako-clty.bsky.social"), ("x", "wako_clty_official")]


# --- avatars: fetched within a size cap and a timeout, hashed, remembered per URL -------------------

OFFICIAL_PICTURE = encoded(city_avatar())
LOOK_ALIKE_PICTURE = encoded(resized(recoloured(city_avatar()), 200), "JPEG", quality=80)  # the fake's copy
MATCH = ImpersonationConfig().avatar_max_distance


def picture_accounts(base: str) -> list[dict[str, Any]]:
    """A fake with the city's avatar recoloured and a resident with a portrait, on Bluesky."""
    fake = {**copy.deepcopy(FAKE_BSKY), "avatar": f"{base}/avatars/look-alike.jpg"}
    resident = {"did": "did:plc:resident1", "handle": "taro-w.bsky.social", "displayName": "和光 太郎",
                "description": "和光市在住", "avatar": f"{base}/avatars/portrait.png",
                "createdAt": "2019-03-31T15:00:00.000Z"}
    return [fake, resident]


async def avatar_discovery(serve: Served, fake: FakePlatforms, **avatars: Any) -> Discovery:
    config = await serve(fake)
    fake.bluesky = picture_accounts(config.bluesky_url)
    fake.pictures.update({"look-alike.jpg": LOOK_ALIKE_PICTURE, "portrait.png": encoded(portrait())})
    return discovery(replace(config, mastodon_url="", x_bearer_token=Secret(""), avatars=AvatarConfig(**avatars)))


def phash_of(sink: MemorySink, handle: str) -> list[str | None]:
    return [e["account"]["avatar_phash"] for e in sink.events if e["account"]["handle"] == handle]


def official_phash() -> str:
    hasher = load_hasher()
    assert hasher is not None
    return hasher(OFFICIAL_PICTURE)


async def test_discovery_hashes_each_published_accounts_avatar_once_per_picture(serve: Served) -> None:
    fake = FakePlatforms()
    source = await avatar_discovery(serve, fake)
    sink = MemorySink()

    await source.run_once(sink)

    [look_alike] = phash_of(sink, "wako-clty.bsky.social")
    [resident] = phash_of(sink, "taro-w.bsky.social")
    assert look_alike is not None and phash_distance(look_alike, official_phash()) <= MATCH
    assert resident is not None and phash_distance(resident, official_phash()) > 2 * MATCH
    assert sorted(fake.fetched) == ["look-alike.jpg", "portrait.png"]
    for event in sink.events:
        event_from_dict(event)

    fake.bluesky[0]["description"] = "和光市の公式アカウントです。DMください"  # published again, same picture
    await source.run_once(sink)
    assert phash_of(sink, "wako-clty.bsky.social") == [look_alike, look_alike]
    assert sorted(fake.fetched) == ["look-alike.jpg", "portrait.png"]  # from the cache
    assert source.avatars.cached() == 2


@pytest.mark.parametrize("unsized", [False, True], ids=["with Content-Length", "chunked"])
async def test_an_avatar_over_the_size_cap_is_refused_logged_once_and_the_account_still_published(
        serve: Served, unsized: bool) -> None:
    fake = FakePlatforms()
    if unsized:
        fake.unsized.add("look-alike.jpg")
    source = await avatar_discovery(serve, fake, max_bytes=len(LOOK_ALIKE_PICTURE) - 1)
    sink = MemorySink()

    with capture_logs() as logs:
        await source.run_once(sink)
        fake.bluesky[0]["displayName"] = "和光市【公式】お知らせ"
        await source.run_once(sink)

    assert phash_of(sink, "wako-clty.bsky.social") == [None, None]
    assert phash_of(sink, "taro-w.bsky.social")[0] is not None  # the other picture is hashed
    refused = [e for e in logs if e["event"] == "avatar_not_hashed"]
    assert len(refused) == 1 and "上限" in refused[0]["reason"] and refused[0]["remembered"] is True
    assert fake.fetched.count("look-alike.jpg") == 1


async def test_an_avatar_that_does_not_come_in_time_leaves_no_hash_and_the_account_is_still_published(
        serve: Served) -> None:
    fake = FakePlatforms()
    fake.stalled.add("look-alike.jpg")
    source = await avatar_discovery(serve, fake, timeout_s=0.2)
    sink = MemorySink()
    try:
        with capture_logs() as logs:
            report = await source.run_once(sink)
    finally:
        fake.released.set()

    assert report.published == 2
    assert phash_of(sink, "wako-clty.bsky.social") == [None]
    assert phash_of(sink, "taro-w.bsky.social")[0] is not None
    [late] = [e for e in logs if e["event"] == "avatar_not_hashed"]
    assert "秒以内に届きません" in late["reason"] and late["remembered"] is False

    fake.stalled.clear()  # the next round tries the picture again, and publishes the account with it
    await source.run_once(sink)
    [before, after] = phash_of(sink, "wako-clty.bsky.social")
    assert before is None and after is not None and phash_distance(after, official_phash()) <= MATCH
    assert len(phash_of(sink, "taro-w.bsky.social")) == 1
    await source.run_once(sink)
    assert len(sink.events) == 3 and fake.fetched.count("look-alike.jpg") == 2


async def test_a_round_fetches_a_bounded_number_of_new_pictures_and_the_rest_in_the_next(serve: Served) -> None:
    fake = FakePlatforms()
    source = await avatar_discovery(serve, fake, fetches_per_round=1)
    sink = MemorySink()

    await source.run_once(sink)
    assert len(fake.fetched) == 1 and len(sink.events) == 2  # both published, one picture fetched
    assert sorted(e["account"]["avatar_phash"] is None for e in sink.events) == [False, True]

    await source.run_once(sink)
    assert len(fake.fetched) == 2 and len(sink.events) == 3
    assert sink.events[2]["account"]["avatar_phash"] is not None
    await source.run_once(sink)
    assert len(fake.fetched) == 2 and len(sink.events) == 3


async def test_without_the_extra_discovery_publishes_accounts_without_a_hash_and_says_so_once(
        serve: Served) -> None:
    fake = FakePlatforms()
    config = await serve(fake)
    fake.bluesky = picture_accounts(config.bluesky_url)
    source = Discovery(PROFILE, replace(config, mastodon_url="", x_bearer_token=Secret(""),
                                        avatars=AvatarConfig()), clock=lambda: NOW, hasher=None)
    sink = MemorySink()
    with capture_logs() as logs:
        await source.run_once(sink)
        fake.bluesky[0]["description"] = "和光市の公式です"
        await source.run_once(sink)
    assert len(sink.events) == 3 and all(e["account"]["avatar_phash"] is None for e in sink.events)
    assert [e["event"] for e in logs if e["log_level"] == "warning"] == ["avatars_not_hashed"]
    assert fake.fetched == []


async def test_a_discovered_look_alike_whose_avatar_matches_the_official_one_scores_the_avatar_signal(
        serve: Served, tmp_path: Path) -> None:
    # 広報課 hashes the official avatar for the profile the way `noroshi avatar-hash` does.
    (tmp_path / "official.png").write_bytes(OFFICIAL_PICTURE)
    hasher = load_hasher()
    assert hasher is not None
    async with aiohttp.ClientSession() as session:
        official = await hash_avatar(session, str(tmp_path / "official.png"), hasher)
    profile = profile_from_dict({**PROFILE.raw, "accounts": [
        {**a, "avatar_phash": official} if a["platform"] == "bluesky" else a for a in PROFILE.raw["accounts"]]})
    # Neither its handle nor its name looks like the city's; it claims 公式 and copies the picture.
    pictured = {**copy.deepcopy(FAKE_BSKY), "handle": "koho-desk.bsky.social", "displayName": "広報デスク【公式】",
                "description": "和光のイベント情報"}

    async def discovered(hasher_installed: bool) -> AccountEvent:
        fake = FakePlatforms()
        config = await serve(fake)
        fake.bluesky = [{**pictured, "avatar": f"{config.bluesky_url}/avatars/look-alike.jpg"}]
        fake.pictures["look-alike.jpg"] = LOOK_ALIKE_PICTURE
        source = Discovery(profile, replace(config, mastodon_url="", x_bearer_token=Secret(""),
                                            avatars=AvatarConfig()),
                           clock=lambda: NOW, **({} if hasher_installed else {"hasher": None}))
        sink = MemorySink()
        await source.run_once(sink)
        [event] = [event_from_dict(e) for e in sink.events]
        assert isinstance(event, AccountEvent)
        return event

    [opened] = ImpersonationDetector(profile).on_event(await discovered(True), Context())
    assert opened.change == "opened" and opened.target == "koho-desk.bsky.social"
    assert "avatar_match" in opened.metrics["matched"] and opened.metrics["scores"]["avatar_match"] == 40
    assert opened.metrics["avatar_distance"] <= MATCH
    assert "アイコン一致" in opened.summary
    # The same account without the hash (no extra installed) does not pass for the city's.
    assert ImpersonationDetector(profile).on_event(await discovered(False), Context()) == []
