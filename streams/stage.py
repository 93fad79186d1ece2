"""The step between Faust and the pure detectors, with no Faust in it.

It groups a batch of input messages by municipality, decodes them, skips
what this state has already seen (by offset, so redelivery after a rebalance
changes nothing; each skip is logged with its position), feeds the detectors and
returns the new state snapshot, the detections and the dead letters. The agent
only moves bytes in and out. Before skipping, the agent checks with `applied` and
`streams.lineage` that the broker still holds the log those offsets belong to; a
partition whose log was lost is passed back as `lost` and processed afresh. A heartbeat
(`streams.heartbeat`) is applied like any message but never reaches a detector: it is passed on,
stamped with the time detect saw it.

The state is kept in memory and written to the table as a checkpoint only now and then
(`CheckpointPolicy`): a busy municipality's state is tens of KiB, and writing it after every
batch cost its whole size per input event at ordinary rates (one event a batch). A worker that
starts from a checkpoint replays the input since it (`replay_from`, `streams.app.catch_up`): the
detectors are pure and run in event time, so the replay arrives at the state the lost worker had,
and the offsets in each checkpoint skip what it already covers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
import structlog

from vocabulary.contract import ContractError, Event, Profile, parse_event
from streams import heartbeat
from streams.detectors import DetectorSet
from streams.lineage import Applied, fingerprint
from vocabulary.metrics import CHECKPOINT_BYTES, CHECKPOINTS, EVENTS, EVENTS_RESTAMPED
from vocabulary.records import STATE_TOO_LARGE, DeadLetter, Detection

log = structlog.get_logger(__name__)

#: A snapshot is one Kafka message (1 MB by default); warn well before that.
STATE_WARN_BYTES = 512 * 1024
#: The most a snapshot may take (Faust's producer refuses a changelog message over
#: 1,000,000 bytes, key and headers included). The detectors' caps keep ordinary
#: traffic far below; a snapshot still above is cut down by `DetectorSet.shrink`.
STATE_MAX_BYTES = 768 * 1024
#: Halvings tried before the municipality's detector history is dropped whole.
SHRINK_ROUNDS = 12


@dataclass(frozen=True, slots=True)
class CheckpointPolicy:
    """When a municipality's state in memory is written to the table.

    A checkpoint is written once the events applied since the last one are enough that its size is at
    most `bytes_per_event` per event (a state of 100 KiB: every 200 events), once its partition has
    moved `replay_max` offsets past the first of them (which bounds the replay after a crash), or
    once the first of them is `max_age_s` old (a day: far inside the input topics' retention, which
    the replay reads). A municipality's first state is written at once.
    """

    bytes_per_event: int = 512
    max_age_s: float = 86400.0
    replay_max: int = 20_000

    @classmethod
    def every_batch(cls) -> CheckpointPolicy:
        """A checkpoint after every batch that applied something (the behaviour before checkpoints)."""
        return cls(bytes_per_event=1 << 40)


@dataclass(slots=True)
class _Held:
    """A municipality's state in memory, and what it holds that no checkpoint has yet."""

    written: bytes | None  # the exact bytes last written to the table (identity tells a recovered table)
    detectors: DetectorSet
    offsets: dict[str, int]
    size: int = 0  # bytes of the last checkpoint
    events: int = 0  # messages applied since it
    since: float = 0.0  # when the first of them was applied (wall clock)


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None

    @property
    def position(self) -> dict[str, Any]:
        return {"topic": self.topic, "partition": self.partition, "offset": self.offset}


@dataclass
class StageOutput:
    #: The checkpoint to write to the table, or None when none is due (the state stays in memory).
    state: bytes | None
    detections: list[tuple[Detection, Message]] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    processed: int = 0
    skipped: int = 0
    #: Heartbeats passed on (streams/heartbeat.py): (key, record for the detections topic, message).
    heartbeats: list[tuple[str, bytes, Message]] = field(default_factory=list)


def _restamped(event: Event, muni: str, msg: Message) -> None:
    """Counted and logged once: an event whose time the source got wrong, seen at another time."""
    assert event.restamp is not None
    EVENTS_RESTAMPED.labels(event.restamp.reason).inc()
    log.warning("event_restamped", **msg.position, municipality=muni, event_id=event.id,
                ts_original=event.restamp.ts_original, ts=event.ts_text, reason=event.restamp.reason,
                message="イベントの時刻が先すぎて信用できないため、時刻を付け直しました / "
                        "the event was stamped too far ahead to be trusted and was re-stamped")


