"""X API v2 filtered stream: the municipality's rules kept in sync, each matching post as a mention.

It owns the rules built from the profile (names, hashtags, official handles,
split under X's rule length limit, each tagged as ours), the mapping of one
stream line to a contract mention, and X's documented reconnect policy: a
keep-alive "\\r\\n" about every 20 s, so 90 s of silence is a stall; TCP/IP
errors back off linearly, HTTP errors exponentially from 5 s, 429s from a
minute or until the rate-limit window resets. The stream has no cursor: a post
is known by its id (`x:<post id>`), and repeats after a reconnect are dropped.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

import aiohttp
import orjson
import structlog

from vocabulary.settings import Secret
from vocabulary.contract import Profile
from vocabulary.waits import Backoff, retry_after_seconds
from sources.base import (
    USER_AGENT,
    RecentIds,
    Relevance,
    Sink,
    Unusable,
    event_time,
    nonnegative,
    optional_time,
    sleep_or_stop,
    unless_stopped,
)

log = structlog.get_logger(__name__)

SOURCE = "x-stream"
STREAM_PATH = "/2/tweets/search/stream"
RULES_PATH = "/2/tweets/search/stream/rules"
#: What each post is delivered with: the fields the mapping reads, and the authors of
#: the post and of the posts it replies to, quotes or reposts.
STREAM_PARAMS: dict[str, str] = {
    "tweet.fields": "created_at,lang,entities,referenced_tweets,conversation_id,author_id",
    "expansions": "author_id,referenced_tweets.id,referenced_tweets.id.author_id",
    "user.fields": "username,name,public_metrics,created_at,verified",
}
MAX_LINE_BYTES = 1 << 20  # a post with its includes is a few KB; more is a broken stream
REJECTED_PREFIX_BYTES = 4096  # how much of an overlong line goes to the dead letters


@dataclass(frozen=True)
class XStreamConfig:
    """Where and how to reach the filtered stream. The timings are X's documented ones;
    tests shorten them."""

    bearer_token: Secret
    api_url: str = "https://api.x.com"
    #: Rules whose tag starts with `tag_prefix + municipality id` are ours to add and delete.
    tag_prefix: str = "noroshi:"
    rule_max_length: int = 512  # Basic/Pro self-serve; Enterprise allows 2048
    #: Appended to every rule, e.g. "-is:retweet" or "lang:ja", to spend less of the monthly cap.
    rule_suffix: str = ""
    #: Minutes of posts X replays after a reconnect (Pro and Enterprise only); 0 asks for none.
    backfill_minutes: int = 0
    stall_timeout_s: float = 90.0
    network_backoff_step_s: float = 0.25
    network_backoff_cap_s: float = 16.0
    http_backoff_base_s: float = 5.0
    http_backoff_cap_s: float = 320.0
    rate_limit_base_s: float = 60.0
    rate_limit_cap_s: float = 960.0  # one 15-minute window and a minute to spare
    connect_timeout_s: float = 30.0
    request_timeout_s: float = 30.0

    def owner_tag(self, profile: Profile) -> str:
        return f"{self.tag_prefix}{profile.id}"


# --- rules (pure) --------------------------------------------------------------------


class Rule(NamedTuple):
    value: str
    tag: str


def rule_terms(profile: Profile) -> tuple[str, ...]:
    """The OR-terms that find posts about the municipality: its names as exact phrases, its
    watch and disaster hashtags (as `Relevance` folds them), and mentions of and replies to
    its X accounts.

    The profile's `areas` (気象庁 forecast areas), which `Relevance` also counts, are left
    out: posts that name only a prefecture's region are rarely about the city, and each one
    delivered counts against the app's monthly post cap.
    """
    terms: list[str] = []
    for keyword in Relevance.of(replace(profile, areas=())).keywords():
        if keyword.startswith("#"):
            if not any(c.isspace() for c in keyword):
                terms.append(keyword)
        elif phrase := keyword.replace('"', "").strip():
            terms.append(f'"{phrase}"')
    for acct in profile.accounts:
        if acct.platform == "x" and acct.handle:
            terms += [f"@{acct.handle}", f"to:{acct.handle}"]
    return tuple(dict.fromkeys(terms))


def build_rules(profile: Profile, config: XStreamConfig) -> tuple[Rule, ...]:
    """`rule_terms` packed into as few rules as fit `rule_max_length`, tagged `<owner>#<n>`."""
    suffix = f" {config.rule_suffix.strip()}" if config.rule_suffix.strip() else ""

    def value(group: list[str]) -> str:
        body = " OR ".join(group)
        return f"({body}){suffix}" if suffix and len(group) > 1 else f"{body}{suffix}"

    groups: list[list[str]] = []
    for term in rule_terms(profile):
        if len(value([term])) > config.rule_max_length:
            log.warning("x_rule_term_too_long", term=term, limit=config.rule_max_length)
            continue
        if groups and len(value([*groups[-1], term])) <= config.rule_max_length:
            groups[-1].append(term)
        else:
            groups.append([term])
    owner = config.owner_tag(profile)
    return tuple(Rule(value(g), f"{owner}#{n}") for n, g in enumerate(groups, 1))


def is_ours(tag: Any, owner: str) -> bool:
    return isinstance(tag, str) and (tag == owner or tag.startswith(owner + "#"))


@dataclass(frozen=True)
class RulePlan:
    add: tuple[Rule, ...]
    delete: tuple[str, ...]  # rule ids


def plan_rules(existing: Iterable[Mapping[str, Any]], wanted: Iterable[Rule], owner: str) -> RulePlan:
    """What to add and delete so that the stream has the wanted rules: ours that are no
    longer wanted go, others' rules stay, and a value already present (ours, or another's
    with the same value, which X would refuse as a duplicate) is not added again."""
    present: set[str] = set()
    stale: list[str] = []
    wanted = tuple(wanted)
    wanted_values = {r.value for r in wanted}
    for rule in existing:
        value, rule_id = rule.get("value"), rule.get("id")
        if not isinstance(value, str) or not isinstance(rule_id, str):
            continue
        if is_ours(rule.get("tag"), owner) and value not in wanted_values:
            stale.append(rule_id)
        else:
            present.add(value)
    return RulePlan(add=tuple(r for r in wanted if r.value not in present), delete=tuple(stale))


# --- one stream line (pure) ----------------------------------------------------------


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [i for i in value if isinstance(i, dict)] if isinstance(value, list) else []


def _by_id(items: Any) -> dict[str, dict[str, Any]]:
    return {i["id"]: i for i in _dicts(items) if isinstance(i.get("id"), str)}


_REFERENCE_FIELDS = {"replied_to": "reply_to", "quoted": "quote_of", "retweeted": "repost_of"}


def tweet_event(frame: Mapping[str, Any]) -> dict[str, Any]:
    """One filtered-stream frame (`data` + `includes`) → a contract mention, or `Unusable`."""
    data = frame.get("data")
    if not isinstance(data, dict):
        raise Unusable("data: missing or not an object")
    post_id = data.get("id")
    if not isinstance(post_id, str) or not post_id.isdigit():
        raise Unusable(f"data.id: expected a numeric string, got {post_id!r}")
    text = data.get("text")
    if not isinstance(text, str):
        raise Unusable(f"post {post_id}: text missing")
    includes = frame.get("includes") if isinstance(frame.get("includes"), dict) else {}
    users = _by_id(includes.get("users"))
    posts = _by_id(includes.get("tweets"))
    author_id = data.get("author_id")
    author = users.get(author_id) if isinstance(author_id, str) else None
    if author is None:
        raise Unusable(f"post {post_id}: author {author_id!r} is not in includes.users")
    handle = author.get("username")
    if not isinstance(handle, str) or not handle:
        raise Unusable(f"post {post_id}: author {author_id} has no username")

    refs: dict[str, dict[str, str] | None] = dict.fromkeys(_REFERENCE_FIELDS.values())
    for ref in _dicts(data.get("referenced_tweets")):
        kind, ref_id = ref.get("type"), ref.get("id")
        key = _REFERENCE_FIELDS.get(kind) if isinstance(kind, str) else None
        if key is None or not isinstance(ref_id, str) or refs[key] is not None:
            continue
        # A deleted or protected post is not in includes: its author stays unknown ("").
        target_author_id = (posts.get(ref_id) or {}).get("author_id")
        target_author = users.get(target_author_id, {}) if isinstance(target_author_id, str) else {}
        account = target_author.get("username")
        refs[key] = {"post_id": f"x:{ref_id}", "account": account if isinstance(account, str) else ""}

    entities = data.get("entities") if isinstance(data.get("entities"), dict) else {}
    hashtags = [h["tag"] for h in _dicts(entities.get("hashtags")) if isinstance(h.get("tag"), str)]
    urls: list[str] = []
    for u in _dicts(entities.get("urls")):
        link = u.get("unwound_url") or u.get("expanded_url") or u.get("url")
        if isinstance(link, str) and link not in urls:
            urls.append(link)
    metrics = author.get("public_metrics") if isinstance(author.get("public_metrics"), dict) else {}
    name = author.get("name")
    lang = data.get("lang")
    event: dict[str, Any] = {
        "kind": "mention", "id": f"x:{post_id}", "platform": "x",
        "ts": event_time(data.get("created_at"), f"post {post_id}: created_at"),
        "author": {"id": f"x:u:{author_id}", "handle": handle, "name": name if isinstance(name, str) else "",
                   "followers": nonnegative(metrics.get("followers_count")),
                   "created_at": optional_time(author.get("created_at")),
                   "verified": author.get("verified") is True},
        "text": text,
        **refs,
        "hashtags": hashtags, "urls": urls, "lang": lang if isinstance(lang, str) else None, "geo": None,
        "url": f"https://x.com/{handle}/status/{post_id}",
    }
    conversation = data.get("conversation_id")
    if isinstance(conversation, str) and conversation:
        event["conversation_id"] = f"x:{conversation}"
    return event


class KeepAlive(NamedTuple):
    pass


class Post(NamedTuple):
    event: dict[str, Any]


class StreamError(NamedTuple):
    """An error object on the stream; `disconnect` when X is about to close it."""

    title: str
    detail: str
    disconnect: bool


class Malformed(NamedTuple):
    reason: str


Frame = KeepAlive | Post | StreamError | Malformed
KEEP_ALIVE = KeepAlive()


def read_line(line: bytes) -> Frame:
    """One line of the stream, classified. A post that carries partial errors (a referenced
    post not found) is still a post."""
    stripped = line.strip()
    if not stripped:
        return KEEP_ALIVE
    try:
        obj = orjson.loads(stripped)
    except orjson.JSONDecodeError as exc:
        return Malformed(f"not valid JSON: {exc}")
    if not isinstance(obj, dict):
        return Malformed(f"expected a JSON object, got {type(obj).__name__}")
    if "data" in obj:
        try:
            return Post(tweet_event(obj))
        except Unusable as exc:
            return Malformed(str(exc))
    errors = obj.get("errors")
    if isinstance(errors, list) and errors and all(isinstance(e, dict) for e in errors):
        first = errors[0]
        disconnect = any(e.get("title") == "operational-disconnect" or "disconnect_type" in e for e in errors)
        return StreamError(str(first.get("title") or "error"), str(first.get("detail") or ""), disconnect)
    if isinstance(obj.get("title"), str) and "connection_issue" in obj:  # ConnectionException
        return StreamError(obj["title"], str(obj.get("detail") or ""), True)
    return Malformed("neither data nor errors")


# --- waits ---------------------------------------------------------------------------


@dataclass
class LinearBackoff:
    """step, 2×step, 3×step … up to cap: X's advice for TCP/IP-level errors."""

    step_s: float
    cap_s: float
    failures: int = 0

    def next_delay(self) -> float:
        self.failures += 1
        return min(self.cap_s, self.step_s * self.failures)

    def reset(self) -> None:
        self.failures = 0


