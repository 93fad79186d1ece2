"""Detector state held in memory and checkpointed now and then (streams/stage.py CheckpointPolicy), and
the replay from the checkpoints that brings a restarted worker to the state the lost one had."""

from __future__ import annotations

import random
from pathlib import Path

import orjson
import pytest

from streams.stage import CheckpointPolicy, DetectionStage, Message, replay_starts
from tools.replay import default_profile_path
from tools.scenarios import week_of_traffic
from vocabulary.contract import parse_event
from vocabulary.profile_files import load_profile
from tests.unit.builders import SAMPLE_PROFILE, mention_dict

ROOT = Path(__file__).resolve().parents[2]
TOPIC = "noroshi.mentions"
SCENARIOS = ("aosawa-flame-rumour", "asahino-night-quake", "hanasaki-festival")


def event_time(line: bytes) -> float:
    return parse_event(line).ts


def interleaved() -> tuple[dict, list[Message]]:
    """Three labelled scenarios of three municipalities on one partition, in time order."""
    profiles, timed = {}, []
    for name in SCENARIOS:
        path = ROOT / "tests" / "scenarios" / f"{name}.jsonl"
        profile = load_profile(default_profile_path(path))
        profiles[profile.id] = profile
        timed += [(event_time(line), profile.id, line) for line in path.read_bytes().splitlines() if line.strip()]
    timed.sort(key=lambda t: t[0])
    return profiles, [Message(TOPIC, 0, n, muni.encode(), line) for n, (_, muni, line) in enumerate(timed)]


class Worker:
    """A stage as the detect agent drives it, writing its checkpoints to `table`, in event time."""

    def __init__(self, profiles: dict, table: dict[str, bytes], policy: CheckpointPolicy) -> None:
        self.now = 0.0
        self.stage = DetectionStage(profiles, policy, clock=lambda: self.now)
        self.table = table
        self.detections: list[bytes] = []
        self.written = 0

    def batch(self, messages: list[Message], replaying: bool = False) -> None:
        groups, rejected = self.stage.group(messages, "now")
        assert not rejected
        for muni, group in groups.items():
            self.now = max(self.now, event_time(group[-1].value))
            out = self.stage.process(muni, self.table.get(muni), group, "now", replaying=replaying)
            self.detections += [d.to_json() for d, _ in out.detections]
            if out.state is not None:
                self.write(muni, out.state)
        for muni in self.stage.due(self.now):
            self.write(muni, self.stage.checkpoint(muni, messages[-1], "now", []))

    def write(self, muni: str, state: bytes) -> None:
        self.table[muni] = state
        self.written += len(state)

    def state(self) -> dict[str, object]:
        """Every municipality's detector state: what is held, or else its checkpoint in the table."""
        for muni in self.stage.dirty():
            self.write(muni, self.stage.checkpoint(muni, Message(TOPIC, 0, 0, None, None), "now", []))
        return {muni: orjson.loads(raw)["detectors"] for muni, raw in self.table.items()}


def batches(messages: list[Message], seed: int) -> list[list[Message]]:
    """Batches of 1 to 40 messages, as a stream under varying load delivers them."""
    rng, out, n = random.Random(seed), [], 0
    while n < len(messages):
        size = rng.randint(1, 40)
        out.append(messages[n:n + size])
        n += size
    return out


