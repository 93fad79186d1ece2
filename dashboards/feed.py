"""The board's view of the topics, fanned out to one bounded queue per live browser.

`MemoryFeed` holds the `BoardState` and the subscribers (and is the fake for tests);
`KafkaFeed` fills it from Kafka with one plain consumer (no group, so no join delay)
reading the incidents, timeline and effects topics, the dead letters (the newest few for the
システム状態 page, and the workers' notices, such as "the broker lost its data" or "a detector
state was cut down", as banners),
the heartbeats (監視: 正常 · 12秒前; `noroshi_heartbeat_age_seconds`) and, for the evidence posts, the mentions and accounts topics. Each change is serialized once, whatever the number
of browsers, and carries its municipality so that every stream sends only its own.

Liveness (最新かどうか) is what the broker last answered, not whether a consumer was
started: the feed is live while every partition it reads was fetched within
`LIVE_WINDOW_S`; `/readyz`, the pages' 最新ではありません banner and the streams' `feed`
event all read `status()`. Commands are bounded: the broker takes one within
`SEND_TIMEOUT_S`, or the sender hears `CommandNotSent`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any

import orjson
import structlog

from dashboards import views
from dashboards.state import (BoardState, DeadLetterSeen, Heartbeat, Post, is_newer, parse_deadletter,
                              parse_heartbeat, parse_notice, parse_post)
from vocabulary import metrics
from vocabulary.records import Effect, Incident, TimelineEntry, iso
from vocabulary.terms import ALL
from vocabulary.topics import TopicNames
from streams.topics import assign_every_partition

log = structlog.get_logger(__name__)

# Plenty for a burst of changes; a browser that falls this far behind gets a fresh
# snapshot on reconnect, which is cheaper than holding memory for it.
QUEUE_SIZE = 100
#: How long an action waits for the playbook's answer before the page is shown anyway.
OUTCOME_WAIT_S = 4.0
#: The feed is live while the broker answered a fetch of every partition within this long.
#: An idle fetch long-polls for half a second, so a live feed is never more than ~1 s old.
LIVE_WINDOW_S = 10.0
#: An action the broker has not taken within this long is answered "not sent" (all of it:
#: connecting, metadata and the produce request).
SEND_TIMEOUT_S = 5.0
#: How often the feed looks whether it went stale or live again (and tells the streams).
WATCH_INTERVAL_S = 1.0

__all__ = ["Change", "CommandNotSent", "FeedStatus", "KafkaFeed", "MemoryFeed", "Subscriber", "feed_status",
           "is_newer", "parse_incident"]


@dataclass(frozen=True, slots=True)
class Change:
    """One server-sent event: its municipality decides who receives it."""

    kind: str  # "incident" | "timeline" | "feed" | "heartbeat" (the last two: for every stream)
    municipality: str
    incident_id: str
    frame: bytes  # the whole `event:`/`data:` block, serialized once
    live: bool | None = None  # for kind "feed": whether the board's data is live now


Subscriber = asyncio.Queue[Change | None]  # None: "you are disconnected, stop reading"


def sse_frame(event: str, data: object) -> bytes:
    # orjson never emits a newline, so one `data:` line carries the whole record.
    return b"event: " + event.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


class CommandNotSent(RuntimeError):
    """The broker did not take a command within `SEND_TIMEOUT_S`: nothing was confirmed."""


@dataclass(frozen=True, slots=True)
class FeedStatus:
    """Whether the board's data is live (最新), and since when it is not."""

    live: bool
    last_fetch: float | None  # wall-clock time of the broker's last answer to every partition
    age: float | None  # seconds since then
    incidents: int
    error: str = ""

    def as_json(self) -> dict[str, Any]:
        return {"live": self.live, "connected": self.live, "incidents": self.incidents,
                "last_fetch": None if self.last_fetch is None else iso(self.last_fetch),
                "age_s": None if self.age is None else round(self.age, 1), "error": self.error}

    def as_event(self) -> dict[str, Any]:
        """What a browser learns from the stream's `feed` event."""
        return {"live": self.live, "last_fetch": None if self.last_fetch is None else iso(self.last_fetch)}


