"""What every source adapter shares: where events go, backoff, dedup, cursors, relevance.

A source (Bluesky Jetstream, Mastodon streaming, X filtered stream, the webhook
receiver, account discovery, the JMA feed) turns what a platform sends into
contract events (../shared/contracts/events.md) and hands each to a `Sink`:

    await sink.publish(event_dict)            # checked against the contract first
    await sink.reject(raw, reason, source)    # a frame it could not read

The sink checks every event with `vocabulary.contract.event_from_dict`; one that
breaks the contract goes to the dead-letter topic with the reason instead, so a
platform's odd frame never stops a source nor loses the frames around it. Event
ids already published (a reconnect that replays a few seconds, a cursor set a
little early on purpose) are dropped by a bounded memory of recent ids.

Sources run until `stop` is set, reconnecting with `Backoff` (`vocabulary.waits`) after a failure
and resuming from a `Cursor` where the platform has one.

Also here, for the adapters to share: `Unusable` (a frame or object that cannot
become an event) and the checks that raise it (`need_object`, `need_text`),
`event_time` / `optional_time` (a platform's RFC 3339 time in municipal time),
`wait_asked` (what a 429 asks), `BoundedMap`, and the two ways a source's tasks
end when `stop` is set (`run_until_stopped`, `unless_stopped`).
"""

from __future__ import annotations

import asyncio
import os
import re
import unicodedata
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol, TypeVar

import orjson
import structlog

from vocabulary.contract import ContractError, Event, Profile, event_from_dict
from vocabulary.records import DeadLetter
from vocabulary.terms import JST
from vocabulary.topics import TopicNames
from vocabulary.waits import retry_after_seconds

log = structlog.get_logger(__name__)

RECENT_IDS = 50_000  # event ids remembered per sink for dedup across reconnects
USER_AGENT = "noroshi/0.1 (+municipal incident response)"
MAX_WAIT_S = 900.0  # never believe a server that asks for more

T = TypeVar("T")


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat()


class Unusable(ValueError):
    """A frame or platform object that cannot be read as what it claims to be, or cannot become
    a contract event; `str()` is the reason (for the dead letters)."""


def need_object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Unusable(f"{where}: missing or not an object")
    return value


def need_text(value: Any, where: str, *, empty: bool = True) -> str:
    if not isinstance(value, str) or (not empty and not value):
        raise Unusable(f"{where}: missing or not a string")
    return value


def nonnegative(value: Any) -> int:
    """A count as a platform gives it (followers), or 0 when it is not a non-negative int."""
    return value if type(value) is int and value >= 0 else 0


def parse_time(value: Any, where: str) -> datetime:
    """A platform's RFC 3339 time (`2026-11-22T01:15:00.000Z`) → an aware datetime, or `Unusable`
    when it is missing, unreadable or has no UTC offset."""
    if not isinstance(value, str) or not value:
        raise Unusable(f"{where}: missing")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Unusable(f"{where}: not an RFC 3339 time: {value!r}") from None
    if parsed.tzinfo is None:
        raise Unusable(f"{where}: time {value!r} has no UTC offset")
    return parsed


def local_iso(when: datetime) -> str:
    """An aware datetime → RFC 3339 in municipal time, whole seconds."""
    return when.astimezone(JST).isoformat(timespec="seconds")


def event_time(value: Any, where: str) -> str:
    """A platform's time (`2026-11-22T01:15:00.000Z`) → RFC 3339 in municipal time, whole seconds."""
    return local_iso(parse_time(value, where))


def optional_time(value: Any) -> str | None:
    """`event_time`, or None when the time is absent or unreadable (an account's createdAt)."""
    try:
        return event_time(value, "created_at")
    except Unusable:
        return None


def wait_asked(headers: Mapping[str, str], now: float) -> float:
    """Seconds a 429 (or 503) asks us to wait: `Retry-After` (seconds or an HTTP date) or
    `RateLimit-Reset` / `X-RateLimit-Reset` (POSIX seconds or an ISO time); 0 when none."""
    waits = [0.0]
    folded = {str(k).lower(): v for k, v in headers.items()}
    for name in ("retry-after", "ratelimit-reset", "x-ratelimit-reset"):
        value = (folded.get(name) or "").strip()
        if not value:
            continue
        if name == "retry-after":  # says *how long*, or until when
            asked = retry_after_seconds(value, now)
            if asked is not None:
                waits.append(asked)
            continue
        try:
            number = float(value)
        except ValueError:
            number = None
        if number is not None:
            # A reset header with a POSIX time says *when*, else how long.
            waits.append(number - now if number > 1e9 else number)
            continue
        try:
            when = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except (TypeError, ValueError):
            continue
        if when.tzinfo is not None:
            waits.append(when.timestamp() - now)
    return min(MAX_WAIT_S, max(waits))


