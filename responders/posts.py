"""Official posts on the city's own accounts — statements (公式見解), corrections (訂正) and
holding statements (対応中のお知らせ) — on X, Bluesky and Mastodon.

A channel splits the text into a numbered thread by its platform's rules (`responders.textsplit`),
posts the parts as a reply chain and answers a `Receipt` whose ref is the web address of the
first post. A drill (訓練) never reaches a real platform: real channels refuse it, and
`DryRunChannel`, the channel to use until credentials are configured, records instead.

Resuming a thread: a channel remembers in memory, per key, the parts already out, so a retry
after part 3 of 4 failed goes on with part 3 instead of posting 1–2 again. That memory dies with
the process; across restarts the responder's own store of finished keys keeps a thread from being
started twice, and each part carries the key where the platform can use it — Mastodon's
`Idempotency-Key` (kept an hour) and a Bluesky record key derived from it — so a part that went
out just before a crash is found again rather than duplicated. X has nothing of the kind: it
refuses the same text twice, which the channel reports as a Permanent error to check by hand.

No token, password or signed header goes into an exception, a log line or a receipt.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
import base64
import hashlib
import hmac
import re
import secrets
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal, Protocol
from urllib.parse import parse_qsl, quote, urlsplit

import aiohttp
import structlog

from vocabulary.settings import Secret
from vocabulary.waits import retry_after_seconds
from responders.base import ALWAYS, DeliveryError, Permanent, Receipt, Transient, http_error
from responders.textsplit import Platform, bluesky_facets, fits, split_thread, urls

log = structlog.get_logger(__name__)

Kind = Literal["statement", "correction", "holding"]
KINDS: tuple[Kind, ...] = ("statement", "correction", "holding")
REMEMBERED_THREADS = 1024  # keys whose progress a channel keeps in memory
POST_COLLECTION = "app.bsky.feed.post"
LANGUAGE = "ja"
_TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"  # base32-sortable
_TID_EPOCH_MICROS = 1_672_531_200_000_000  # 2023-01-01T00:00:00Z


@dataclass(frozen=True, slots=True)
class Post:
    """One official post: the account it goes out on (its handle), the text, what kind it is.

    `source_url`, the official page with the full information (正しい情報…リンクを掲載), is
    appended on its own line unless the text already links it. A `drill` is posted only by
    a DryRunChannel.
    """

    account: str
    text: str
    kind: Kind = "statement"
    source_url: str | None = None
    drill: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind {self.kind!r}: expected one of {', '.join(KINDS)}")
        if not self.text.strip():
            raise ValueError("a post needs text")
        if self.source_url is not None and urls(self.source_url) != [self.source_url]:
            raise ValueError(f"source_url {self.source_url!r}: expected one http(s) URL")

    @property
    def body(self) -> str:
        """The text as posted: with `source_url` appended when the text does not link it yet."""
        if self.source_url is None or self.source_url in urls(self.text):
            return self.text
        return f"{self.text.rstrip()}\n{self.source_url}"


class PostChannel(Protocol):
    """Where official posts go: a platform account, or a dry run of one."""

    name: str

    async def send(self, post: Post, *, key: str) -> Receipt: ...


@dataclass(frozen=True)
class OAuth1Keys:
    """OAuth 1.0a user-context keys of an X app and account (what many municipalities hold)."""

    consumer_key: Secret
    consumer_secret: Secret
    access_token: Secret
    access_token_secret: Secret


@dataclass(frozen=True)
class XConfig:
    """An X account: either an OAuth 2.0 user-context token (scope tweet.write) or OAuth 1.0a keys."""

    account: str  # the handle, e.g. "city_example" (an "@" is ignored)
    bearer_token: Secret = Secret("")
    oauth1: OAuth1Keys | None = None
    api_url: str = "https://api.x.com"
    web_url: str = "https://x.com"
    timeout: float = 30.0

    def __post_init__(self) -> None:
        if bool(self.bearer_token) == (self.oauth1 is not None):
            raise ValueError("XConfig needs either bearer_token (OAuth 2.0) or oauth1 keys, exactly one")


@dataclass(frozen=True)
class BlueskyConfig:
    """A Bluesky account: its handle and an app password (アプリパスワード, never the main one)."""

    account: str  # the handle, e.g. "city.example.jp"; also the sign-in identifier
    app_password: Secret
    pds_url: str = "https://bsky.social"
    web_url: str = "https://bsky.app"
    timeout: float = 30.0


@dataclass(frozen=True)
class MastodonConfig:
    """A Mastodon account: its instance, an access token with write:statuses, the instance's limit."""

    account: str  # the handle as Post.account names it, e.g. "city" or "@city@social.example.jp"
    instance_url: str
    access_token: Secret
    max_characters: int = 500
    timeout: float = 30.0


