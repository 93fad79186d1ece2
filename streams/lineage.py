"""Offsets that went backwards: a redelivery, or a broker that lost its data.

An offset means something only within one log. The memory-only embedded broker
forgets every topic when it restarts, and a Kafka topic deleted and created again
starts at offset 0: a worker that remembers "applied up to offset 102" would then
skip the new log's first 103 messages as if they were redeliveries, and commit them.

How the worker tells the two apart, cheaply and only when it is about to skip:
the detect stage keeps, per partition, the last offset it applied and a fingerprint
(BLAKE2b of key and value) of the message at that offset. When a batch holds a
message at or below that offset, the worker reads that one offset again from the
broker (`BrokerProbe`, a plain consumer, no group):

- the same message is there → the same log: a redelivery after a rebalance or a
  crash; each skipped message is logged with its position (`event_already_applied`);
- the log ends at or before that offset, or holds another message there → a new log
  (the broker lost its data, or the topic was created again): the worker says so
  once (`broker_log_lost`, an error line, and a dead letter with reason
  `broker_log_lost` that the board shows as a banner), forgets the applied offset
  of that partition and processes the new messages. The detector state (windows,
  recent ids) is kept: the detectors are idempotent per event id, and an incident
  found again keeps its id and goes on.

Cluster ids cannot tell: Tansu answers `tansu_cluster` after every restart, and a
recreated topic keeps its cluster. A probe that gets no answer in time changes
nothing (the messages are skipped, each logged) and is said as a warning. The
fingerprints are kept in the detector-state snapshot beside the offsets (`marks`),
so a worker started afresh against a recreated topic tells the logs apart too; a
snapshot written before them is judged by the end offset alone.

The `GapFiller` guards of the playbook and respond agents remember the last offset
they saw per partition; they reset it when the offsets go back (see streams/gaps.py),
so a hole in a new log is still found. Their de-duplication (playbook command and
detection ids, the responders' ledger of delivery keys) is by id, not by offset, so
a new log's messages are never taken for old ones there.

`fingerprint`, `Applied` and `judge` are pure; `BrokerProbe` and `LineageGuard` are
the thin shell.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

import structlog

from vocabulary.records import BROKER_LOG_LOST, DeadLetter

log = structlog.get_logger(__name__)

#: After one `broker_log_lost` error, other partitions found lost within this long are the
#: same loss: logged at info, no second notice.
SAME_LOSS_S = 300.0


def _bytes(data: bytes | str | None) -> bytes:
    return data.encode() if isinstance(data, str) else bytes(data or b"")


def fingerprint(key: bytes | str | None, value: bytes | str | None) -> str:
    """A short, stable digest of one message's key and value."""
    key, value = _bytes(key), _bytes(value)
    h = hashlib.blake2b(digest_size=8)
    h.update(len(key or b"").to_bytes(4, "big"))
    h.update(key or b"")
    h.update(value or b"")
    return h.hexdigest()


@dataclass(frozen=True, slots=True)
class Applied:
    """The last message of a partition the stage applied: its offset and, if known, its fingerprint."""

    topic: str
    partition: int
    offset: int
    mark: str | None = None

    @property
    def where(self) -> str:
        return f"{self.topic}:{self.partition}"


@dataclass(frozen=True, slots=True)
class Seen:
    """What the broker holds at an offset now: the message's fingerprint (None: no message
    there) and the partition's end offset (None: not known)."""

    mark: str | None
    end: int | None
    answered: bool = True


def judge(applied: Applied, seen: Seen) -> str | None:
    """Why the broker's log is not the one `applied` came from, or None when it is."""
    if not seen.answered:
        return None
    if seen.end is not None and seen.end <= applied.offset:
        return (f"the partition now ends at offset {seen.end}, at or below the offset "
                f"{applied.offset} already applied")
    if seen.mark is None:
        return f"the broker has no message at offset {applied.offset}, already applied"
    if applied.mark is not None and seen.mark != applied.mark:
        return f"the message at offset {applied.offset} is not the one applied"
    return None