class BoundedMap(OrderedDict[str, Any]):
    """A bounded mapping that forgets the least recently written keys."""

    def __init__(self, cap: int) -> None:
        super().__init__()
        self.cap = cap

    def put(self, key: str, value: Any) -> None:
        self[key] = value
        self.move_to_end(key)
        if len(self) > self.cap:
            self.popitem(last=False)


ACCEPTED, DUPLICATE, REJECTED = "accepted", "duplicate", "rejected"


@dataclass(frozen=True, slots=True)
class Offered:
    """What a sink did with one event: `accepted` (published now), `duplicate` (published
    before) or `rejected` (refused: `reason` says why, and it went to the dead letters)."""

    status: str
    reason: str = ""


class Sink(Protocol):
    """Where a source's events go."""

    async def publish(self, event: dict[str, Any]) -> bool:
        """Publish one contract event; False if it was a repeat (already published) or was
        refused (then it went to the dead letters with the reason)."""
        ...

    async def offer(self, event: dict[str, Any]) -> Offered:
        """`publish`, saying which of the three happened. An id counts as published only
        once the broker has it: a send that fails raises, and the id can be sent again."""
        ...

    async def reject(self, raw: bytes | str, reason: str, source: str) -> None:
        """A frame the source could not turn into an event: to the dead letters, with why."""
        ...


class RecentIds:
    """A bounded memory of ids: `add` answers False for an id seen among the last `cap`."""

    def __init__(self, cap: int = RECENT_IDS) -> None:
        self.cap = cap
        self._ids: OrderedDict[str, None] = OrderedDict()

    def __contains__(self, event_id: object) -> bool:
        return event_id in self._ids

    def add(self, event_id: str) -> bool:
        if event_id in self._ids:
            self._ids.move_to_end(event_id)
            return False
        self._ids[event_id] = None
        if len(self._ids) > self.cap:
            self._ids.popitem(last=False)
        return True

    def __len__(self) -> int:
        return len(self._ids)


def _checked(event: dict[str, Any]) -> Event:
    return event_from_dict(event)


class MemorySink:
    """A sink that keeps what it gets: for tests and for `noroshi replay`-style checks."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.rejected: list[tuple[bytes, str, str]] = []
        self._recent = RecentIds()
        self.arrived = asyncio.Event()

    async def publish(self, event: dict[str, Any]) -> bool:
        return (await self.offer(event)).status == ACCEPTED

    async def offer(self, event: dict[str, Any]) -> Offered:
        try:
            _checked(event)
        except ContractError as exc:
            await self.reject(orjson.dumps(event), f"contract: {exc}", str(event.get("platform") or "?"))
            return Offered(REJECTED, f"contract: {exc}")
        if not self._recent.add(str(event["id"])):
            return Offered(DUPLICATE)
        self.events.append(event)
        self.arrived.set()
        return Offered(ACCEPTED)

    async def reject(self, raw: bytes | str, reason: str, source: str) -> None:
        self.rejected.append((raw if isinstance(raw, bytes) else raw.encode(), reason, source))
        self.arrived.set()

    async def wait_for(self, count: int, timeout: float = 10.0) -> None:
        """Until `count` events (published or rejected) have arrived."""
        async def enough() -> None:
            while len(self.events) + len(self.rejected) < count:
                self.arrived.clear()
                await self.arrived.wait()
        await asyncio.wait_for(enough(), timeout)


class KafkaSink:
    """Publishes onto the contract's input topics, keyed by municipality id, with the
    event's own time as the Kafka timestamp; refused frames go to the dead letters."""

    def __init__(self, producer: Any, names: TopicNames, municipality: str) -> None:
        self.producer = producer  # a started aiokafka.AIOKafkaProducer
        self.names = names
        self.key = municipality.encode()
        self._recent = RecentIds()

    async def publish(self, event: dict[str, Any]) -> bool:
        return (await self.offer(event)).status == ACCEPTED

    async def offer(self, event: dict[str, Any]) -> Offered:
        raw = orjson.dumps(event)
        try:
            parsed = _checked(event)
        except ContractError as exc:
            await self.reject(raw, f"contract: {exc}", str(event.get("platform") or "?"))
            return Offered(REJECTED, f"contract: {exc}")
        if parsed.id in self._recent:
            return Offered(DUPLICATE)
        await self.producer.send_and_wait(self.names.for_kind(parsed.kind), raw, key=self.key,
                                          timestamp_ms=int(parsed.ts * 1000))
        # Only now: a send that failed leaves the id unseen, so a retry publishes it.
        self._recent.add(parsed.id)
        return Offered(ACCEPTED)

    async def reject(self, raw: bytes | str, reason: str, source: str) -> None:
        body = raw if isinstance(raw, bytes) else raw.encode("utf-8", "replace")
        letter = DeadLetter.of(reason=reason, topic=f"source:{source}", partition=-1, offset=-1,
                               key=self.key, raw=body, failed_at=now_iso())
        log.warning("source_frame_dead_lettered", source=source, reason=reason)
        await self.producer.send_and_wait(self.names.deadletters, letter.to_json(), key=self.key)


