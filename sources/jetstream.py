"""Bluesky through Jetstream: new posts and reposts that concern the municipality, as contract events.

It owns reading Jetstream's websocket (JSON, zstd off), its `time_us` cursor, knowing which
DIDs are the city's own accounts, and naming authors by handle: Jetstream sends only DIDs,
so handles come from identity frames and from batched `app.bsky.actor.getProfiles` calls to
an AppView, and a DID stands in for a handle nobody could tell us.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Container, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import structlog
from yarl import URL

from vocabulary.contract import OfficialAccount, Profile, hashtags_in
from vocabulary.terms import JST
from vocabulary.waits import Backoff
from sources.base import (
    USER_AGENT,
    BoundedMap,
    Cursor,
    Relevance,
    Sink,
    Unusable,
    local_iso,
    need_object,
    need_text,
    nonnegative,
    optional_time,
    parse_time,
    run_until_stopped,
    sleep_or_stop,
    wait_asked,
)

log = structlog.get_logger(__name__)

SOURCE = "bluesky-jetstream"
POST = "app.bsky.feed.post"
REPOST = "app.bsky.feed.repost"
PROFILES_PER_CALL = 25  # app.bsky.actor.getProfiles takes at most 25 actors
#: A createdAt further than this from the relay's time is the author's clock (or an import of
#: old posts), not when the post appeared; the relay's time is used instead, as Bluesky's own
#: AppView does, so that one odd clock cannot move the detectors' event time.
MAX_CLOCK_SKEW_S = 600.0
REMEMBERED = 50_000  # DIDs named, and relevant post URIs, kept in memory
QUEUE_LIMIT = 1_000  # relevant posts waiting for their authors' handles
BATCH_LIMIT = 200  # posts published after one look-up


@dataclass(frozen=True)
class JetstreamConfig:
    """Where Jetstream and the AppView are, and how the source paces itself. Tests shorten the
    timings and point both URLs at local servers."""

    profile: Profile
    url: str = "wss://jetstream2.us-east.bsky.network/subscribe"
    #: Where handles are looked up; "" names authors only from identity frames (else by DID).
    appview_url: str = "https://public.api.bsky.app"
    cursor_dir: Path | None = None
    name: str = SOURCE  # the cursor file's name and the dead letters' source
    #: Reposts of the city's posts and of relevant posts (the spread a rumour takes).
    reposts: bool = True
    #: Reconnect this far before the last frame read; the sink drops what comes twice.
    rewind_s: float = 5.0
    cursor_every_s: float = 10.0
    #: How long a relevant post waits for others, so that one getProfiles call names them all.
    resolve_wait_s: float = 0.5
    request_timeout_s: float = 5.0
    #: After a failed AppView call, authors are named by DID for this long instead of waiting on it.
    appview_pause_s: float = 30.0
    heartbeat_s: float = 30.0

    def bluesky_accounts(self) -> tuple[OfficialAccount, ...]:
        return tuple(a for a in self.profile.accounts if a.platform == "bluesky")


# --- one frame (pure) ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Ref:
    """A post that another post replies to, quotes or reposts."""

    uri: str
    did: str


@dataclass(frozen=True, slots=True)
class Post:
    """A new post (or, with `repost_of`, a repost) read from a commit frame."""

    did: str
    rkey: str
    time_us: int
    created_at: str  # as the record says; may be anything
    text: str = ""
    langs: tuple[str, ...] = ()
    reply_parent: Ref | None = None
    reply_root: Ref | None = None
    quote: Ref | None = None
    repost_of: Ref | None = None
    mentioned: tuple[str, ...] = ()  # DIDs
    urls: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()

    @property
    def uri(self) -> str:
        return f"at://{self.did}/{REPOST if self.repost_of else POST}/{self.rkey}"

    @property
    def named(self) -> tuple[str, ...]:
        """The DIDs the event names by handle: the author and the accounts referred to."""
        refs = (self.reply_parent, self.quote, self.repost_of)
        return tuple(dict.fromkeys((self.did, *(r.did for r in refs if r))))

    @property
    def addressed(self) -> tuple[str, ...]:
        """The DIDs the post talks to or about: a reply to, quote of or mention of one of these
        counts as a post about it."""
        refs = (self.reply_parent, self.reply_root, self.quote, self.repost_of)
        return tuple(dict.fromkeys((*(r.did for r in refs if r), *self.mentioned)))


@dataclass(frozen=True, slots=True)
class Identity:
    did: str
    handle: str | None


@dataclass(frozen=True, slots=True)
class Frame:
    time_us: int
    post: Post | None = None
    identity: Identity | None = None


@dataclass(frozen=True, slots=True)
class Who:
    """What is known of an account besides its DID."""

    handle: str
    name: str = ""
    followers: int = 0
    created_at: str | None = None


def _did(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.startswith("did:"):
        raise Unusable(f"{where}: expected a DID, got {value!r}")
    return value


def parse_at_uri(uri: Any) -> tuple[str, str, str] | None:
    """`at://AUTHORITY/COLLECTION/RKEY` → its three parts; None for anything else."""
    if not isinstance(uri, str) or not uri.startswith("at://"):
        return None
    parts = uri[5:].split("/")
    if len(parts) != 3 or not all(parts):
        return None
    return parts[0], parts[1], parts[2]


def _post_ref(value: Any) -> Ref | None:
    """A strong ref (`{uri, cid}`) to a post; None when absent or not a post (a feed, a list)."""
    if not isinstance(value, dict):
        return None
    parts = parse_at_uri(value.get("uri"))
    if parts is None or parts[1] != POST or not parts[0].startswith("did:"):
        return None
    return Ref(value["uri"], parts[0])


def _quoted(embed: Any) -> Ref | None:
    if not isinstance(embed, dict):
        return None
    kind = embed.get("$type")
    if kind == "app.bsky.embed.record":
        return _post_ref(embed.get("record"))
    if kind == "app.bsky.embed.recordWithMedia":
        inner = embed.get("record")
        return _post_ref(inner.get("record")) if isinstance(inner, dict) else None
    return None


def _embedded_links(embed: Any) -> list[str]:
    if not isinstance(embed, dict):
        return []
    if embed.get("$type") == "app.bsky.embed.recordWithMedia":
        embed = embed.get("media")
    if isinstance(embed, dict) and embed.get("$type") == "app.bsky.embed.external":
        external = embed.get("external")
        uri = external.get("uri") if isinstance(external, dict) else None
        if isinstance(uri, str) and uri:
            return [uri]
    return []


def _facets(record: dict[str, Any]) -> tuple[list[str], list[str], list[str]]:
    """Mentioned DIDs, links and tags from the rich-text facets; an odd facet is skipped, as
    Bluesky's own app shows the text without it."""
    mentioned: list[str] = []
    links: list[str] = []
    tags: list[str] = []
    facets = record.get("facets")
    for facet in facets if isinstance(facets, list) else ():
        features = facet.get("features") if isinstance(facet, dict) else None
        for feature in features if isinstance(features, list) else ():
            if not isinstance(feature, dict):
                continue
            kind = feature.get("$type")
            if kind == "app.bsky.richtext.facet#mention" and isinstance(feature.get("did"), str):
                mentioned.append(feature["did"])
            elif kind == "app.bsky.richtext.facet#link" and isinstance(feature.get("uri"), str):
                links.append(feature["uri"])
            elif kind == "app.bsky.richtext.facet#tag" and isinstance(feature.get("tag"), str):
                tags.append(feature["tag"].lstrip("#＃"))
    return mentioned, links, tags