def feed_status(last_fetch: float | None, now: float, *, window: float = LIVE_WINDOW_S,
                incidents: int = 0, error: str = "") -> FeedStatus:
    """Live when the broker answered within `window` seconds of `now` (a clock that went
    backwards counts as an answer just now, not as a stale feed)."""
    if last_fetch is None:
        return FeedStatus(False, None, None, incidents, error or "no answer from the broker yet")
    age = max(0.0, now - last_fetch)
    live = age <= window
    return FeedStatus(live, last_fetch, age, incidents, "" if live else error or f"no answer for {age:.0f} s")


class InvalidIncident(ValueError):
    """A record on the incidents topic that is not an Incident."""


TEXT_FIELDS = ("incident_id", "municipality", "type", "target", "opened_at", "severity", "summary", "state")


def _loads(raw: bytes | None) -> dict[str, Any]:
    if raw is None:
        raise ValueError("empty record")
    obj = orjson.loads(raw)
    if not isinstance(obj, dict):
        raise ValueError(f"expected a JSON object, got {type(obj).__name__}")
    return obj


def parse_incident(raw: bytes | None) -> Incident:
    try:
        incident = Incident.from_dict(_loads(raw))
    except (ValueError, TypeError) as exc:  # orjson.JSONDecodeError is a ValueError
        raise InvalidIncident(str(exc)) from exc
    # The board sorts and renders these fields; a wrong type would break every page.
    wrong = [name for name in TEXT_FIELDS if not isinstance(getattr(incident, name), str)]
    if wrong or type(incident.version) is not int or not isinstance(incident.metrics, dict) \
            or not isinstance(incident.evidence_ids, list):
        raise InvalidIncident(f"wrong types: {', '.join(wrong) or 'version, metrics or evidence_ids'}")
    return incident


def parse_entry(raw: bytes | None) -> TimelineEntry:
    entry = TimelineEntry.from_dict(_loads(raw))
    if not all(isinstance(getattr(entry, n), str) for n in ("entry_id", "incident_id", "municipality", "at", "action")) \
            or not isinstance(entry.actor, dict) or not isinstance(entry.detail, dict):
        raise ValueError("wrong types in a timeline entry")
    return entry


def parse_effect(raw: bytes | None) -> Effect:
    effect = Effect.from_dict(_loads(raw))
    if not all(isinstance(getattr(effect, n), str) for n in ("effect_id", "incident_id", "municipality", "kind", "at")) \
            or not isinstance(effect.payload, dict):
        raise ValueError("wrong types in an effect")
    return effect


