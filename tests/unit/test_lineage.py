"""Offsets that go back: a redelivery (each skip logged) or a broker that lost its data (streams.lineage)."""

from __future__ import annotations

import orjson
from structlog.testing import capture_logs

from streams.gaps import Gap, GapFiller
from streams.lineage import BROKER_LOG_LOST, Applied, LineageGuard, Seen, fingerprint, judge, loss_letter
from streams.stage import DetectionStage, Message
from tests.unit.builders import SAMPLE, SAMPLE_PROFILE
from vocabulary.profile_files import load_profile

TOPIC = "noroshi.mentions"
NOW = "2026-11-20T12:00:00+09:00"


def sample_values() -> list[bytes]:
    return [line for line in SAMPLE.read_bytes().splitlines() if line.strip()]


def batch(values: list[bytes], first_offset: int = 0, partition: int = 0) -> list[Message]:
    return [Message(TOPIC, partition, first_offset + n, b"wako", v) for n, v in enumerate(values)]


def events(logs: list[dict], name: str) -> list[dict]:
    return [e for e in logs if e["event"] == name]


# --- judging the broker's log ------------------------------------------------------


def test_the_same_message_at_the_applied_offset_is_the_same_log() -> None:
    mark = fingerprint(b"wako", b"m102")
    assert judge(Applied(TOPIC, 1, 102, mark), Seen(mark, 150)) is None
    assert judge(Applied(TOPIC, 1, 102, None), Seen(mark, 150)) is None  # no fingerprint: the end decides


def test_a_log_that_ends_at_or_below_the_applied_offset_is_a_new_log() -> None:
    assert "ends at offset 56" in judge(Applied(TOPIC, 1, 102, "ab"), Seen(None, 56))
    assert "ends at offset 102" in judge(Applied(TOPIC, 1, 102, None), Seen(None, 102))
    assert "no message at offset 102" in judge(Applied(TOPIC, 1, 102, None), Seen(None, None))


def test_another_message_at_the_applied_offset_is_a_new_log() -> None:
    reason = judge(Applied(TOPIC, 1, 3, fingerprint(b"wako", b"old")), Seen(fingerprint(b"wako", b"new"), 4))
    assert reason == "the message at offset 3 is not the one applied"


def test_a_broker_that_does_not_answer_changes_nothing() -> None:
    assert judge(Applied(TOPIC, 1, 3, "ab"), Seen(None, None, answered=False)) is None


def test_the_fingerprint_tells_key_from_value() -> None:
    assert fingerprint(b"ab", b"c") != fingerprint(b"a", b"bc")
    assert fingerprint(None, b"x") == fingerprint(b"", b"x")


# --- the stage: every skip logged, a lost partition processed afresh -------------


def test_every_redelivered_event_is_skipped_and_logged_with_its_position() -> None:
    stage = DetectionStage({"wako": load_profile(SAMPLE_PROFILE)})
    values = sample_values()[:12]
    first = stage.process("wako", None, batch(values), NOW)
    assert (first.processed, first.skipped) == (12, 0)

    again = batch(values[8:], first_offset=8)
    [applied] = stage.applied("wako", first.state, again)
    assert applied == Applied(TOPIC, 0, 11, fingerprint(b"wako", values[11]))
    with capture_logs() as logs:
        second = stage.process("wako", first.state, again, NOW)

    assert (second.processed, second.skipped) == (0, 4)
    skips = events(logs, "event_already_applied")
    assert [(e["topic"], e["partition"], e["offset"], e["applied_offset"]) for e in skips] == [
        (TOPIC, 0, o, 11) for o in range(8, 12)]
    assert {e["log_level"] for e in skips} == {"info"} and {e["municipality"] for e in skips} == {"wako"}


def test_a_worker_started_afresh_knows_the_fingerprint_from_the_state() -> None:
    values = sample_values()[:5]
    state = DetectionStage({"wako": load_profile(SAMPLE_PROFILE)}).process("wako", None, batch(values), NOW).state
    fresh = DetectionStage({"wako": load_profile(SAMPLE_PROFILE)})  # a new process, the table recovered
    assert fresh.applied("wako", state, batch(values[:2])) == [
        Applied(TOPIC, 0, 4, fingerprint(b"wako", values[4]))]
    old = {k: v for k, v in orjson.loads(state).items() if k != "marks"}  # written before the marks
    assert DetectionStage({"wako": load_profile(SAMPLE_PROFILE)}).applied(
        "wako", orjson.dumps(old), batch(values[:2])) == [Applied(TOPIC, 0, 4, None)]


def test_nothing_is_checked_when_nothing_would_be_skipped() -> None:
    stage = DetectionStage({"wako": load_profile(SAMPLE_PROFILE)})
    values = sample_values()[:6]
    first = stage.process("wako", None, batch(values[:3]), NOW)
    assert stage.applied("wako", first.state, batch(values[3:], first_offset=3)) == []