def _post(did: str, rkey: str, time_us: int, record: dict[str, Any]) -> Post:
    text = need_text(record.get("text"), "commit.record.text")
    created_at = record.get("createdAt")
    langs = record.get("langs")
    reply = record.get("reply") if isinstance(record.get("reply"), dict) else {}
    mentioned, links, tags = _facets(record)
    extra_tags = record.get("tags")  # post-level tags, not in the text
    if isinstance(extra_tags, list):
        tags += [t.lstrip("#＃") for t in extra_tags if isinstance(t, str)]
    return Post(
        did=did, rkey=rkey, time_us=time_us,
        created_at=created_at if isinstance(created_at, str) else "",
        text=text,
        langs=tuple(lang for lang in langs if isinstance(lang, str)) if isinstance(langs, list) else (),
        reply_parent=_post_ref(reply.get("parent")),
        reply_root=_post_ref(reply.get("root")),
        quote=_quoted(record.get("embed")),
        mentioned=tuple(dict.fromkeys(mentioned)),
        urls=tuple(dict.fromkeys((*links, *_embedded_links(record.get("embed"))))),
        tags=tuple(dict.fromkeys(t for t in tags if t)),
    )


def _repost(did: str, rkey: str, time_us: int, record: dict[str, Any]) -> Post | None:
    subject = _post_ref(record.get("subject"))
    if subject is None:
        return None  # a repost of something that is not a post
    created_at = record.get("createdAt")
    return Post(did=did, rkey=rkey, time_us=time_us,
                created_at=created_at if isinstance(created_at, str) else "", repost_of=subject)


