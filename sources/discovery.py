"""Account discovery for なりすまし (impersonation): a periodic search of each platform for
accounts that carry the municipality's names or its official handles.

Each round asks Bluesky, Mastodon and X for accounts matching every query, and
publishes an `account` event of type `seen` for each account that is new or
whose handle, name, bio or avatar changed since it was last seen; the
impersonation detector decides which of them pose as the city. A fingerprint of
each account's profile is remembered (bounded, in a `Cursor` file) so that a
restart does not publish every account again. One platform or query failing
never stops the others; the next round tries again.

The city's own registered accounts are skipped: the detector drops events about
official handles anyway, so they would only add traffic. Avatars travel as
`avatar_url`, and `avatar_phash` is the picture's perceptual hash (`sources.avatars`:
fetched within a size cap and a timeout, remembered per URL) when the optional extra
`noroshi[avatars]` is installed; without it, or when the picture cannot be had, it is
null and the account is published all the same.
"""

from __future__ import annotations

import asyncio
import hashlib
import html
import re
import time
import unicodedata
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol
from urllib.parse import urlsplit

import aiohttp
import orjson
import structlog

from vocabulary.settings import Secret
from vocabulary.contract import OfficialAccount, Profile
from vocabulary.records import iso
from sources.avatars import AvatarConfig, AvatarHashes, Hasher, INSTALLED
from sources.base import (
    USER_AGENT,
    Cursor,
    Sink,
    Unusable,
    nonnegative,
    optional_time,
    sleep_or_stop,
    unless_stopped,
)

log = structlog.get_logger(__name__)

SOURCE = "discovery"
CURSOR_VERSION = 1
AVATAR_LATER = "~avatar"  # marks a remembered fingerprint whose avatar is still to be hashed
BLUESKY_PROFILES_BATCH = 25  # app.bsky.actor.getProfiles takes at most 25 actors


@dataclass(frozen=True)
class DiscoveryConfig:
    """Which platforms to search and how often. An empty URL or token turns that platform off:
    Bluesky's public AppView needs no account, Mastodon needs an instance, X a bearer token."""

    interval_s: float = 900.0
    limit: int = 25  # accounts asked for per query (Bluesky ≤ 100, Mastodon ≤ 40, X ≤ 1000)
    bluesky_url: str = "https://public.api.bsky.app"
    mastodon_url: str = ""
    mastodon_token: Secret = Secret("")
    x_api_url: str = "https://api.x.com"
    x_bearer_token: Secret = Secret("")
    #: Fingerprints remembered; the accounts seen longest ago are forgotten first.
    remembered_cap: int = 10_000
    request_timeout_s: float = 20.0
    extra_queries: tuple[str, ...] = ()
    #: Avatars of the accounts about to be published: fetched (size cap, timeout) and hashed.
    avatars: AvatarConfig = AvatarConfig()


# --- queries (pure) --------------------------------------------------------------------------

#: Words in official handles that say "official city account" rather than which city.
_GENERIC = ("official", "koushiki", "koshiki", "city", "town", "village", "vill", "shi", "cho", "machi",
            "mura", "ku", "pref", "koho", "kouhou", "kohou", "pr", "info", "jp", "lg", "go", "gov", "www",
            "bsky", "social", "office", "staff", "account", "the")
_GENERIC_SET = frozenset(_GENERIC)
_AFFIXES = tuple(sorted((g for g in _GENERIC if len(g) >= 3), key=len, reverse=True))
_SEPARATORS = re.compile(r"[._\-]+")
MIN_STEM = 3


def handle_core(handle: str) -> str:
    """The handle without its instance (`name@host`) or Bluesky's default domain."""
    core = handle.lstrip("@").split("@", 1)[0].lower()
    return core.removesuffix(".bsky.social")


def handle_stem(handle: str) -> str:
    """The part of an official handle that names the city: `wako_city_official` → `wako`,
    `aosawacity.bsky.social` → `aosawa`, `city.wako.lg.jp` → `wako`; "" when nothing is left."""
    words = [w for w in _SEPARATORS.split(handle_core(handle)) if w and w not in _GENERIC_SET]
    stripped = []
    for word in words:
        changed = True
        while changed:
            changed = False
            for affix in _AFFIXES:
                if len(word) - len(affix) >= MIN_STEM and (word.startswith(affix) or word.endswith(affix)):
                    word = word[len(affix):] if word.startswith(affix) else word[: -len(affix)]
                    changed = True
        stripped.append(word)
    stem = "_".join(stripped)
    return stem if len(stem) >= MIN_STEM else ""