async def sleep_or_stop(delay: float, stop: asyncio.Event) -> bool:
    """Wait `delay` seconds; True if `stop` was set meanwhile (then return at once)."""
    try:
        await asyncio.wait_for(stop.wait(), timeout=max(0.0, delay))
    except TimeoutError:
        return False
    return True


async def run_until_stopped(work: list[asyncio.Task[Any]], stop: asyncio.Event,
                            on_exit: Callable[[], None]) -> None:
    """Until `stop` is set or one of the `work` tasks ends: then every task is cancelled and
    awaited, `on_exit` is called (also when this is cancelled or fails), and the exception a
    task ended with, if any, is raised."""
    stopped = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait([*work, stopped], return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (*work, stopped):
            task.cancel()
        await asyncio.gather(*work, stopped, return_exceptions=True)
        on_exit()
    for task in work:
        if not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]


async def unless_stopped(work: Awaitable[T], stop: asyncio.Event) -> asyncio.Future[T] | None:
    """Run `work` until it ends or `stop` is set: the finished future (read its `result()`), or
    None when `stop` came first (then `work` has been cancelled and awaited)."""
    attempt = asyncio.ensure_future(work)
    stopped = asyncio.ensure_future(stop.wait())
    done, _ = await asyncio.wait({attempt, stopped}, return_when=asyncio.FIRST_COMPLETED)
    if attempt not in done:
        attempt.cancel()
        await asyncio.gather(attempt, return_exceptions=True)
        return None
    stopped.cancel()
    return attempt


class Cursor:
    """A source's resume point, one small JSON file per source under the data folder.

    Written atomically (temp file + rename) so a crash leaves the old cursor or the new,
    never half of one."""

    def __init__(self, folder: Path | None, name: str) -> None:
        self.path = None if folder is None else folder / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}.json"

    def load(self) -> dict[str, Any]:
        if self.path is None or not self.path.exists():
            return {}
        try:
            value = orjson.loads(self.path.read_bytes())
        except orjson.JSONDecodeError:
            log.warning("source_cursor_unreadable", path=str(self.path))
            return {}
        return value if isinstance(value, dict) else {}

    def save(self, value: dict[str, Any]) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_bytes(orjson.dumps(value))
        os.replace(tmp, self.path)


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


@dataclass(frozen=True)
class Relevance:
    """Does a post concern the municipality? Its names, its hashtags (watch and disaster),
    its areas, or a mention of / reply to one of its official handles."""

    names: tuple[str, ...]
    hashtags: tuple[str, ...]
    handles: frozenset[str]

    @classmethod
    def of(cls, profile: Profile) -> Relevance:
        names = tuple(dict.fromkeys(_fold(n) for n in (*(profile.names or (profile.name,)), *profile.areas) if n))
        tags = tuple(dict.fromkeys(_fold(t).lstrip("#＃")
                                   for t in (*profile.watch_hashtags, *profile.disaster_hashtags) if t))
        return cls(names=names, hashtags=tags, handles=frozenset(h.lower() for h in profile.official_handles))

    def keywords(self) -> tuple[str, ...]:
        """The words a platform's search or filter rule should ask for."""
        return tuple(dict.fromkeys((*self.names, *(f"#{t}" for t in self.hashtags))))

    def matches(self, text: str, *, hashtags: Iterable[str] = (), handles: Iterable[str] = ()) -> bool:
        folded = _fold(text)
        if any(n in folded for n in self.names):
            return True
        tags = {_fold(t).lstrip("#＃") for t in hashtags}
        if tags & set(self.hashtags) or any(f"#{t}" in folded or f"＃{t}" in folded for t in self.hashtags):
            return True
        return any(h.lstrip("@").lower() in self.handles for h in handles) or any(
            f"@{h}" in folded for h in self.handles)
