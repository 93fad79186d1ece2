"""The board's view of the incidents topic: the latest record per incident id,
fanned out to one bounded queue per live browser.

`MemoryFeed` holds the state and the subscribers (and is the fake for tests);
`IncidentFeed` fills it from Kafka with a plain consumer.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from typing import Any

import orjson
import structlog

from streams.records import Incident

log = structlog.get_logger(__name__)

# Plenty for a burst of changes; a browser that falls this far behind gets a fresh
# snapshot on reconnect, which is cheaper than holding memory for it.
QUEUE_SIZE = 100

Subscriber = asyncio.Queue[Incident | None]  # None: "you are disconnected, stop reading"


def is_newer(current: Incident | None, candidate: Incident) -> bool:
    """Redeliveries arrive twice or out of order: only a higher version is a change."""
    return current is None or candidate.version > current.version


class InvalidIncident(ValueError):
    """A record on the incidents topic that is not an Incident."""


TEXT_FIELDS = ("incident_id", "type", "target", "opened_at", "severity", "summary", "state")


def parse_incident(raw: bytes | None) -> Incident:
    if raw is None:
        raise InvalidIncident("empty record")
    try:
        obj = orjson.loads(raw)
        if not isinstance(obj, dict):
            raise InvalidIncident(f"expected a JSON object, got {type(obj).__name__}")
        incident = Incident.from_dict(obj)
    except (ValueError, TypeError) as exc:  # orjson.JSONDecodeError is a ValueError
        raise InvalidIncident(str(exc)) from exc
    # The board sorts and renders these fields; a wrong type would break every page.
    wrong = [name for name in TEXT_FIELDS if not isinstance(getattr(incident, name), str)]
    if wrong or type(incident.version) is not int:
        raise InvalidIncident(f"wrong types: {', '.join(wrong) or 'version'}")
    return incident


class MemoryFeed:
    """The latest incident per id and the queues of the browsers watching them."""

    def __init__(self, incidents: Iterable[Incident] = (), *, queue_size: int = QUEUE_SIZE) -> None:
        self.latest: dict[str, Incident] = {}
        self.connected = True
        self._queue_size = queue_size
        self._subscribers: set[Subscriber] = set()
        for incident in incidents:
            self.push(incident)

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        for queue in list(self._subscribers):
            self.disconnect(queue)

    def push(self, incident: Incident) -> bool:
        """Keep `incident` if it is newer than what we have, and tell every subscriber."""
        if not is_newer(self.latest.get(incident.incident_id), incident):
            return False
        self.latest[incident.incident_id] = incident
        for queue in list(self._subscribers):
            try:
                queue.put_nowait(incident)
            except asyncio.QueueFull:
                # A stalled browser must not hold up the others; it reconnects and
                # gets a fresh snapshot.
                log.warning("sse_client_dropped", reason="queue_full", incident_id=incident.incident_id)
                self.disconnect(queue)
        return True

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


class IncidentFeed(MemoryFeed):
    """Reads every partition of the incidents topic from the beginning, with no consumer
    group (so no join delay), and retries until the broker and the topic are there."""

    def __init__(
        self, servers: str, topic: str, *, queue_size: int = QUEUE_SIZE,
        retry_delay: float = 1.0, max_retry_delay: float = 30.0,
    ) -> None:
        super().__init__(queue_size=queue_size)
        self.connected = False
        self.servers = servers
        self.topic = topic
        self._retry_delay = retry_delay
        self._max_retry_delay = max_retry_delay
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="incident-feed")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await super().stop()

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
                log.info("incident_feed_connected", servers=self.servers, topic=self.topic)
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
        partitions = consumer.partitions_for_topic(self.topic)
        if not partitions:
            raise LookupError(f"topic {self.topic} does not exist yet")
        assigned = [TopicPartition(self.topic, p) for p in sorted(partitions)]
        consumer.assign(assigned)
        # From the beginning every time: versions make re-reading harmless, and the
        # board needs every open incident, not just those changed since it started.
        await consumer.seek_to_beginning(*assigned)

    def handle(self, record: Any) -> None:
        """One consumer record; a bad one is logged and skipped, never fatal."""
        try:
            incident = parse_incident(record.value)
        except InvalidIncident as exc:
            log.warning("incident_record_skipped", topic=record.topic, partition=record.partition,
                        offset=record.offset, reason=str(exc))
            return
        self.push(incident)
