"""Official posts on X, Bluesky and Mastodon against local servers that answer as the real services do.

Each fake platform checks what the real one checks (credentials, OAuth 1.0a signatures, length
limits counted its own way, record keys, reply targets) and answers errors and rate limits in the
real shape, so a test fails when the channel sends something the platform would refuse.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import html
import itertools
import re
import secrets
import socket
import time
import unicodedata
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote, unquote

import orjson
import pytest
import regex
from aiohttp import web
from aiohttp.test_utils import TestServer
from multidict import CIMultiDict
from structlog.testing import capture_logs

from vocabulary.settings import Secret
from responders.base import DeliveryError, Permanent, Receipt, Transient
from responders.posts import (
    POST_COLLECTION,
    BlueskyChannel,
    BlueskyConfig,
    DryRunChannel,
    MastodonChannel,
    MastodonConfig,
    OAuth1Keys,
    Post,
    XChannel,
    XConfig,
    channel_for,
    oauth1_authorization,
    record_key,
)
from responders.textsplit import fits, split_thread

X_HANDLE = "wako_city_koho"
X_BEARER = "oauth2-user-token-wako-7f3c9a1e"
CONSUMER_KEY, CONSUMER_SECRET = "consumer-key-wako-3b1f", "consumer-secret-wako-9d2e77"
ACCESS_TOKEN, ACCESS_SECRET = "1700000000-access-token-wako-5c8a", "access-secret-wako-0b7d41"
BSKY_HANDLE = "koho.city.wako.example.jp"
BSKY_DID = "did:plc:wakokoho2025testacct01"
APP_PASSWORD = "abcd-efgh-ijkl-mnop"
MASTODON_HANDLE = "wako_city"
MASTODON_TOKEN = "mastodon-access-token-wako-1e9f2a"

LINK = "https://www.city.wako.example.lg.jp/kurashi/bousai/dansui/2025/kyusuijo-ichiran.html"
LINK2 = "https://www.city.wako.example.lg.jp/en/water.html"
SHORT = "【お知らせ】本日18時から市役所本庁舎前で給水を行います。飲料水を入れる容器をお持ちください。"
LONG = (
    "【断水に関するお知らせ（第３報）】\n"
    "本日午前６時ごろ、市内南部の配水管が破損し、白子・新倉・下新倉の一部地域で断水が発生しています。"
    "現在、水道局が復旧作業を進めており、本日18時ごろの復旧を見込んでいます。"
    "給水所は市役所本庁舎前、中央公民館、第一小学校、第三中学校の４か所に開設しました。"
    "飲料水を入れる容器をお持ちください。お一人につき６リットルまでとさせていただきます。"
    f"給水所の場所と開設時間は {LINK} に掲載しています。"
    "高齢の方や障害のある方など、給水所までお越しになることが難しい方は、地域包括支援センターまでご相談ください。"
    "職員がご自宅までお届けします。\n"
    "SNS上で「市内全域で断水」「井戸水が汚染された」という情報が広がっていますが、いずれも事実ではありません。"
    "市からの正確な情報は、市ホームページと公式アカウントでお知らせします。"
    "不確かな情報の拡散はお控えくださいますよう、ご協力をお願いいたします。"
    "ご不便をおかけし、大変申し訳ありません。復旧まで今しばらくお待ちください。\n"
    f"English: water stations are open at four places. Details: {LINK2}\n"
    "問い合わせ先：和光市水道局 電話048-000-0000（受付時間8時30分から20時まで）"
)
# Characters that go wrong in transit: a supplementary-plane kanji, 異体字, full- and half-width
# forms, HTML-ish text, quotes, an emoji ZWJ sequence and a flag.
TRICKY = (
    "【訂正】髙橋市長の会見で「𠮷野家前」の給水所を「午後７時まで」と申し上げましたが、"
    "正しくは「19時30分まで」です。①② ㈱ ｶﾀｶﾅ ＆ <b>&amp;</b> \"引用\" ‘ ’ 〜 ─ 🙇‍♂️🇯🇵"
)
NUMBERING = re.compile(r" ?（(\d+)/(\d+)）$")
TID = re.compile(r"^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$")
URL_RUN = re.compile(r"https?://[!-~]+")  # a link as the platforms' counters see one: ASCII up to a space


def body_of(part: str) -> str:
    return NUMBERING.sub("", part)


def without_space(text: str) -> str:
    return re.sub(r"\s+", "", text)


def post(text: str = SHORT, account: str = X_HANDLE, **kw: Any) -> Post:
    return Post(account, text, **kw)


# --- How each platform counts, written independently of responders.textsplit ---------------------

def x_weighted_length(text: str) -> int:
    """twitter-text v3: NFC, code points weigh 1 in the light ranges and 2 elsewhere, a link 23."""
    text = unicodedata.normalize("NFC", text)

    def weight(char: str) -> int:
        cp = ord(char)
        return 1 if cp <= 4351 or 8192 <= cp <= 8205 or 8208 <= cp <= 8223 or 8242 <= cp <= 8247 else 2

    return sum(weight(c) for piece in URL_RUN.split(text) for c in piece) + 23 * len(URL_RUN.findall(text))


def graphemes(text: str) -> int:
    return len(regex.findall(r"\X", text))


def mastodon_length(text: str) -> int:
    """Mastodon's StatusLengthValidator: grapheme clusters, every link counted as 23."""
    return graphemes(URL_RUN.sub("x" * 23, text))


def pct(value: str) -> str:
    """RFC 3986 unreserved characters stay, everything else is %XX of its UTF-8 bytes (RFC 5849 §3.6)."""
    return quote(value, safe="~-._")


def oauth1_problem(method: str, base_uri: str, pairs: list[tuple[str, str]], header: str,
                   keys: tuple[str, str, str, str], nonces: set[str], now: float) -> str | None:
    """What an OAuth 1.0a server finds wrong with a request (RFC 5849 §3.2), or None if it is good."""
    consumer_key, consumer_secret, token, token_secret = keys
    if not header.startswith("OAuth "):
        return "not an OAuth header"
    params = {unquote(k): unquote(v) for k, v in re.findall(r'(\w+)="([^"]*)"', header[6:])}
    signature = params.pop("oauth_signature", "")
    params.pop("realm", None)
    if params.get("oauth_consumer_key") != consumer_key or params.get("oauth_token") != token:
        return "unknown consumer or token"
    if params.get("oauth_signature_method") != "HMAC-SHA1" or params.get("oauth_version", "1.0") != "1.0":
        return "unsupported signature method"
    if abs(now - int(params.get("oauth_timestamp", "0"))) > 300:
        return "timestamp out of window"
    if params.get("oauth_nonce", "") in nonces:
        return "nonce used before"
    normalized = "&".join(f"{k}={v}" for k, v in sorted((pct(k), pct(v)) for k, v in [*pairs, *params.items()]))
    base = f"{method.upper()}&{pct(base_uri)}&{pct(normalized)}"
    key = f"{pct(consumer_secret)}&{pct(token_secret)}"
    expected = base64.b64encode(hmac.new(key.encode(), base.encode(), hashlib.sha1).digest()).decode()
    if not hmac.compare_digest(signature, expected):
        return "bad signature"
    nonces.add(params["oauth_nonce"])
    return None


# --- The fake platforms -----------------------------------------------------------------------------

@dataclass
class Seen:
    """One request as the platform received it."""

    method: str
    path: str
    headers: CIMultiDict[str]
    query: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return orjson.loads(self.body) if self.body else None


async def seen_of(request: web.Request) -> Seen:
    return Seen(request.method, request.path, CIMultiDict(request.headers), dict(request.query),
                await request.read())


def bearer(seen: Seen) -> str:
    return seen.headers.get("Authorization", "").removeprefix("Bearer ")