class BrokerProbe:
    """Reads the one message at an offset, with a plain consumer kept open."""

    def __init__(self, servers: str, timeout: float = 5.0) -> None:
        self.servers, self.timeout = servers, timeout
        self._consumer = None

    async def __call__(self, topic: str, partition: int, offset: int) -> Seen:
        from aiokafka import AIOKafkaConsumer
        from aiokafka.errors import KafkaError, OffsetOutOfRangeError
        from aiokafka.structs import TopicPartition

        try:
            if self._consumer is None:
                consumer = AIOKafkaConsumer(bootstrap_servers=self.servers, group_id=None,
                                            enable_auto_commit=False, auto_offset_reset="none")
                await asyncio.wait_for(consumer.start(), self.timeout)
                self._consumer = consumer
            consumer = self._consumer
            tp = TopicPartition(topic, partition)
            consumer.assign([tp])
            consumer.seek(tp, offset)
            deadline = time.monotonic() + self.timeout
            while time.monotonic() < deadline:
                try:
                    batch = await consumer.getmany(tp, timeout_ms=300, max_records=1)
                except OffsetOutOfRangeError:  # Kafka: past the end of the log
                    return Seen(mark=None, end=None)
                for record in batch.get(tp, []):
                    if record.offset == offset:
                        return Seen(fingerprint(record.key, record.value), consumer.highwater(tp))
                    if record.offset > offset:  # nothing at that offset (never happens on our topics)
                        return Seen(None, consumer.highwater(tp))
                end = consumer.highwater(tp)
                if end is not None and end <= offset:  # Tansu: an empty answer with the end
                    return Seen(None, end)
        except (KafkaError, OSError, asyncio.TimeoutError) as exc:
            log.warning("applied_offset_unverified", topic=topic, partition=partition, offset=offset,
                        error=repr(exc))
            await self.close()
            return Seen(None, None, answered=False)
        log.warning("applied_offset_unverified", topic=topic, partition=partition, offset=offset,
                    error=f"no answer within {self.timeout:g} s")
        return Seen(None, None, answered=False)

    async def close(self) -> None:
        if self._consumer is not None:
            consumer, self._consumer = self._consumer, None
            await consumer.stop()


Probe = Callable[[str, int, int], Awaitable[Seen]]
#: Told once per loss: the partition, the offset it had applied, and why the log is new.
Notify = Callable[[Applied, str], Awaitable[None]]


class LineageGuard:
    """Checks, before anything is skipped, that the broker still holds the log it was applied from."""

    def __init__(self, probe: Probe, notify: Notify | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.probe, self.notify, self.clock = probe, notify, clock
        self.losses = 0  # partitions found lost (counted for tests and the log)
        self._last_error: float | None = None

    async def lost(self, applied: Iterable[Applied], **context: object) -> set[str]:
        """The partitions (`topic:partition`) of `applied` whose log the broker no longer holds."""
        out: set[str] = set()
        for a in applied:
            seen = await self.probe(a.topic, a.partition, a.offset)
            reason = judge(a, seen)
            if reason is None:
                continue
            out.add(a.where)
            self.losses += 1
            await self._report(a, seen, reason, context)
        return out

    async def _report(self, a: Applied, seen: Seen, reason: str, context: dict[str, object]) -> None:
        now = self.clock()
        same_loss = self._last_error is not None and now - self._last_error < SAME_LOSS_S
        fields = dict(topic=a.topic, partition=a.partition, offset=a.offset, end_offset=seen.end,
                      reason=reason, losses=self.losses, **context)
        if same_loss:
            log.info("partition_log_lost", **fields, action="applied offset dropped, new messages processed")
            return
        self._last_error = now
        log.error("broker_log_lost", **fields,
                  message="ブローカーのデータが失われました（再起動またはトピックの再作成）。"
                          "新しいメッセージから処理を再開します。 / The broker lost its data "
                          "(restarted, or the topic was created again): applied offsets dropped, "
                          "new messages processed.")
        if self.notify is not None:
            await self.notify(a, reason)


#: The reason (its first word) of the dead letter that tells the board the broker lost its data.


def loss_letter(applied: Applied, reason: str, failed_at: str) -> DeadLetter:
    """The dead letter that carries a lost log to the board (the offset is the one applied before)."""
    return DeadLetter.of(
        reason=f"{BROKER_LOG_LOST}: ブローカーのデータが失われました（再起動またはトピックの再作成）。"
               f"適用済みの位置を破棄し、新しいメッセージを処理します。 / The broker lost its data "
               f"(restarted, or the topic was created again): {reason}; the applied offset was dropped "
               f"and the new messages are processed.",
        topic=applied.topic, partition=applied.partition, offset=applied.offset,
        key=None, raw=None, failed_at=failed_at)