class DryRunChannel:
    """Posts nothing: splits exactly as the real channel would and records the parts in `posted`.

    The channel to use until an account's credentials are configured, and the only one that
    accepts a drill. A key already sent is answered with its first receipt.
    """

    dedup_window_s = ALWAYS  # nothing leaves the process: doing it again reaches no one twice

    def __init__(self, platform: Platform, *, limit: int | None = None) -> None:
        self.platform: Platform = platform
        self.name = f"{platform}:dry-run"
        self.posted: list[tuple[str, Post, list[str]]] = []
        self._limit = limit
        self._threads: OrderedDict[str, _Thread] = OrderedDict()

    async def send(self, post: Post, *, key: str) -> Receipt:
        parts = _plan(self.name, post, self.platform, self._limit)
        thread = _remember(self._threads, self.name, key, parts)
        if thread.receipt is None:
            self.posted.append((key, post, parts))
            thread.receipt = Receipt(
                self.name, detail={"dry_run": True, "kind": post.kind, "drill": post.drill, "parts": parts}
            )
            log.info("post_dry_run", channel=self.name, key=key, parts=len(parts), drill=post.drill)
        return thread.receipt


def channel_for(
    platform: Platform, config: XConfig | BlueskyConfig | MastodonConfig | None = None
) -> PostChannel:
    """The real channel for `config`, or a DryRunChannel while no credentials are configured."""
    if config is None:
        return DryRunChannel(platform)
    if platform == "x" and isinstance(config, XConfig):
        return XChannel(config)
    if platform == "bluesky" and isinstance(config, BlueskyConfig):
        return BlueskyChannel(config)
    if platform == "mastodon" and isinstance(config, MastodonConfig):
        return MastodonChannel(config)
    raise ValueError(f"{type(config).__name__} does not configure a {platform} account")


@dataclass(frozen=True, slots=True)
class _Published:
    id: str  # X post id, Mastodon status id, Bluesky at:// URI
    url: str  # where a person sees it
    cid: str | None = None  # Bluesky: the record's CID, needed to reply to it


@dataclass(slots=True)
class _Thread:
    parts: list[str]
    published: list[_Published] = field(default_factory=list)
    receipt: Receipt | None = None


def _plan(channel: str, post: Post, platform: Platform, limit: int | None) -> list[str]:
    parts = split_thread(post.body, platform, limit)
    for index, part in enumerate(parts, 1):
        if not fits(part, platform, limit):
            raise Permanent(
                channel,
                f"part {index} of {len(parts)} is over the {platform} limit even when split: "
                "a link in the text is longer than a whole post",
            )
    return parts


def _remember(threads: OrderedDict[str, _Thread], channel: str, key: str, parts: list[str]) -> _Thread:
    thread = threads.get(key)
    if thread is None:
        thread = threads[key] = _Thread(parts)
        while len(threads) > REMEMBERED_THREADS:
            threads.popitem(last=False)
    elif thread.parts != parts:
        raise Permanent(channel, f"key {key!r} was already used for a different text")
    threads.move_to_end(key)
    return thread


def _handle(account: str) -> str:
    return account.strip().lstrip("@").lower()