def search_queries(profile: Profile, extra: Iterable[str] = ()) -> tuple[str, ...]:
    """The municipality's names, each official handle's core and stem, and any extra words."""
    found: dict[str, str] = {}
    candidates = [*(profile.names or (profile.name,)), *extra]
    for acct in profile.accounts:
        candidates += [handle_core(acct.handle), handle_stem(acct.handle)]
    for query in candidates:
        query = unicodedata.normalize("NFKC", query).strip()
        if query:
            found.setdefault(query.lower(), query)
    return tuple(found.values())


# --- accounts (pure) -------------------------------------------------------------------------


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _required(obj: Any, key: str, where: str) -> str:
    if not isinstance(obj, dict):
        raise Unusable(f"{where}: expected an object, got {type(obj).__name__}")
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        raise Unusable(f"{where}: {key} missing")
    return value


def bluesky_account(actor: Any) -> dict[str, Any]:
    """An `app.bsky.actor.defs#profileView` (or `…Detailed`) → a contract account."""
    did = _required(actor, "did", "bluesky actor")
    handle = _required(actor, "handle", f"bluesky actor {did}")
    verification = actor.get("verification") if isinstance(actor.get("verification"), dict) else {}
    return {"id": f"bluesky:{did}", "handle": handle, "name": _text(actor.get("displayName")),
            "bio": _text(actor.get("description")), "url": f"https://bsky.app/profile/{handle}",
            "avatar_phash": None, "avatar_url": _text(actor.get("avatar")) or None,
            "followers": nonnegative(actor.get("followersCount")), "created_at": optional_time(actor.get("createdAt")),
            "verified": verification.get("verifiedStatus") == "valid"}


_BREAK = re.compile(r"<br\s*/?>|</p>\s*<p[^>]*>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]*>")


def html_text(value: Any) -> str:
    """Mastodon's HTML bio as the plain text a resident reads."""
    if not isinstance(value, str):
        return ""
    return html.unescape(_TAG.sub("", _BREAK.sub("\n", value))).strip()


def mastodon_account(account: Any) -> dict[str, Any]:
    """A Mastodon `Account` → a contract account. The handle is `acct` as the instance
    gives it: `name` for its own users, `name@host` for others."""
    account_id = _required(account, "id", "mastodon account")
    handle = _required(account, "acct", f"mastodon account {account_id}")
    avatar = _text(account.get("avatar_static") or account.get("avatar"))
    return {"id": f"mastodon:u:{account_id}", "handle": handle, "name": _text(account.get("display_name")),
            "bio": html_text(account.get("note")), "url": _text(account.get("url")),
            "avatar_phash": None,
            "avatar_url": None if not avatar or avatar.endswith("/missing.png") else avatar,
            "followers": nonnegative(account.get("followers_count")),
            "created_at": optional_time(account.get("created_at")),
            "verified": False}


def x_account(user: Any) -> dict[str, Any]:
    """An X API v2 user (with our user.fields) → a contract account."""
    user_id = _required(user, "id", "x user")
    handle = _required(user, "username", f"x user {user_id}")
    metrics = user.get("public_metrics") if isinstance(user.get("public_metrics"), dict) else {}
    return {"id": f"x:u:{user_id}", "handle": handle, "name": _text(user.get("name")),
            "bio": _text(user.get("description")), "url": f"https://x.com/{handle}",
            "avatar_phash": None, "avatar_url": _text(user.get("profile_image_url")) or None,
            "followers": nonnegative(metrics.get("followers_count")),
            "created_at": optional_time(user.get("created_at")),
            "verified": user.get("verified") is True}


def fingerprint(account: dict[str, Any]) -> str:
    """What makes a profile news again: its handle, name, bio and avatar (not its followers)."""
    parts = (account.get("handle"), account.get("name"), account.get("bio"), account.get("avatar_url"))
    return hashlib.blake2b(orjson.dumps(parts), digest_size=8).hexdigest()