def read_frame(raw: bytes | str) -> Frame:
    """One Jetstream message → what it says: a new post or repost, an identity (a DID's handle),
    or only a position in the stream (deletions, account status, other collections). Raises
    `Unusable` with the reason for a malformed one."""
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise Unusable(f"not valid JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise Unusable(f"expected a JSON object, got {type(obj).__name__}")
    time_us = obj.get("time_us")
    if type(time_us) is not int or time_us <= 0:
        raise Unusable(f"time_us: expected microseconds since 1970, got {time_us!r}")
    kind = obj.get("kind")
    if not isinstance(kind, str):
        raise Unusable(f"kind: expected a string, got {kind!r}")
    if kind == "identity":
        identity = need_object(obj.get("identity"), "identity")
        handle = identity.get("handle")
        return Frame(time_us, identity=Identity(_did(identity.get("did") or obj.get("did"), "identity.did"),
                                                handle if isinstance(handle, str) and handle else None))
    if kind != "commit":
        return Frame(time_us)  # account status, and kinds Jetstream may add
    commit = need_object(obj.get("commit"), "commit")
    collection = commit.get("collection")
    if commit.get("operation") != "create" or collection not in (POST, REPOST):
        return Frame(time_us)  # deletions, edits, other records
    did = _did(obj.get("did"), "did")
    rkey = need_text(commit.get("rkey"), "commit.rkey")
    if not rkey:
        raise Unusable("commit.rkey: empty")
    record = need_object(commit.get("record"), "commit.record")
    post = _post(did, rkey, time_us, record) if collection == POST else _repost(did, rkey, time_us, record)
    return Frame(time_us, post=post)


def event_time(created_at: str, time_us: int) -> str:
    """createdAt in municipal time (whole seconds), or the relay's time when createdAt is
    unreadable, naive or too far from it (see MAX_CLOCK_SKEW_S)."""
    relay = time_us / 1_000_000
    try:
        parsed: datetime | None = parse_time(created_at, "createdAt")
    except Unusable:
        parsed = None
    if parsed is None or abs(parsed.timestamp() - relay) > MAX_CLOCK_SKEW_S:
        parsed = datetime.fromtimestamp(relay, JST)
    return local_iso(parsed)


def _who(names: Mapping[str, Who], did: str) -> Who:
    return names.get(did) or Who(handle=did)


def _ref(ref: Ref | None, names: Mapping[str, Who]) -> dict[str, str] | None:
    return None if ref is None else {"post_id": f"bluesky:{ref.uri}", "account": _who(names, ref.did).handle}


def web_url(handle_or_did: str, rkey: str) -> str:
    return f"https://bsky.app/profile/{handle_or_did}/post/{rkey}"


def mention_from_post(post: Post, names: Mapping[str, Who] = {}) -> dict[str, Any]:  # noqa: B006 — read only
    """A post or repost → a contract mention; `names` holds what is known of the DIDs it names
    (a DID not in it is named by the DID itself)."""
    author = _who(names, post.did)
    subject = post.repost_of
    return {
        "kind": "mention", "id": f"bluesky:{post.uri}", "platform": "bluesky",
        "ts": event_time(post.created_at, post.time_us),
        "author": {"id": f"bluesky:{post.did}", "handle": author.handle, "name": author.name,
                   "followers": author.followers, "created_at": author.created_at},
        "text": post.text,
        "reply_to": _ref(post.reply_parent, names),
        "quote_of": _ref(post.quote, names),
        "repost_of": _ref(subject, names),
        "hashtags": list(post.tags or hashtags_in(post.text)),
        "urls": list(post.urls),
        "lang": post.langs[0] if post.langs else None,
        "geo": None,
        "url": web_url(author.handle, post.rkey) if subject is None else None,
    }


def official_post_event(post: Post, account: OfficialAccount, who: Who | None = None) -> dict[str, Any]:
    """A post by one of the city's own accounts → an `official_post` account event, so that
    replies, quotes and reposts can be tied to it."""
    post_id = f"bluesky:{post.uri}"
    return {
        "kind": "account", "id": f"bluesky:official_post:{post.uri}", "platform": "bluesky",
        "ts": event_time(post.created_at, post.time_us), "type": "official_post",
        "account": {"id": f"bluesky:{post.did}", "handle": account.handle, "name": account.name,
                    "url": account.url or f"https://bsky.app/profile/{account.handle}",
                    "avatar_phash": account.avatar_phash, "followers": who.followers if who else 0,
                    "created_at": who.created_at if who else None, "verified": True},
        "post": {"id": post_id, "text": post.text, "url": web_url(account.handle, post.rkey)},
        "note": None,
    }


def mention_from_frame(raw: bytes | str, names: Mapping[str, Who] = {}) -> dict[str, Any] | None:  # noqa: B006
    """One Jetstream message → a contract mention; None for a frame that is no new post (identity,
    account, deletion, other records); `Unusable` with the reason for a malformed one."""
    post = read_frame(raw).post
    return None if post is None else mention_from_post(post, names)


def is_about_city(post: Post, relevance: Relevance, officials: Mapping[str, str],
                  known: Container[str] = ()) -> bool:
    """Does a post concern the municipality? By the city's own accounts; naming the city or its
    hashtags; replying to, quoting, reposting or mentioning an official account (`officials`:
    DID → handle); or replying to, quoting or reposting a post already found relevant (`known`
    URIs), which keeps a thread about the city together."""
    if post.did in officials:
        return True
    refs = (post.reply_parent, post.quote, post.repost_of)
    if any(r is not None and r.uri in known for r in refs):
        return True
    handles = [officials[d] for d in post.addressed if d in officials]
    if post.repost_of is not None:
        return bool(handles)
    return relevance.matches(post.text, hashtags=post.tags, handles=handles)


# --- the source --------------------------------------------------------------------------


class JetstreamSource:
    """Bluesky for one municipality: `await JetstreamSource(config).run(sink, stop)`.

    One task reads the websocket and keeps the relevant posts; another names their authors
    (one getProfiles call for up to 25 DIDs) and publishes them in order. The cursor never
    moves past a post still waiting, so a stop or a crash loses none."""

    def __init__(self, config: JetstreamConfig, *, backoff: Backoff | None = None) -> None:
        self.config = config
        self.backoff = backoff or Backoff()
        self.relevance = Relevance.of(config.profile)
        self.accounts = {a.handle.lower(): a for a in config.bluesky_accounts()}
        self.officials: dict[str, str] = {}  # DID → the profile's handle
        for raw in config.profile.raw.get("accounts") or ():  # a profile may give an account's DID
            if isinstance(raw, dict) and raw.get("platform") == "bluesky" and isinstance(raw.get("did"), str):
                handle = str(raw.get("handle") or "").lstrip("@").lower()
                if handle in self.accounts:
                    self.officials[raw["did"]] = self.accounts[handle].handle
        self.names: BoundedMap = BoundedMap(REMEMBERED)  # DID → Who
        self.relevant: BoundedMap = BoundedMap(REMEMBERED)  # URIs of relevant posts
        self.cursor = Cursor(config.cursor_dir, config.name)
        saved = self.cursor.load().get("time_us")
        self.position: int | None = saved if type(saved) is int and saved > 0 else None
        self.waiting: list[int] = []  # time_us of relevant posts not yet published
        self.connections = 0
        self._saved_at = time.monotonic()
        self._appview_paused_until = 0.0

    def __repr__(self) -> str:
        return f"JetstreamSource(municipality={self.config.profile.id!r}, url={self.config.url!r})"

    async def run(self, sink: Sink, stop: asyncio.Event) -> None:
        """Read Jetstream until `stop` is set; a failure of the sink itself ends the run and is raised."""
        queue: asyncio.Queue[Post] = asyncio.Queue(QUEUE_LIMIT)
        self.waiting = []  # what a former run left waiting is behind the saved cursor
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=self.config.request_timeout_s)
        async with aiohttp.ClientSession(timeout=timeout, headers={"User-Agent": USER_AGENT}) as http:
            work = [asyncio.create_task(self._read(http, sink, queue, stop), name=f"{self.config.name}-read"),
                    asyncio.create_task(self._publish(http, sink, queue), name=f"{self.config.name}-publish")]
            await run_until_stopped(work, stop, self.save_cursor)

    # -- reading --

    def subscribe_url(self) -> URL:
        collections = [POST, REPOST] if self.config.reposts else [POST]
        query: list[tuple[str, str]] = [("wantedCollections", c) for c in collections]
        if self.position is not None:
            query.append(("cursor", str(max(1, self.position - int(self.config.rewind_s * 1_000_000)))))
        return URL(self.config.url).extend_query(query)

    async def _read(self, http: aiohttp.ClientSession, sink: Sink, queue: asyncio.Queue[Post],
                    stop: asyncio.Event) -> None:
        while not stop.is_set():
            delay = await self._connect_once(http, sink, queue)
            self.save_cursor()
            log.info("jetstream_reconnecting", delay_s=round(delay, 3), cursor=self.position)
            if await sleep_or_stop(delay, stop):
                return

    async def _connect_once(self, http: aiohttp.ClientSession, sink: Sink, queue: asyncio.Queue[Post]) -> float:
        """One connection, until it ends; the delay before the next."""
        await self._learn_officials(http)
        url = self.subscribe_url()
        try:
            async with http.ws_connect(url, heartbeat=self.config.heartbeat_s,
                                       timeout=aiohttp.ClientWSTimeout(ws_close=2.0)) as ws:
                self.connections += 1
                log.info("jetstream_connected", url=str(url.with_query(None)), cursor=url.query.get("cursor"))
                working = False
                async for message in ws:
                    if message.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                        if not working:
                            self.backoff.reset()
                            working = True
                        await self._take(message.data, sink, queue)
                    elif message.type == aiohttp.WSMsgType.ERROR:
                        raise aiohttp.ClientConnectionError(f"websocket error: {ws.exception()!r}")
                log.info("jetstream_closed", close_code=ws.close_code)
        except aiohttp.WSServerHandshakeError as exc:
            asked = wait_asked(exc.headers or {}, time.time()) if exc.status in (429, 503) else 0.0
            log.warning("jetstream_refused", status=exc.status, wait_s=asked)
            return self.backoff.next_delay(at_least=asked)
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            log.warning("jetstream_disconnected", error=repr(exc))
        return self.backoff.next_delay()

    async def _take(self, data: bytes | str, sink: Sink, queue: asyncio.Queue[Post]) -> None:
        try:
            frame = read_frame(data)
            post = frame.post
            keep = post is not None and is_about_city(post, self.relevance, self.officials, self.relevant)
        except Unusable as exc:
            await sink.reject(data, str(exc), self.config.name)
            return
        except Exception as exc:  # a frame this code did not foresee must not end the stream
            log.exception("jetstream_frame_unreadable")
            await sink.reject(data, f"unreadable: {exc!r}", self.config.name)
            return
        self.position = max(self.position or 0, frame.time_us)
        if frame.identity is not None:
            self._learn_identity(frame.identity)
        if keep and post is not None:
            self.relevant.put(post.uri, None)
            self.waiting.append(post.time_us)
            await queue.put(post)
        if time.monotonic() - self._saved_at >= self.config.cursor_every_s:
            self.save_cursor()

    def safe_position(self) -> int | None:
        """The last time_us behind which every relevant post has been published."""
        if self.waiting:
            return min(min(self.waiting) - 1, self.position or 0)
        return self.position

    def save_cursor(self) -> None:
        position = self.safe_position()
        if position is not None:
            self.cursor.save({"time_us": position})
        self._saved_at = time.monotonic()

    # -- naming --

    def _learn_identity(self, identity: Identity) -> None:
        if identity.handle is None or identity.handle == "handle.invalid":
            return
        known = self.names.get(identity.did)
        self.names.put(identity.did, replace(known, handle=identity.handle) if known else Who(identity.handle))
        official = self.accounts.get(identity.handle.lower())
        if official is not None:
            self.officials[identity.did] = official.handle

    async def _learn_officials(self, http: aiohttp.ClientSession) -> None:
        """The DIDs of the city's Bluesky accounts not yet known, from their handles."""
        missing = set(self.accounts) - {h.lower() for h in self.officials.values()}
        if missing:
            await self._look_up(http, sorted(missing))
            still = missing - {h.lower() for h in self.officials.values()}
            if still:
                # Until an identity frame names it, replies to and quotes of this account are
                # found only when they name the city or its hashtags.
                log.warning("bluesky_official_account_unresolved", handles=sorted(still))

    async def _look_up(self, http: aiohttp.ClientSession, actors: list[str]) -> None:
        """Names of `actors` (DIDs or handles) from the AppView, into `names` and `officials`;
        on failure they stay unnamed and the AppView is left alone for a while."""
        if not self._may_look_up():
            return
        endpoint = self.config.appview_url.rstrip("/") + "/xrpc/app.bsky.actor.getProfiles"
        for start in range(0, len(actors), PROFILES_PER_CALL):
            chunk = actors[start:start + PROFILES_PER_CALL]
            body: Any = None
            asked = 0.0
            try:
                async with http.get(endpoint, params=[("actors", a) for a in chunk],
                                    timeout=aiohttp.ClientTimeout(total=self.config.request_timeout_s)) as resp:
                    if resp.status == 200:
                        body = await resp.json(content_type=None)
                    else:
                        asked = wait_asked(resp.headers, time.time()) if resp.status in (429, 503) else 0.0
                        problem = f"HTTP {resp.status}"
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                problem = repr(exc)
            if not isinstance(body, dict):
                pause = max(self.config.appview_pause_s, asked)
                self._appview_paused_until = time.monotonic() + pause
                log.warning("bluesky_handles_unresolved", actors=len(chunk), problem=problem, pause_s=pause)
                return
            for profile in body.get("profiles") or ():
                self._learn_profile(profile)

    def _learn_profile(self, profile: Any) -> None:
        if not isinstance(profile, dict) or not isinstance(profile.get("did"), str):
            return
        handle = profile.get("handle")
        if not isinstance(handle, str) or not handle or handle == "handle.invalid":
            return
        name, followers, created = profile.get("displayName"), profile.get("followersCount"), profile.get("createdAt")
        self.names.put(profile["did"], Who(
            handle=handle, name=name if isinstance(name, str) else "",
            followers=nonnegative(followers),
            created_at=optional_time(created)))
        official = self.accounts.get(handle.lower())
        if official is not None:
            self.officials[profile["did"]] = official.handle

    # -- publishing --

    async def _publish(self, http: aiohttp.ClientSession, sink: Sink, queue: asyncio.Queue[Post]) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = [await queue.get()]
            deadline = loop.time() + self.config.resolve_wait_s
            while len(unnamed := self._unnamed(batch)) < PROFILES_PER_CALL and len(batch) < BATCH_LIMIT:
                if not queue.empty():
                    batch.append(queue.get_nowait())
                    continue
                remaining = deadline - loop.time()
                if not unnamed or remaining <= 0 or not self._may_look_up():
                    break
                try:
                    batch.append(await asyncio.wait_for(queue.get(), remaining))
                except TimeoutError:
                    break
            if unnamed:
                await self._look_up(http, unnamed)
            for post in batch:
                await sink.publish(self._event(post))
                self.waiting.remove(post.time_us)

    def _may_look_up(self) -> bool:
        return bool(self.config.appview_url) and time.monotonic() >= self._appview_paused_until

    def _unnamed(self, batch: list[Post]) -> list[str]:
        return list(dict.fromkeys(d for p in batch for d in p.named if d not in self.names))

    def _event(self, post: Post) -> dict[str, Any]:
        names = {d: self._name(d) for d in post.named}
        if post.did in self.officials and post.repost_of is None:
            return official_post_event(post, self.accounts[self.officials[post.did].lower()], names[post.did])
        return mention_from_post(post, names)

    def _name(self, did: str) -> Who:
        who = self.names.get(did) or Who(handle=did)
        official = self.officials.get(did)
        return replace(who, handle=official) if official else who