def dead_letter(msg: Message, reason: str, failed_at: str) -> DeadLetter:
    return DeadLetter.of(reason=reason, topic=msg.topic, partition=msg.partition,
                         offset=msg.offset, key=msg.key, raw=msg.value, failed_at=failed_at)


class DetectionStage:
    def __init__(self, profiles: dict[str, Profile], policy: CheckpointPolicy | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.profiles = profiles
        self.policy = policy or CheckpointPolicy()
        self.clock = clock  # when events were applied, for the checkpoints' age (the wall clock, live)
        self._held: dict[str, _Held] = {}
        #: Times each municipality's state had to be cut down to fit one message.
        self.state_cuts: dict[str, int] = {}
        self._large: set[str] = set()  # municipalities whose state is above STATE_WARN_BYTES (warned once)
        # municipality → partition → (the offset applied last, the fingerprint of its message):
        # what `streams.lineage` compares with the broker's log before anything is skipped.
        self._marks: dict[str, dict[str, tuple[int, str]]] = {}
        # `topic:partition` → municipality → the first offset it applied since its last checkpoint, in
        # the order they were applied (so the first entry is the oldest): what a replay must start at.
        self._pending: dict[str, dict[str, int]] = {}
        self._position: dict[str, int] = {}  # `topic:partition` → the last offset applied
        self._dirty: dict[str, None] = {}  # municipalities with events no checkpoint holds, oldest first

    def group(self, messages: Iterable[Message], failed_at: str
              ) -> tuple[dict[str, list[Message]], list[DeadLetter]]:
        """Messages by municipality id (the key); unknown keys become dead letters."""
        groups: dict[str, list[Message]] = {}
        rejected: list[DeadLetter] = []
        for msg in messages:
            muni = msg.key.decode("utf-8", "replace") if msg.key else ""
            if muni in self.profiles:
                groups.setdefault(muni, []).append(msg)
                continue
            reason = (f"unknown municipality key {muni!r}: configure its profile in NOROSHI_PROFILES"
                      if muni else "message has no key: produce with key = municipality id")
            rejected.append(dead_letter(msg, reason, failed_at))
            EVENTS.labels(msg.topic, "dead_lettered").inc()
        return groups, rejected

    def _load(self, muni: str, stored: bytes | None) -> _Held:
        """The state in memory, unless the table holds other bytes than this stage last wrote (a
        checkpoint recovered from the changelog): then that checkpoint, and what was held is dropped.
        The table never deletes a municipality's state: nothing stored means nothing new."""
        held = self._held.get(muni)
        if held is not None and (stored is held.written or stored is None):
            return held
        if held is not None:
            self._forget(muni)
        snapshot = orjson.loads(stored) if stored else {}
        marks = snapshot.get("marks")
        self._marks[muni] = {where: (mark[0], mark[1]) for where, mark in marks.items()
                             if isinstance(mark, list) and len(mark) == 2} if isinstance(marks, dict) else {}
        held = _Held(stored, DetectorSet(self.profiles[muni], snapshot.get("detectors")),
                     dict(snapshot.get("offsets", {})), size=len(stored or b""))
        self._held[muni] = held
        return held

    def _forget(self, muni: str) -> None:
        self._held.pop(muni, None)
        self._dirty.pop(muni, None)
        for pending in self._pending.values():
            pending.pop(muni, None)

    def applied(self, muni: str, stored: bytes | None, messages: Iterable[Message]) -> list[Applied]:
        """The partitions where `messages` go back to or below the offset already applied: what
        `process` would skip, to be checked against the broker first (`streams.lineage`)."""
        offsets = self._load(muni, stored).offsets
        marks = self._marks.get(muni, {})
        out: dict[str, Applied] = {}
        for msg in messages:
            where = f"{msg.topic}:{msg.partition}"
            last = offsets.get(where, -1)
            if msg.offset <= last and where not in out:
                mark = marks.get(where)
                out[where] = Applied(msg.topic, msg.partition, last,
                                     mark[1] if mark is not None and mark[0] == last else None)
        return list(out.values())

    def process(self, muni: str, stored: bytes | None, messages: list[Message],
                failed_at: str, lost: Collection[str] = (), arrived: float | None = None,
                replaying: bool = False) -> StageOutput:
        """`stored`: the table's value for `muni` (the last checkpoint). `lost`: partitions
        (`topic:partition`) whose log the broker no longer holds; their applied offsets are dropped and
        their messages processed as new. `arrived`: when the worker received the batch (its wall
        clock, POSIX seconds; not the Kafka timestamp, which the producer sets to the event's own
        time): an event stamped more than 15 minutes after it is re-stamped with it (drills run on
        their own clock; without it, as in a replay, the stream confirms its own time:
        streams/detectors/event_time.py). `replaying`: the messages are the input since a checkpoint,
        read again after a restart; heartbeats among them are applied but not passed on (stale)."""
        held = self._load(muni, stored)
        detectors, offsets = held.detectors, held.offsets
        marks = self._marks.setdefault(muni, {})
        for where in lost:
            offsets.pop(where, None)
            marks.pop(where, None)
            self._pending.pop(where, None)
            self._position.pop(where, None)
        out = StageOutput(state=None)
        last: dict[str, Message] = {}
        tally: dict[tuple[str, str], int] = {}  # (topic, outcome) → messages: one metric update a batch
        for msg in messages:
            where = f"{msg.topic}:{msg.partition}"
            applied = offsets.get(where, -1)
            if msg.offset <= applied:
                out.skipped += 1
                tally[msg.topic, "skipped"] = tally.get((msg.topic, "skipped"), 0) + 1
                log.info("event_already_applied", **msg.position, municipality=muni, applied_offset=applied)
                continue
            offsets[where] = msg.offset
            if where not in last:
                self._pending.setdefault(where, {}).setdefault(muni, msg.offset)
            last[where] = msg
            beat = heartbeat.parse(msg.value)
            if beat is not None:  # applied (its offset counts), never fed to a detector
                if not replaying:
                    out.heartbeats.append((heartbeat.detection_key(beat),
                                           heartbeat.stamped(beat, "detected_at", failed_at), msg))
                tally[msg.topic, "heartbeat"] = tally.get((msg.topic, "heartbeat"), 0) + 1
                continue
            try:
                event = parse_event(msg.value or b"")
            except ContractError as exc:
                out.dead_letters.append(dead_letter(msg, f"contract: {exc}", failed_at))
                tally[msg.topic, "dead_lettered"] = tally.get((msg.topic, "dead_lettered"), 0) + 1
                continue
            try:
                found = detectors.feed(event, arrived)
            except Exception as exc:  # a detector bug must not stop the stream
                log.exception("detector_failed", **msg.position, event_id=event.id)
                out.dead_letters.append(
                    dead_letter(msg, f"detector failed: {type(exc).__name__}: {exc}", failed_at))
                tally[msg.topic, "dead_lettered"] = tally.get((msg.topic, "dead_lettered"), 0) + 1
                continue
            for late in detectors.time.fresh:
                _restamped(late, muni, msg)
            out.processed += 1
            tally[msg.topic, "processed"] = tally.get((msg.topic, "processed"), 0) + 1
            out.detections.extend((d, msg) for d in found)
        for (topic, outcome), n in tally.items():
            EVENTS.labels(topic, outcome).inc(n)
        if not last:
            return out
        for where, msg in last.items():
            marks[where] = (msg.offset, fingerprint(msg.key, msg.value))
            self._position[where] = max(msg.offset, self._position.get(where, -1))
        if not held.events:
            held.since = self.clock()
            self._dirty[muni] = None
        held.events += len(messages) - out.skipped
        if held.written is None or held.events * self.policy.bytes_per_event >= held.size:
            out.state = self.checkpoint(muni, messages[-1], failed_at, out.dead_letters)
        return out

    def checkpoint(self, muni: str, last: Message, failed_at: str, letters: list[DeadLetter]) -> bytes:
        """The state held for `muni` as the bytes to write to the table now; a report of a state that
        had to be cut down to fit is appended to `letters`. The caller writes the bytes."""
        held = self._held[muni]
        self._dirty.pop(muni, None)
        for pending in self._pending.values():
            pending.pop(muni, None)
        state, held.detectors = self._snapshot(muni, held.detectors, held.offsets, last, failed_at, letters)
        held.written, held.size, held.events = state, len(state), 0
        CHECKPOINTS.inc()
        CHECKPOINT_BYTES.inc(len(state))
        return state

    def due(self, now: float) -> list[str]:
        """Municipalities whose checkpoint is due by age or by how far their partition has moved."""
        out: dict[str, None] = {}
        for where, pending in self._pending.items():
            position = self._position.get(where, -1)
            for muni, first in pending.items():  # oldest first
                if position - first < self.policy.replay_max:
                    break
                out[muni] = None
        for muni in self._dirty:  # oldest first
            if now - self._held[muni].since < self.policy.max_age_s:
                break
            out[muni] = None
        return list(out)

    def dirty(self) -> list[str]:
        """Every municipality with events no checkpoint holds (to write before partitions move)."""
        return list(self._dirty)

    def replay_from(self, where: str) -> int | None:
        """The first offset of `topic:partition` that some checkpoint may not hold, or None when this
        stage has applied nothing there."""
        pending = self._pending.get(where)
        if pending:  # nearly in order (a batch is applied municipality by municipality): take the least
            return min(pending.values())
        position = self._position.get(where)
        return None if position is None else position + 1

    def _dump(self, muni: str, offsets: dict[str, int], detectors: DetectorSet) -> bytes:
        """The snapshot: applied offsets, the fingerprint of each one's message (so that a worker
        started afresh can still tell a new log from the old, see streams/lineage.py), where a replay
        of each partition must start for the checkpoints written so far, detectors."""
        marks = {where: list(mark) for where, mark in self._marks.get(muni, {}).items()
                 if offsets.get(where) == mark[0]}
        replay = {where: start for where in offsets if (start := self.replay_from(where)) is not None}
        return orjson.dumps({"offsets": offsets, "marks": marks, "replay_from": replay,
                             "detectors": detectors.to_state()})

    def _snapshot(self, muni: str, detectors: DetectorSet, offsets: dict[str, int], last: Message,
                  failed_at: str, letters: list[DeadLetter]) -> tuple[bytes, DetectorSet]:
        """The state as one message that always fits: cut down (oldest first) and reported when it would not."""
        state = self._dump(muni, offsets, detectors)
        if len(state) <= STATE_MAX_BYTES:
            if len(state) > STATE_WARN_BYTES and muni not in self._large:
                self._large.add(muni)
                log.warning("detector_state_large", municipality=muni, bytes=len(state),
                            warn=STATE_WARN_BYTES, limit=STATE_MAX_BYTES, **last.position)
            elif len(state) <= STATE_WARN_BYTES:
                self._large.discard(muni)
            return state, detectors
        before, rounds = len(state), 0
        while len(state) > STATE_MAX_BYTES and rounds < SHRINK_ROUNDS:
            detectors.shrink()
            rounds += 1
            state = self._dump(muni, offsets, detectors)
        reset = len(state) > STATE_MAX_BYTES
        if reset:  # nothing older left to forget: the detectors start afresh, the offsets stay
            detectors = DetectorSet(self.profiles[muni])
            state = self._dump(muni, offsets, detectors)
        self.state_cuts[muni] = self.state_cuts.get(muni, 0) + 1
        what = ("検知器の記録をすべて消去しました / every detector's history was dropped" if reset else
                "古い記録を削除しました / the oldest entries were evicted")
        reason = (f"{STATE_TOO_LARGE}: {muni} の検知状態が {before:,} バイトとなり上限 {STATE_MAX_BYTES:,} "
                  f"を超えたため、{what} (detector state of {muni} reached {before:,} bytes, over the limit "
                  f"of {STATE_MAX_BYTES:,}; {len(state):,} bytes kept; this message was processed)")
        log.error("detector_state_cut", municipality=muni, **last.position, bytes_before=before,
                  bytes_after=len(state), limit=STATE_MAX_BYTES, halvings=rounds, reset=reset,
                  cuts=self.state_cuts[muni])
        letters.append(dead_letter(last, reason, failed_at))
        return state, detectors


def replay_starts(checkpoints: Iterable[bytes | None]) -> dict[str, int]:
    """Where the replay of each partition starts after a restart, from the checkpoints in the table:
    each records, when it was written, the first offset that the checkpoints then written did not
    hold; the offsets only grow, so the highest recorded is the latest."""
    starts: dict[str, int] = {}
    for raw in checkpoints:
        if not raw:
            continue
        try:
            recorded = orjson.loads(raw).get("replay_from")
        except (orjson.JSONDecodeError, AttributeError):
            continue
        if isinstance(recorded, Mapping):
            for where, start in recorded.items():
                if type(start) is int and start > starts.get(where, -1):
                    starts[where] = start
    return starts