def seen_event(platform: str, account: dict[str, Any], *, ts: str, query: str) -> dict[str, Any]:
    """The contract event for one sighting. Its id names the account, its profile's fingerprint
    and its avatar's hash, so a profile published again (after a restart, or while its picture
    has not come) is a repeat the sink drops, and the same profile with its hash is news."""
    native = account["id"].split(":", 1)[1]
    phash = f":{account['avatar_phash']}" if account.get("avatar_phash") else ""
    return {"kind": "account", "id": f"{platform}:acct:{native}:{fingerprint(account)}{phash}",
            "platform": platform, "ts": ts, "type": "seen", "account": account, "note": None,
            "source": SOURCE, "query": query}


def _same_url(a: str, b: str) -> bool:
    pa, pb = urlsplit(a.strip().lower()), urlsplit(b.strip().lower())
    return bool(pa.netloc) and (pa.netloc, pa.path.rstrip("/")) == (pb.netloc, pb.path.rstrip("/"))


def is_official(platform: str, account: dict[str, Any], officials: Sequence[OfficialAccount]) -> bool:
    """One of the municipality's registered accounts: same platform and handle, or its profile URL."""
    handle = str(account.get("handle") or "").lower()
    url = str(account.get("url") or "")
    return any(o.platform == platform and (o.handle.lower() == handle or (o.url and url and _same_url(o.url, url)))
               for o in officials)


# --- platforms ---------------------------------------------------------------------------------


class SearchFailed(Exception):
    """A search that did not answer; `give_up` when the platform's other queries would fail too
    (rate limited, refused, unreachable) and should wait for the next round."""

    def __init__(self, reason: str, *, status: int | None = None, give_up: bool = False) -> None:
        super().__init__(reason)
        self.status = status
        self.give_up = give_up


class Platform(Protocol):
    platform: ClassVar[str]

    async def search(self, session: aiohttp.ClientSession, query: str) -> list[Any]:
        """The raw accounts one query finds, or `SearchFailed`."""
        ...

    def account(self, raw: Any) -> dict[str, Any]:
        """One raw account as a contract account, or `Unusable`."""
        ...

    async def complete(self, session: aiohttp.ClientSession, accounts: list[dict[str, Any]]) -> None:
        """Fill in what the search answer lacks, for the accounts about to be published."""
        ...


