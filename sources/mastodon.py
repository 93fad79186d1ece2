"""Mastodon streaming (server-sent events) as a source: statuses that concern the municipality, as contract events.

It owns one SSE connection per followed timeline (a hashtag, or an instance's public
timeline filtered by relevance), the REST backfill of what a reconnect missed (the stream
has no cursor, so the highest status id seen per timeline is kept instead), and naming
statuses so that the same post gets the same id on every instance it reaches.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Container, Mapping
from dataclasses import dataclass, replace
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Literal

import aiohttp
import orjson
import structlog
from yarl import URL

from vocabulary.settings import Secret
from vocabulary.contract import OfficialAccount, Profile
from vocabulary.waits import Backoff
from sources.base import (
    USER_AGENT,
    BoundedMap,
    Cursor,
    Relevance,
    Sink,
    Unusable,
    event_time,
    need_object,
    need_text,
    nonnegative,
    optional_time,
    run_until_stopped,
    sleep_or_stop,
    wait_asked,
)

log = structlog.get_logger(__name__)

SOURCE = "mastodon-stream"
MAX_EVENT_BYTES = 1 << 20  # a status is a few KB; a line longer than this is a broken stream
REMEMBERED = 50_000  # statuses remembered, for naming reply targets and keeping threads


@dataclass(frozen=True)
class MastodonInstance:
    """One Mastodon server and what to follow on it."""

    url: str  # e.g. "https://mstdn.jp"
    #: Hashtag timelines (without #); None follows the profile's watch and disaster hashtags.
    hashtags: tuple[str, ...] | None = None
    #: Also the public timeline, whose statuses are kept only when they concern the city.
    public: bool = False
    #: Only statuses posted on this server (…/local timelines), not the federated ones it knows.
    local: bool = False
    token: Secret = Secret("")  # an access token, when the server wants one for its timelines
    #: The server's `urls.streaming_api`, when it streams from another host than `url`.
    streaming_url: str = ""

    @property
    def host(self) -> str:
        return (URL(self.url).host or "").lower()


@dataclass(frozen=True)
class MastodonConfig:
    """What to follow, where the cursor lives, and the timings; tests shorten the timings."""

    profile: Profile
    instances: tuple[MastodonInstance, ...]
    cursor_dir: Path | None = None
    name: str = SOURCE  # the cursor file's name and the dead letters' source
    #: Mastodon sends a heartbeat (":thump") about every 15 s; this long without a byte is a stall.
    idle_timeout_s: float = 60.0
    request_timeout_s: float = 15.0
    #: The backfill after a reconnect reads at most this many pages (of `page_size` statuses).
    backfill_pages: int = 10
    page_size: int = 40
    cursor_every_s: float = 5.0

    def timelines(self) -> tuple[Timeline, ...]:
        out: list[Timeline] = []
        for instance in self.instances:
            tags = self.profile.watch_hashtags + self.profile.disaster_hashtags if instance.hashtags is None \
                else instance.hashtags
            out += [Timeline(instance, "hashtag", t.lstrip("#＃")) for t in dict.fromkeys(tags) if t.lstrip("#＃")]
            if instance.public:
                out.append(Timeline(instance, "public"))
        return tuple(out)


@dataclass(frozen=True)
class Timeline:
    """One followed timeline: one SSE connection, one backfill endpoint, one cursor entry."""

    instance: MastodonInstance
    kind: Literal["hashtag", "public"]
    tag: str = ""

    @property
    def host(self) -> str:
        return self.instance.host

    @property
    def key(self) -> str:
        where = f"hashtag:{self.tag}" if self.kind == "hashtag" else "public"
        return f"{self.host} {where}{':local' if self.instance.local else ''}"

    @property
    def filtered(self) -> bool:
        """Hashtag timelines concern the city by definition; a public timeline is filtered."""
        return self.kind == "public"

    def stream_request(self) -> tuple[URL, dict[str, str]]:
        base = URL((self.instance.streaming_url or self.instance.url).rstrip("/"))
        path = "api/v1/streaming/hashtag" if self.kind == "hashtag" else "api/v1/streaming/public"
        url = base / path / "local" if self.instance.local else base / path
        return url, {"tag": self.tag} if self.kind == "hashtag" else {}

    def backfill_request(self) -> tuple[URL, dict[str, str]]:
        base = URL(self.instance.url.rstrip("/"))
        url = base / "api/v1/timelines/tag" / self.tag if self.kind == "hashtag" else base / "api/v1/timelines/public"
        return url, {"local": "true"} if self.instance.local else {}

    def headers(self) -> dict[str, str]:
        token = self.instance.token
        return {"Authorization": f"Bearer {token.value}"} if token else {}


# --- one status (pure) -------------------------------------------------------------------


class _Text(HTMLParser):
    """Mastodon's status HTML → plain text with its line breaks, and the links that are
    neither mentions nor hashtags."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.parts.append("\n")
        elif tag == "p" and self.parts:
            self.parts.append("\n\n")
        elif tag == "a":
            attr = dict(attrs)
            href = attr.get("href") or ""
            classes = set((attr.get("class") or "").split())
            if (href.startswith(("https://", "http://")) and not classes & {"mention", "hashtag", "u-url"}
                    and "tag" not in (attr.get("rel") or "").split()):
                self.links.append(href)

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def text_and_links(content: str) -> tuple[str, tuple[str, ...]]:
    """A status's `content` → its text (paragraphs apart by a blank line, <br> as a line break,
    entities decoded) and the web links in it."""
    parser = _Text()
    parser.feed(content)
    parser.close()
    return "".join(parser.parts).strip(), tuple(dict.fromkeys(parser.links))