class _ThreadChannel(ABC):
    """What the three platforms share: checks, the plan, the reply chain, resuming, the receipt."""

    platform: Platform

    def __init__(self, name: str, account: str, *, limit: int | None, timeout: float) -> None:
        self.name = name
        self._account = account
        self._limit = limit
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._threads: OrderedDict[str, _Thread] = OrderedDict()
        # One thread at a time per account: parts of two threads never interleave, and a
        # repeated key waits for the first attempt instead of racing it.
        self._lock = asyncio.Lock()

    async def send(self, post: Post, *, key: str) -> Receipt:
        if post.drill:
            raise Permanent(self.name, "a drill (訓練) is never posted to a real account: use a DryRunChannel")
        if _handle(post.account) != _handle(self._account):
            raise Permanent(self.name, f"the post is for {post.account}, this channel posts as {self._account}")
        parts = _plan(self.name, post, self.platform, self._limit)
        async with self._lock:
            thread = _remember(self._threads, self.name, key, parts)
            if thread.receipt is None:
                await self._publish(key, thread)
                thread.receipt = Receipt(
                    self.name,
                    ref=thread.published[0].url,
                    detail={
                        "account": self._account,
                        "kind": post.kind,
                        "ids": [part.id for part in thread.published],
                        "urls": [part.url for part in thread.published],
                        **({"cids": [part.cid for part in thread.published]} if self.platform == "bluesky" else {}),
                    },
                )
            return thread.receipt

    async def _publish(self, key: str, thread: _Thread) -> None:
        total = len(thread.parts)
        if thread.published:
            log.info("thread_resumed", channel=self.name, key=key, part=len(thread.published) + 1, parts=total)
        async with aiohttp.ClientSession(timeout=self._timeout) as http:
            for index in range(len(thread.published), total):
                where = f"part {index + 1} of {total}"
                if index:
                    where += f" (parts 1–{index} are out and will not be posted again)"
                try:
                    published = await self._post_part(http, key, index, thread)
                except DeliveryError as exc:
                    raise type(exc)(self.name, f"{where}: {exc.reason}", retry_after=exc.retry_after) from None
                except TimeoutError:
                    raise Transient(self.name, f"{where}: no answer in time") from None
                except aiohttp.ClientError as exc:
                    raise Transient(self.name, f"{where}: connection failed ({type(exc).__name__})") from None
                thread.published.append(published)
                log.info(
                    "post_part_published", channel=self.name, key=key, part=index + 1, parts=total, url=published.url
                )

    @abstractmethod
    async def _post_part(self, http: aiohttp.ClientSession, key: str, index: int, thread: _Thread) -> _Published:
        """Post part `index` of `thread` (replying to the part before) and say where it is."""


class XChannel(_ThreadChannel):
    """Posts on X through API v2 `POST /2/tweets`, later parts replying to the one before."""

    platform: Platform = "x"
    #: X has no idempotency key: a post cut off by a crash is reported as possibly sent, not resent.
    dedup_window_s = 0.0

    def __init__(self, config: XConfig) -> None:
        super().__init__("x", config.account, limit=None, timeout=config.timeout)
        self._config = config
        self._endpoint = config.api_url.rstrip("/") + "/2/tweets"

    async def _post_part(self, http: aiohttp.ClientSession, key: str, index: int, thread: _Thread) -> _Published:
        payload: dict[str, Any] = {"text": thread.parts[index]}
        if index:
            payload["reply"] = {"in_reply_to_tweet_id": thread.published[index - 1].id}
        if self._config.oauth1 is not None:
            authorization = oauth1_authorization("POST", self._endpoint, self._config.oauth1)
        else:
            authorization = f"Bearer {self._config.bearer_token.value}"
        status, body, headers = await _call(
            http, "POST", self._endpoint, headers={"Authorization": authorization}, json=payload
        )
        if status in (200, 201):
            data = body.get("data")
            post_id = str(data.get("id") or "") if isinstance(data, dict) else ""
            if not post_id:
                raise Permanent(self.name, "X accepted the post without saying its id: check the account")
            return _Published(post_id, f"{self._config.web_url.rstrip('/')}/{_handle(self._account)}/status/{post_id}")
        raise self._error(status, body, headers)

    def _error(self, status: int, body: Mapping[str, Any], headers: Mapping[str, str]) -> DeliveryError:
        if status == 429:
            reset = headers.get("x-rate-limit-reset")
            if headers.get("x-user-limit-24hour-remaining") == "0":
                reset = headers.get("x-user-limit-24hour-reset") or reset
            wait = _until_epoch(reset)
            return Transient(
                self.name,
                "rate limited (HTTP 429)",
                retry_after=wait if wait is not None else retry_after_seconds(headers.get("retry-after"), time.time()),
            )
        if status == 401:
            return Permanent(self.name, "HTTP 401 (X refused the credentials: renew the token or keys)")
        if status == 403 and "duplicate" in str(body.get("detail", "")).lower():
            return Permanent(
                self.name,
                "HTTP 403 (X refuses duplicate content: this text is already on the account; "
                "if an earlier attempt timed out it went out then — check before posting again)",
            )
        if status == 403:
            return Permanent(self.name, "HTTP 403 (forbidden: does the app have write permission?)")
        return http_error(self.name, status, headers.get("retry-after"))