class MemoryFeed:
    """The board's state and the queues of the browsers watching it."""

    def __init__(self, incidents: Iterable[Incident] = (), *, queue_size: int = QUEUE_SIZE,
                 state: BoardState | None = None) -> None:
        self.state = state or BoardState()
        self._live = True  # the fake's switch (`set_live`); KafkaFeed reads its broker instead
        self._announced = True  # the liveness the streams were last told
        #: Commands the broker did not take in time (shown on /healthz).
        self.unsent = 0
        self._queue_size = queue_size
        self._subscribers: set[Subscriber] = set()
        self._outcomes: dict[str, asyncio.Future[TimelineEntry]] = {}
        self._kinds: dict[str, str] = {}  # topic → what its records are (KafkaFeed fills it)
        #: Commands "sent" by the fake, for tests: (key, value).
        self.sent: list[tuple[str, bytes]] = []
        #: For tests: why the fake's broker refuses commands ("": it takes them).
        self.refuse = ""
        #: How the rows it streams name people (the board sets it from its users).
        self.display_names: views.Names = views.same
        #: Who must take each incident's next step now (the board sets it from the profiles' rosters).
        self.who_acts: views.Who = views.nobody
        for incident in incidents:
            self.push(incident)

    @property
    def latest(self) -> dict[str, Incident]:
        return self.state.latest

    # -- liveness ------------------------------------------------------------------
    def status(self, now: float | None = None) -> FeedStatus:
        """The fake is live until a test says otherwise."""
        return FeedStatus(self._live, None, None, len(self.latest), "" if self._live else "switched off")

    @property
    def connected(self) -> bool:
        return self.status().live

    def set_live(self, live: bool) -> None:
        """For tests: the fake's data is live or not, and every stream hears it."""
        self._live = live
        self.check_liveness()

    def check_liveness(self, now: float | None = None) -> FeedStatus:
        """Tell every stream, and the log (once per change), when the feed goes stale or live."""
        status = self.status(now)
        if status.live != self._announced:
            self._announced = status.live
            if status.live:
                log.info("board_feed_live", last_fetch=status.as_event()["last_fetch"])
            else:
                log.warning("board_feed_stale", reason=status.error, last_fetch=status.as_event()["last_fetch"],
                            age_s=None if status.age is None else round(status.age, 1))
            self._fan_out(Change("feed", ALL, "", sse_frame("feed", status.as_event()), status.live))
        return status

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        for queue in list(self._subscribers):
            self.disconnect(queue)

    # -- changes -----------------------------------------------------------------
    def _fan_out(self, change: Change) -> None:
        for queue in list(self._subscribers):
            try:
                queue.put_nowait(change)
            except asyncio.QueueFull:
                # A stalled browser must not hold up the others; it reconnects and
                # gets a fresh snapshot.
                log.warning("sse_client_dropped", reason="queue_full", incident_id=change.incident_id)
                self.disconnect(queue)

    def push(self, incident: Incident) -> bool:
        """Keep `incident` if it is newer than what we have, and tell every subscriber."""
        if not self.state.add_incident(incident):
            return False
        if self._subscribers:
            row = views.row(incident, self.state.volume_series(incident.incident_id), self.display_names,
                            self.who_acts)
            self._fan_out(Change("incident", incident.municipality, incident.incident_id,
                                 sse_frame("incident", row)))
        return True

    def push_entry(self, entry: TimelineEntry) -> bool:
        if not self.state.add_entry(entry):
            return False
        command_id = entry.detail.get("command_id")
        if isinstance(command_id, str):
            waiting = self._outcomes.pop(command_id, None)
            if waiting is not None and not waiting.done():
                waiting.set_result(entry)
        if self._subscribers:
            self._fan_out(Change("timeline", entry.municipality, entry.incident_id,
                                 sse_frame("timeline", views.entry_row(entry))))
        return True

    def push_effect(self, effect: Effect) -> bool:
        return self.state.add_effect(effect)

    def push_post(self, post: Post) -> bool:
        return self.state.add_post(post)

    def push_heartbeat(self, beat: Heartbeat) -> bool:
        """The latest heartbeat of its partition: kept, measured at every scrape, told to every stream
        (without its municipality: each page names only those its user may see)."""
        new_partition = beat.partition not in self.state.heartbeats
        if not self.state.add_heartbeat(beat):
            return False
        if new_partition:
            beats, partition = self.state.heartbeats, beat.partition
            metrics.HEARTBEAT_AGE.labels(partition=str(partition)).set_function(
                lambda: max(0.0, time.time() - beats[partition].sent_ts))
        if self._subscribers:
            self._fan_out(Change("heartbeat", ALL, "", sse_frame(
                "heartbeat", {"partition": beat.partition, "sent_at": beat.sent_at})))
        return True

    def push_deadletter(self, letter: DeadLetterSeen) -> bool:
        """Kept for the システム状態 page if it is among the newest."""
        return self.state.add_deadletter(letter)

    # -- actions -----------------------------------------------------------------
    def expect(self, command_id: str) -> asyncio.Future[TimelineEntry]:
        """A future for the first timeline entry the playbook writes for this command."""
        future = asyncio.get_running_loop().create_future()
        self._outcomes[command_id] = future
        while len(self._outcomes) > 1000:  # abandoned waits must not pile up
            self._outcomes.pop(next(iter(self._outcomes)))
        return future

    def forget(self, command_id: str) -> None:
        self._outcomes.pop(command_id, None)

    async def send_command(self, key: str, value: bytes) -> None:
        """The fake has nobody to send to; tests read `sent` (or set `refuse`)."""
        if self.refuse:
            self.unsent += 1
            raise CommandNotSent(self.refuse)
        self.sent.append((key, value))

    async def timeline_records(self) -> AsyncIterator[TimelineEntry]:
        """Every timeline entry, for the CSV export (the fake: what is in memory)."""
        for entry in self.state.all_entries():
            yield entry

    # -- subscribers -------------------------------------------------------------
    def subscribe(self) -> Subscriber:
        queue: Subscriber = asyncio.Queue(self._queue_size)
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: Subscriber) -> None:
        self._subscribers.discard(queue)

    def disconnect(self, queue: Subscriber) -> None:
        """Stop feeding `queue` and wake its reader with the None sentinel."""
        self._subscribers.discard(queue)
        while not queue.empty():  # pending changes are moot: the reader is leaving
            queue.get_nowait()
        queue.put_nowait(None)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    # -- records from Kafka ----------------------------------------------------------
    def handle(self, record: Any) -> None:
        """One consumer record of any topic the feed reads; a bad one is logged and skipped."""
        kind = self._kinds.get(record.topic, "incident")
        try:
            if kind == "incident":
                self.push(parse_incident(record.value))
            elif kind == "timeline":
                self.push_entry(parse_entry(record.value))
            elif kind == "effect":
                self.push_effect(parse_effect(record.value))
            elif kind == "heartbeat":
                self.push_heartbeat(parse_heartbeat(record.value))
            elif kind == "deadletter":  # the newest for the システム状態 page; the workers' notices are banners
                self.push_deadletter(parse_deadletter(record.value))
                notice = parse_notice(record.value)
                if notice is not None and self.state.add_notice(notice):
                    log.info("board_notice_received", kind=notice.kind, municipality=notice.municipality,
                             topic=record.topic, partition=record.partition, offset=record.offset)
            else:
                post = parse_post(record.value)
                if post is not None:
                    self.push_post(post)
        except (ValueError, TypeError) as exc:
            event = "incident_record_skipped" if kind == "incident" else "board_record_skipped"
            log.warning(event, topic=record.topic, partition=record.partition,
                        offset=record.offset, reason=str(exc))


