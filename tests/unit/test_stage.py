"""The detection stage without Faust: grouping, dead letters, redelivery, state bytes."""

from __future__ import annotations

import orjson
import pytest

from vocabulary.profile_files import load_profile
from streams.detectors import DetectorSet
from vocabulary.records import DeadLetter
from streams.stage import CheckpointPolicy, DetectionStage, Message
from tests.unit.builders import CRITICAL_TEXTS, SAMPLE, SAMPLE_PROFILE, mention_dict, profile

TOPIC = "noroshi.events"
NOW = "2026-11-20T12:00:00+09:00"


def stage() -> DetectionStage:
    return DetectionStage({"wako": load_profile(SAMPLE_PROFILE)}, CheckpointPolicy.every_batch())


def messages(values: list[bytes], *, key: bytes | None = b"wako", first_offset: int = 0,
             partition: int = 0) -> list[Message]:
    return [Message(TOPIC, partition, first_offset + n, key, v) for n, v in enumerate(values)]


def sample_values() -> list[bytes]:
    return [line for line in SAMPLE.read_bytes().splitlines() if line.strip()]


def surge_values(count: int = 6) -> list[bytes]:
    """Critical replies to the official account from distinct authors, 30 s apart."""
    return [orjson.dumps(mention_dict(i * 0.5, f"critic{i}", CRITICAL_TEXTS[i % len(CRITICAL_TEXTS)]))
            for i in range(count)]


# --- grouping ---------------------------------------------------------------


def test_messages_are_grouped_by_municipality_key() -> None:
    s = DetectionStage({"wako": profile("wako"), "toda": profile("toda")})
    batch = [*messages([b"1", b"2"]), *messages([b"3"], key=b"toda", first_offset=2), *messages([b"4"], first_offset=3)]

    groups, rejected = s.group(batch, NOW)

    assert rejected == []
    assert [m.value for m in groups["wako"]] == [b"1", b"2", b"4"]
    assert [m.value for m in groups["toda"]] == [b"3"]


@pytest.mark.parametrize(("key", "reason"), [
    pytest.param(b"kawagoe", "unknown municipality key 'kawagoe'", id="unknown key"),
    pytest.param(None, "message has no key", id="missing key"),
    pytest.param(b"", "message has no key", id="empty key"),
])
def test_a_message_for_no_configured_municipality_becomes_a_dead_letter(key: bytes | None, reason: str) -> None:
    raw = b'{"kind": "mention", "bytes": "\xe5\x92\x8c\xe5\x85\x89"}\xff'
    [msg] = messages([raw], key=key, first_offset=41, partition=3)

    groups, [letter] = stage().group([msg], NOW)

    assert groups == {}
    assert reason in letter.reason
    assert letter.raw == raw
    assert (letter.topic, letter.partition, letter.offset, letter.failed_at) == (TOPIC, 3, 41, NOW)
    assert letter.key == (key.decode() if key is not None else None)


# --- processing ---------------------------------------------------------------


def test_the_sample_batch_is_processed_and_opens_the_flame_incident() -> None:
    batch = messages(sample_values())

    out = stage().process("wako", None, batch, NOW)

    assert out.processed == len(batch) and out.skipped == 0 and out.dead_letters == []
    opened = [(d, m) for d, m in out.detections if d.change == "opened" and d.type == "flame"]
    [(detection, msg)] = opened
    assert detection.target == "wako_city_official"
    assert orjson.loads(msg.value)["id"] == detection.evidence_ids[-1]


def test_malformed_json_becomes_a_contract_dead_letter_and_the_rest_is_still_processed() -> None:
    good = surge_values(6)
    broken = b'{"kind": "mention", "id": '
    batch = messages([*good[:2], broken, *good[2:]])

    out = stage().process("wako", None, batch, NOW)

    [letter] = out.dead_letters
    assert letter.reason.startswith("contract: ") and "JSON" in letter.reason
    assert letter.raw == broken and letter.offset == 2
    assert out.processed == 6
    assert [d.change for d, _ in out.detections] == ["opened"]