class BlueskyChannel(_ThreadChannel):
    """Posts on Bluesky: signs in once with the app password, then `createRecord` per part.

    Each part's record key is a TID derived from the key (`record_key`), so posting a part
    again after a crash collides with the record already there, which is then taken as done.
    """

    platform: Platform = "bluesky"
    dedup_window_s = ALWAYS  # the record key comes from the key: a repeat finds the post it made

    def __init__(self, config: BlueskyConfig) -> None:
        super().__init__("bluesky", config.account, limit=None, timeout=config.timeout)
        self._config = config
        self._xrpc_url = config.pds_url.rstrip("/") + "/xrpc/"
        self._session: _AtSession | None = None

    async def _post_part(self, http: aiohttp.ClientSession, key: str, index: int, thread: _Thread) -> _Published:
        session = await self._signed_in(http)
        text = thread.parts[index]
        rkey = record_key(f"{key}/{index + 1}")
        record: dict[str, Any] = {
            "$type": POST_COLLECTION,
            "text": text,
            "createdAt": datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "langs": [LANGUAGE],
        }
        facets = bluesky_facets(text)
        if facets:
            record["facets"] = facets
        if index:
            root, parent = thread.published[0], thread.published[index - 1]
            record["reply"] = {
                "root": {"uri": root.id, "cid": root.cid},
                "parent": {"uri": parent.id, "cid": parent.cid},
            }
        status, body, headers = await self._xrpc(
            http,
            "com.atproto.repo.createRecord",
            json={"repo": session.did, "collection": POST_COLLECTION, "rkey": rkey, "record": record},
        )
        if status == 200:
            return self._published(body)
        # A taken record key is answered 500 by the reference PDS, 409 or 400 by others, under
        # names that vary (RecordAlreadyExists, InvalidRequest…): looking the key up tells for sure.
        if status in (400, 409) or status >= 500:
            existing = await self._existing(http, rkey, text)
            if existing is not None:
                return existing
        raise self._error(status, body, headers, "posting")

    async def _existing(self, http: aiohttp.ClientSession, rkey: str, text: str) -> _Published | None:
        session = await self._signed_in(http)
        status, body, _ = await self._xrpc(
            http, "com.atproto.repo.getRecord", params={"repo": session.did, "collection": POST_COLLECTION, "rkey": rkey}
        )
        if status != 200:
            return None
        value = body.get("value")
        if not isinstance(value, dict) or value.get("text") != text:
            raise Permanent(self.name, f"record key {rkey} already holds a different post")
        return self._published(body)

    def _published(self, body: Mapping[str, Any]) -> _Published:
        uri, cid = body.get("uri"), body.get("cid")
        if not isinstance(uri, str) or not isinstance(cid, str) or not uri.startswith("at://"):
            raise Permanent(self.name, "the PDS accepted the post without saying its URI: check the account")
        did, _, rkey = uri.removeprefix("at://").partition(f"/{POST_COLLECTION}/")
        return _Published(uri, f"{self._config.web_url.rstrip('/')}/profile/{did}/post/{rkey}", cid)

    async def _xrpc(
        self,
        http: aiohttp.ClientSession,
        method: str,
        *,
        json: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, Any], Mapping[str, str]]:
        """Call `method` with the session's access token: refreshed once if it expired, and
        signed in afresh once if the PDS no longer knows it (revoked, or the PDS restarted)."""
        session = await self._signed_in(http)
        answer = await self._call_as(http, session, method, json, params)
        error = _xrpc_error(answer[1]) if answer[0] in (400, 401) else ""
        if error == "ExpiredToken":
            session = await self._refreshed(http, session)
            answer = await self._call_as(http, session, method, json, params)
        elif error in ("InvalidToken", "AuthenticationRequired"):
            self._session = None
            session = await self._signed_in(http)
            answer = await self._call_as(http, session, method, json, params)
        return answer

    async def _call_as(
        self,
        http: aiohttp.ClientSession,
        session: _AtSession,
        method: str,
        json: dict[str, Any] | None,
        params: dict[str, str] | None,
    ) -> tuple[int, dict[str, Any], Mapping[str, str]]:
        return await _call(
            http,
            "POST" if json is not None else "GET",
            self._xrpc_url + method,
            headers={"Authorization": f"Bearer {session.access.value}"},
            json=json,
            params=params,
        )

    async def _signed_in(self, http: aiohttp.ClientSession) -> _AtSession:
        # Sessions are reused: bsky.social allows only a few createSession calls an hour.
        if self._session is None:
            status, body, headers = await _call(
                http,
                "POST",
                self._xrpc_url + "com.atproto.server.createSession",
                json={"identifier": self._config.account, "password": self._config.app_password.value},
            )
            if status != 200:
                raise self._error(status, body, headers, "sign-in")
            self._session = self._session_from(body)
        return self._session

    async def _refreshed(self, http: aiohttp.ClientSession, session: _AtSession) -> _AtSession:
        status, body, headers = await _call(
            http,
            "POST",
            self._xrpc_url + "com.atproto.server.refreshSession",
            headers={"Authorization": f"Bearer {session.refresh.value}"},
        )
        if status == 200:
            self._session = self._session_from(body)
            return self._session
        if status in (400, 401):  # the refresh token expired or was revoked: sign in afresh
            self._session = None
            return await self._signed_in(http)
        raise self._error(status, body, headers, "session refresh")

    def _session_from(self, body: Mapping[str, Any]) -> _AtSession:
        did, access, refresh = body.get("did"), body.get("accessJwt"), body.get("refreshJwt")
        if not (isinstance(did, str) and isinstance(access, str) and isinstance(refresh, str)):
            raise Permanent(self.name, "the PDS answered sign-in without a session")
        return _AtSession(did, Secret(access), Secret(refresh))

    def _error(
        self, status: int, body: Mapping[str, Any], headers: Mapping[str, str], what: str
    ) -> DeliveryError:
        name = _xrpc_error(body)
        if status == 429:
            wait = _until_epoch(headers.get("ratelimit-reset"))
            return Transient(
                self.name,
                f"{what}: rate limited (HTTP 429)",
                retry_after=wait if wait is not None else retry_after_seconds(headers.get("retry-after"), time.time()),
            )
        if status == 401 and what == "sign-in":
            return Permanent(self.name, "sign-in refused (HTTP 401): check the handle and the app password")
        return http_error(self.name, status, headers.get("retry-after"), f"{what}: {name}" if name else what)