class KafkaFeed(MemoryFeed):
    """Reads every partition of the board's topics from the beginning, with no consumer
    group, retrying until the broker and the topics are there; also sends commands."""

    def __init__(self, servers: str, names: TopicNames, *, posts: bool = True,
                 queue_size: int = QUEUE_SIZE, retry_delay: float = 1.0, max_retry_delay: float = 30.0,
                 state: BoardState | None = None, live_window: float = LIVE_WINDOW_S,
                 send_timeout: float = SEND_TIMEOUT_S, watch_interval: float = WATCH_INTERVAL_S) -> None:
        super().__init__(queue_size=queue_size, state=state)
        self._announced = False  # not live until the broker has answered
        #: Wall-clock time of the last fetch the broker answered for every partition the feed reads.
        self.last_fetch: float | None = None
        self._error = ""
        self._live_window = live_window
        self._send_timeout = send_timeout
        self._watch_interval = watch_interval
        self.servers = servers
        self.names = names
        self._kinds = {names.incidents: "incident", names.timeline: "timeline", names.effects: "effect",
                       names.deadletters: "deadletter", names.heartbeats: "heartbeat"}
        if posts:
            self._kinds.update({names.mentions: "post", names.accounts: "post"})
        self._retry_delay = retry_delay
        self._max_retry_delay = max_retry_delay
        self._tasks: list[asyncio.Task[None]] = []
        self._producer: Any = None
        self._producer_lock = asyncio.Lock()

    @property
    def topic(self) -> str:
        return self.names.incidents

    def status(self, now: float | None = None) -> FeedStatus:
        return feed_status(self.last_fetch, time.time() if now is None else now, window=self._live_window,
                           incidents=len(self.latest), error=self._error)

    async def start(self) -> None:
        self._tasks = [asyncio.create_task(self._run(), name="board-feed"),
                       asyncio.create_task(self._watch(), name="board-feed-watch")]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None
        await super().stop()

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self._watch_interval)
            self.check_liveness()

    async def send_command(self, key: str, value: bytes) -> None:
        """Send one command, or raise `CommandNotSent` within `send_timeout` seconds."""
        from aiokafka.errors import KafkaError

        try:
            async with asyncio.timeout(self._send_timeout):
                producer = await self._started_producer()
                await producer.send_and_wait(self.names.commands, value, key=key.encode())
        except TimeoutError:
            self.unsent += 1
            raise CommandNotSent(f"the broker did not take it within {self._send_timeout:g} s") from None
        except (KafkaError, OSError) as exc:
            self.unsent += 1
            raise CommandNotSent(repr(exc)) from exc

    async def _started_producer(self) -> Any:
        from aiokafka import AIOKafkaProducer

        async with self._producer_lock:
            if self._producer is None:
                # Its own timeouts end below ours, so a batch the broker never took expires in the
                # producer rather than going out later, after the person was told it was not sent.
                timeout_ms = max(100, int(self._send_timeout * 800))
                producer = AIOKafkaProducer(bootstrap_servers=self.servers, acks="all", linger_ms=0,
                                            request_timeout_ms=timeout_ms, retry_backoff_ms=100)
                try:
                    await producer.start()
                except BaseException:
                    await producer.stop()
                    raise
                self._producer = producer
            return self._producer

    async def _run(self) -> None:
        from aiokafka import AIOKafkaConsumer
        from aiokafka.errors import KafkaError

        delay = self._retry_delay
        while True:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self.servers, group_id=None,
                enable_auto_commit=False, auto_offset_reset="earliest",
            )
            try:
                await consumer.start()
                await self._assign_all(consumer)
                delay = self._retry_delay
                log.info("board_feed_connected", servers=self.servers, topics=sorted(self._kinds))
                while True:
                    # Bounded batches, so that a long backlog never holds up the pages.
                    batch = await consumer.getmany(timeout_ms=1000, max_records=1000)
                    for records in batch.values():
                        for record in records:
                            self.handle(record)
                    self._heard(consumer)
                    if not batch:
                        await self._reread_lost(consumer)
            except (KafkaError, OSError, LookupError) as exc:
                self._error = repr(exc)
                log.warning("incident_feed_unavailable", servers=self.servers, topic=self.topic,
                            error=repr(exc), retry_in=delay)
            except Exception as exc:
                # A bug must not leave the board silently frozen: keep trying, loudly.
                self._error = repr(exc)
                log.exception("incident_feed_failed", topic=self.topic, retry_in=delay)
            finally:
                await consumer.stop()
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._max_retry_delay)

    async def _reread_lost(self, consumer: Any) -> None:
        """A partition that now ends before where the feed had read to was made anew (the broker
        lost its data, or the topic was created again; Tansu answers such a fetch with nothing,
        not with an out-of-range error): read it again from its beginning, and say so."""
        for tp in consumer.assignment():
            end = consumer.highwater(tp)
            if end is not None and end < await consumer.position(tp):
                log.warning("board_feed_log_lost", topic=tp.topic, partition=tp.partition,
                            offset=await consumer.position(tp), end_offset=end)
                await consumer.seek_to_beginning(tp)

    def _heard(self, consumer: Any) -> None:
        """Note when the broker last answered a fetch of every assigned partition (aiokafka
        stamps each partition on every answer, records or none)."""
        stamps = [consumer.last_poll_timestamp(tp) for tp in consumer.assignment()]
        if stamps and None not in stamps:
            fetched = min(stamps) / 1000
            if self.last_fetch is None or fetched > self.last_fetch:
                self.last_fetch = fetched
                self._error = ""

    async def _assign_all(self, consumer: Any) -> None:
        assigned = await assign_every_partition(consumer, self._kinds)
        # From the beginning every time: versions and ids make re-reading harmless, and the
        # board needs every open incident, not just those changed since it started.
        await consumer.seek_to_beginning(*assigned)

    async def timeline_records(self) -> AsyncIterator[TimelineEntry]:
        """The whole timeline topic as it is now, read straight from Kafka (not from the
        bounded memory), up to each partition's high watermark as fetches report it —
        Tansu's ListOffsets answer is wrong, its fetch high watermark is right."""
        from aiokafka import AIOKafkaConsumer, TopicPartition

        consumer = AIOKafkaConsumer(bootstrap_servers=self.servers, group_id=None,
                                    enable_auto_commit=False, auto_offset_reset="earliest")
        await consumer.start()
        try:
            await consumer.topics()
            partitions = consumer.partitions_for_topic(self.names.timeline) or set()
            remaining = {TopicPartition(self.names.timeline, p) for p in partitions}
            consumer.assign(list(remaining))
            await consumer.seek_to_beginning(*remaining)
            while remaining:
                batch = await consumer.getmany(*remaining, timeout_ms=500, max_records=2000)
                for records in batch.values():
                    for record in records:
                        try:
                            yield parse_entry(record.value)
                        except (ValueError, TypeError):
                            continue
                for tp in list(remaining):
                    high = consumer.highwater(tp)
                    if high is not None and await consumer.position(tp) >= high:
                        remaining.discard(tp)
        finally:
            await consumer.stop()