def test_a_partition_whose_log_was_lost_is_processed_afresh_with_the_detectors_kept() -> None:
    stage = DetectionStage({"wako": load_profile(SAMPLE_PROFILE)})
    values = sample_values()
    first = stage.process("wako", None, batch(values[:40]), NOW)
    fresh = batch([v.replace(b'"x:wako', b'"x:again') for v in values[40:60]])  # a new log from 0

    blind = stage.process("wako", first.state, fresh, NOW)
    assert (blind.processed, blind.skipped) == (0, 20)  # what happened before: all skipped

    stage = DetectionStage({"wako": load_profile(SAMPLE_PROFILE)})
    first = stage.process("wako", None, batch(values[:40]), NOW)
    out = stage.process("wako", first.state, fresh, NOW, lost={f"{TOPIC}:0"})
    assert (out.processed, out.skipped) == (20, 0)
    assert stage.applied("wako", out.state, batch(values[55:60], first_offset=15)) == [
        Applied(TOPIC, 0, 19, fingerprint(b"wako", fresh[-1].value))]


# --- the guard: said once, on the board too --------------------------------------


async def test_a_lost_log_is_said_once_as_an_error_and_once_to_the_board() -> None:
    told: list[tuple[Applied, str]] = []

    async def probe(topic: str, partition: int, offset: int) -> Seen:
        return Seen(None, 5)  # every partition now ends at 5

    async def notify(applied: Applied, reason: str) -> None:
        told.append((applied, reason))

    guard = LineageGuard(probe, notify, clock=lambda: 100.0)
    with capture_logs() as logs:
        lost = await guard.lost([Applied(TOPIC, 0, 40), Applied(TOPIC, 1, 9)], municipality="wako")
        again = await guard.lost([Applied("noroshi.accounts", 0, 7)], agent="playbook")

    assert lost == {f"{TOPIC}:0", f"{TOPIC}:1"} and again == {"noroshi.accounts:0"}
    [error] = events(logs, "broker_log_lost")
    assert (error["log_level"], error["topic"], error["partition"], error["offset"], error["end_offset"]) == (
        "error", TOPIC, 0, 40, 5)
    assert "ブローカーのデータが失われました" in error["message"] and "The broker lost its data" in error["message"]
    assert [(e["topic"], e["partition"]) for e in events(logs, "partition_log_lost")] == [
        (TOPIC, 1), ("noroshi.accounts", 0)]
    assert [a for a, _ in told] == [Applied(TOPIC, 0, 40)]
    assert guard.losses == 3


async def test_a_redelivery_from_the_same_log_is_no_loss() -> None:
    async def probe(topic: str, partition: int, offset: int) -> Seen:
        return Seen(fingerprint(b"wako", b"m40"), 90)

    guard = LineageGuard(probe)
    with capture_logs() as logs:
        assert await guard.lost([Applied(TOPIC, 0, 40, fingerprint(b"wako", b"m40"))]) == set()
    assert logs == []


def test_the_boards_notice_is_a_dead_letter_in_japanese_and_english() -> None:
    letter = loss_letter(Applied(TOPIC, 1, 102), "the partition now ends at offset 56", NOW)
    assert letter.reason.startswith(BROKER_LOG_LOST + ":")
    assert "ブローカーのデータが失われました" in letter.reason and "The broker lost its data" in letter.reason
    assert (letter.topic, letter.partition, letter.offset, letter.size) == (TOPIC, 1, 102, 0)


# --- the gap guard of every agent ---------------------------------------------------


def msgs(offsets: range, tag: bytes = b"old") -> list[Message]:
    return [Message(TOPIC, 0, o, b"wako", tag + str(o).encode()) for o in offsets]


async def test_a_gap_filler_finds_holes_in_a_new_log_below_the_offsets_it_remembered() -> None:
    asked: list[Gap] = []

    async def refetch(gap: Gap) -> list[Message]:
        asked.append(gap)
        return msgs(range(gap.first, gap.last + 1), b"new")

    async def probe(topic: str, partition: int, offset: int) -> Seen:
        return Seen(None, 8)  # the broker came back with a shorter log

    filler = GapFiller(refetch, LineageGuard(probe, clock=lambda: 0.0), "playbook")
    await filler.complete(msgs(range(0, 30)))
    with capture_logs() as logs:
        out = await filler.complete([*msgs(range(0, 3), b"new"), *msgs(range(5, 8), b"new")])
    assert [m.offset for m in out] == [0, 1, 2, 3, 4, 5, 6, 7]
    assert asked == [Gap(TOPIC, 0, 3, 4)]
    assert [e["agent"] for e in events(logs, "broker_log_lost")] == ["playbook"]


async def test_a_gap_filler_keeps_its_high_mark_on_a_redelivery_from_the_same_log() -> None:
    async def refetch(gap: Gap) -> list[Message]:
        raise AssertionError("nothing is missing")

    probed: list[int] = []

    async def probe(topic: str, partition: int, offset: int) -> Seen:
        probed.append(offset)
        return Seen(fingerprint(b"wako", b"old29"), 30)

    filler = GapFiller(refetch, LineageGuard(probe), "respond")
    await filler.complete(msgs(range(0, 30)))
    assert [m.offset for m in await filler.complete(msgs(range(25, 28)))] == [25, 26, 27]
    assert probed == [29] and filler.last_seen[(TOPIC, 0)] == 29