@dataclass
class Reply:
    """A scripted answer. With `after`, the platform does the work first and this answer is what
    the client gets (the real answer was lost on the way back); with `hold`, no answer comes at all
    until the test releases it."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    after: bool = False
    hold: bool = False

    def response(self) -> web.Response:
        if self.body is None:
            return web.Response(status=self.status, headers=self.headers)
        return web.json_response(self.body, status=self.status, headers=self.headers)


class Platform:
    """Records every request; answers from `script` (per endpoint) first, then as the platform would."""

    def __init__(self) -> None:
        self.base = ""
        self.seen: list[Seen] = []
        self.script: dict[str, list[Reply | None]] = {}
        self.released = asyncio.Event()

    def app(self) -> web.Application:
        raise NotImplementedError

    async def answer(self, request: web.Request, endpoint: str,
                     work: Callable[[web.Request, Seen], Awaitable[web.Response]]) -> web.Response:
        seen = await seen_of(request)
        self.seen.append(seen)
        queue = self.script.get(endpoint, [])
        reply = queue.pop(0) if queue else None
        if reply is not None and not reply.after:
            return reply.response()
        response = await work(request, seen)
        if reply is None:
            return response
        if reply.hold:
            await self.released.wait()
        return reply.response()


X_UNAUTHORIZED = {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}
X_DUPLICATE = {"detail": "You are not allowed to create a Tweet with duplicate content.",
               "type": "about:blank", "title": "Forbidden", "status": 403}


class XApi(Platform):
    """X API v2 `POST /2/tweets`: OAuth 2.0 bearer or OAuth 1.0a HMAC-SHA1, 280 weighted, no duplicates."""

    def __init__(self, *, oauth1: bool = False) -> None:
        super().__init__()
        self.oauth1 = oauth1
        self.tweets: dict[str, dict[str, Any]] = {}
        self.nonces: set[str] = set()
        self.refusals: list[str] = []
        self._ids = itertools.count(1_871_000_000_000_000_001)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/2/tweets", self.tweets_endpoint)
        return app

    async def tweets_endpoint(self, request: web.Request) -> web.Response:
        return await self.answer(request, "tweets", self.create)

    def problem(self, request: web.Request, seen: Seen) -> str | None:
        header = seen.headers.get("Authorization", "")
        if not self.oauth1:
            return None if hmac.compare_digest(header, f"Bearer {X_BEARER}") else "bad bearer token"
        base_uri = f"{request.scheme}://{request.host.lower()}{request.raw_path.split('?')[0]}"
        keys = (CONSUMER_KEY, CONSUMER_SECRET, ACCESS_TOKEN, ACCESS_SECRET)
        return oauth1_problem(request.method, base_uri, list(request.query.items()), header, keys, self.nonces,
                              time.time())

    async def create(self, request: web.Request, seen: Seen) -> web.Response:
        problem = self.problem(request, seen)
        if problem:
            self.refusals.append(problem)
            return web.json_response(X_UNAUTHORIZED, status=401)
        payload = seen.json
        text = payload.get("text") if isinstance(payload, dict) else None
        if not isinstance(text, str) or not text.strip():
            return web.json_response({"title": "Invalid Request", "status": 400,
                                      "detail": "One or more parameters to your request was invalid."}, status=400)
        if x_weighted_length(text) > 280:
            return web.json_response({"title": "Forbidden", "status": 403, "type": "about:blank",
                                      "detail": "Your Tweet text is too long."}, status=403)
        if any(tweet["text"] == text for tweet in self.tweets.values()):
            return web.json_response(X_DUPLICATE, status=403)
        reply_to = (payload.get("reply") or {}).get("in_reply_to_tweet_id")
        if reply_to is not None and reply_to not in self.tweets:
            return web.json_response({"title": "Forbidden", "status": 403, "type": "about:blank",
                                      "detail": "You attempted to reply to a Tweet that is deleted or not "
                                                "visible to you."}, status=403)
        tweet_id = str(next(self._ids))
        self.tweets[tweet_id] = {"text": text, "reply_to": reply_to}
        return web.json_response({"data": {"id": tweet_id, "text": text, "edit_history_tweet_ids": [tweet_id]}},
                                 status=201, headers=x_rate_headers(remaining=99))


def x_rate_headers(*, remaining: int, reset_in: float = 900) -> dict[str, str]:
    return {"x-rate-limit-limit": "100", "x-rate-limit-remaining": str(remaining),
            "x-rate-limit-reset": str(int(time.time() + reset_in))}


CREATE_SESSION = "com.atproto.server.createSession"
REFRESH_SESSION = "com.atproto.server.refreshSession"
CREATE_RECORD = "com.atproto.repo.createRecord"
GET_RECORD = "com.atproto.repo.getRecord"
# How a PDS answers createRecord for a record key that is taken: the reference PDS fails with a
# 500; other PDS implementations answer 409 RecordAlreadyExists or a 400 naming the problem.
TAKEN = {
    "reference-500": Reply(500, {"error": "InternalServerError", "message": "Internal Server Error"}),
    "conflict-409": Reply(409, {"error": "RecordAlreadyExists", "message": "Record already exists"}),
    "invalid-400": Reply(400, {"error": "InvalidRequest", "message": "Record already exists"}),
}


class Pds(Platform):
    """A Bluesky PDS: sessions with app passwords, access and refresh JWTs, createRecord/getRecord."""

    def __init__(self, *, taken: str = "reference-500") -> None:
        super().__init__()
        self.taken = TAKEN[taken]
        self.records: dict[str, dict[str, Any]] = {}  # rkey -> {"value", "cid", "uri"}
        self.calls: list[str] = []
        self.access: set[str] = set()
        self.refresh: set[str] = set()
        self.expired: set[str] = set()
        self.issued: list[str] = []
        self.password = APP_PASSWORD  # the app password the account holder has not revoked

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/xrpc/{method}", self.dispatch)
        return app

    async def dispatch(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        self.calls.append(method)
        work = {CREATE_SESSION: self.create_session, REFRESH_SESSION: self.refresh_session,
                CREATE_RECORD: self.create_record, GET_RECORD: self.get_record}.get(method)
        if work is None:
            return web.json_response({"error": "MethodNotImplemented", "message": "Method Not Implemented"},
                                     status=501)
        return await self.answer(request, method, work)

    def expire(self, *, refresh: bool = False) -> None:
        self.expired |= self.access
        self.access.clear()
        if refresh:
            self.expired |= self.refresh
            self.refresh.clear()

    def issue(self) -> dict[str, Any]:
        access = f"eyJhbGciOiJFUzI1NksifQ.access.{secrets.token_urlsafe(16)}"
        refresh = f"eyJhbGciOiJFUzI1NksifQ.refresh.{secrets.token_urlsafe(16)}"
        self.access.add(access)
        self.refresh.add(refresh)
        self.issued += [access, refresh]
        return {"did": BSKY_DID, "handle": BSKY_HANDLE, "accessJwt": access, "refreshJwt": refresh,
                "active": True, "didDoc": {"id": BSKY_DID}}

    def refused(self, token: str, valid: set[str]) -> web.Response | None:
        if token in self.expired:
            return web.json_response({"error": "ExpiredToken", "message": "Token has expired"}, status=400)
        if token not in valid:
            return web.json_response({"error": "InvalidToken", "message": "Token could not be verified"},
                                     status=401)
        return None

    async def create_session(self, request: web.Request, seen: Seen) -> web.Response:
        body = seen.json or {}
        if body.get("identifier") not in (BSKY_HANDLE, BSKY_DID) or body.get("password") != self.password:
            return web.json_response({"error": "AuthenticationRequired",
                                      "message": "Invalid identifier or password"}, status=401)
        return web.json_response(self.issue())

    async def refresh_session(self, request: web.Request, seen: Seen) -> web.Response:
        token = bearer(seen)
        refused = self.refused(token, self.refresh)
        if refused is not None:
            return refused
        self.refresh.discard(token)
        return web.json_response(self.issue())

    async def create_record(self, request: web.Request, seen: Seen) -> web.Response:
        refused = self.refused(bearer(seen), self.access)
        if refused is not None:
            return refused
        body = seen.json or {}
        rkey, record = body.get("rkey"), body.get("record")
        problems = []
        if body.get("repo") not in (BSKY_DID, BSKY_HANDLE):
            return web.json_response({"error": "InvalidRequest", "message": "Could not find repo"}, status=400)
        if body.get("collection") != POST_COLLECTION:
            problems.append("collection")
        if not isinstance(rkey, str) or not TID.fullmatch(rkey):
            problems.append("rkey must be a TID")
        problems += post_record_problems(record)
        if problems:
            return web.json_response({"error": "InvalidRequest",
                                      "message": f"Invalid app.bsky.feed.post record: {'; '.join(problems)}"},
                                     status=400)
        if rkey in self.records:
            return self.taken.response()
        cid = "bafyrei" + base64.b32encode(hashlib.sha256(orjson.dumps(record)).digest()).decode().lower()[:52]
        uri = f"at://{BSKY_DID}/{POST_COLLECTION}/{rkey}"
        self.records[rkey] = {"uri": uri, "cid": cid, "value": record}
        return web.json_response({"uri": uri, "cid": cid, "commit": {"cid": "bafyreicommit", "rev": rkey},
                                  "validationStatus": "valid"})

    async def get_record(self, request: web.Request, seen: Seen) -> web.Response:
        if "Authorization" in seen.headers:
            refused = self.refused(bearer(seen), self.access)
            if refused is not None:
                return refused
        repo, collection, rkey = (seen.query.get(k) for k in ("repo", "collection", "rkey"))
        stored = self.records.get(rkey or "") if repo in (BSKY_DID, BSKY_HANDLE) else None
        if collection != POST_COLLECTION or stored is None:
            return web.json_response({"error": "RecordNotFound",
                                      "message": f"Could not locate record: at://{repo}/{collection}/{rkey}"},
                                     status=400)
        return web.json_response(stored)

    def thread(self, receipt: Receipt) -> list[dict[str, Any]]:
        """The records of a receipt's thread, in order."""
        return [self.records[uri.rsplit("/", 1)[1]] for uri in receipt.detail["ids"]]


