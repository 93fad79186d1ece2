"""The board's view of the topics, fanned out to one bounded queue per live browser.

`MemoryFeed` holds the `BoardState` and the subscribers (and is the fake for tests);
`KafkaFeed` fills it from Kafka with one plain consumer (no group, so no join delay)
reading the incidents, timeline and effects topics and, for the evidence posts, the
mentions and accounts topics. Each change is serialized once, whatever the number
of browsers, and carries its municipality so that every stream sends only its own.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any

import orjson
import structlog

from dashboards import views
from dashboards.state import BoardState, Post, is_newer, parse_post
from streams.records import Effect, Incident, TimelineEntry
from streams.topics import TopicNames

log = structlog.get_logger(__name__)

# Plenty for a burst of changes; a browser that falls this far behind gets a fresh
# snapshot on reconnect, which is cheaper than holding memory for it.
QUEUE_SIZE = 100
#: How long an action waits for the playbook's answer before the page is shown anyway.
OUTCOME_WAIT_S = 4.0

__all__ = ["Change", "KafkaFeed", "MemoryFeed", "Subscriber", "is_newer", "parse_incident"]


@dataclass(frozen=True, slots=True)
class Change:
    """One server-sent event: its municipality decides who receives it."""

    kind: str  # "incident" | "timeline"
    municipality: str
    incident_id: str
    frame: bytes  # the whole `event:`/`data:` block, serialized once


Subscriber = asyncio.Queue[Change | None]  # None: "you are disconnected, stop reading"


def sse_frame(event: str, data: object) -> bytes:
    # orjson never emits a newline, so one `data:` line carries the whole record.
    return b"event: " + event.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


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
        self.connected = True
        self._queue_size = queue_size
        self._subscribers: set[Subscriber] = set()
        self._outcomes: dict[str, asyncio.Future[TimelineEntry]] = {}
        self._kinds: dict[str, str] = {}  # topic → what its records are (KafkaFeed fills it)
        #: Commands "sent" by the fake, for tests: (key, value).
        self.sent: list[tuple[str, bytes]] = []
        #: How the rows it streams name people (the board sets it from its users).
        self.display_names: views.Names = views.same
        for incident in incidents:
            self.push(incident)

    @property
    def latest(self) -> dict[str, Incident]:
        return self.state.latest

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
            row = views.row(incident, self.state.volume_series(incident.incident_id), self.display_names)
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
        """The fake has nobody to send to; tests read `sent`."""
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
                 state: BoardState | None = None) -> None:
        super().__init__(queue_size=queue_size, state=state)
        self.connected = False
        self.servers = servers
        self.names = names
        self._kinds = {names.incidents: "incident", names.timeline: "timeline", names.effects: "effect"}
        if posts:
            self._kinds.update({names.mentions: "post", names.accounts: "post"})
        self._retry_delay = retry_delay
        self._max_retry_delay = max_retry_delay
        self._task: asyncio.Task[None] | None = None
        self._producer: Any = None

    @property
    def topic(self) -> str:
        return self.names.incidents

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="board-feed")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None
        await super().stop()

    async def send_command(self, key: str, value: bytes) -> None:
        from aiokafka import AIOKafkaProducer

        if self._producer is None:
            producer = AIOKafkaProducer(bootstrap_servers=self.servers, acks="all", linger_ms=0)
            await producer.start()
            self._producer = producer
        await self._producer.send_and_wait(self.names.commands, value, key=key.encode())

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
                self.connected = True
                delay = self._retry_delay
                log.info("board_feed_connected", servers=self.servers, topics=sorted(self._kinds))
                async for record in consumer:
                    self.handle(record)
            except (KafkaError, OSError, LookupError) as exc:
                log.warning("incident_feed_unavailable", servers=self.servers, topic=self.topic,
                            error=repr(exc), retry_in=delay)
            except Exception:
                # A bug must not leave the board silently frozen: keep trying, loudly.
                log.exception("incident_feed_failed", topic=self.topic, retry_in=delay)
            finally:
                self.connected = False
                await consumer.stop()
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._max_retry_delay)

    async def _assign_all(self, consumer: Any) -> None:
        from aiokafka import TopicPartition

        await consumer.topics()  # refreshes metadata, so a topic created since start is seen
        assigned = []
        for topic in self._kinds:
            partitions = consumer.partitions_for_topic(topic)
            if not partitions:
                raise LookupError(f"topic {topic} does not exist yet")
            assigned += [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(assigned)
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