@dataclass(frozen=True, slots=True)
class _AtSession:
    did: str
    access: Secret
    refresh: Secret


class MastodonChannel(_ThreadChannel):
    """Posts on Mastodon through `POST /api/v1/statuses`, each part with its own Idempotency-Key."""

    platform: Platform = "mastodon"
    #: Mastodon keeps an `Idempotency-Key` for an hour: a repeat within it returns the first status.
    dedup_window_s = 3600.0

    def __init__(self, config: MastodonConfig) -> None:
        super().__init__("mastodon", config.account, limit=config.max_characters, timeout=config.timeout)
        self._config = config
        self._endpoint = config.instance_url.rstrip("/") + "/api/v1/statuses"

    async def _post_part(self, http: aiohttp.ClientSession, key: str, index: int, thread: _Thread) -> _Published:
        payload: dict[str, Any] = {"status": thread.parts[index], "visibility": "public", "language": LANGUAGE}
        if index:
            payload["in_reply_to_id"] = thread.published[index - 1].id
        status, body, headers = await _call(
            http,
            "POST",
            self._endpoint,
            headers={
                "Authorization": f"Bearer {self._config.access_token.value}",
                "Idempotency-Key": f"{key}/{index + 1}",
            },
            json=payload,
        )
        if status == 200:
            status_id, url = body.get("id"), body.get("url") or body.get("uri")
            if not isinstance(status_id, str) or not isinstance(url, str):
                raise Permanent(self.name, "the instance accepted the post without saying its id: check the account")
            return _Published(status_id, url)
        if status == 429:
            wait = _until_iso(headers.get("x-ratelimit-reset"))
            raise Transient(
                self.name,
                "rate limited (HTTP 429)",
                retry_after=wait if wait is not None else retry_after_seconds(headers.get("retry-after"), time.time()),
            )
        if status == 401:
            raise Permanent(self.name, "HTTP 401 (the instance refused the access token)")
        if status == 422:
            raise Permanent(self.name, "HTTP 422 (the instance refused the text: too long, or a bad reply id)")
        raise http_error(self.name, status, headers.get("retry-after"))