def post_record_problems(record: Any) -> list[str]:
    """What app.bsky.feed.post's lexicon refuses."""
    if not isinstance(record, dict) or record.get("$type") != POST_COLLECTION:
        return ["$type"]
    problems = []
    text = record.get("text")
    if not isinstance(text, str) or graphemes(text) > 300 or len(text.encode()) > 3000:
        problems.append("text must be at most 300 graphemes and 3000 bytes")
    try:
        created = datetime.fromisoformat(record.get("createdAt", ""))
        if created.tzinfo is None:
            problems.append("createdAt needs a timezone")
    except (TypeError, ValueError):
        problems.append("createdAt")
    langs = record.get("langs", [])
    if not isinstance(langs, list) or len(langs) > 3:
        problems.append("langs")
    for facet in record.get("facets", []):
        index = facet.get("index", {})
        start, end = index.get("byteStart"), index.get("byteEnd")
        if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end):
            problems.append("facet index")
        if not facet.get("features"):
            problems.append("facet features")
    if "reply" in record:
        for ref in ("root", "parent"):
            strong = record["reply"].get(ref, {})
            if not (isinstance(strong.get("uri"), str) and strong["uri"].startswith("at://")
                    and isinstance(strong.get("cid"), str)):
                problems.append(f"reply.{ref} must be a strongRef")
    return problems


class Mastodon(Platform):
    """A Mastodon instance: `POST /api/v1/statuses` with a bearer token, Idempotency-Key kept per account."""

    def __init__(self, *, limit: int = 500) -> None:
        super().__init__()
        self.limit = limit
        self.statuses: dict[str, dict[str, Any]] = {}
        self.idempotency: dict[str, str] = {}
        self._ids = itertools.count(113_000_000_000_000_001)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/api/v1/statuses", self.create)
        return app

    async def create(self, request: web.Request) -> web.Response:
        # The token is checked before anything else, scripted answers included.
        if request.headers.get("Authorization") != f"Bearer {MASTODON_TOKEN}":
            self.seen.append(await seen_of(request))
            return web.json_response({"error": "The access token is invalid"}, status=401)
        return await self.answer(request, "statuses", self.post_status)

    def entity(self, status_id: str) -> dict[str, Any]:
        status = self.statuses[status_id]
        return {"id": status_id, "created_at": "2026-11-22T01:00:00.000Z", "in_reply_to_id": status["in_reply_to_id"],
                "visibility": status["visibility"], "language": status["language"],
                "uri": f"{self.base}/users/{MASTODON_HANDLE}/statuses/{status_id}",
                "url": f"{self.base}/@{MASTODON_HANDLE}/{status_id}",
                "content": "<p>" + html.escape(status["text"]).replace("\n", "<br />") + "</p>",
                "account": {"id": "109", "username": MASTODON_HANDLE, "acct": MASTODON_HANDLE}}

    async def post_status(self, request: web.Request, seen: Seen) -> web.Response:
        key = seen.headers.get("Idempotency-Key")
        if key is not None and key in self.idempotency:
            return web.json_response(self.entity(self.idempotency[key]))
        payload = seen.json or {}
        text = payload.get("status")
        if not isinstance(text, str) or not text.strip():
            return web.json_response({"error": "Validation failed: Text can't be blank"}, status=422)
        if mastodon_length(text) > self.limit:
            return web.json_response(
                {"error": f"Validation failed: Text character limit of {self.limit} exceeded"}, status=422)
        reply_to = payload.get("in_reply_to_id")
        if reply_to is not None and reply_to not in self.statuses:
            return web.json_response({"error": "Record not found"}, status=404)
        status_id = str(next(self._ids))
        self.statuses[status_id] = {"text": text, "in_reply_to_id": reply_to,
                                    "visibility": payload.get("visibility", "public"),
                                    "language": payload.get("language")}
        if key is not None:
            self.idempotency[key] = status_id
        return web.json_response(self.entity(status_id))