POLICY = CheckpointPolicy(bytes_per_event=16, max_age_s=1800, replay_max=300)


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_a_worker_killed_anywhere_is_replaced_by_one_that_replays_to_the_same_detections_and_state(seed: int) -> None:
    profiles, messages = interleaved()
    whole = Worker(profiles, {}, POLICY)
    for b in batches(messages, seed):
        whole.batch(b)

    plan = batches(messages, seed)
    cut = random.Random(seed).randrange(len(plan) // 4, len(plan) // 2)
    table: dict[str, bytes] = {}
    first = Worker(profiles, table, POLICY)
    for b in plan[:cut]:
        first.batch(b)
    while not first.stage.dirty():  # killed at the first moment after `cut` when memory holds more
        first.batch(plan[cut])
        cut += 1

    # The new worker: the table as the changelog restores it (other bytes objects), the committed
    # offset just after the kill, and the input from where the checkpoints say back to it replayed.
    restored = {muni: bytes(bytearray(raw)) for muni, raw in table.items()}
    second = Worker(profiles, restored, POLICY)
    second.now = first.now
    committed = plan[cut][0].offset
    start = replay_starts(restored.values())[f"{TOPIC}:0"]
    assert start < committed
    second.batch(messages[start:committed], replaying=True)
    for b in plan[cut:]:
        second.batch(b)

    assert sorted(set(first.detections + second.detections)) == sorted(set(whole.detections))
    replayed = set(second.detections) & set(first.detections)
    assert replayed <= set(whole.detections)  # what the replay sent again is what was sent before
    assert second.state() == whole.state()


def test_replay_starts_at_the_least_offset_a_checkpoint_does_not_hold_even_out_of_order_in_a_batch() -> None:
    profiles = {m: load_profile(SAMPLE_PROFILE) for m in ("wako", "toda")}
    stage = DetectionStage(profiles, CheckpointPolicy(bytes_per_event=1), clock=lambda: 0.0)
    line = orjson.dumps(mention_dict(0, "someone", "こんにちは"))
    stage.process("wako", None, [Message(TOPIC, 0, 0, b"wako", line)], "now")  # first state: written
    stage.process("toda", None, [Message(TOPIC, 0, 1, b"toda", line)], "now")
    # one batch: toda's 5 is applied before wako's 3 (the agent goes municipality by municipality)
    stage.process("toda", None, [Message(TOPIC, 0, 5, b"toda", line)], "now")
    stage.process("wako", None, [Message(TOPIC, 0, 3, b"wako", line)], "now")
    assert stage.replay_from(f"{TOPIC}:0") == 3
    stage.checkpoint("wako", Message(TOPIC, 0, 3, b"wako", line), "now", [])
    assert stage.replay_from(f"{TOPIC}:0") == 5
    written = stage.checkpoint("toda", Message(TOPIC, 0, 5, b"toda", line), "now", [])
    assert stage.replay_from(f"{TOPIC}:0") == 6 and stage.dirty() == []
    assert orjson.loads(written)["replay_from"] == {f"{TOPIC}:0": 6}


def test_a_checkpoint_falls_due_by_age_and_by_how_far_the_partition_moved() -> None:
    profiles = {m: load_profile(SAMPLE_PROFILE) for m in ("wako", "toda")}
    now = [0.0]
    stage = DetectionStage(profiles, CheckpointPolicy(bytes_per_event=0, max_age_s=600, replay_max=100),
                           clock=lambda: now[0])
    line = orjson.dumps(mention_dict(0, "someone", "こんにちは"))
    for muni, offset in (("wako", 0), ("toda", 1)):
        assert stage.process(muni, None, [Message(TOPIC, 0, offset, muni.encode(), line)], "now").state
    # bytes_per_event 0: never due by size once written; only by age or distance
    assert stage.process("wako", None, [Message(TOPIC, 0, 2, b"wako", line)], "now").state is None
    now[0] = 300.0
    assert stage.process("toda", None, [Message(TOPIC, 0, 50, b"toda", line)], "now").state is None
    assert stage.due(599.0) == []
    assert stage.due(600.0) == ["wako"]  # its first unwritten event is ten minutes old
    stage.process("toda", None, [Message(TOPIC, 0, 102, b"toda", line)], "now")
    assert stage.due(601.0) == ["wako"]  # 102 - 2 = 100 offsets past wako's; toda's 50 is 52 back
    stage.checkpoint("wako", Message(TOPIC, 0, 2, b"wako", line), "now", [])
    assert stage.due(601.0) == [] and stage.dirty() == ["toda"]
    assert stage.due(900.0) == ["toda"]


def test_a_busy_municipality_writes_under_a_kib_per_event_at_one_event_per_batch() -> None:
    """The issue's target on a large ward: after a busy simulated week, its eighth day at real pace."""
    path = ROOT / "tests" / "scenarios" / "higashiminato-big-flame.profile.json"
    profile = load_profile(path)
    lines = [orjson.dumps(e) for e in week_of_traffic(orjson.loads(path.read_bytes()), start=1_790_000_000.0,
                                                     seed=7, size="large", days=8)]
    week_end = 1_790_000_000.0 + 7 * 86400
    split = next(n for n, line in enumerate(lines) if event_time(line) >= week_end)
    muni = profile.id.encode()

    def eighth_day(policy: CheckpointPolicy) -> tuple[int, int]:
        worker = Worker({profile.id: profile}, {}, policy)
        for n, line in enumerate(lines[:split]):
            worker.batch([Message(TOPIC, 0, n, muni, line)])
        before = worker.written
        for n, line in enumerate(lines[split:], start=split):
            worker.batch([Message(TOPIC, 0, n, muni, line)])
        return worker.written - before, len(lines) - split

    written, events = eighth_day(CheckpointPolicy())
    every_batch, _ = eighth_day(CheckpointPolicy.every_batch())
    print(f"eighth day: {events} events, {written / events:.0f} B/event checkpointed, "
          f"{every_batch / events:.0f} B/event with a snapshot per batch")
    assert events > 300
    assert written / events <= 1024
    assert every_batch / events > 20 * 1024  # what a snapshot per batch wrote: the test can tell


class _Letters:
    def __init__(self) -> None:
        self.sent: list = []

    async def send(self, letters) -> None:
        self.sent += letters


async def test_a_replay_read_that_fails_is_tried_again(monkeypatch) -> None:
    from types import SimpleNamespace

    from streams import app
    from streams.gaps import Gap

    async def no_wait(_: float) -> None:
        return None

    monkeypatch.setattr(app.asyncio, "sleep", no_wait)
    gap = Gap(TOPIC, 0, 10, 14)
    whole = [Message(TOPIC, 0, n, b"wako", b"{}") for n in range(10, 15)]
    answers = iter([ConnectionError("broker away"), whole[:2], whole])

    async def replayer(_: Gap):
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    shell = SimpleNamespace(replayer=replayer, letters=_Letters())
    assert await app.read_again(shell, gap) == whole
    assert shell.letters.sent == []


async def test_what_a_replay_cannot_read_is_a_dead_letter_naming_the_range_and_detection_goes_on(monkeypatch) -> None:
    from types import SimpleNamespace

    from streams import app
    from streams.gaps import Gap
    from vocabulary.records import BROKER_LOG_LOST

    async def no_wait(_: float) -> None:
        return None

    monkeypatch.setattr(app.asyncio, "sleep", no_wait)
    calls = []
    kept = [Message(TOPIC, 3, n, b"wako", b"{}") for n in range(13, 15)]  # 10-12 are past retention

    async def replayer(gap: Gap):
        calls.append(gap)
        return kept

    shell = SimpleNamespace(replayer=replayer, letters=_Letters())
    assert await app.read_again(shell, Gap(TOPIC, 3, 10, 14)) == kept
    assert len(calls) == app.REPLAY_ATTEMPTS
    [letter] = shell.letters.sent
    assert letter.reason.startswith(BROKER_LOG_LOST) and "3 of 5 messages could not be read" in letter.reason
    assert (letter.topic, letter.partition, letter.offset) == (TOPIC, 3, 10)