def record_key(key: str) -> str:
    """A TID — the record key Bluesky expects for a post — that depends on `key` alone.

    13 base32-sortable characters: 53 bits of microseconds and a 10-bit clock id, here all
    from a hash of the key. The time lies in 2023–24, never in the future, so the key sorts
    as an old record; apps order posts by their createdAt, not by the record key.
    """
    digest = int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "big")
    micros = _TID_EPOCH_MICROS + (digest >> 10) % (1 << 45)
    value = (micros << 10) | (digest & 0x3FF)
    return "".join(_TID_ALPHABET[(value >> shift) & 31] for shift in range(60, -1, -5))


def oauth1_authorization(
    method: str,
    url: str,
    keys: OAuth1Keys,
    *,
    params: Sequence[tuple[str, str]] = (),
    nonce: str | None = None,
    timestamp: int | None = None,
) -> str:
    """The `Authorization` header of an OAuth 1.0a request signed with HMAC-SHA1 (RFC 5849).

    `params` are form-encoded body parameters, which are signed too; a JSON body is not.
    Query parameters of `url` are signed as the RFC says.
    """
    oauth = {
        "oauth_consumer_key": keys.consumer_key.value,
        "oauth_nonce": nonce or secrets.token_hex(16),
        "oauth_signature_method": "HMAC-SHA1",
        "oauth_timestamp": str(int(time.time()) if timestamp is None else timestamp),
        "oauth_token": keys.access_token.value,
        "oauth_version": "1.0",
    }
    parts = urlsplit(url)
    pairs = [*parse_qsl(parts.query, keep_blank_values=True), *params, *oauth.items()]
    normalized = "&".join(f"{name}={value}" for name, value in sorted((_pct(n), _pct(v)) for n, v in pairs))
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if parts.port is not None and (scheme, parts.port) not in (("http", 80), ("https", 443)):
        host = f"{host}:{parts.port}"
    base = "&".join((method.upper(), _pct(f"{scheme}://{host}{parts.path or '/'}"), _pct(normalized)))
    signing_key = f"{_pct(keys.consumer_secret.value)}&{_pct(keys.access_token_secret.value)}"
    digest = hmac.new(signing_key.encode(), base.encode(), hashlib.sha1).digest()
    oauth["oauth_signature"] = base64.b64encode(digest).decode()
    return "OAuth " + ", ".join(f'{_pct(name)}="{_pct(value)}"' for name, value in sorted(oauth.items()))


def _pct(value: str) -> str:
    """RFC 5849 §3.6 percent-encoding: everything but ALPHA, DIGIT and -._~ as %XX of UTF-8."""
    return quote(value, safe="-._~")


async def _call(
    http: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    json: dict[str, Any] | None = None,
    params: dict[str, str] | None = None,
) -> tuple[int, dict[str, Any], Mapping[str, str]]:
    """Status, JSON object body ({} when there is none) and headers of one request."""
    async with http.request(method, url, headers=headers, json=json, params=params) as response:
        try:
            body = await response.json(content_type=None)
        except ValueError:
            body = None
        return response.status, body if isinstance(body, dict) else {}, response.headers


def _xrpc_error(body: Mapping[str, Any]) -> str:
    """The XRPC error name (ExpiredToken, InvalidRequest…) when it is a plain word, else ""."""
    name = body.get("error")
    return name if isinstance(name, str) and re.fullmatch(r"[A-Za-z]{1,64}", name) else ""


def _until_epoch(value: str | None) -> float | None:
    """Seconds until an epoch-seconds reset header (X, Bluesky); None if absent or unreadable."""
    try:
        return max(0.0, float(value) - time.time()) if value else None
    except ValueError:
        return None


def _until_iso(value: str | None) -> float | None:
    """Seconds until an ISO 8601 reset header (Mastodon's X-RateLimit-Reset); None if unreadable."""
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())
