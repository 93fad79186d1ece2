"""Input messages the stream skipped, found and fetched again before the batch is processed.

Faust can skip a message of a partition while a worker starts or rebalances (the
fetcher and the seek to the committed offsets race; upstream faust #216, #221); it
then treats the hole as a compacted range and commits past it, so the message would
be lost for good. Input topics are never compacted and have no transactions, so
within one partition the offsets the detect agent sees must follow each other. The
agent keeps the last offset it saw per partition; a jump means messages are missing,
and they are read again from the broker (a plain consumer, no group) and put back
in their place, so the detectors see every event, in order, exactly as a replay does.

Offsets that go back within one assignment are a redelivery, or a log the broker
lost (a restarted memory-only broker, a recreated topic): with a `LineageGuard` the
filler checks which (streams/lineage.py) and, for a lost log, forgets the offset it
remembered, so a hole in the new log is found like any other.

`find_gaps` and `fill` are pure; `BrokerRefetch` is the thin shell that reads.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass

import structlog
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError
from aiokafka.structs import TopicPartition

from streams.lineage import Applied, LineageGuard, fingerprint
from streams.stage import Message
from vocabulary.metrics import INPUT_GAPS_REFETCHED

log = structlog.get_logger(__name__)

#: A hole larger than this is not refetched message by message (the broker lost data,
#: or a topic was recreated): it is reported, and processing goes on.
MAX_GAP = 10_000


@dataclass(frozen=True, slots=True)
class Gap:
    topic: str
    partition: int
    first: int  # the first missing offset
    last: int  # the last missing offset

    @property
    def size(self) -> int:
        return self.last - self.first + 1


def find_gaps(last_seen: dict[tuple[str, int], int], messages: Iterable[Message]) -> list[Gap]:
    """Holes in each partition's offsets, against what was seen before; updates `last_seen`.

    A message at or below the last offset seen is a redelivery (the stage skips it);
    a partition seen for the first time starts where it starts.
    """
    gaps = []
    for msg in messages:
        where = (msg.topic, msg.partition)
        last = last_seen.get(where)
        if last is not None and msg.offset > last + 1:
            gaps.append(Gap(msg.topic, msg.partition, last + 1, msg.offset - 1))
        if last is None or msg.offset > last:
            last_seen[where] = msg.offset
    return gaps


def fill(messages: Sequence[Message], found: Iterable[Message]) -> list[Message]:
    """`messages` with the `found` ones put back just before the first later message of their partition."""
    missing: dict[tuple[str, int], list[Message]] = {}
    for msg in sorted(found, key=lambda m: m.offset):
        missing.setdefault((msg.topic, msg.partition), []).append(msg)
    out: list[Message] = []
    for msg in messages:
        waiting = missing.get((msg.topic, msg.partition))
        while waiting and waiting[0].offset < msg.offset:
            out.append(waiting.pop(0))
        out.append(msg)
    for rest in missing.values():  # nothing later in this batch (cannot happen for a gap, but never drop)
        out.extend(rest)
    return out


Refetch = Callable[[Gap], Awaitable[list[Message]]]


class GapFiller:
    """The detect agent's guard: per partition, every offset once, in order."""

    def __init__(self, refetch: Refetch, guard: LineageGuard | None = None, name: str = "") -> None:
        self.refetch = refetch
        self.guard, self.name = guard, name
        self.last_seen: dict[tuple[str, int], int] = {}
        # the fingerprint of the message at `last_seen`, for the guard
        self._marks: dict[tuple[str, int], tuple[int, str]] = {}
        self.filled = 0

    def forget(self) -> None:
        """After a rebalance the stream starts again from the committed offsets."""
        self.last_seen.clear()
        self._marks.clear()

    def forget_partition(self, topic: str, partition: int) -> None:
        """The broker no longer holds this partition's log: start afresh with the next message."""
        self.last_seen.pop((topic, partition), None)
        self._marks.pop((topic, partition), None)

    async def _check_rewinds(self, messages: list[Message]) -> None:
        """Offsets that went back: the same log (a redelivery) or a new one (forget the old offsets)."""
        assert self.guard is not None
        back: dict[tuple[str, int], Applied] = {}
        for msg in messages:
            where = (msg.topic, msg.partition)
            last = self.last_seen.get(where)
            if last is not None and msg.offset <= last and where not in back:
                mark = self._marks.get(where)
                back[where] = Applied(msg.topic, msg.partition, last,
                                      mark[1] if mark is not None and mark[0] == last else None)
        if back:
            for where in await self.guard.lost(back.values(), agent=self.name):
                topic, _, partition = where.rpartition(":")
                self.forget_partition(topic, int(partition))

    def _mark(self, messages: list[Message]) -> None:
        last: dict[tuple[str, int], Message] = {}
        for msg in messages:
            last[(msg.topic, msg.partition)] = msg
        for where, msg in last.items():
            if self.last_seen.get(where) == msg.offset:
                self._marks[where] = (msg.offset, fingerprint(msg.key, msg.value))

    async def complete(self, messages: list[Message]) -> list[Message]:
        if self.guard is not None:
            await self._check_rewinds(messages)
        messages = await self._complete(messages)
        if self.guard is not None:
            self._mark(messages)
        return messages

    async def _complete(self, messages: list[Message]) -> list[Message]:
        gaps = find_gaps(self.last_seen, messages)
        if not gaps:
            return messages
        found: list[Message] = []
        for gap in gaps:
            if gap.size > MAX_GAP:
                log.error("input_gap_too_large", topic=gap.topic, partition=gap.partition,
                          first=gap.first, last=gap.last)
                continue
            got = [m for m in await self.refetch(gap) if gap.first <= m.offset <= gap.last]
            offsets = {m.offset for m in got}
            unfilled = [o for o in range(gap.first, gap.last + 1) if o not in offsets]
            log.warning("input_gap_refetched", topic=gap.topic, partition=gap.partition, first=gap.first,
                        last=gap.last, found=len(offsets), unfilled=unfilled[:20])
            found.extend(got)
        self.filled += len(found)
        INPUT_GAPS_REFETCHED.inc(len(found))
        return fill(messages, found)


class BrokerRefetch:
    """Reads a range of offsets of one partition again, with a plain consumer kept open."""

    def __init__(self, servers: str, timeout: float = 10.0) -> None:
        self.servers, self.timeout = servers, timeout
        self._consumer: AIOKafkaConsumer | None = None

    async def __call__(self, gap: Gap) -> list[Message]:
        if self._consumer is None:
            self._consumer = AIOKafkaConsumer(bootstrap_servers=self.servers, group_id=None,
                                              enable_auto_commit=False, auto_offset_reset="none")
            await self._consumer.start()
        consumer = self._consumer
        tp = TopicPartition(gap.topic, gap.partition)
        consumer.assign([tp])
        consumer.seek(tp, gap.first)
        out: list[Message] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        while loop.time() < deadline:
            try:
                batch = await consumer.getmany(tp, timeout_ms=200)
            except KafkaError as exc:  # e.g. out of range: the broker no longer has them
                log.error("input_gap_refetch_failed", topic=gap.topic, partition=gap.partition,
                          first=gap.first, error=repr(exc))
                break
            records = batch.get(tp, [])
            out.extend(Message(topic=r.topic, partition=r.partition, offset=r.offset, key=r.key,
                               value=r.value) for r in records if r.offset <= gap.last)
            position, end = await consumer.position(tp), consumer.highwater(tp)
            if position > gap.last or (end is not None and position >= end):
                break  # read through the gap, or to the end of the partition
        return out

    async def close(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None

