"""Who may see and do what on the board: sign-in, sessions, CSRF, roles, municipalities,
rate limits and the security headers — against a world made by the real playbooks."""

from __future__ import annotations

import asyncio
import base64

import aiohttp
import orjson
import pytest
from aiohttp.test_utils import TestServer

from dashboards import session
from dashboards.board import SECURITY_HEADERS, create_app
from dashboards.feed import MemoryFeed
from dashboards.ratelimit import Limits, LoginLimiter
from dashboards.session import SessionCodec
from dashboards.users import UserStore
from tests.sse import next_event

from .conftest import BOARD_URL, SETTINGS, Client, csrf_of, page_csrf, sign_in
from .world import ASAKA_FLAME, FLAME, MISINFORMATION, PASSWORD, World

PAGES = ("/", f"/incidents/{FLAME}", "/outbound", "/disaster", "/oncall", "/report", "/report/timeline.csv")


# --- signing in ----------------------------------------------------------------------

async def test_every_page_stream_and_api_needs_a_session(client_for: Client) -> None:
    http = await client_for()
    for path in PAGES:
        response = await http.get(path, allow_redirects=False)
        assert (response.status, response.headers["Location"]) == (303, "/login"), path
    assert (await http.get("/events")).status == 401
    assert (await http.get("/api/incidents")).status == 401


async def test_sign_in_checks_the_argon2_hash_and_sets_an_encrypted_strict_cookie(client_for: Client,
                                                                                  store: UserStore) -> None:
    assert store.users()["tanaka"].password_hash.startswith("$argon2id$")
    http = await client_for()
    response = await sign_in(http, "tanaka")
    assert response.status == 303 and response.headers["Location"] == "/"
    cookie = response.cookies[session.SESSION_COOKIE]
    assert cookie["httponly"] and cookie["samesite"] == "Strict"
    assert int(cookie["max-age"]) == 12 * 3600
    # Encrypted: neither the name nor the CSRF token can be read from it.
    raw = base64.urlsafe_b64decode(cookie.value + "=" * (-len(cookie.value) % 4))
    assert b"tanaka" not in raw and b"csrf" not in raw
    assert (await http.get("/")).status == 200


async def test_a_wrong_password_or_unknown_user_is_the_same_refusal(client_for: Client) -> None:
    http = await client_for()
    for user, password in (("tanaka", "wrong-password"), ("nobody", PASSWORD)):
        response = await sign_in(http, user, password)
        assert response.status == 401
        assert "ユーザー名またはパスワードが正しくありません" in await response.text()
        assert session.SESSION_COOKIE not in response.cookies


async def test_sign_in_without_the_csrf_token_is_refused(client_for: Client) -> None:
    http = await client_for()
    await http.get("/login")  # has the CSRF cookie, but the form field is missing or wrong
    for data in ({"user": "tanaka", "password": PASSWORD}, {"user": "tanaka", "password": PASSWORD, "csrf": "guess"}):
        response = await http.post("/login", data=data, allow_redirects=False)
        assert response.status == 403
        assert session.SESSION_COOKIE not in response.cookies