def test_a_contract_break_names_the_field_in_the_dead_letter() -> None:
    bad = orjson.loads(surge_values(1)[0])
    bad["platform"] = "myspace"

    out = stage().process("wako", None, messages([orjson.dumps(bad)]), NOW)

    [letter] = out.dead_letters
    assert letter.reason.startswith("contract: platform:")


def test_a_batch_delivered_twice_changes_nothing_the_second_time() -> None:
    s = stage()
    batch = messages(surge_values(8))
    first = s.process("wako", None, batch, NOW)

    second = s.process("wako", first.state, batch, NOW)

    assert first.detections and first.processed == 8
    assert second.detections == [] and second.dead_letters == []
    assert (second.processed, second.skipped) == (0, 8)
    assert second.state is None  # nothing applied: no checkpoint to write


def test_a_batch_redelivered_to_a_restarted_stage_changes_nothing() -> None:
    batch = messages(surge_values(8))
    first = stage().process("wako", None, batch, NOW)
    stored = bytes(bytearray(first.state))  # what a restarted worker reads back from its table

    second = stage().process("wako", stored, batch, NOW)

    assert first.detections
    assert second.detections == [] and (second.processed, second.skipped) == (0, 8)


def test_a_restarted_stage_continues_where_the_stored_state_left_off() -> None:
    values = surge_values(12)
    first = stage().process("wako", None, messages(values[:2]), NOW)

    rest = stage().process("wako", bytes(bytearray(first.state)), messages(values, first_offset=0), NOW)

    assert first.detections == []
    assert rest.skipped == 2 and rest.processed == 10
    [(opened, msg)] = [(d, m) for d, m in rest.detections if d.change == "opened"]
    assert msg.offset == 2  # the third critical reply, counting the two from before the restart
    assert opened.metrics["critical"] == 3


def test_a_detector_failure_on_one_event_becomes_a_dead_letter_and_the_others_go_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    values = surge_values(6)
    doomed = orjson.loads(values[1])["id"]
    feed = DetectorSet.feed

    def failing_feed(self: DetectorSet, event, arrived=None):  # type: ignore[no-untyped-def]
        if event.id == doomed:
            raise RuntimeError("lexicon exploded")
        return feed(self, event, arrived)

    monkeypatch.setattr(DetectorSet, "feed", failing_feed)

    out = stage().process("wako", None, messages(values), NOW)

    [letter] = out.dead_letters
    assert letter.reason == "detector failed: RuntimeError: lexicon exploded"
    assert letter.raw == values[1] and letter.offset == 1
    assert out.processed == 5
    assert [d.change for d, m in out.detections] == ["opened"]


def test_the_state_bytes_are_json_with_offsets_and_detectors() -> None:
    out = stage().process("wako", None, messages(surge_values(3), first_offset=10, partition=2), NOW)

    state = orjson.loads(out.state)

    assert state["offsets"] == {f"{TOPIC}:2": 12}
    assert set(state["detectors"]) >= {"seen", "flame"}
    assert len(state["detectors"]["seen"]) == 3


def test_offsets_are_kept_per_partition() -> None:
    s = stage()
    values = surge_values(4)
    first = s.process("wako", None, messages(values[:2], partition=0, first_offset=5), NOW)

    out = s.process("wako", first.state, messages(values[2:], partition=1, first_offset=0), NOW)

    assert (out.processed, out.skipped) == (2, 0)
    assert orjson.loads(out.state)["offsets"] == {f"{TOPIC}:0": 6, f"{TOPIC}:1": 1}


def test_dead_letters_carry_what_is_needed_to_find_the_message_again() -> None:
    out = stage().process("wako", None, messages([b"nope"], first_offset=7, partition=1), NOW)

    [letter] = out.dead_letters
    assert DeadLetter.from_json(letter.to_json()) == letter
    assert (letter.topic, letter.partition, letter.offset, letter.key) == (TOPIC, 1, 7, "wako")