Serve = Callable[[Platform], Awaitable[None]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    started: list[tuple[Platform, TestServer]] = []

    async def start(platform: Platform) -> None:
        server = TestServer(platform.app(), host="127.0.0.1")
        await server.start_server()
        platform.base = str(server.make_url("")).rstrip("/")
        started.append((platform, server))

    yield start
    for platform, server in started:
        platform.released.set()
        await server.close()


@pytest.fixture
async def x_api(serve: Serve) -> XApi:
    api = XApi()
    await serve(api)
    return api


@pytest.fixture
async def x_oauth1_api(serve: Serve) -> XApi:
    api = XApi(oauth1=True)
    await serve(api)
    return api


@pytest.fixture
async def pds(serve: Serve) -> Pds:
    server = Pds()
    await serve(server)
    return server


@pytest.fixture
async def mastodon(serve: Serve) -> Mastodon:
    instance = Mastodon()
    await serve(instance)
    return instance


def oauth1_keys(consumer_secret: str = CONSUMER_SECRET) -> OAuth1Keys:
    return OAuth1Keys(Secret(CONSUMER_KEY), Secret(consumer_secret), Secret(ACCESS_TOKEN), Secret(ACCESS_SECRET))


def x_channel(api: XApi, *, token: str = X_BEARER, timeout: float = 5.0) -> XChannel:
    return XChannel(XConfig(X_HANDLE, bearer_token=Secret(token), api_url=api.base, timeout=timeout))


def x_oauth1_channel(api: XApi, *, consumer_secret: str = CONSUMER_SECRET) -> XChannel:
    return XChannel(XConfig(X_HANDLE, oauth1=oauth1_keys(consumer_secret), api_url=api.base, timeout=5.0))


def bluesky_channel(pds: Pds, *, password: str = APP_PASSWORD, timeout: float = 5.0) -> BlueskyChannel:
    return BlueskyChannel(BlueskyConfig(BSKY_HANDLE, Secret(password), pds_url=pds.base, timeout=timeout))


def mastodon_channel(instance: Mastodon, *, token: str = MASTODON_TOKEN, max_characters: int = 500,
                     timeout: float = 5.0) -> MastodonChannel:
    return MastodonChannel(MastodonConfig(MASTODON_HANDLE, instance.base, Secret(token),
                                          max_characters=max_characters, timeout=timeout))


def in_seconds(seconds: float) -> str:
    return str(int(time.time() + seconds))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- OAuth 1.0a and record keys (pure) ---------------------------------------------------------------

DOC_KEYS = ("xvz1evFS4wEEPTGEFPHBog", "kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw",
            "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb", "LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE")


def test_oauth1_signing_gives_the_signature_of_the_worked_example_in_the_x_documentation() -> None:
    # X's "Creating a signature" guide: POST statuses/update.json?include_entities=true, form body status=…
    keys = OAuth1Keys(*(Secret(value) for value in DOC_KEYS))
    status = ("status", "Hello Ladies + Gentlemen, a signed OAuth request!")

    header = oauth1_authorization("POST", "https://api.twitter.com/1.1/statuses/update.json?include_entities=true",
                                  keys, params=[status], nonce="kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg",
                                  timestamp=1318622958)

    assert 'oauth_signature="hCtSmYh%2BiHYCEqBWrE7C7hYmtUk%3D"' in header
    # The local X server's own verifier agrees with the published example too.
    assert oauth1_problem("POST", "https://api.twitter.com/1.1/statuses/update.json",
                          [("include_entities", "true"), status], header, DOC_KEYS, set(), 1318622958) is None
    assert oauth1_problem("POST", "https://api.twitter.com/1.1/statuses/update.json",
                          [("include_entities", "false"), status], header, DOC_KEYS, set(), 1318622958) \
        == "bad signature"


def test_oauth1_signs_the_port_of_a_non_default_address_and_a_fresh_nonce_each_time() -> None:
    keys = oauth1_keys()
    first = oauth1_authorization("POST", "http://127.0.0.1:8443/2/tweets", keys)
    second = oauth1_authorization("POST", "http://127.0.0.1:8443/2/tweets", keys)
    nonce = re.compile(r'oauth_nonce="([^"]+)"')
    assert nonce.search(first)[1] != nonce.search(second)[1]  # type: ignore[index]
    keys4 = (CONSUMER_KEY, CONSUMER_SECRET, ACCESS_TOKEN, ACCESS_SECRET)
    assert oauth1_problem("POST", "http://127.0.0.1:8443/2/tweets", [], first, keys4, set(), time.time()) is None
    assert oauth1_problem("POST", "http://127.0.0.1/2/tweets", [], first, keys4, set(), time.time()) \
        == "bad signature"


def test_record_keys_are_valid_tids_in_the_past_that_depend_on_the_key_alone() -> None:
    keys = [record_key(f"wako-water-1:post:x/{n}") for n in range(1, 200)]
    assert keys[0] == record_key("wako-water-1:post:x/1")
    assert len(set(keys)) == len(keys)
    alphabet = "234567abcdefghijklmnopqrstuvwxyz"
    for key in keys:
        assert TID.fullmatch(key), key
        value = 0
        for char in key:
            value = value * 32 + alphabet.index(char)
        micros = value >> 10
        assert datetime(2023, 1, 1, tzinfo=timezone.utc).timestamp() * 1e6 <= micros <= time.time() * 1e6


# --- Configuration and the dry run ---------------------------------------------------------------------

def test_an_x_account_needs_exactly_one_kind_of_credentials() -> None:
    with pytest.raises(ValueError):
        XConfig(X_HANDLE)
    with pytest.raises(ValueError):
        XConfig(X_HANDLE, bearer_token=Secret(X_BEARER), oauth1=oauth1_keys())


def test_channel_for_gives_a_dry_run_until_credentials_are_configured() -> None:
    assert isinstance(channel_for("bluesky"), DryRunChannel)
    assert isinstance(channel_for("x", XConfig(X_HANDLE, bearer_token=Secret(X_BEARER))), XChannel)
    with pytest.raises(ValueError):
        channel_for("x", BlueskyConfig(BSKY_HANDLE, Secret(APP_PASSWORD)))


@pytest.mark.parametrize("platform", ["x", "bluesky", "mastodon"])
async def test_a_dry_run_records_the_parts_exactly_as_the_platform_would_get_them(platform: Any) -> None:
    channel = DryRunChannel(platform)

    receipt = await channel.send(post(LONG, source_url=LINK), key="eff-1")

    [(key, sent, parts)] = channel.posted
    assert (key, sent.text) == ("eff-1", LONG)
    assert parts == split_thread(LONG, platform) and len(parts) > 1
    assert all(fits(part, platform) for part in parts)
    assert receipt.channel == f"{platform}:dry-run" and receipt.ref is None
    assert receipt.detail["dry_run"] is True and receipt.detail["parts"] == parts


async def test_a_dry_run_answers_a_repeated_key_with_its_first_receipt_and_refuses_other_text() -> None:
    channel = DryRunChannel("x")

    first = await channel.send(post(), key="eff-1")
    again = await channel.send(post(), key="eff-1")

    assert again is first and len(channel.posted) == 1
    with pytest.raises(Permanent, match="already used for a different text"):
        await channel.send(post(SHORT + "（更新）"), key="eff-1")


async def test_a_dry_run_is_where_a_drill_goes_and_its_receipt_says_so() -> None:
    channel = DryRunChannel("mastodon", limit=1000)

    receipt = await channel.send(post(LONG, kind="holding", drill=True), key="drill-1")

    assert receipt.detail["drill"] is True and receipt.detail["kind"] == "holding"
    assert receipt.detail["parts"] == [LONG]  # the instance allows 1000


def test_a_source_link_is_appended_on_its_own_line_unless_the_text_has_it() -> None:
    assert post(SHORT, source_url=LINK).body == f"{SHORT}\n{LINK}"
    assert post(f"詳しくは {LINK} をご覧ください。", source_url=LINK).body == f"詳しくは {LINK} をご覧ください。"


# --- Refusals before anything is sent ------------------------------------------------------------------

@pytest.fixture
def real(serve: Serve) -> Callable[[str], Awaitable[tuple[Any, Platform, str]]]:
    async def make(platform: str) -> tuple[Any, Platform, str]:
        if platform == "x":
            api = XApi()
            await serve(api)
            return x_channel(api), api, X_HANDLE
        if platform == "bluesky":
            server = Pds()
            await serve(server)
            return bluesky_channel(server), server, BSKY_HANDLE
        instance = Mastodon()
        await serve(instance)
        return mastodon_channel(instance), instance, MASTODON_HANDLE

    return make


@pytest.mark.parametrize("platform", ["x", "bluesky", "mastodon"])
async def test_a_real_channel_refuses_a_drill_without_calling_the_platform(real: Any, platform: str) -> None:
    channel, server, handle = await real(platform)

    with pytest.raises(Permanent, match="訓練"):
        await channel.send(post(account=handle, drill=True), key="drill-1")

    assert server.seen == []


@pytest.mark.parametrize("platform", ["x", "bluesky", "mastodon"])
async def test_a_real_channel_refuses_a_post_for_another_account(real: Any, platform: str) -> None:
    channel, server, handle = await real(platform)

    with pytest.raises(Permanent, match="other_city"):
        await channel.send(post(account="other_city"), key="eff-1")
    assert server.seen == []

    await channel.send(post(account="@" + handle.upper()), key="eff-2")  # "@" and case do not matter
    assert server.seen


@pytest.mark.parametrize("platform", ["x", "bluesky", "mastodon"])
async def test_an_unreachable_platform_is_a_transient_failure(platform: str) -> None:
    base = f"http://127.0.0.1:{free_port()}"
    channel = {
        "x": lambda: XChannel(XConfig(X_HANDLE, bearer_token=Secret(X_BEARER), api_url=base, timeout=2)),
        "bluesky": lambda: BlueskyChannel(BlueskyConfig(BSKY_HANDLE, Secret(APP_PASSWORD), pds_url=base, timeout=2)),
        "mastodon": lambda: MastodonChannel(MastodonConfig(MASTODON_HANDLE, base, Secret(MASTODON_TOKEN), timeout=2)),
    }[platform]()
    handle = {"x": X_HANDLE, "bluesky": BSKY_HANDLE, "mastodon": MASTODON_HANDLE}[platform]

    with pytest.raises(Transient, match="connection failed"):
        await channel.send(post(account=handle), key="eff-1")


# --- X ----------------------------------------------------------------------------------------------

async def test_x_posts_with_the_oauth2_bearer_token_and_answers_the_address_of_the_post(x_api: XApi) -> None:
    receipt = await x_channel(x_api).send(post(), key="eff-1")

    [seen] = x_api.seen
    assert seen.headers["Authorization"] == f"Bearer {X_BEARER}"
    assert seen.headers["Content-Type"].startswith("application/json")
    assert seen.json == {"text": SHORT}
    [(tweet_id, tweet)] = x_api.tweets.items()
    assert tweet == {"text": SHORT, "reply_to": None}
    assert receipt.channel == "x"
    assert receipt.ref == f"https://x.com/{X_HANDLE}/status/{tweet_id}"
    assert receipt.detail["ids"] == [tweet_id] and receipt.detail["kind"] == "statement"


async def test_x_posts_a_thread_with_oauth1_requests_whose_signatures_the_server_checks(x_oauth1_api: XApi) -> None:
    receipt = await x_oauth1_channel(x_oauth1_api).send(post(LONG), key="eff-1")

    assert x_oauth1_api.refusals == []
    assert len(x_oauth1_api.tweets) == len(receipt.detail["ids"]) > 2
    assert len(x_oauth1_api.nonces) == len(x_oauth1_api.tweets)  # a fresh nonce on every part
    assert all(seen.headers["Authorization"].startswith("OAuth ") for seen in x_oauth1_api.seen)


async def test_x_refuses_a_bad_oauth1_signature_with_401_which_is_permanent(x_oauth1_api: XApi) -> None:
    channel = x_oauth1_channel(x_oauth1_api, consumer_secret="not-the-consumer-secret")

    with pytest.raises(Permanent, match="401") as caught:
        await channel.send(post(), key="eff-1")

    assert x_oauth1_api.refusals == ["bad signature"] and x_oauth1_api.tweets == {}
    assert "credentials" in str(caught.value)


async def test_x_splits_long_japanese_text_into_a_reply_chain_within_280_weighted(x_api: XApi) -> None:
    receipt = await x_channel(x_api).send(post(LONG), key="eff-1")

    ids = receipt.detail["ids"]
    tweets = [x_api.tweets[i] for i in ids]
    texts = [t["text"] for t in tweets]
    assert len(texts) >= 3
    assert all(x_weighted_length(text) <= 280 for text in texts)
    assert [t["reply_to"] for t in tweets] == [None, *ids[:-1]]
    assert [NUMBERING.search(text).groups() for text in texts] == [  # type: ignore[union-attr]
        (str(n), str(len(texts))) for n in range(1, len(texts) + 1)]
    assert sum(text.count(LINK) for text in texts) == 1 and sum(text.count(LINK2) for text in texts) == 1
    assert without_space("".join(body_of(text) for text in texts)) == without_space(LONG)
    assert receipt.ref == f"https://x.com/{X_HANDLE}/status/{ids[0]}"
    assert receipt.detail["urls"] == [f"https://x.com/{X_HANDLE}/status/{i}" for i in ids]


@pytest.mark.parametrize(("headers", "wait"), [
    ({"x-rate-limit-limit": "100", "x-rate-limit-remaining": "0", "x-rate-limit-reset": "+120"}, 120),
    ({"x-rate-limit-reset": "+60", "x-user-limit-24hour-limit": "17",
      "x-user-limit-24hour-remaining": "0", "x-user-limit-24hour-reset": "+3600"}, 3600),
])
async def test_x_rate_limit_is_transient_and_says_how_long_until_the_reset(
        x_api: XApi, headers: dict[str, str], wait: float) -> None:
    headers = {k: in_seconds(float(v)) if v.startswith("+") else v for k, v in headers.items()}
    x_api.script["tweets"] = [Reply(429, {"title": "Too Many Requests", "detail": "Too Many Requests",
                                          "type": "about:blank", "status": 429}, headers)]

    with pytest.raises(Transient, match="429") as caught:
        await x_channel(x_api).send(post(), key="eff-1")

    assert caught.value.retry_after == pytest.approx(wait, abs=2)


async def test_x_refusing_duplicate_content_is_permanent_and_says_to_check_by_hand(x_api: XApi) -> None:
    channel = x_channel(x_api)
    await channel.send(post(), key="eff-1")

    with pytest.raises(Permanent, match="duplicate") as caught:
        await channel.send(post(), key="eff-2")

    assert len(x_api.tweets) == 1 and caught.value.retry_after is None
    assert "check" in str(caught.value)


async def test_x_refusing_the_token_with_401_is_permanent(x_api: XApi) -> None:
    with pytest.raises(Permanent, match="401"):
        await x_channel(x_api, token="revoked-token").send(post(), key="eff-1")
    assert x_api.tweets == {}


async def test_x_overloaded_with_503_is_transient_with_its_retry_after(x_api: XApi) -> None:
    x_api.script["tweets"] = [Reply(503, {"title": "Service Unavailable", "status": 503}, {"Retry-After": "7"})]

    with pytest.raises(Transient, match="503") as caught:
        await x_channel(x_api).send(post(), key="eff-1")

    assert caught.value.retry_after == 7


async def test_x_failing_at_part_2_resumes_at_part_2_with_the_same_key(x_api: XApi) -> None:
    channel = x_channel(x_api)
    x_api.script["tweets"] = [None, Reply(503, {"title": "Service Unavailable", "status": 503})]

    with pytest.raises(Transient, match="part 2 of") as caught:
        await channel.send(post(LONG), key="eff-1")
    assert "will not be posted again" in str(caught.value)
    [first_id] = x_api.tweets

    receipt = await channel.send(post(LONG), key="eff-1")

    ids = receipt.detail["ids"]
    assert ids[0] == first_id and len(ids) == len(x_api.tweets) >= 3
    assert [x_api.tweets[i]["reply_to"] for i in ids] == [None, *ids[:-1]]
    assert len({t["text"] for t in x_api.tweets.values()}) == len(ids)
    assert len(x_api.seen) == len(ids) + 1  # part 1 once, part 2 twice, the rest once


async def test_x_a_key_sent_twice_posts_once_even_at_the_same_moment(x_api: XApi) -> None:
    channel = x_channel(x_api)

    first, second = await asyncio.gather(channel.send(post(LONG), key="eff-1"), channel.send(post(LONG), key="eff-1"))
    third = await channel.send(post(LONG), key="eff-1")

    assert first == second == third
    assert len(x_api.seen) == len(x_api.tweets) == len(first.detail["ids"])


async def test_x_an_answer_lost_after_x_posted_ends_as_duplicate_content_never_as_a_second_post(
        x_api: XApi) -> None:
    channel = x_channel(x_api)
    x_api.script["tweets"] = [Reply(502, {"title": "Bad Gateway"}, after=True)]

    with pytest.raises(Transient):
        await channel.send(post(), key="eff-1")
    with pytest.raises(Permanent, match="duplicate"):
        await channel.send(post(), key="eff-1")

    assert len(x_api.tweets) == 1


# --- Bluesky ----------------------------------------------------------------------------------------

async def test_bluesky_signs_in_with_the_app_password_and_creates_the_post_under_its_did(pds: Pds) -> None:
    receipt = await bluesky_channel(pds).send(post(SHORT, account=BSKY_HANDLE), key="eff-1")

    assert pds.calls == [CREATE_SESSION, CREATE_RECORD]
    session, create = pds.seen
    assert session.json == {"identifier": BSKY_HANDLE, "password": APP_PASSWORD}
    body = create.json
    assert bearer(create) in pds.issued[:1]
    assert (body["repo"], body["collection"], body["rkey"]) == (BSKY_DID, POST_COLLECTION, record_key("eff-1/1"))
    record = body["record"]
    assert (record["$type"], record["text"], record["langs"]) == (POST_COLLECTION, SHORT, ["ja"])
    assert datetime.fromisoformat(record["createdAt"]) <= datetime.now(timezone.utc)
    assert "reply" not in record and "facets" not in record
    rkey = body["rkey"]
    assert receipt.ref == f"https://bsky.app/profile/{BSKY_DID}/post/{rkey}"
    assert receipt.detail["ids"] == [f"at://{BSKY_DID}/{POST_COLLECTION}/{rkey}"]
    assert receipt.detail["cids"] == [pds.records[rkey]["cid"]]


async def test_bluesky_thread_parts_reply_to_root_and_parent_and_keep_within_300_graphemes(pds: Pds) -> None:
    channel = bluesky_channel(pds)

    receipt = await channel.send(post(LONG, account=BSKY_HANDLE), key="eff-1")
    await channel.send(post(SHORT, account=BSKY_HANDLE), key="eff-2")

    assert pds.calls.count(CREATE_SESSION) == 1  # the session is reused (bsky.social limits sign-ins)
    records = pds.thread(receipt)
    texts = [r["value"]["text"] for r in records]
    assert len(texts) >= 3 and all(graphemes(text) <= 300 for text in texts)
    assert without_space("".join(body_of(text) for text in texts)) == without_space(LONG)
    assert "reply" not in records[0]["value"]
    root = {"uri": records[0]["uri"], "cid": records[0]["cid"]}
    for parent, child in itertools.pairwise(records):
        assert child["value"]["reply"] == {"root": root, "parent": {"uri": parent["uri"], "cid": parent["cid"]}}
    assert [r["uri"].rsplit("/", 1)[1] for r in records] == [record_key(f"eff-1/{n}")
                                                               for n in range(1, len(records) + 1)]


async def test_bluesky_link_facets_are_utf8_byte_ranges_that_slice_each_link_out_of_the_text(pds: Pds) -> None:
    text = f"給水所の一覧は{LINK}をご覧ください（英語：{LINK2} ）。地図→https://地図.example.jp/は対象外"
    receipt = await bluesky_channel(pds).send(post(text, account=BSKY_HANDLE), key="eff-1")

    [record] = pds.thread(receipt)
    stored = record["value"]["text"].encode("utf-8")
    found = []
    for facet in record["value"]["facets"]:
        start, end = facet["index"]["byteStart"], facet["index"]["byteEnd"]
        [feature] = facet["features"]
        assert feature["$type"] == "app.bsky.richtext.facet#link"
        assert stored[start:end].decode("utf-8") == feature["uri"]
        found.append(feature["uri"])
    assert found == [LINK, LINK2]  # https://地図… is no link to Bluesky's linkifier either
    assert record["value"]["facets"][0]["index"]["byteStart"] == len("給水所の一覧は".encode()) == 21


async def test_bluesky_a_post_of_exactly_300_graphemes_is_one_post_and_301_become_two(pds: Pds) -> None:
    channel = bluesky_channel(pds)
    family = "👨‍👩‍👧"  # one grapheme of five code points
    exactly = ("市" * 148 + family) * 2 + "。" * 2
    assert graphemes(exactly) == 300

    one = await channel.send(post(exactly, account=BSKY_HANDLE), key="eff-1")
    two = await channel.send(post(exactly + "！", account=BSKY_HANDLE), key="eff-2")

    assert [r["value"]["text"] for r in pds.thread(one)] == [exactly]
    texts = [r["value"]["text"] for r in pds.thread(two)]
    assert len(texts) == 2 and all(graphemes(t) <= 300 for t in texts)
    assert "".join(body_of(t) for t in texts) == exactly + "！"


async def test_bluesky_an_expired_access_token_is_refreshed_once_and_the_post_goes_out(pds: Pds) -> None:
    channel = bluesky_channel(pds)
    await channel.send(post(SHORT, account=BSKY_HANDLE), key="eff-1")
    pds.expire()

    receipt = await channel.send(post(TRICKY, account=BSKY_HANDLE), key="eff-2")

    assert pds.calls == [CREATE_SESSION, CREATE_RECORD, CREATE_RECORD, REFRESH_SESSION, CREATE_RECORD]
    refresh_seen = pds.seen[3]
    assert bearer(refresh_seen) == pds.issued[1] and refresh_seen.body == b""  # the refresh JWT, no body
    assert bearer(pds.seen[4]) == pds.issued[2]  # the new access JWT
    assert [r["value"]["text"] for r in pds.thread(receipt)] == [TRICKY]


async def test_bluesky_signs_in_again_when_the_refresh_token_expired_too(pds: Pds) -> None:
    channel = bluesky_channel(pds)
    await channel.send(post(SHORT, account=BSKY_HANDLE), key="eff-1")
    pds.expire(refresh=True)

    await channel.send(post(TRICKY, account=BSKY_HANDLE), key="eff-2")

    assert pds.calls[2:] == [CREATE_RECORD, REFRESH_SESSION, CREATE_SESSION, CREATE_RECORD]
    assert len(pds.records) == 2


async def test_bluesky_signs_in_again_once_when_the_pds_no_longer_knows_the_session(pds: Pds) -> None:
    channel = bluesky_channel(pds)
    await channel.send(post(SHORT, account=BSKY_HANDLE), key="eff-1")
    pds.access.clear()  # revoked, or the PDS restarted: InvalidToken, not ExpiredToken
    pds.refresh.clear()

    await channel.send(post(TRICKY, account=BSKY_HANDLE), key="eff-2")

    assert pds.calls[2:] == [CREATE_RECORD, CREATE_SESSION, CREATE_RECORD]
    assert len(pds.records) == 2


async def test_bluesky_a_revoked_app_password_is_refused_once_not_retried_in_a_loop(pds: Pds) -> None:
    channel = bluesky_channel(pds)
    await channel.send(post(SHORT, account=BSKY_HANDLE), key="eff-1")
    pds.access.clear()  # the account holder revoked the app password: its sessions and sign-in go
    pds.password = "revoked"

    with pytest.raises(Permanent, match="sign-in refused") as refused:
        await channel.send(post(TRICKY, account=BSKY_HANDLE), key="eff-2")
    assert refused.value.code == "credentials"
    assert pds.calls[2:] == [CREATE_RECORD, CREATE_SESSION]


@pytest.mark.parametrize("taken", list(TAKEN))
async def test_bluesky_a_part_that_went_out_before_its_answer_was_lost_is_found_not_posted_again(
        serve: Serve, taken: str) -> None:
    pds = Pds(taken=taken)
    await serve(pds)
    channel = bluesky_channel(pds, timeout=0.5)
    pds.script[CREATE_RECORD] = [None, Reply(200, after=True, hold=True)]

    with pytest.raises(Transient, match="part 2 of .*no answer in time"):
        await channel.send(post(LONG, account=BSKY_HANDLE), key="eff-1")
    assert len(pds.records) == 2  # part 2 is on the PDS although the channel never heard so

    receipt = await channel.send(post(LONG, account=BSKY_HANDLE), key="eff-1")

    records = pds.thread(receipt)
    assert len(records) == len(pds.records) >= 3
    assert pds.calls.count(GET_RECORD) == 1
    assert records[2]["value"]["reply"]["parent"] == {"uri": records[1]["uri"], "cid": records[1]["cid"]}


async def test_bluesky_a_gateway_error_after_the_pds_stored_the_part_is_checked_and_counted_as_posted(
        pds: Pds) -> None:
    pds.script[CREATE_RECORD] = [None, Reply(502, {"error": "UpstreamFailure", "message": "Bad Gateway"},
                                             after=True)]

    receipt = await bluesky_channel(pds).send(post(LONG, account=BSKY_HANDLE), key="eff-1")

    assert len(pds.thread(receipt)) == len(pds.records) >= 3
    assert pds.calls.count(GET_RECORD) == 1 and pds.calls.count(CREATE_RECORD) == len(pds.records)


async def test_bluesky_a_new_process_sending_a_finished_thread_again_posts_nothing_new(pds: Pds) -> None:
    first = await bluesky_channel(pds).send(post(LONG, account=BSKY_HANDLE), key="eff-1")
    records_before = dict(pds.records)

    again = await bluesky_channel(pds).send(post(LONG, account=BSKY_HANDLE), key="eff-1")

    assert pds.records == records_before
    assert again.detail["ids"] == first.detail["ids"] and again.detail["cids"] == first.detail["cids"]
    assert again.ref == first.ref


async def test_bluesky_a_record_key_that_holds_another_post_is_permanent(pds: Pds) -> None:
    await bluesky_channel(pds).send(post(SHORT, account=BSKY_HANDLE), key="eff-1")

    with pytest.raises(Permanent, match="already holds a different post"):
        await bluesky_channel(pds).send(post(TRICKY, account=BSKY_HANDLE), key="eff-1")

    assert len(pds.records) == 1


async def test_bluesky_a_server_error_on_a_free_record_key_stays_transient(pds: Pds) -> None:
    pds.script[CREATE_RECORD] = [Reply(500, {"error": "InternalServerError", "message": "Internal Server Error"})]

    with pytest.raises(Transient, match="500"):
        await bluesky_channel(pds).send(post(SHORT, account=BSKY_HANDLE), key="eff-1")

    assert pds.calls == [CREATE_SESSION, CREATE_RECORD, GET_RECORD] and pds.records == {}


async def test_bluesky_a_record_the_lexicon_refuses_is_permanent(pds: Pds) -> None:
    pds.script[CREATE_RECORD] = [Reply(400, {"error": "InvalidRequest", "message": "Invalid app.bsky.feed.post"})]

    with pytest.raises(Permanent, match="400"):
        await bluesky_channel(pds).send(post(SHORT, account=BSKY_HANDLE), key="eff-1")
    assert pds.records == {}


@pytest.mark.parametrize("method", [CREATE_SESSION, CREATE_RECORD])
async def test_bluesky_rate_limit_is_transient_until_ratelimit_reset(pds: Pds, method: str) -> None:
    pds.script[method] = [Reply(429, {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"},
                                {"ratelimit-limit": "30", "ratelimit-remaining": "0",
                                 "ratelimit-reset": in_seconds(300), "ratelimit-policy": "30;w=300"})]

    with pytest.raises(Transient, match="rate limited") as caught:
        await bluesky_channel(pds).send(post(SHORT, account=BSKY_HANDLE), key="eff-1")

    assert caught.value.retry_after == pytest.approx(300, abs=2)


async def test_bluesky_a_wrong_app_password_is_permanent(pds: Pds) -> None:
    with pytest.raises(Permanent, match="app password"):
        await bluesky_channel(pds, password="wxyz-wxyz-wxyz-wxyz").send(post(SHORT, account=BSKY_HANDLE),
                                                                         key="eff-1")
    assert pds.calls == [CREATE_SESSION]


# --- Mastodon ---------------------------------------------------------------------------------------

async def test_mastodon_posts_with_the_token_and_an_idempotency_key(mastodon: Mastodon) -> None:
    receipt = await mastodon_channel(mastodon).send(post(SHORT, account=MASTODON_HANDLE), key="eff-1")

    [seen] = mastodon.seen
    assert seen.headers["Authorization"] == f"Bearer {MASTODON_TOKEN}"
    assert seen.headers["Idempotency-Key"] == "eff-1/1"
    assert seen.json == {"status": SHORT, "visibility": "public", "language": "ja"}
    [(status_id, status)] = mastodon.statuses.items()
    assert status["text"] == SHORT
    assert receipt.ref == f"{mastodon.base}/@{MASTODON_HANDLE}/{status_id}"
    assert receipt.detail["ids"] == [status_id]


async def test_mastodon_threads_parts_within_500_characters_counting_links_as_23(mastodon: Mastodon) -> None:
    receipt = await mastodon_channel(mastodon).send(post(LONG, account=MASTODON_HANDLE), key="eff-1")

    ids = receipt.detail["ids"]
    statuses = [mastodon.statuses[i] for i in ids]
    texts = [s["text"] for s in statuses]
    assert len(texts) >= 2 and all(mastodon_length(t) <= 500 for t in texts)
    assert max(mastodon_length(t) for t in texts) > 400  # parts are filled, not cut short
    assert [s["in_reply_to_id"] for s in statuses] == [None, *ids[:-1]]
    assert [seen.headers["Idempotency-Key"] for seen in mastodon.seen] == [f"eff-1/{n}" for n in
                                                                          range(1, len(ids) + 1)]
    assert without_space("".join(body_of(t) for t in texts)) == without_space(LONG)


async def test_mastodon_a_part_sent_again_after_a_timeout_is_answered_by_its_idempotency_key(
        mastodon: Mastodon) -> None:
    channel = mastodon_channel(mastodon, timeout=0.5)
    mastodon.script["statuses"] = [None, Reply(200, after=True, hold=True)]

    with pytest.raises(Transient, match="part 2 of .*no answer in time"):
        await channel.send(post(LONG, account=MASTODON_HANDLE), key="eff-1")
    assert len(mastodon.statuses) == 2  # part 2 went out; its answer never came

    receipt = await channel.send(post(LONG, account=MASTODON_HANDLE), key="eff-1")

    assert len(mastodon.statuses) == len(receipt.detail["ids"]) == 2
    assert [seen.headers["Idempotency-Key"] for seen in mastodon.seen] == ["eff-1/1", "eff-1/2", "eff-1/2"]


async def test_mastodon_a_new_process_sending_a_finished_thread_again_gets_the_same_statuses(
        mastodon: Mastodon) -> None:
    first = await mastodon_channel(mastodon).send(post(LONG, account=MASTODON_HANDLE), key="eff-1")
    count = len(mastodon.statuses)

    again = await mastodon_channel(mastodon).send(post(LONG, account=MASTODON_HANDLE), key="eff-1")

    assert len(mastodon.statuses) == count
    assert again.detail["ids"] == first.detail["ids"] and again.ref == first.ref


async def test_mastodon_text_the_instance_refuses_with_422_is_permanent(mastodon: Mastodon) -> None:
    channel = mastodon_channel(mastodon, max_characters=1000)  # configured above what the instance allows

    with pytest.raises(Permanent, match="422"):
        await channel.send(post(LONG, account=MASTODON_HANDLE), key="eff-1")

    assert mastodon.statuses == {}


async def test_mastodon_rate_limit_is_transient_until_the_iso_time_in_x_ratelimit_reset(mastodon: Mastodon) -> None:
    reset = (datetime.now(timezone.utc) + timedelta(seconds=90)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    mastodon.script["statuses"] = [Reply(429, {"error": "Too many requests"},
                                         {"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "0",
                                          "X-RateLimit-Reset": reset})]

    with pytest.raises(Transient, match="429") as caught:
        await mastodon_channel(mastodon).send(post(SHORT, account=MASTODON_HANDLE), key="eff-1")

    assert caught.value.retry_after == pytest.approx(90, abs=2)


async def test_mastodon_a_refused_token_is_permanent_and_a_server_error_transient(mastodon: Mastodon) -> None:
    with pytest.raises(Permanent, match="401"):
        await mastodon_channel(mastodon, token="revoked").send(post(SHORT, account=MASTODON_HANDLE), key="eff-1")

    mastodon.script["statuses"] = [Reply(503, {"error": "Service Unavailable"}, {"Retry-After": "30"})]
    with pytest.raises(Transient, match="503") as caught:
        await mastodon_channel(mastodon).send(post(SHORT, account=MASTODON_HANDLE), key="eff-1")
    assert caught.value.retry_after == 30 and mastodon.statuses == {}


# --- Across platforms --------------------------------------------------------------------------------

@pytest.mark.parametrize("platform", ["x", "bluesky", "mastodon"])
async def test_japanese_text_arrives_exactly_as_written(real: Any, platform: str) -> None:
    channel, server, handle = await real(platform)

    await channel.send(post(TRICKY, account=handle), key="eff-1")

    stored = {"x": lambda: [t["text"] for t in server.tweets.values()],
              "bluesky": lambda: [r["value"]["text"] for r in server.records.values()],
              "mastodon": lambda: [s["text"] for s in server.statuses.values()]}[platform]()
    assert stored == [TRICKY]


def leaked(secrets_: list[str], texts: list[str]) -> list[str]:
    return [s for s in secrets_ if s and any(s in text for text in texts)]


def shown(outcomes: list[Receipt | DeliveryError]) -> list[str]:
    texts = []
    for outcome in outcomes:
        if isinstance(outcome, Receipt):
            texts += [str(outcome), repr(outcome), str(outcome.detail), str(outcome.ref)]
        else:
            texts += [str(outcome), repr(outcome), outcome.reason, repr(outcome.args)]
    return texts


async def outcomes_of(*sends: Awaitable[Receipt]) -> list[Receipt | DeliveryError]:
    results: list[Receipt | DeliveryError] = []
    for send in sends:
        try:
            results.append(await send)
        except DeliveryError as exc:
            results.append(exc)
    return results


async def test_no_x_secret_shows_in_errors_receipts_logs_or_reprs(serve: Serve) -> None:
    bearer_api, oauth_api = XApi(), XApi(oauth1=True)
    await serve(bearer_api)
    await serve(oauth_api)
    echo = {"title": "Unauthorized", "status": 401, "detail": f"token {X_BEARER} / {CONSUMER_SECRET}"}
    bearer_api.script["tweets"] = [None, Reply(401, echo), Reply(429, echo, {"x-rate-limit-reset": in_seconds(5)}),
                                   Reply(503, echo)]
    oauth_api.script["tweets"] = [None, Reply(403, {**X_DUPLICATE, "detail": f"duplicate {ACCESS_TOKEN}"})]
    bearer, oauth, wrong = x_channel(bearer_api), x_oauth1_channel(oauth_api), x_channel(bearer_api, token="wrong-tk")
    badly_signed = x_oauth1_channel(oauth_api, consumer_secret="cs-wrong-secret")

    with capture_logs() as logs:
        outcomes = await outcomes_of(
            bearer.send(post(), key="a"), bearer.send(post(TRICKY), key="b"), bearer.send(post(TRICKY), key="c"),
            bearer.send(post(TRICKY), key="d"), wrong.send(post(TRICKY), key="e"),
            oauth.send(post(), key="a"), oauth.send(post(TRICKY), key="b"), badly_signed.send(post(LONG), key="c"))

    assert sum(isinstance(o, Receipt) for o in outcomes) == 2 and len(outcomes) == 8
    signed = [seen.headers["Authorization"] for seen in oauth_api.seen]
    signatures = [re.search(r'oauth_signature="([^"]+)"', h)[1] for h in signed]  # type: ignore[index]
    secrets_ = [X_BEARER, "wrong-tk", CONSUMER_KEY, CONSUMER_SECRET, ACCESS_TOKEN, ACCESS_SECRET, "cs-wrong-secret",
                *signed, *signatures, *(unquote(s) for s in signatures)]
    configs = [bearer._config, oauth._config]  # noqa: SLF001 - the config objects are what operators print
    texts = shown(outcomes) + [repr(logs)] + [repr(c) for c in configs] + [str(c) for c in configs]
    texts += [repr(ch) for ch in (bearer, oauth)] + [repr(vars(ch)) for ch in (bearer, oauth)]
    assert leaked(secrets_, texts) == []


async def test_no_bluesky_secret_shows_in_errors_receipts_logs_or_reprs(serve: Serve) -> None:
    pds = Pds()
    await serve(pds)
    channel = bluesky_channel(pds)
    echo = {"error": "InvalidRequest", "message": f"bad password {APP_PASSWORD}"}

    with capture_logs() as logs:
        outcomes = [*await outcomes_of(channel.send(post(LONG, account=BSKY_HANDLE), key="a"))]
        pds.expire()
        pds.script[CREATE_RECORD] = [Reply(400, echo), Reply(429, echo, {"ratelimit-reset": in_seconds(9)})]
        outcomes += await outcomes_of(
            channel.send(post(TRICKY, account=BSKY_HANDLE), key="b"),
            channel.send(post(TRICKY, account=BSKY_HANDLE), key="c"),
            channel.send(post(TRICKY, account=BSKY_HANDLE), key="d"),
            bluesky_channel(pds, password="wxyz-wxyz-wxyz-wxyz").send(post(SHORT, account=BSKY_HANDLE), key="e"))

    assert [type(o).__name__ for o in outcomes] == ["Receipt", "Permanent", "Transient", "Receipt", "Permanent"]
    assert len(pds.issued) == 4  # two sessions' worth of JWTs went over the wire
    secrets_ = [APP_PASSWORD, "wxyz-wxyz-wxyz-wxyz", *pds.issued]
    texts = shown(outcomes) + [repr(logs), repr(channel), repr(vars(channel)), repr(channel._config)]  # noqa: SLF001
    assert leaked(secrets_, texts) == []


async def test_no_mastodon_secret_shows_in_errors_receipts_logs_or_reprs(mastodon: Mastodon) -> None:
    channel = mastodon_channel(mastodon)
    echo = {"error": f"token {MASTODON_TOKEN} refused"}
    mastodon.script["statuses"] = [None, Reply(422, echo), Reply(429, echo), Reply(500, echo)]

    with capture_logs() as logs:
        outcomes = await outcomes_of(
            channel.send(post(SHORT, account=MASTODON_HANDLE), key="a"),
            channel.send(post(TRICKY, account=MASTODON_HANDLE), key="b"),
            channel.send(post(TRICKY, account=MASTODON_HANDLE), key="c"),
            channel.send(post(TRICKY, account=MASTODON_HANDLE), key="d"),
            mastodon_channel(mastodon, token="mastodon-wrong-token").send(post(TRICKY, account=MASTODON_HANDLE),
                                                                          key="e"))

    assert [type(o).__name__ for o in outcomes] == ["Receipt", "Permanent", "Transient", "Transient", "Permanent"]
    texts = shown(outcomes) + [repr(logs), repr(channel), repr(vars(channel)), repr(channel._config)]  # noqa: SLF001
    assert leaked([MASTODON_TOKEN, "mastodon-wrong-token"], texts) == []