def rate_limit_wait(headers: Mapping[str, str], now: float) -> float:
    """Seconds until X lets us try again, from `x-rate-limit-reset` (POSIX seconds) or
    `Retry-After`; 0 when the response says nothing usable."""
    wait = 0.0
    reset = headers.get("x-rate-limit-reset")
    if reset and reset.strip().isdigit():
        wait = max(wait, int(reset) - now + 1.0)  # the reset second itself may still be refused
    asked = retry_after_seconds(headers.get("retry-after"), now)
    if asked is not None:
        wait = max(wait, asked)
    return max(0.0, wait)


class Retry(NamedTuple):
    kind: str  # "network", "http", "rate_limited"
    reason: str
    at_least: float = 0.0


async def _problem(resp: aiohttp.ClientResponse) -> str:
    """X's own words for a refused request (title and detail), never our request headers."""
    try:
        body = await resp.json(content_type=None)
    except (ValueError, aiohttp.ClientError):
        return f"HTTP {resp.status}"
    if isinstance(body, dict):
        first = (body.get("errors") or [body])[0]
        if isinstance(first, dict):
            words = " ".join(str(first.get(k) or "") for k in ("title", "detail", "message")).strip()
            return f"HTTP {resp.status}: {words[:200]}" if words else f"HTTP {resp.status}"
    return f"HTTP {resp.status}"