async def _get_json(session: aiohttp.ClientSession, url: str, params: Any, headers: dict[str, str],
                    timeout: float, platform: str) -> Any:
    try:
        async with session.get(url, params=params, headers=headers,
                               timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
            if resp.status != 200:
                refused = resp.status in (401, 403, 429)
                raise SearchFailed(f"{platform} answered HTTP {resp.status}", status=resp.status, give_up=refused)
            return await resp.json(content_type=None)
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        raise SearchFailed(f"{platform} unreachable: {type(exc).__name__}", give_up=True) from None
    except ValueError:
        raise SearchFailed(f"{platform} answered something that is not JSON") from None


def _bearer(token: Secret) -> dict[str, str]:
    headers = {"User-Agent": USER_AGENT}
    if token:
        headers["Authorization"] = f"Bearer {token.value}"
    return headers


@dataclass(frozen=True)
class BlueskySearch:
    """`app.bsky.actor.searchActors` on an AppView; followers from `getProfiles`, which the
    search answer lacks."""

    platform: ClassVar[str] = "bluesky"
    url: str
    limit: int = 25
    timeout_s: float = 20.0

    async def search(self, session: aiohttp.ClientSession, query: str) -> list[Any]:
        body = await _get_json(session, f"{self.url.rstrip('/')}/xrpc/app.bsky.actor.searchActors",
                               {"q": query, "limit": str(min(max(self.limit, 1), 100))},
                               _bearer(Secret("")), self.timeout_s, self.platform)
        actors = body.get("actors") if isinstance(body, dict) else None
        return actors if isinstance(actors, list) else []

    def account(self, raw: Any) -> dict[str, Any]:
        return bluesky_account(raw)

    async def complete(self, session: aiohttp.ClientSession, accounts: list[dict[str, Any]]) -> None:
        by_did = {a["id"].removeprefix("bluesky:"): a for a in accounts}
        dids = list(by_did)
        for start in range(0, len(dids), BLUESKY_PROFILES_BATCH):
            batch = dids[start:start + BLUESKY_PROFILES_BATCH]
            try:
                body = await _get_json(session, f"{self.url.rstrip('/')}/xrpc/app.bsky.actor.getProfiles",
                                       [("actors", did) for did in batch], _bearer(Secret("")),
                                       self.timeout_s, self.platform)
            except SearchFailed as exc:
                log.warning("discovery_followers_unknown", platform=self.platform, reason=str(exc),
                            accounts=len(batch))
                continue
            for profile in (body.get("profiles") or []) if isinstance(body, dict) else []:
                if isinstance(profile, dict) and profile.get("did") in by_did:
                    by_did[profile["did"]]["followers"] = nonnegative(profile.get("followersCount"))


@dataclass(frozen=True)
class MastodonSearch:
    """`GET /api/v2/search?type=accounts` on one instance (its own users and those it knows)."""

    platform: ClassVar[str] = "mastodon"
    url: str
    token: Secret = Secret("")
    limit: int = 25
    timeout_s: float = 20.0

    async def search(self, session: aiohttp.ClientSession, query: str) -> list[Any]:
        body = await _get_json(session, f"{self.url.rstrip('/')}/api/v2/search",
                               {"q": query, "type": "accounts", "resolve": "false",
                                "limit": str(min(max(self.limit, 1), 40))},
                               _bearer(self.token), self.timeout_s, self.platform)
        accounts = body.get("accounts") if isinstance(body, dict) else None
        return accounts if isinstance(accounts, list) else []

    def account(self, raw: Any) -> dict[str, Any]:
        return mastodon_account(raw)

    async def complete(self, session: aiohttp.ClientSession, accounts: list[dict[str, Any]]) -> None:
        return None


@dataclass(frozen=True)
class XUserSearch:
    """`GET /2/users/search`, on X API Pro and above; X documents it for user-context tokens
    (an OAuth 2.0 user access token is sent as a bearer token just the same). A token
    without that access is refused (401/403) each round, logged, and the other platforms go on."""

    platform: ClassVar[str] = "x"
    url: str
    token: Secret
    limit: int = 25
    timeout_s: float = 20.0

    async def search(self, session: aiohttp.ClientSession, query: str) -> list[Any]:
        body = await _get_json(session, f"{self.url.rstrip('/')}/2/users/search",
                               {"query": query, "max_results": str(min(max(self.limit, 1), 1000)),
                                "user.fields": "created_at,description,profile_image_url,public_metrics,verified"},
                               _bearer(self.token), self.timeout_s, self.platform)
        users = body.get("data") if isinstance(body, dict) else None
        return users if isinstance(users, list) else []

    def account(self, raw: Any) -> dict[str, Any]:
        return x_account(raw)

    async def complete(self, session: aiohttp.ClientSession, accounts: list[dict[str, Any]]) -> None:
        return None


def platforms_for(config: DiscoveryConfig) -> tuple[Platform, ...]:
    found: list[Platform] = []
    if config.bluesky_url:
        found.append(BlueskySearch(config.bluesky_url, config.limit, config.request_timeout_s))
    if config.mastodon_url:
        found.append(MastodonSearch(config.mastodon_url, config.mastodon_token, config.limit,
                                    config.request_timeout_s))
    if config.x_bearer_token:
        found.append(XUserSearch(config.x_api_url, config.x_bearer_token, config.limit, config.request_timeout_s))
    return tuple(found)


# --- the source ------------------------------------------------------------------------------


@dataclass
class RoundReport:
    published: int = 0
    unchanged: int = 0
    official: int = 0
    failures: list[tuple[str, str, str]] = field(default_factory=list)  # platform, query, reason


@dataclass
class _Found:
    platform: Platform
    sightings: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # query, account
    report: RoundReport = field(default_factory=RoundReport)
    unusable: list[tuple[Any, str]] = field(default_factory=list)


class Discovery:
    """Account discovery for one municipality: `await Discovery(profile, config, cursor).run(sink, stop)`,
    or `await discovery.run_once(sink)` for a single round."""

    def __init__(self, profile: Profile, config: DiscoveryConfig, cursor: Cursor | None = None, *,
                 platforms: Sequence[Platform] | None = None, clock: Callable[[], float] = time.time,
                 hasher: Hasher | None = INSTALLED) -> None:
        self.profile = profile
        self.config = config
        self.cursor = cursor or Cursor(None, f"discovery-{profile.id}")
        self.platforms = tuple(platforms) if platforms is not None else platforms_for(config)
        self.queries = search_queries(profile, config.extra_queries)
        self.clock = clock
        self.avatars = AvatarHashes(config.avatars, hasher)
        self._fingerprints: OrderedDict[str, str] = OrderedDict()
        state = self.cursor.load()
        if state.get("version") == CURSOR_VERSION and isinstance(state.get("fingerprints"), dict):
            for key, value in state["fingerprints"].items():
                if isinstance(value, str):
                    self._fingerprints[key] = value
        self._trim()

    def __repr__(self) -> str:
        return (f"Discovery(municipality={self.profile.id!r}, platforms={[p.platform for p in self.platforms]}, "
                f"queries={len(self.queries)})")

    def remembered(self) -> int:
        return len(self._fingerprints)

    async def run(self, sink: Sink, stop: asyncio.Event) -> None:
        """A round every `interval_s` until `stop` is set (a round under way is abandoned)."""
        log.info("discovery_started", municipality=self.profile.id, queries=list(self.queries),
                 platforms=[p.platform for p in self.platforms],
                 avatars="hashed" if self.avatars.hasher and self.config.avatars.enabled else "not hashed")
        async with aiohttp.ClientSession() as session:
            while not stop.is_set():
                one = await unless_stopped(self.round(session, sink), stop)
                if one is None:
                    return
                one.result()
                if await sleep_or_stop(self.config.interval_s, stop):
                    return

    async def run_once(self, sink: Sink) -> RoundReport:
        async with aiohttp.ClientSession() as session:
            return await self.round(session, sink)

    async def round(self, session: aiohttp.ClientSession, sink: Sink) -> RoundReport:
        """Search every platform (at once) for every query; publish what is new or changed."""
        found = await asyncio.gather(*(self._search(session, p) for p in self.platforms))
        report = RoundReport()
        ts = iso(self.clock())
        for result in found:
            platform = result.platform.platform
            for raw, reason in result.unusable:
                await sink.reject(orjson.dumps(raw), f"{platform} search: {reason}", SOURCE)
            fresh = []
            for query, account in result.sightings:
                key = account["id"]
                mark = fingerprint(account)
                if self._fingerprints.get(key) == mark:
                    self._fingerprints.move_to_end(key)
                    result.report.unchanged += 1
                else:
                    fresh.append((query, account, mark))
            await result.platform.complete(session, [account for _, account, _ in fresh])
            later = await self.avatars.fill(session, [account for _, account, _ in fresh])
            for query, account, mark in fresh:
                await sink.publish(seen_event(platform, account, ts=ts, query=query))
                # An avatar still to come leaves the account "changed": the next round tries it again.
                self._fingerprints[account["id"]] = f"{mark}{AVATAR_LATER}" if account["id"] in later else mark
                self._fingerprints.move_to_end(account["id"])
                result.report.published += 1
            report.published += result.report.published
            report.unchanged += result.report.unchanged
            report.official += result.report.official
            report.failures += result.report.failures
        self._trim()
        self.cursor.save({"version": CURSOR_VERSION, "fingerprints": dict(self._fingerprints)})
        log.info("discovery_round_finished", municipality=self.profile.id, published=report.published,
                 unchanged=report.unchanged, official=report.official, failures=len(report.failures))
        return report

    async def _search(self, session: aiohttp.ClientSession, platform: Platform) -> _Found:
        """Every query on one platform, in turn; each account once per round."""
        found = _Found(platform)
        keys: set[str] = set()
        for query in self.queries:
            try:
                raws = await platform.search(session, query)
            except SearchFailed as exc:
                found.report.failures.append((platform.platform, query, str(exc)))
                log.warning("discovery_search_failed", platform=platform.platform, query=query, reason=str(exc),
                            status=exc.status, rest_of_round="skipped" if exc.give_up else "continues")
                if exc.give_up:
                    break
                continue
            for raw in raws:
                try:
                    account = platform.account(raw)
                except Unusable as exc:
                    found.unusable.append((raw, str(exc)))
                    continue
                if account["id"] in keys:
                    continue
                keys.add(account["id"])
                if is_official(platform.platform, account, self.profile.accounts):
                    found.report.official += 1
                    continue
                found.sightings.append((query, account))
        return found

    def _trim(self) -> None:
        while len(self._fingerprints) > max(self.config.remembered_cap, 0):
            self._fingerprints.popitem(last=False)
