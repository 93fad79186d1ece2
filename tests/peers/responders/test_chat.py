"""The chat channels against local HTTP peers that check what Slack, Teams, LINE WORKS and a receiver require."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import jwt
import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from vocabulary.settings import Secret
from responders.base import DeliveryError, Permanent, Transient
from responders.chat import (
    ChatMessage,
    LineWorksBotChannel,
    LineWorksConfig,
    SignedWebhookChannel,
    SlackWebhookChannel,
    TeamsWorkflowChannel,
    verify_signature,
)

LINK = "https://board.example.lg.jp/incidents/inc-42?tab=timeline&lang=ja"
SLACK_PATH = "/services/T0WAKO/B0KOHO/slack-hook-secret-4711"
TEAMS_PATH = "/workflows/0a1b2c/triggers/manual/paths/invoke"
TEAMS_QUERY = "api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=teams-sig-secret-0815%2B"
WEBHOOK_PATH = "/hooks/noroshi"
WEBHOOK_SECRET = "hmac-secret-kouhou-2025"
LW_CLIENT_ID = "client-wako"
LW_CLIENT_SECRET = "lw-client-secret-2342"
LW_SERVICE_ACCOUNT = "abcde.serviceaccount@wako.example"
LW_BOT, LW_ROOM, LW_USER = "2000001", "room-kouhou", "user-tanaka"
KINDS = ("slack", "teams", "lineworks", "webhook")

MESSAGE = ChatMessage(
    title="炎上の兆候：和光市公式アカウント",
    text="「ごみ収集日変更」の投稿に批判が急増しています。\n返信を保留しました（反論・抗弁は控えます）。",
    severity="high",
    link=LINK,
    facts=[("アカウント", "@wako_city_koho"), ("件数", "1時間に120件")],
)


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


# --- The peers ------------------------------------------------------------------------------------

@dataclass
class Seen:
    """One request as the peer received it."""

    path_qs: str  # raw, as sent
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass
class Reply:
    status: int
    text: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Peer:
    """Records every request; answers from `script` first, then as `accept` decides."""

    accept: Callable[[Seen], Reply]
    seen: list[Seen] = field(default_factory=list)
    script: list[Reply] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        seen = Seen(request.raw_path, dict(request.headers), await request.read())
        self.seen.append(seen)
        reply = self.script.pop(0) if self.script else self.accept(seen)
        await asyncio.sleep(reply.delay)
        return web.Response(status=reply.status, text=reply.text, headers=reply.headers)


Serve = Callable[[web.Application], Awaitable[TestServer]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    servers: list[TestServer] = []

    async def start(app: web.Application) -> TestServer:
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.close()


def free_port() -> int:
    """A port nobody listens on (bound once by the OS, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- What the real services require -------------------------------------------------------------

SLACK_BLOCK_TYPES = {"header", "section", "context", "actions", "divider", "image", "rich_text"}
BARE_AMPERSAND = re.compile(r"&(?!amp;|lt;|gt;)")


def slack_problems(seen: Seen) -> list[str]:
    """What Slack would refuse in a webhook payload (Block Kit limits), as a list of complaints."""
    problems = []
    if not seen.headers.get("Content-Type", "").startswith("application/json"):
        problems.append("not JSON")
    payload = seen.json()
    if not isinstance(payload.get("text"), str) or not payload["text"]:
        problems.append("no_text")
    blocks = payload.get("blocks")
    if not isinstance(blocks, list) or not 1 <= len(blocks) <= 50:
        return problems + ["blocks must be a list of 1..50"]
    mrkdwn = [payload.get("text", "")]
    for block in blocks:
        kind = block.get("type")
        if kind not in SLACK_BLOCK_TYPES:
            problems.append(f"unknown block type {kind!r}")
        elif kind == "header":
            text = block["text"]
            if text["type"] != "plain_text" or not 1 <= len(text["text"]) <= 150:
                problems.append("header must be plain_text of 1..150 characters")
        elif kind == "section":
            if "text" in block:
                if not 1 <= len(block["text"]["text"]) <= 3000:
                    problems.append("section text must be 1..3000 characters")
                mrkdwn.append(block["text"]["text"])
            elif not 1 <= len(block.get("fields", [])) <= 10:
                problems.append("a section needs text or 1..10 fields")
            for item in block.get("fields", []):
                if item["type"] != "mrkdwn" or not 1 <= len(item["text"]) <= 2000:
                    problems.append("fields must be mrkdwn of 1..2000 characters")
                mrkdwn.append(item["text"])
        elif kind == "actions":
            for element in block["elements"]:
                if element["type"] != "button" or not 1 <= len(element["text"]["text"]) <= 75:
                    problems.append("a button needs a plain_text label of 1..75 characters")
                if not 1 <= len(element.get("url", "x")) <= 3000 or len(element.get("action_id", "")) > 255:
                    problems.append("button url or action_id too long")
    for text in mrkdwn:
        if "<" in text or ">" in text or BARE_AMPERSAND.search(text):
            problems.append(f"unescaped control character in {text!r}")
    return problems


def slack_accept(seen: Seen) -> Reply:
    return Reply(400, "invalid_blocks") if slack_problems(seen) else Reply(200, "ok")


def teams_problems(seen: Seen) -> list[str]:
    """What a Teams Workflows 'post card' flow needs: one Adaptive Card attachment, schema fields set."""
    payload = seen.json()
    if payload.get("type") != "message" or not payload.get("attachments"):
        return ["not a message with attachments"]
    problems = []
    for attachment in payload["attachments"]:
        if attachment.get("contentType") != "application/vnd.microsoft.card.adaptive":
            problems.append("wrong contentType")
        if "contentUrl" not in attachment or attachment["contentUrl"] is not None:
            problems.append("contentUrl must be null")
        card = attachment.get("content", {})
        if card.get("$schema") != "http://adaptivecards.io/schemas/adaptive-card.json":
            problems.append("no $schema")
        if card.get("type") != "AdaptiveCard" or card.get("version") != "1.4":
            problems.append("not an AdaptiveCard 1.4")
        body = card.get("body")
        if not isinstance(body, list) or not body:
            problems.append("empty body")
            continue
        for element in body:
            if element["type"] == "TextBlock":
                if not isinstance(element.get("text"), str) or not element["text"]:
                    problems.append("TextBlock without text")
            elif element["type"] == "FactSet":
                if not element["facts"] or not all(
                        isinstance(f.get("title"), str) and isinstance(f.get("value"), str) for f in element["facts"]):
                    problems.append("FactSet needs facts with title and value")
            else:
                problems.append(f"unexpected element {element['type']!r}")
        for action in card.get("actions", []):
            if action.get("type") != "Action.OpenUrl" or not action.get("url") or not action.get("title"):
                problems.append("actions must be Action.OpenUrl with title and url")
    return problems


def teams_accept(seen: Seen) -> Reply:
    if teams_problems(seen):
        return Reply(400, '{"error":{"code":"TriggerInputSchemaMismatch","message":"bad card"}}')
    return Reply(202)


def webhook_accept(seen: Seen) -> Reply:
    ok = verify_signature(Secret(WEBHOOK_SECRET), seen.headers.get("X-Noroshi-Timestamp"), seen.body,
                          seen.headers.get("X-Noroshi-Signature"), now=time.time())
    return Reply(204) if ok else Reply(401, "bad signature")


@dataclass
class LineWorks:
    """The LINE WORKS auth server (JWT grant) and the bot message API."""

    public_key: rsa.RSAPublicKey
    issued: list[str] = field(default_factory=list)
    valid: set[str] = field(default_factory=set)
    claims: list[dict[str, Any]] = field(default_factory=list)
    messages: Peer = field(init=False)

    def __post_init__(self) -> None:
        self.messages = Peer(self.accept_message)

    async def token(self, request: web.Request) -> web.Response:
        form = await request.post()
        if (form.get("client_id"), form.get("client_secret")) != (LW_CLIENT_ID, LW_CLIENT_SECRET):
            return web.json_response({"error": "invalid_client", "error_description": "client"}, status=401)
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" or form.get("scope") != "bot":
            return web.json_response({"error": "invalid_request"}, status=400)
        try:
            claims = jwt.decode(str(form["assertion"]), self.public_key, algorithms=["RS256"],
                                issuer=LW_CLIENT_ID, options={"require": ["iss", "sub", "iat", "exp"]})
        except jwt.PyJWTError:
            return web.json_response({"error": "invalid_grant"}, status=400)
        if claims["sub"] != LW_SERVICE_ACCOUNT or not 0 < claims["exp"] - claims["iat"] <= 3600:
            return web.json_response({"error": "invalid_grant"}, status=400)
        self.claims.append(claims)
        token = f"lw-access-token-{len(self.issued) + 1}"
        self.issued.append(token)
        self.valid.add(token)
        return web.json_response({"access_token": token, "refresh_token": "lw-refresh", "scope": "bot",
                                  "token_type": "Bearer", "expires_in": "86400"})

    def accept_message(self, seen: Seen) -> Reply:
        bearer = seen.headers.get("Authorization", "").removeprefix("Bearer ")
        if bearer not in self.valid:
            return Reply(401, '{"code":"UNAUTHORIZED","description":"Authentication failed"}')
        content = seen.json()["content"]
        if content["type"] == "text" and 1 <= len(content["text"]) <= 2000:
            return Reply(201)
        if (content["type"] == "link" and 1 <= len(content["contentText"]) <= 1000
                and content["linkText"] and 1 <= len(content["link"]) <= 1000):
            return Reply(201)
        return Reply(400, '{"code":"INVALID_PARAMETER","description":"content"}')

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/oauth2/v2.0/token", self.token)
        app.router.add_post(f"/v1.0/bots/{LW_BOT}/channels/{LW_ROOM}/messages", self.messages.handle)
        app.router.add_post(f"/v1.0/bots/{LW_BOT}/users/{LW_USER}/messages", self.messages.handle)
        return app


def lineworks_config(base: str, key: rsa.RSAPrivateKey, **target: str) -> LineWorksConfig:
    return LineWorksConfig(
        client_id=LW_CLIENT_ID, client_secret=Secret(LW_CLIENT_SECRET), service_account=LW_SERVICE_ACCOUNT,
        private_key=Secret(pem(key)), bot_id=LW_BOT, auth_url=base, api_url=base,
        **(target or {"channel_id": LW_ROOM}),
    )


Channel = SlackWebhookChannel | TeamsWorkflowChannel | LineWorksBotChannel | SignedWebhookChannel


def channel_for(kind: str, base: str, key: rsa.RSAPrivateKey, timeout: float = 5.0) -> Channel:
    if kind == "slack":
        return SlackWebhookChannel(Secret(base + SLACK_PATH), timeout=timeout)
    if kind == "teams":
        return TeamsWorkflowChannel(Secret(f"{base}{TEAMS_PATH}?{TEAMS_QUERY}"), timeout=timeout)
    if kind == "lineworks":
        return LineWorksBotChannel(lineworks_config(base, key), timeout=timeout)
    return SignedWebhookChannel(base + WEBHOOK_PATH, Secret(WEBHOOK_SECRET), timeout=timeout)


def secrets_of(kind: str, key: rsa.RSAPrivateKey) -> list[str]:
    return {
        "slack": ["slack-hook-secret-4711", "B0KOHO"],
        "teams": ["teams-sig-secret-0815", "sig="],
        "lineworks": [LW_CLIENT_SECRET, "lw-access-token", pem(key).splitlines()[1]],
        "webhook": [WEBHOOK_SECRET],
    }[kind]


@dataclass
class Rig:
    channel: Channel
    peer: Peer
    lineworks: LineWorks | None = None


MakeRig = Callable[..., Awaitable[Rig]]


@pytest.fixture
def rig(serve: Serve, rsa_key: rsa.RSAPrivateKey) -> MakeRig:
    async def build(kind: str, timeout: float = 5.0) -> Rig:
        app = web.Application()
        lineworks = None
        if kind == "slack":
            peer = Peer(slack_accept)
            app.router.add_post(SLACK_PATH, peer.handle)
        elif kind == "teams":
            peer = Peer(teams_accept)
            app.router.add_post(TEAMS_PATH, peer.handle)
        elif kind == "lineworks":
            lineworks = LineWorks(rsa_key.public_key())
            app, peer = lineworks.app(), lineworks.messages
        else:
            peer = Peer(webhook_accept)
            app.router.add_post(WEBHOOK_PATH, peer.handle)
        server = await serve(app)
        base = str(server.make_url("")).rstrip("/")
        return Rig(channel_for(kind, base, rsa_key, timeout), peer, lineworks)

    return build


# --- The message ----------------------------------------------------------------------------------

def test_a_drill_shows_the_drill_label_once_in_front_of_the_title() -> None:
    assert ChatMessage("炎上", "本文", drill=True).heading == "【訓練】炎上"
    assert ChatMessage("【訓練】炎上", "本文", drill=True).heading == "【訓練】炎上"
    assert ChatMessage("炎上", "本文").heading == "炎上"


@pytest.mark.parametrize("bad", [
    {"severity": "severe"}, {"title": " "}, {"link": "javascript:alert(1)"},
    {"link": "https://board.example/" + "x" * 1000}, {"link": "https://board.example/炎上"},
])
def test_a_message_that_no_channel_could_show_is_refused_when_it_is_made(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        ChatMessage(**{"title": "炎上", "text": "本文", **bad})


# --- Slack ----------------------------------------------------------------------------------------

async def test_slack_gets_a_header_an_escaped_section_the_facts_and_a_button(rig: MakeRig) -> None:
    r = await rig("slack")
    message = ChatMessage("なりすまし <公式> & 偽", "「@wako_city」を名乗る偽アカウント <https://x.example|偽> & 詐欺",
                          severity="critical", link=LINK, facts=[("報告先", "広報課 & 情報政策課")], drill=True)

    receipt = await r.channel.send(message, key="eff-1")

    assert receipt.channel == "slack"
    [seen] = r.peer.seen
    assert slack_problems(seen) == []
    blocks = seen.json()["blocks"]
    assert [b["type"] for b in blocks] == ["header", "section", "section", "actions"]
    assert blocks[0]["text"]["text"] == "【訓練】なりすまし <公式> & 偽"
    assert blocks[1]["text"]["text"] == (
        "「@wako_city」を名乗る偽アカウント &lt;https://x.example|偽&gt; &amp; 詐欺")
    assert [f["text"] for f in blocks[2]["fields"]] == ["*深刻度*\n緊急", "*報告先*\n広報課 &amp; 情報政策課"]
    assert blocks[3]["elements"][0]["url"] == LINK
    assert seen.json()["text"].startswith("【訓練】なりすまし &lt;公式&gt; &amp; 偽\n")


async def test_slack_round_trips_japanese_text_exactly(rig: MakeRig) -> None:
    r = await rig("slack")

    await r.channel.send(MESSAGE, key="eff-1")

    payload = r.peer.seen[0].json()
    assert payload["blocks"][0]["text"]["text"] == MESSAGE.title
    assert payload["blocks"][1]["text"]["text"] == MESSAGE.text
    assert MESSAGE.text in payload["text"] and LINK.replace("&", "&amp;") in payload["text"]


async def test_slack_limits_are_kept_for_a_long_title_text_and_many_facts(rig: MakeRig) -> None:
    r = await rig("slack")
    message = ChatMessage("長い件名" * 60, "<&>" * 2000, facts=[(f"項目{i}", "値" * 3000) for i in range(12)])

    await r.channel.send(message, key="eff-1")

    [seen] = r.peer.seen
    assert slack_problems(seen) == []
    header = seen.json()["blocks"][0]["text"]["text"]
    assert len(header) == 150 and header.endswith("…") and header.startswith("長い件名")
    assert "長い件名" * 60 in seen.json()["text"]  # the fallback keeps the whole title


async def test_a_message_without_text_or_link_still_makes_a_valid_slack_payload(
        rig: MakeRig) -> None:
    r = await rig("slack")

    await r.channel.send(ChatMessage("確認のお願い", "", severity="low"), key="eff-1")

    assert slack_problems(r.peer.seen[0]) == []
    assert [b["type"] for b in r.peer.seen[0].json()["blocks"]] == ["header", "section"]


async def test_slack_error_codes_are_named_in_the_error(rig: MakeRig) -> None:
    r = await rig("slack")
    r.peer.script = [Reply(404, "no_service")]

    with pytest.raises(Permanent) as caught:
        await r.channel.send(MESSAGE, key="eff-1")

    assert str(caught.value) == "slack: HTTP 404 (no_service)"


# --- Teams ----------------------------------------------------------------------------------------

async def test_teams_gets_an_adaptive_card_with_facts_and_a_link_to_the_board(
        rig: MakeRig) -> None:
    r = await rig("teams")

    receipt = await r.channel.send(MESSAGE, key="eff-1")

    assert receipt.detail == {"status": 202}
    [seen] = r.peer.seen
    assert teams_problems(seen) == []
    card = seen.json()["attachments"][0]["content"]
    title, text, facts = card["body"]
    assert (title["text"], title["color"], text["text"]) == (MESSAGE.title, "Attention", MESSAGE.text)
    assert facts["facts"] == [{"title": "深刻度", "value": "高"}, {"title": "アカウント", "value": "@wako_city_koho"},
                              {"title": "件数", "value": "1時間に120件"}]
    assert card["actions"] == [{"type": "Action.OpenUrl", "title": "ボードで開く", "url": LINK}]


async def test_the_teams_url_is_sent_exactly_as_configured(rig: MakeRig) -> None:
    r = await rig("teams")

    await r.channel.send(ChatMessage("件名", "本文", drill=True), key="eff-1")

    assert r.peer.seen[0].path_qs == f"{TEAMS_PATH}?{TEAMS_QUERY}"  # %2F and %2B not re-quoted
    assert teams_problems(r.peer.seen[0]) == []
    assert "actions" not in r.peer.seen[0].json()["attachments"][0]["content"]


async def test_teams_error_codes_are_named_in_the_error(rig: MakeRig) -> None:
    r = await rig("teams")
    r.peer.script = [Reply(400, '{"error":{"code":"TriggerInputSchemaMismatch","message":"sig=x"}}')]

    with pytest.raises(Permanent) as caught:
        await r.channel.send(MESSAGE, key="eff-1")

    assert str(caught.value) == "teams: HTTP 400 (TriggerInputSchemaMismatch)"


# --- LINE WORKS -----------------------------------------------------------------------------------

async def test_lineworks_signs_in_as_the_service_account_and_posts_with_the_bearer_token(
        rig: MakeRig) -> None:
    r = await rig("lineworks")
    assert r.lineworks is not None

    await r.channel.send(MESSAGE, key="eff-1")

    [claims] = r.lineworks.claims
    assert (claims["iss"], claims["sub"]) == (LW_CLIENT_ID, LW_SERVICE_ACCOUNT)
    assert abs(claims["iat"] - time.time()) < 60
    [seen] = r.peer.seen
    assert seen.path_qs == f"/v1.0/bots/{LW_BOT}/channels/{LW_ROOM}/messages"
    assert seen.headers["Authorization"] == "Bearer lw-access-token-1"
    content = seen.json()["content"]
    assert content["type"] == "link" and content["link"] == LINK and content["linkText"] == "ボードで開く"
    assert content["contentText"].startswith(f"{MESSAGE.title}\n{MESSAGE.text}\n\n深刻度: 高\n")


async def test_lineworks_reuses_its_token_until_shortly_before_it_expires(
        serve: Serve, rsa_key: rsa.RSAPrivateKey) -> None:
    lineworks = LineWorks(rsa_key.public_key())
    base = str((await serve(lineworks.app())).make_url("")).rstrip("/")
    now = [1000.0]
    channel = LineWorksBotChannel(lineworks_config(base, rsa_key), clock=lambda: now[0])

    await channel.send(MESSAGE, key="eff-1")
    await channel.send(MESSAGE, key="eff-2")
    now[0] += 86400 - 299  # less than 5 minutes of the token's 24 hours left
    await channel.send(MESSAGE, key="eff-3")

    assert lineworks.issued == ["lw-access-token-1", "lw-access-token-2"]
    assert [s.headers["Authorization"] for s in lineworks.messages.seen] == [
        "Bearer lw-access-token-1", "Bearer lw-access-token-1", "Bearer lw-access-token-2"]


async def test_lineworks_fetches_a_new_token_once_after_a_401(rig: MakeRig) -> None:
    r = await rig("lineworks")
    assert r.lineworks is not None
    await r.channel.send(MESSAGE, key="eff-1")
    r.lineworks.valid.clear()  # revoked on the server

    await r.channel.send(MESSAGE, key="eff-2")

    assert r.lineworks.issued == ["lw-access-token-1", "lw-access-token-2"]
    assert [s.headers["Authorization"] for s in r.peer.seen] == [
        "Bearer lw-access-token-1", "Bearer lw-access-token-1", "Bearer lw-access-token-2"]


async def test_lineworks_gives_up_when_a_new_token_is_refused_too(rig: MakeRig) -> None:
    r = await rig("lineworks")
    r.peer.script = [Reply(401, '{"code":"UNAUTHORIZED"}'), Reply(401, '{"code":"UNAUTHORIZED"}')]

    with pytest.raises(Permanent) as caught:
        await r.channel.send(MESSAGE, key="eff-1")

    assert str(caught.value) == "lineworks: HTTP 401 (UNAUTHORIZED)"
    assert r.lineworks is not None and len(r.lineworks.issued) == 2 and len(r.peer.seen) == 2


async def test_lineworks_sends_plain_text_to_a_member_when_there_is_no_link(
        serve: Serve, rsa_key: rsa.RSAPrivateKey) -> None:
    lineworks = LineWorks(rsa_key.public_key())
    base = str((await serve(lineworks.app())).make_url("")).rstrip("/")
    channel = LineWorksBotChannel(lineworks_config(base, rsa_key, user_id=LW_USER))

    await channel.send(ChatMessage("報道提供の準備", "市ホームページで周知します。", severity="low"), key="eff-1")

    [seen] = lineworks.messages.seen
    assert seen.path_qs == f"/v1.0/bots/{LW_BOT}/users/{LW_USER}/messages"
    assert seen.json() == {"content": {"type": "text", "text": "報道提供の準備\n市ホームページで周知します。\n\n深刻度: 低"}}


async def test_a_long_lineworks_message_becomes_clipped_text_that_keeps_the_link(
        rig: MakeRig) -> None:
    r = await rig("lineworks")

    await r.channel.send(ChatMessage("長文", "あ" * 3000, link=LINK), key="eff-1")

    text = r.peer.seen[0].json()["content"]["text"]
    assert len(text) == 2000 and text.endswith("…\n" + LINK)


async def test_lineworks_refusing_the_credentials_is_permanent_and_names_the_token_call(
        serve: Serve, rsa_key: rsa.RSAPrivateKey) -> None:
    lineworks = LineWorks(rsa_key.public_key())
    base = str((await serve(lineworks.app())).make_url("")).rstrip("/")
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    channel = LineWorksBotChannel(lineworks_config(base, other_key))

    with pytest.raises(Permanent) as caught:
        await channel.send(MESSAGE, key="eff-1")

    assert str(caught.value) == "lineworks: HTTP 400 (access token: invalid_grant)"
    assert lineworks.messages.seen == []


def test_lineworks_refuses_a_private_key_that_is_not_pem_rsa_without_showing_it() -> None:
    key = Secret("-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleQ==\n-----END PRIVATE KEY-----\n")
    config = LineWorksConfig(LW_CLIENT_ID, Secret(LW_CLIENT_SECRET), LW_SERVICE_ACCOUNT, key, LW_BOT,
                             channel_id=LW_ROOM)

    with pytest.raises(ValueError) as caught:
        LineWorksBotChannel(config)

    assert "c2VjcmV0LWtleQ" not in str(caught.value) and "c2VjcmV0LWtleQ" not in repr(config)


# --- Signed webhook -------------------------------------------------------------------------------

async def test_the_webhook_body_is_signed_and_carries_the_idempotency_key(
        rig: MakeRig) -> None:
    r = await rig("webhook")

    receipt = await r.channel.send(MESSAGE, key="inc-42:notify:1")

    assert receipt.detail == {"status": 204}
    [seen] = r.peer.seen
    assert seen.headers["Idempotency-Key"] == "inc-42:notify:1"
    assert verify_signature(WEBHOOK_SECRET, seen.headers["X-Noroshi-Timestamp"], seen.body,
                            seen.headers["X-Noroshi-Signature"], now=time.time())
    body = seen.json()
    sent_at = body.pop("sent_at")
    assert body == {
        "event": "noroshi.notification", "key": "inc-42:notify:1", "title": MESSAGE.title, "text": MESSAGE.text,
        "link": LINK, "severity": "high", "drill": False,
        "facts": [{"label": "アカウント", "value": "@wako_city_koho"}, {"label": "件数", "value": "1時間に120件"}],
    }
    assert sent_at.endswith("+00:00")
    assert MESSAGE.title.encode() in seen.body  # UTF-8 on the wire, not \u escapes


def test_verify_signature_refuses_a_changed_body_another_secret_an_old_timestamp_or_junk() -> None:
    body, now = orjson.dumps({"title": "炎上"}), 1_750_000_000.0
    ts = str(int(now))
    good = "sha256=" + hmac.new(WEBHOOK_SECRET.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()

    assert verify_signature(Secret(WEBHOOK_SECRET), ts, body, good, now=now + 299)
    assert not verify_signature(WEBHOOK_SECRET, ts, body + b" ", good, now=now)
    assert not verify_signature("another-secret", ts, body, good, now=now)
    assert not verify_signature(WEBHOOK_SECRET, ts, body, good, now=now + 301)
    assert not verify_signature(WEBHOOK_SECRET, "yesterday", body, good, now=now)
    assert not verify_signature(WEBHOOK_SECRET, ts, body, None, now=now)
    assert not verify_signature(WEBHOOK_SECRET, ts, body, "sha256=炎上", now=now)


# --- Every channel: Japanese, errors, secrets -------------------------------------------------------

def sent_text(kind: str, seen: Seen) -> str:
    """Where each platform carries the message's text."""
    payload = seen.json()
    if kind == "slack":
        return str(payload["blocks"][1]["text"]["text"])
    if kind == "teams":
        return str(payload["attachments"][0]["content"]["body"][1]["text"])
    if kind == "lineworks":
        return str(payload["content"]["contentText"].split("\n")[1])
    return str(payload["text"])


@pytest.mark.parametrize("kind", KINDS)
async def test_japanese_text_arrives_exactly_as_written(rig: MakeRig, kind: str) -> None:
    r = await rig(kind)
    text = "㈱和光市役所　広報課：ｶﾀｶﾅ・𠮷野家・①②・〜〰・絵文字🔥・ゔ"

    await r.channel.send(ChatMessage("確認", text, link=LINK), key="eff-1")

    assert sent_text(kind, r.peer.seen[0]) == text


@pytest.mark.parametrize("kind", KINDS)
async def test_429_is_transient_with_the_wait_the_peer_asked_for(
        rig: MakeRig, kind: str) -> None:
    r = await rig(kind)
    r.peer.script = [Reply(429, "rate_limited", {"Retry-After": "30"})]

    with pytest.raises(Transient) as caught:
        await r.channel.send(MESSAGE, key="eff-1")

    assert caught.value.retry_after == 30.0


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("status", "error"), [(500, Transient), (503, Transient), (408, Transient),
                                               (400, Permanent), (403, Permanent), (301, Permanent)])
async def test_server_errors_are_transient_and_refusals_permanent(
        rig: MakeRig, kind: str, status: int, error: type[DeliveryError]) -> None:
    r = await rig(kind)
    r.peer.script = [Reply(status, headers={"Location": "https://elsewhere.example/"} if status == 301 else {})]

    with pytest.raises(error) as caught:
        await r.channel.send(MESSAGE, key="eff-1")

    assert type(caught.value) is error and f"HTTP {status}" in str(caught.value)
    assert len(r.peer.seen) == 1  # no redirect followed, no second try inside the channel


@pytest.mark.parametrize("kind", KINDS)
async def test_a_peer_that_is_down_is_transient(rsa_key: rsa.RSAPrivateKey, kind: str) -> None:
    channel = channel_for(kind, f"http://127.0.0.1:{free_port()}", rsa_key)

    with pytest.raises(Transient) as caught:
        await channel.send(MESSAGE, key="eff-1")

    assert str(caught.value) == f"{channel.name}: cannot connect"


@pytest.mark.parametrize("kind", KINDS)
async def test_a_peer_that_does_not_answer_in_time_is_transient(
        rig: MakeRig, kind: str) -> None:
    r = await rig(kind, timeout=0.2)
    r.peer.script = [Reply(200, delay=2.0)]

    with pytest.raises(Transient) as caught:
        await r.channel.send(MESSAGE, key="eff-1")

    assert str(caught.value) == f"{r.channel.name}: no answer within 0.2 s"


def assert_secrets_absent(error: BaseException, channel: Channel, secrets: list[str]) -> None:
    assert error.__cause__ is None and error.__context__ is None  # nothing chained that a traceback would print
    shown = [str(error), repr(error), repr(channel), repr(vars(error)), repr(getattr(channel, "config", ""))]
    for secret in secrets:
        for text in shown:
            assert secret not in text


@pytest.mark.parametrize("kind", KINDS)
async def test_no_secret_appears_in_errors_or_in_the_channel_repr(
        rig: MakeRig, rsa_key: rsa.RSAPrivateKey, kind: str) -> None:
    r = await rig(kind)
    if r.lineworks is not None:
        await r.channel.send(MESSAGE, key="eff-0")  # a cached access token is a secret too
    echo = " ".join(secrets_of(kind, rsa_key))  # a careless peer that echoes what it was sent
    r.peer.script = [Reply(400, echo), Reply(503, echo, {"Retry-After": "5"})]
    errors = []
    for _ in range(2):
        with pytest.raises(DeliveryError) as caught:
            await r.channel.send(MESSAGE, key="eff-1")
        errors.append(caught.value)
    down = channel_for(kind, f"http://127.0.0.1:{free_port()}", rsa_key)
    with pytest.raises(DeliveryError) as caught:
        await down.send(MESSAGE, key="eff-1")
    errors.append(caught.value)

    for error in errors:
        assert_secrets_absent(error, r.channel, secrets_of(kind, rsa_key))


def test_a_webhook_url_that_is_not_http_is_refused_without_repeating_it() -> None:
    with pytest.raises(ValueError) as caught:
        SlackWebhookChannel(Secret("hooks.slack.com/services/T0/B0/slack-hook-secret-4711"))

    assert "slack-hook-secret-4711" not in str(caught.value)