# --- the source ------------------------------------------------------------------------


class XStream:
    """The X filtered stream for one municipality: `await XStream(profile, config).run(sink, stop)`.

    `clock` is the wall clock that `x-rate-limit-reset` is compared with."""

    def __init__(self, profile: Profile, config: XStreamConfig, *, clock: Callable[[], float] = time.time) -> None:
        self.profile = profile
        self.config = config
        self.clock = clock
        self.rules = build_rules(profile, config)
        self.rules_synced = False
        self.connections = 0  # successful connections so far
        self._recent = RecentIds(20_000)
        self._network = LinearBackoff(config.network_backoff_step_s, config.network_backoff_cap_s)
        self._http = Backoff(base_s=config.http_backoff_base_s, cap_s=config.http_backoff_cap_s)
        self._rate = Backoff(base_s=config.rate_limit_base_s, cap_s=config.rate_limit_cap_s)

    def __repr__(self) -> str:
        return f"XStream(municipality={self.profile.id!r}, rules={len(self.rules)}, api_url={self.config.api_url!r})"

    def _url(self, path: str) -> str:
        return self.config.api_url.rstrip("/") + path

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.config.bearer_token.value}", "User-Agent": USER_AGENT}

    async def run(self, sink: Sink, stop: asyncio.Event) -> None:
        """Sync the rules, then stream until `stop` is set, reconnecting as X advises."""
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=self.config.connect_timeout_s)
        async with aiohttp.ClientSession(timeout=timeout, headers=self._headers()) as session:
            while not stop.is_set():
                attempt = await unless_stopped(self._attempt(session, sink), stop)
                if attempt is None:
                    return
                retry = attempt.result()
                delay = self._delay(retry)
                log.info("x_stream_retrying", kind=retry.kind, reason=retry.reason, delay_s=round(delay, 3))
                if await sleep_or_stop(delay, stop):
                    return

    def _delay(self, retry: Retry) -> float:
        if retry.kind == "rate_limited":
            return self._rate.next_delay(at_least=max(self.config.rate_limit_base_s, retry.at_least))
        if retry.kind == "http":
            return self._http.next_delay(at_least=self.config.http_backoff_base_s)
        return self._network.next_delay()

    def _refused(self, resp: aiohttp.ClientResponse, problem: str) -> Retry:
        if resp.status == 429:
            wait = min(rate_limit_wait(resp.headers, self.clock()), self.config.rate_limit_cap_s)
            return Retry("rate_limited", problem, wait)
        if resp.status in (401, 403):
            log.error("x_stream_refused", status=resp.status, problem=problem,
                      hint="check the bearer token and the app's access level")
        return Retry("http", problem)

    async def _attempt(self, session: aiohttp.ClientSession, sink: Sink) -> Retry:
        """Sync the rules if not yet done, then one connection; what went wrong, for the wait."""
        try:
            if not self.rules_synced:
                refused = await self.sync_rules(session)
                if refused is not None:
                    return refused
            return await self._connection(session, sink)
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, OSError) as exc:
            return Retry("network", f"{type(exc).__name__}: {exc}")
        except TimeoutError:
            return Retry("network", "timed out")
        except ValueError as exc:  # a 200 whose body is not the JSON X documents
            return Retry("http", f"unreadable answer: {exc}"[:200])

    async def sync_rules(self, session: aiohttp.ClientSession) -> Retry | None:
        """Make the stream's rules ours plus others' (see `plan_rules`); None when done."""
        timeout = aiohttp.ClientTimeout(total=self.config.request_timeout_s)
        async with session.get(self._url(RULES_PATH), timeout=timeout) as resp:
            if resp.status != 200:
                return self._refused(resp, await _problem(resp))
            body = await resp.json(content_type=None)
        existing = body.get("data") if isinstance(body, dict) else None
        plan = plan_rules(existing if isinstance(existing, list) else [], self.rules,
                          self.config.owner_tag(self.profile))
        if plan.add:
            payload = {"add": [{"value": r.value, "tag": r.tag} for r in plan.add]}
            async with session.post(self._url(RULES_PATH), json=payload, timeout=timeout) as resp:
                if resp.status not in (200, 201):
                    return self._refused(resp, await _problem(resp))
                answer = await resp.json(content_type=None)
            for error in (answer.get("errors") or []) if isinstance(answer, dict) else []:
                if isinstance(error, dict) and error.get("title") != "DuplicateRule":
                    log.warning("x_rule_refused", value=error.get("value"), title=error.get("title"),
                                detail=error.get("detail"))
        if plan.delete:
            payload = {"delete": {"ids": list(plan.delete)}}
            async with session.post(self._url(RULES_PATH), json=payload, timeout=timeout) as resp:
                if resp.status not in (200, 201):
                    return self._refused(resp, await _problem(resp))
        self.rules_synced = True
        log.info("x_rules_synced", municipality=self.profile.id, rules=len(self.rules),
                 added=len(plan.add), deleted=len(plan.delete))
        return None

    async def _connection(self, session: aiohttp.ClientSession, sink: Sink) -> Retry:
        params = dict(STREAM_PARAMS)
        if self.config.backfill_minutes and self.connections:
            params["backfill_minutes"] = str(self.config.backfill_minutes)
        async with session.get(self._url(STREAM_PATH), params=params) as resp:
            if resp.status != 200:
                return self._refused(resp, await _problem(resp))
            self.connections += 1
            self._network.reset()
            self._http.reset()
            self._rate.reset()
            log.info("x_stream_connected", municipality=self.profile.id, connection=self.connections)
            return await self._read(resp, sink)

    async def _read(self, resp: aiohttp.ClientResponse, sink: Sink) -> Retry:
        stall = self.config.stall_timeout_s
        loop = asyncio.get_running_loop()
        buffer = b""
        skipping = False  # inside a line too long to keep, until its end
        try:
            async with asyncio.timeout(stall) as deadline:
                while True:
                    chunk = await resp.content.readany()
                    if not chunk:
                        return Retry("network", "stream closed by X")
                    deadline.reschedule(loop.time() + stall)
                    if skipping:
                        end = chunk.find(b"\n")
                        if end < 0:
                            continue
                        chunk, skipping = chunk[end + 1:], False
                    *lines, buffer = (buffer + chunk).split(b"\n")
                    for line in lines:
                        if len(line) > MAX_LINE_BYTES:
                            await self._too_long(line, sink)
                            continue
                        retry = await self._handle(line, sink)
                        if retry is not None:
                            return retry
                    if len(buffer) > MAX_LINE_BYTES:
                        await self._too_long(buffer, sink)
                        buffer, skipping = b"", True
                    deadline.reschedule(loop.time() + stall)
        except TimeoutError:
            if deadline.expired():
                log.warning("x_stream_stalled", silent_s=stall)
                return Retry("network", f"no data for {stall:g} s")
            raise

    @staticmethod
    async def _too_long(line: bytes, sink: Sink) -> None:
        await sink.reject(line[:REJECTED_PREFIX_BYTES], f"line longer than {MAX_LINE_BYTES} bytes", SOURCE)

    async def _handle(self, line: bytes, sink: Sink) -> Retry | None:
        try:
            frame = read_line(line)
        except Exception as exc:  # noqa: BLE001 — a shape nobody foresaw must not end the stream
            log.exception("x_stream_line_unreadable")
            frame = Malformed(f"unexpected {type(exc).__name__}: {exc}"[:300])
        if isinstance(frame, Post):
            if self._recent.add(frame.event["id"]):
                await sink.publish(frame.event)
        elif isinstance(frame, Malformed):
            await sink.reject(line.rstrip(b"\r"), frame.reason, SOURCE)
        elif isinstance(frame, StreamError):
            log.warning("x_stream_error_reported", title=frame.title, detail=frame.detail[:200],
                        disconnect=frame.disconnect)
            if frame.disconnect:
                return Retry("network", f"{frame.title}: {frame.detail}"[:200])
        return None