async def test_repeated_failures_are_rate_limited_for_that_name_and_address(world: World, store: UserStore) -> None:
    limiter = LoginLimiter(Limits(per_name_and_address=3, per_address=10, per_name=20))
    async with TestServer(create_app(SETTINGS, world.feed, users=store, limiter=limiter)) as server:
        import aiohttp

        async with aiohttp.ClientSession(base_url=str(server.make_url("/")),
                                         cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            for _ in range(3):
                assert (await sign_in(http, "tanaka", "guess-guess")).status == 401
            limited = await sign_in(http, "tanaka", PASSWORD)  # even the right password waits now
            assert limited.status == 429
            assert int(limited.headers["Retry-After"]) > 0
            assert "一時的に受け付けていません" in await limited.text()
            assert (await sign_in(http, "sato")).status == 303  # someone else is not locked out


async def test_a_forged_tampered_or_foreign_session_cookie_is_rejected(client_for: Client) -> None:
    http = await client_for()
    genuine = (await sign_in(http, "tanaka")).cookies[session.SESSION_COOKIE].value
    raw = bytearray(base64.urlsafe_b64decode(genuine + "=" * (-len(genuine) % 4)))
    raw[-1] ^= 1
    flipped = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    other_key = SessionCodec("another-deployment").seal(session.new_session("tanaka", "x", now=0))
    stranger = await client_for()
    for value in (flipped, other_key, "garbage", genuine[:20]):
        response = await stranger.get("/api/incidents", headers={"Cookie": f"{session.SESSION_COOKIE}={value}"})
        assert response.status == 401, value
    ok = await stranger.get("/api/incidents", headers={"Cookie": f"{session.SESSION_COOKIE}={genuine}"})
    assert ok.status == 200


async def test_a_password_reset_or_a_removed_user_ends_their_sessions(client_for: Client, store: UserStore) -> None:
    tanaka, sato = await client_for("tanaka"), await client_for("sato")
    store.set_password(store.users()["tanaka"], "a-brand-new-password")
    store.remove("sato")
    assert (await tanaka.get("/api/incidents")).status == 401
    assert (await sato.get("/api/incidents")).status == 401
    assert (await sign_in(tanaka, "tanaka", "a-brand-new-password")).status == 303


async def test_sign_out_needs_the_session_csrf_token_and_ends_the_session(client_for: Client) -> None:
    http = await client_for("sato")
    assert (await http.post("/logout", data={"csrf": "nope"}, allow_redirects=False)).status == 403
    response = await http.post("/logout", data={"csrf": await page_csrf(http)}, allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == "/login"
    assert (await http.get("/api/incidents")).status == 401


async def test_security_headers_are_on_every_response(client_for: Client) -> None:
    anonymous, signed_in = await client_for(), await client_for("tanaka")
    responses = [await anonymous.get(p) for p in ("/login", "/healthz", "/events", "/static/board.js", "/nope")]
    responses += [await signed_in.get(p) for p in PAGES]
    for response in responses:
        csp = response.headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
        for name, value in SECURITY_HEADERS.items():
            assert response.headers[name] == value


# --- municipalities ------------------------------------------------------------------

async def test_a_user_sees_only_the_incidents_of_their_municipality(client_for: Client) -> None:
    wako, asaka, admin = await client_for("sato"), await client_for("asaka-op"), await client_for("yamamoto")
    wako_ids = {r["incident_id"] for r in await (await wako.get("/api/incidents")).json()}
    asaka_ids = {r["incident_id"] for r in await (await asaka.get("/api/incidents")).json()}
    all_ids = {r["incident_id"] for r in await (await admin.get("/api/incidents")).json()}
    assert FLAME in wako_ids and ASAKA_FLAME not in wako_ids
    assert asaka_ids == {ASAKA_FLAME}
    assert all_ids == wako_ids | asaka_ids
    for path in ("/", "/outbound", "/disaster", "/oncall", "/report"):
        page = await (await asaka.get(path)).text()
        assert "wako_city_official" not in page and "和光市災害" not in page, path
    # Another municipality's incident does not exist for them, not even as "forbidden".
    hidden = await asaka.get(f"/incidents/{FLAME}")
    assert hidden.status == 404
    assert hidden.status == (await asaka.get("/incidents/no-such-incident")).status


async def test_the_event_stream_sends_only_the_own_municipality(client_for: Client, world: World) -> None:
    asaka = await client_for("asaka-op")
    async with asaka.get("/events") as stream:
        name, snapshot = await next_event(stream)
        assert name == "snapshot" and [r["incident_id"] for r in snapshot] == [ASAKA_FLAME]
        world.command(FLAME, "wako", "escalate", {"name": "sato", "role": "operator"}, 0)
        world.command(ASAKA_FLAME, "asaka", "acknowledge", {"name": "asaka-op", "role": "operator"}, 1)
        name, change = await next_event(stream)
        while name != "incident":  # the acknowledgement's timeline entries come first
            assert change["incident_id"] == ASAKA_FLAME
            name, change = await next_event(stream)
        assert change["incident_id"] == ASAKA_FLAME and change["acknowledged_by"] == "朝霞 当番"


async def test_an_incident_page_drawn_before_a_change_learns_it_from_its_stream(client_for: Client,
                                                                                  world: World) -> None:
    """The change that lands between drawing the page and opening its stream is not sent
    again on the stream: the stream says the page is stale instead (and only then)."""
    import re

    sato = await client_for("sato")
    page = await (await sato.get(f"/incidents/{FLAME}")).text()
    rev = re.search(r'data-rev="(\d+)"', page).group(1)  # type: ignore[union-attr]

    async def first_events(query: str, who: aiohttp.ClientSession = sato) -> list[str]:
        async with who.get(f"/events?{query}") as stream:
            names = [(await next_event(stream))[0]]
            try:
                names.append((await next_event(stream, timeout=0.5))[0])
            except TimeoutError:
                pass
        return names

    assert await first_events(f"incident={FLAME}&rev={rev}") == ["snapshot"]
    world.command(FLAME, "wako", "escalate", {"name": "sato", "role": "operator"}, 0)  # meanwhile
    assert await first_events(f"incident={FLAME}&rev={rev}") == ["snapshot", "stale"]
    fresh = re.search(r'data-rev="(\d+)"', await (await sato.get(f"/incidents/{FLAME}")).text()).group(1)  # type: ignore[union-attr]
    assert int(fresh) > int(rev)
    assert await first_events(f"incident={FLAME}&rev={fresh}") == ["snapshot"]
    # Someone of another municipality learns nothing about it, not even that it changed.
    assert await first_events(f"incident={FLAME}&rev=0", await client_for("asaka-op")) == ["snapshot"]


async def test_the_event_stream_refuses_a_foreign_origin(client_for: Client) -> None:
    http = await client_for("sato")
    assert (await http.get("/events", headers={"Origin": "https://evil.example"})).status == 403
    async with http.get("/events", headers={"Origin": BOARD_URL}) as own:
        assert own.status == 200


async def test_the_event_stream_ends_when_the_session_does(world: World, store: UserStore) -> None:
    app = create_app(SETTINGS, world.feed, users=store, keepalive=0.05)
    async with TestServer(app) as server, aiohttp.ClientSession(
            base_url=str(server.make_url("/")), cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        await sign_in(http, "sato")
        async with http.get("/events") as stream:
            await next_event(stream)
            store.remove("sato")
            with pytest.raises(EOFError):
                async with asyncio.timeout(5):
                    while True:
                        await next_event(stream)


# --- actions -------------------------------------------------------------------------

def _commands(world: World) -> list[dict]:
    return [orjson.loads(value) for _key, value in world.feed.sent]


async def _act(http, incident_id: str, **fields: str):
    csrf = await page_csrf(http, f"/incidents/{incident_id}")
    return await http.post(f"/incidents/{incident_id}/actions", data={"csrf": csrf, **fields}, allow_redirects=False)


async def test_an_action_becomes_a_board_command_keyed_by_incident_with_the_actor(client_for: Client,
                                                                                  world: World) -> None:
    tanaka = await client_for("tanaka")
    draft = world.feed.latest[FLAME].metrics["drafts"][0]
    response = await _act(tanaka, FLAME, action="approve", draft_id=draft["draft_id"], draft_hash=draft["hash"])
    assert response.status == 303
    assert response.headers["Location"].startswith(f"/incidents/{FLAME}?sent=board-")
    [(key, _)] = world.feed.sent
    [command] = _commands(world)
    assert key == FLAME
    assert command["action"] == "approve" and command["municipality"] == "wako"
    assert command["actor"] == {"name": "tanaka", "role": "owner", "display_name": "田中 花子"}
    assert command["payload"] == {"draft_id": draft["draft_id"], "draft_hash": draft["hash"]}
    assert world.feed.latest[FLAME].state == "awaiting_approval"  # the board changed nothing itself


async def test_an_operator_cannot_approve_and_sends_nothing(client_for: Client, world: World) -> None:
    sato = await client_for("sato")
    page = await (await sato.get(f"/incidents/{FLAME}")).text()
    assert 'value="approve"' not in page
    draft = world.feed.latest[FLAME].metrics["drafts"][0]
    forced = await _act(sato, FLAME, action="approve", draft_id=draft["draft_id"], draft_hash=draft["hash"])
    assert forced.status == 403
    assert "権限がありません" in await forced.text()
    assert world.feed.sent == []


async def test_an_operator_publishes_a_draft_of_a_pre_approved_category(client_for: Client, world: World) -> None:
    """事前承認: a correction in a pre-approved category goes out without the owner, by the
    operator who wrote it; the button says what it does."""
    url = "https://www.city.wako.lg.jp/news/water.html"
    texts = {"ja": f"断水は起きていません。{url}", "easy_ja": f"みずは でます。{url}", "en": f"There is no outage. {url}"}
    world.command(MISINFORMATION, "wako", "draft", {"name": "sato", "role": "operator"}, 1,
                  kind="correction", texts=texts, category="published")
    draft = world.feed.latest[MISINFORMATION].metrics["drafts"][0]
    assert draft["status"] == "ready" and draft["category"] == "published"
    sato = await client_for("sato")
    page = await (await sato.get(f"/incidents/{MISINFORMATION}")).text()
    assert 'value="approve">事前承認の範囲で投稿</button>' in page
    assert '<p class="muted">ご自身が起案した文案は承認できません' not in page
    response = await _act(sato, MISINFORMATION, action="approve", draft_id=draft["draft_id"], draft_hash=draft["hash"])
    assert response.status == 303
    [command] = _commands(world)
    assert command["action"] == "approve" and command["actor"]["role"] == "operator"


async def test_a_viewer_takes_no_action(client_for: Client, world: World) -> None:
    viewer = await client_for("viewer")
    page = await (await viewer.get(f"/incidents/{FLAME}")).text()
    assert 'name="action"' not in page and "閲覧者は操作できません" in page
    assert (await _act(viewer, FLAME, action="escalate")).status == 403
    assert world.feed.sent == []


async def test_an_action_needs_the_session_csrf_token(client_for: Client, world: World) -> None:
    sato = await client_for("sato")
    for token in ("", "forged"):
        response = await sato.post(f"/incidents/{FLAME}/actions", data={"csrf": token, "action": "escalate"},
                                   allow_redirects=False)
        assert response.status == 403
    login_token = csrf_of(await (await (await client_for()).get("/login")).text())
    reused = await sato.post(f"/incidents/{FLAME}/actions", data={"csrf": login_token, "action": "escalate"},
                             allow_redirects=False)
    assert reused.status == 403
    foreign = await sato.post(f"/incidents/{FLAME}/actions", allow_redirects=False,
                              data={"csrf": await page_csrf(sato), "action": "escalate"},
                              headers={"Origin": "https://evil.example"})
    assert foreign.status == 403
    assert world.feed.sent == []


async def test_no_action_on_another_municipalitys_incident(client_for: Client, world: World) -> None:
    asaka = await client_for("asaka-op")
    response = await asaka.post(f"/incidents/{FLAME}/actions", allow_redirects=False,
                                data={"csrf": await page_csrf(asaka), "action": "escalate"})
    assert response.status == 404
    assert world.feed.sent == []


async def test_a_malformed_action_form_is_refused_naming_the_field(client_for: Client, world: World) -> None:
    tanaka = await client_for("tanaka")
    for fields, what in (({"action": "reject", "draft_id": "d"}, "reason"),
                         ({"action": "fact_check", "source_url": "javascript:alert(1)"}, "source_url"),
                         ({"action": "launch_rockets"}, "action")):
        response = await _act(tanaka, FLAME, **fields)
        assert response.status == 400
        assert what in await response.text()
    assert world.feed.sent == []


async def test_the_playbooks_refusal_is_shown_after_the_action(client_for: Client, world: World) -> None:
    """The answer waits for the playbook; here the world plays the worker after the fact."""
    sato = await client_for("sato")
    response = await _act(sato, FLAME, action="acknowledge")  # already acknowledged
    location = response.headers["Location"]
    [command] = _commands(world)
    page = await (await sato.get(location)).text()
    assert "反映を待っています" in page
    world.feed.push_entry(_rejection(world, command["command_id"]))  # what the playbook answers
    page = await (await sato.get(location)).text()
    assert "受け付けられませんでした" in page and "すでに受付済みです" in page


def _rejection(world: World, command_id: str):
    from vocabulary.records import TimelineEntry

    return TimelineEntry(entry_id=f"{FLAME}:rejected:{command_id}", incident_id=FLAME, municipality="wako",
                         at=world.at(2), actor={"kind": "person", "name": "sato", "role": "operator"},
                         action="command_rejected",
                         detail={"command_id": command_id, "command": "acknowledge",
                                 "reason_ja": "すでに受付済みです（sato）。", "reason_en": "Already acknowledged by sato."})


async def test_the_action_answer_waits_for_the_playbooks_first_entry(world: World, store: UserStore) -> None:
    import aiohttp

    feed = world.feed
    app = create_app(SETTINGS, feed, users=store, outcome_wait=5)

    async def worker() -> None:  # answers the first command it sees, like the playbook agent
        while not feed.sent:
            await asyncio.sleep(0.01)
        command = orjson.loads(feed.sent[0][1])
        feed.push_entry(_rejection(world, command["command_id"]))

    async with TestServer(app) as server, aiohttp.ClientSession(
            base_url=str(server.make_url("/")), cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        await sign_in(http, "sato")
        task = asyncio.create_task(worker())
        response = await _act(http, FLAME, action="acknowledge")
        await task
        page = await (await http.get(response.headers["Location"])).text()
    assert "すでに受付済みです" in page and 'class="flash flash-rejected"' in page


async def test_the_board_stays_up_when_the_feed_has_nothing(store: UserStore) -> None:
    import aiohttp

    async with TestServer(create_app(SETTINGS, MemoryFeed(), users=store)) as server, aiohttp.ClientSession(
            base_url=str(server.make_url("/")), cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        await sign_in(http, "yamamoto")
        for path in ("/", "/outbound", "/disaster", "/oncall", "/report"):
            assert (await http.get(path)).status == 200, path


async def test_an_action_the_broker_cannot_take_says_so_and_is_not_shown_as_sent(world: World,
                                                                                 store: UserStore) -> None:
    import aiohttp

    class Unreachable(MemoryFeed):
        async def send_command(self, key: str, value: bytes) -> None:
            raise ConnectionError("broker down")

    feed = Unreachable(world.feed.latest.values())
    async with TestServer(create_app(SETTINGS, feed, users=store)) as server, aiohttp.ClientSession(
            base_url=str(server.make_url("/")), cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        await sign_in(http, "sato")
        response = await _act(http, FLAME, action="escalate")
        assert response.status == 503
        assert "送信できませんでした" in await response.text()
