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
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
import structlog

from vocabulary.contract import ContractError, Event, Profile, parse_event
from streams import heartbeat
from streams.detectors import DetectorSet
from streams.lineage import Applied, fingerprint
from vocabulary.metrics import EVENTS, EVENTS_RESTAMPED
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
#: The start of the reason of the dead letter that reports a cut-down state.


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
    state: bytes
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
    def __init__(self, profiles: dict[str, Profile]) -> None:
        self.profiles = profiles
        # municipality → (the exact bytes last written to the table, decoded state);
        # identity of the bytes tells whether the table changed under us (recovery).
        self._cache: dict[str, tuple[bytes, DetectorSet, dict[str, int]]] = {}
        #: Times each municipality's state had to be cut down to fit one message.
        self.state_cuts: dict[str, int] = {}
        self._large: set[str] = set()  # municipalities whose state is above STATE_WARN_BYTES (warned once)
        # municipality → partition → (the offset applied last, the fingerprint of its message):
        # what `streams.lineage` compares with the broker's log before anything is skipped.
        self._marks: dict[str, dict[str, tuple[int, str]]] = {}

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

    def _load(self, muni: str, stored: bytes | None) -> tuple[DetectorSet, dict[str, int]]:
        cached = self._cache.get(muni)
        if cached is not None and stored is cached[0]:
            return cached[1], cached[2]
        snapshot = orjson.loads(stored) if stored else {}
        marks = snapshot.get("marks")
        self._marks[muni] = {where: (mark[0], mark[1]) for where, mark in marks.items()
                             if isinstance(mark, list) and len(mark) == 2} if isinstance(marks, dict) else {}
        return (DetectorSet(self.profiles[muni], snapshot.get("detectors")),
                dict(snapshot.get("offsets", {})))

    def applied(self, muni: str, stored: bytes | None, messages: Iterable[Message]) -> list[Applied]:
        """The partitions where `messages` go back to or below the offset already applied: what
        `process` would skip, to be checked against the broker first (`streams.lineage`)."""
        _, offsets = self._load(muni, stored)
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
                failed_at: str, lost: Collection[str] = (), arrived: float | None = None) -> StageOutput:
        """`lost`: partitions (`topic:partition`) whose log the broker no longer holds; their
        applied offsets are dropped and their messages processed as new. `arrived`: when the worker
        received the batch (its wall clock, POSIX seconds; not the Kafka timestamp, which the
        producer sets to the event's own time): an event stamped more than 15 minutes after it is
        re-stamped with it (drills run on their own clock; without it, as in a replay, the stream
        confirms its own time: streams/detectors/event_time.py)."""
        detectors, offsets = self._load(muni, stored)
        marks = self._marks.setdefault(muni, {})
        for where in lost:
            offsets.pop(where, None)
            marks.pop(where, None)
        out = StageOutput(state=b"")
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
            last[where] = msg
            beat = heartbeat.parse(msg.value)
            if beat is not None:  # applied (its offset counts), never fed to a detector
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
        for where, msg in last.items():
            marks[where] = (msg.offset, fingerprint(msg.key, msg.value))
        out.state, detectors = self._snapshot(muni, detectors, offsets, messages[-1], failed_at, out)
        self._cache[muni] = (out.state, detectors, offsets)
        return out

    def _dump(self, muni: str, offsets: dict[str, int], detectors: DetectorSet) -> bytes:
        """The snapshot: applied offsets, the fingerprint of each one's message (so that a worker
        started afresh can still tell a new log from the old, see streams/lineage.py), detectors."""
        marks = {where: list(mark) for where, mark in self._marks.get(muni, {}).items()
                 if offsets.get(where) == mark[0]}
        return orjson.dumps({"offsets": offsets, "marks": marks, "detectors": detectors.to_state()})

    def _snapshot(self, muni: str, detectors: DetectorSet, offsets: dict[str, int], last: Message,
                  failed_at: str, out: StageOutput) -> tuple[bytes, DetectorSet]:
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
        out.dead_letters.append(dead_letter(last, reason, failed_at))
        return state, detectors