def _id(value: Any, where: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value:
        raise Unusable(f"{where}: missing or not an id")
    return value


def later(a: str, b: str | None) -> bool:
    """Is status id `a` after `b`? Mastodon's ids are decimal snowflakes (compared as numbers);
    other servers' are fixed-length sortable strings."""
    return b is None or (len(a), a) > (len(b), b)


def full_acct(acct: str, host: str) -> str:
    """`alice` (local to `host`) or `alice@example.social` → always with the server."""
    return acct if "@" in acct else f"{acct}@{host}"


def official_accts(profile: Profile) -> dict[str, str]:
    """The city's Mastodon accounts by full acct (lower case) → the handle the profile gives.
    The server comes from the handle (`user@server`) or else from the account's URL; without
    either, the bare user name stands for the account on any server."""
    out: dict[str, str] = {}
    for account in profile.accounts:
        if account.platform != "mastodon":
            continue
        user, _, server = account.handle.lstrip("@").partition("@")
        server = server or (URL(account.url).host or "" if account.url else "")
        out[f"{user}@{server}".lower() if server else user.lower()] = account.handle
    return out


def official_handle(acct: str, host: str, officials: Mapping[str, str]) -> str | None:
    """The profile's handle when `acct` (read on `host`) is one of the city's accounts."""
    full = full_acct(acct, host).lower()
    return officials.get(full) or officials.get(full.partition("@")[0])


@dataclass(frozen=True, slots=True)
class Toot:
    """A status as the source needs it: its contract id, its author, and what it says and refers to."""

    id: str  # "mastodon:<ActivityPub uri>": the same post on any server
    local_id: str  # the id on the server it was read from
    uri: str
    url: str | None
    ts: str
    author: dict[str, Any]
    official: str | None  # the profile's handle when the author is one of the city's accounts
    text: str
    tags: tuple[str, ...]
    urls: tuple[str, ...]
    lang: str | None
    reply_to: dict[str, str] | None
    quote_of: dict[str, str] | None
    repost_of: dict[str, str] | None
    addressed: tuple[str, ...]  # official handles it mentions or replies to
    reblog: Toot | None = None


def _parent_id(host: str, local_id: str, acct: str, known: Mapping[str, str]) -> str:
    """The contract id of a status known only by its id on `host`: remembered if it was seen;
    else built as Mastodon builds the URI of its own users' statuses; else the server's own
    address for it (unique, though no other event will carry it)."""
    remembered = known.get(f"{host}/{local_id}")
    if remembered:
        return remembered
    if acct and "@" not in acct:
        return f"mastodon:https://{host}/users/{acct}/statuses/{local_id}"
    return f"mastodon:https://{host}/api/v1/statuses/{local_id}"


def read_status(status: Any, host: str, officials: Mapping[str, str] = {},  # noqa: B006 — read only
                known: Mapping[str, str] = {}, where: str = "status") -> Toot:  # noqa: B006
    """A status (from the stream or REST, read on `host`) → a `Toot`, or `Unusable` with the reason.

    `officials` are the city's accounts (see `official_accts`); `known` maps `host/local id`
    of statuses seen before to their contract ids, to name the posts replied to."""
    s = need_object(status, where)
    local_id = _id(s.get("id"), f"{where}.id")
    uri = need_text(s.get("uri"), f"{where}.uri", empty=False)
    ts = event_time(s.get("created_at"), f"{where}.created_at")
    account = need_object(s.get("account"), f"{where}.account")
    acct = need_text(account.get("acct"), f"{where}.account.acct", empty=False).lstrip("@")
    official = official_handle(acct, host, officials)
    name, followers = account.get("display_name"), account.get("followers_count")
    author = {"id": f"mastodon:u:{full_acct(acct, host).lower()}", "handle": official or acct,
              "name": name if isinstance(name, str) else "",
              "followers": nonnegative(followers),
              "created_at": optional_time(account.get("created_at"))}
    url = s.get("url") if isinstance(s.get("url"), str) else None
    base = {"id": f"mastodon:{uri}", "local_id": local_id, "uri": uri, "url": url, "ts": ts,
            "author": author, "official": official}

    if s.get("reblog") is not None:
        inner = read_status(s["reblog"], host, officials, known, f"{where}.reblog")
        return Toot(**base, text="", tags=(), urls=(), lang=inner.lang, reply_to=None, quote_of=None,
                    repost_of={"post_id": inner.id, "account": inner.author["handle"]},
                    addressed=(inner.official,) if inner.official else (), reblog=inner)

    text, links = text_and_links(need_text(s.get("content"), f"{where}.content"))
    spoiler = s.get("spoiler_text")
    if isinstance(spoiler, str) and spoiler.strip():  # a content warning is part of what is said
        text = f"{spoiler.strip()}\n\n{text}" if text else spoiler.strip()
    tags = tuple(dict.fromkeys(t["name"].lstrip("#") for t in s.get("tags") or ()
                               if isinstance(t, dict) and isinstance(t.get("name"), str) and t["name"]))
    card = s.get("card")
    card_url = [card["url"]] if isinstance(card, dict) and isinstance(card.get("url"), str) and card["url"] else []
    mentions = {str(m["id"]): m["acct"] for m in s.get("mentions") or ()
                if isinstance(m, dict) and m.get("id") is not None and isinstance(m.get("acct"), str)}
    addressed = [h for a in mentions.values() if (h := official_handle(a, host, officials))]

    reply_to = None
    parent = s.get("in_reply_to_id")
    if parent is not None:
        parent_id = _id(parent, f"{where}.in_reply_to_id")
        parent_account = s.get("in_reply_to_account_id")
        self_reply = parent_account is not None and str(parent_account) == str(account.get("id"))
        parent_acct = acct if self_reply else mentions.get(str(parent_account), "")
        parent_official = official_handle(parent_acct, host, officials) if parent_acct else None
        reply_to = {"post_id": _parent_id(host, parent_id, parent_acct, known),
                    "account": parent_official or parent_acct}
        if parent_official:
            addressed.append(parent_official)

    quote_of = None
    quoted = _quoted(s.get("quote"))
    if quoted is not None:
        try:
            q = read_status(quoted, host, officials, known, f"{where}.quote")
        except Unusable:
            q = None  # a quote Mastodon could not show is still the status around it
        if q is not None:
            quote_of = {"post_id": q.id, "account": q.author["handle"]}
            if q.official:
                addressed.append(q.official)

    lang = s.get("language")
    return Toot(**base, text=text, tags=tags, urls=tuple(dict.fromkeys((*links, *card_url))),
                lang=lang if isinstance(lang, str) and lang else None,
                reply_to=reply_to, quote_of=quote_of, repost_of=None, addressed=tuple(dict.fromkeys(addressed)))


def _quoted(quote: Any) -> dict[str, Any] | None:
    """The quoted status: Mastodon 4.5 wraps it (`{state, quoted_status}`), Fedibird gives it bare."""
    if not isinstance(quote, dict):
        return None
    if isinstance(quote.get("quoted_status"), dict):
        return quote["quoted_status"] if quote.get("state", "accepted") == "accepted" else None
    return quote if "uri" in quote and "account" in quote else None


def mention_from_toot(toot: Toot) -> dict[str, Any]:
    return {
        "kind": "mention", "id": toot.id, "platform": "mastodon", "ts": toot.ts,
        "author": toot.author, "text": toot.text,
        "reply_to": toot.reply_to, "quote_of": toot.quote_of, "repost_of": toot.repost_of,
        "hashtags": list(toot.tags), "urls": list(toot.urls), "lang": toot.lang, "geo": None,
        "url": toot.url,
    }


def mention_from_status(status: Any, host: str, officials: Mapping[str, str] = {},  # noqa: B006
                        known: Mapping[str, str] = {}) -> dict[str, Any]:  # noqa: B006
    """A status read on `host` → a contract mention, or `Unusable` with the reason."""
    return mention_from_toot(read_status(status, host, officials, known))


def official_post_event(toot: Toot, account: OfficialAccount) -> dict[str, Any]:
    """A status by one of the city's own accounts → an `official_post` account event, so that
    replies, quotes and boosts can be tied to it."""
    return {
        "kind": "account", "id": f"mastodon:official_post:{toot.uri}", "platform": "mastodon",
        "ts": toot.ts, "type": "official_post",
        "account": {"id": toot.author["id"], "handle": account.handle, "name": account.name,
                    "url": account.url, "avatar_phash": account.avatar_phash,
                    "followers": toot.author["followers"], "created_at": toot.author["created_at"],
                    "verified": True},
        "post": {"id": toot.id, "text": toot.text, "url": toot.url or toot.uri},
        "note": None,
    }


def is_about_city(toot: Toot, relevance: Relevance, known: Container[str] = ()) -> bool:
    """Does a status concern the municipality? Posted by one of its accounts; naming the city or
    its hashtags; replying to, quoting or mentioning an official account; boosting such a
    status; or replying to, quoting or boosting a status already found relevant (`known` ids)."""
    if toot.official:
        return True
    if toot.reblog is not None:
        return toot.reblog.id in known or is_about_city(toot.reblog, relevance, known)
    if any(ref is not None and ref["post_id"] in known for ref in (toot.reply_to, toot.quote_of)):
        return True
    return relevance.matches(toot.text, hashtags=toot.tags, handles=toot.addressed)


# --- server-sent events --------------------------------------------------------------------


async def sse_events(content: aiohttp.StreamReader) -> AsyncIterator[tuple[str, str]]:
    """Server-sent events as `(name, data)`; a comment (Mastodon's ":thump" heartbeat) as `("", "")`."""
    buffer = bytearray()
    name, data = "", []
    async for chunk in content.iter_any():
        buffer += chunk
        start = 0
        while (end := buffer.find(b"\n", start)) >= 0:
            line = bytes(buffer[start:end]).rstrip(b"\r").decode("utf-8", "replace")
            start = end + 1
            if not line:
                if data:
                    yield name or "message", "\n".join(data)
                name, data = "", []
            elif line.startswith(":"):
                yield "", ""
            else:
                field, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if field == "event":
                    name = value
                elif field == "data":
                    data.append(value)
        del buffer[:start]
        if len(buffer) > MAX_EVENT_BYTES:
            raise aiohttp.ClientPayloadError(f"an event line longer than {MAX_EVENT_BYTES} bytes")


# --- the source --------------------------------------------------------------------------


class _Refused(Exception):
    """A server said no (429, 5xx): reconnect after at least `wait` seconds."""

    def __init__(self, status: int, wait: float) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.wait = wait


class MastodonSource:
    """Mastodon for one municipality: `await MastodonSource(config).run(sink, stop)`.

    One task per timeline. After every (re)connect, once the stream is open, the statuses
    missed since the highest id seen are read from the REST timeline (oldest first, `min_id`
    pages), so that nothing posted between the two is lost; repeats are dropped by the sink."""

    def __init__(self, config: MastodonConfig, *, backoff: Backoff | None = None) -> None:
        self.config = config
        self.timelines = config.timelines()
        if not self.timelines:
            raise ValueError("mastodon: nothing to follow: give an instance hashtags (or a profile with "
                             "watch_hashtags) or public=True")
        self.backoff = backoff or Backoff()
        self.relevance = Relevance.of(config.profile)
        self.officials = official_accts(config.profile)
        self.accounts = {a.handle: a for a in config.profile.accounts if a.platform == "mastodon"}
        self.seen: BoundedMap = BoundedMap(REMEMBERED)  # "host/local id" → contract id
        self.relevant: BoundedMap = BoundedMap(REMEMBERED)  # contract ids published
        self.cursor = Cursor(config.cursor_dir, config.name)
        saved = self.cursor.load().get("since")
        self.since: dict[str, str] = {k: v for k, v in (saved or {}).items()
                                      if isinstance(k, str) and isinstance(v, str)} if isinstance(saved, dict) else {}
        self.connections: Counter[str] = Counter()  # by timeline key
        self._saved_at = time.monotonic()

    def __repr__(self) -> str:
        return f"MastodonSource(municipality={self.config.profile.id!r}, timelines={[t.key for t in self.timelines]})"

    async def run(self, sink: Sink, stop: asyncio.Event) -> None:
        """Follow every timeline until `stop` is set; a failure of the sink itself ends the run and is raised."""
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=self.config.request_timeout_s)
        async with aiohttp.ClientSession(timeout=timeout, headers={"User-Agent": USER_AGENT}) as http:
            work = [asyncio.create_task(self._follow(http, t, sink, stop), name=f"{self.config.name} {t.key}")
                    for t in self.timelines]
            await run_until_stopped(work, stop, self.save_cursor)

    async def _follow(self, http: aiohttp.ClientSession, timeline: Timeline, sink: Sink, stop: asyncio.Event) -> None:
        backoff = replace(self.backoff, failures=0)  # each timeline waits on its own failures
        while not stop.is_set():
            delay = await self._connect_once(http, timeline, sink, backoff)
            self.save_cursor()
            log.info("mastodon_reconnecting", timeline=timeline.key, delay_s=round(delay, 3))
            if await sleep_or_stop(delay, stop):
                return

    async def _connect_once(self, http: aiohttp.ClientSession, timeline: Timeline, sink: Sink,
                            backoff: Backoff) -> float:
        """One connection, until it ends; the delay before the next."""
        url, params = timeline.stream_request()
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=self.config.request_timeout_s,
                                        sock_read=self.config.idle_timeout_s)
        try:
            async with http.get(url, params=params, headers=timeline.headers(), timeout=timeout) as resp:
                if resp.status != 200:
                    return self._refused(timeline, resp.status, resp.headers, backoff)
                self.connections[timeline.key] += 1
                log.info("mastodon_stream_connected", timeline=timeline.key)
                await self._backfill(http, timeline, sink)
                working = False
                async for name, data in sse_events(resp.content):
                    if not working:
                        backoff.reset()
                        working = True
                    if name:
                        await self._take_event(timeline, name, data, sink)
                log.info("mastodon_stream_ended", timeline=timeline.key)
        except _Refused as exc:
            return self._refused(timeline, exc.status, {}, backoff, exc.wait)
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            log.warning("mastodon_stream_disconnected", timeline=timeline.key, error=repr(exc))
        return backoff.next_delay()

    def _refused(self, timeline: Timeline, status: int, headers: Mapping[str, str], backoff: Backoff,
                 asked: float | None = None) -> float:
        if status in (429, 503) or status >= 500:
            wait = asked if asked is not None else wait_asked(headers, time.time())
            log.warning("mastodon_server_busy", timeline=timeline.key, status=status, wait_s=round(wait, 3))
            return backoff.next_delay(at_least=wait)
        # 401, 403, 404: a token or a setting to fix; asking again soon will not help.
        log.error("mastodon_stream_refused", timeline=timeline.key, status=status)
        return backoff.next_delay(at_least=backoff.cap_s)

    async def _backfill(self, http: aiohttp.ClientSession, timeline: Timeline, sink: Sink) -> None:
        """The statuses after the highest id seen, oldest first; nothing on a first start."""
        since = self.since.get(timeline.key)
        if since is None:
            return
        url, params = timeline.backfill_request()
        timeout = aiohttp.ClientTimeout(total=self.config.request_timeout_s)
        for _ in range(self.config.backfill_pages):
            query = {**params, "min_id": since, "limit": str(self.config.page_size)}
            async with http.get(url, params=query, headers=timeline.headers(), timeout=timeout) as resp:
                if resp.status in (429, 503) or resp.status >= 500:
                    raise _Refused(resp.status, wait_asked(resp.headers, time.time()))
                if resp.status != 200:
                    log.warning("mastodon_backfill_refused", timeline=timeline.key, status=resp.status)
                    return
                page = await resp.json(content_type=None)
            if not isinstance(page, list):
                log.warning("mastodon_backfill_unreadable", timeline=timeline.key)
                return
            for status in sorted(page, key=_id_order):
                await self._take_status(timeline, status, sink, None)
            newest = self.since.get(timeline.key)
            if len(page) < self.config.page_size or newest is None or not later(newest, since):
                log.info("mastodon_backfilled", timeline=timeline.key, since=since)
                return
            since = newest
        log.warning("mastodon_backfill_incomplete", timeline=timeline.key,
                    pages=self.config.backfill_pages, resumed_after=since)

    async def _take_event(self, timeline: Timeline, name: str, data: str, sink: Sink) -> None:
        if name != "update":
            return  # delete, status.update (same id: a repeat), notifications, announcements
        try:
            status = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            await sink.reject(data, f"{timeline.key}: update: not valid JSON: {exc}", self.config.name)
            return
        await self._take_status(timeline, status, sink, data)

    async def _take_status(self, timeline: Timeline, status: Any, sink: Sink, raw: str | None) -> None:
        try:
            toot = read_status(status, timeline.host, self.officials, self.seen)
            keep = not timeline.filtered or is_about_city(toot, self.relevance, self.relevant)
        except Exception as exc:  # Unusable, or a status this code did not foresee: it must not end the stream
            if not isinstance(exc, Unusable):
                log.exception("mastodon_status_unreadable", timeline=timeline.key)
            reason = f"{timeline.key}: {exc}" if isinstance(exc, Unusable) else f"{timeline.key}: unreadable: {exc!r}"
            await sink.reject(raw if raw is not None else orjson.dumps(status), reason, self.config.name)
            self._advance(timeline, status.get("id") if isinstance(status, dict) else None)
            return
        for seen in (toot, toot.reblog):
            if seen is not None:
                self.seen.put(f"{timeline.host}/{seen.local_id}", seen.id)
        if keep:
            self.relevant.put(toot.id, None)
            await sink.publish(self._event(toot))
        self._advance(timeline, toot.local_id)

    def _event(self, toot: Toot) -> dict[str, Any]:
        if toot.official and toot.reblog is None:
            return official_post_event(toot, self.accounts[toot.official])
        return mention_from_toot(toot)

    def _advance(self, timeline: Timeline, status_id: Any) -> None:
        if isinstance(status_id, str) and status_id and later(status_id, self.since.get(timeline.key)):
            self.since[timeline.key] = status_id
        if time.monotonic() - self._saved_at >= self.config.cursor_every_s:
            self.save_cursor()

    def save_cursor(self) -> None:
        if self.since:
            self.cursor.save({"since": self.since})
        self._saved_at = time.monotonic()


def _id_order(status: Any) -> tuple[int, str]:
    status_id = status.get("id") if isinstance(status, dict) else None
    return (len(status_id), status_id) if isinstance(status_id, str) else (0, "")
