"""Issue 12, findings 1 and 2: one odd event never costs its neighbours anything.

The contract's limits ("Limits and time" in ../shared/contracts/events.md) refuse an
event with a reason on both the short and the checked path; a dead letter always fits
in one message; a detector state that would not fit is cut down, reported, and the
stage goes on.
"""

from __future__ import annotations

import base64
import copy
import hashlib
from typing import Any

import orjson
import pytest
from structlog.testing import capture_logs

from vocabulary.contract import MAX_DEPTH, MAX_EVENT_BYTES, ContractError, _checked_event, event_from_dict, parse_event
from vocabulary.profile_files import load_profile
from streams.detectors import DetectorSet
from vocabulary.records import DEAD_LETTER_MAX_BYTES, DEAD_LETTER_RAW_BYTES, DeadLetter, iso
from streams.stage import CheckpointPolicy, DetectionStage, Message, STATE_MAX_BYTES, STATE_TOO_LARGE
from tests.unit.builders import SAMPLE_PROFILE
from tests.unit.test_contract import ACCOUNT, ALERT, MENTION, changed

START = 1_790_000_000.0


def long_id(prefix: str, n: int, chars: int = 256) -> str:
    head = f"{prefix}:{n}:"
    return head + "x" * (chars - len(head))


# --- the contract's limits ------------------------------------------------------------

OFFICIAL_POST = {**changed(ACCOUNT, "type", "official_post"),
                 "post": {"id": "x:9", "text": "【和光市】お知らせ", "url": "https://x.com/p/9"}}

LIMITS = [
    pytest.param(MENTION, "id", 256, id="mention id"),
    pytest.param(MENTION, "author.id", 256, id="author id"),
    pytest.param(MENTION, "author.handle", 100, id="author handle"),
    pytest.param(MENTION, "author.name", 200, id="author name"),
    pytest.param(MENTION, "text", 20_000, id="mention text"),
    pytest.param(MENTION, "reply_to.post_id", 256, id="reply_to post_id"),
    pytest.param(MENTION, "reply_to.account", 100, id="reply_to handle"),
    pytest.param(ACCOUNT, "id", 256, id="account event id"),
    pytest.param(ACCOUNT, "account.id", 256, id="account id"),
    pytest.param(ACCOUNT, "account.handle", 100, id="account handle"),
    pytest.param(ACCOUNT, "account.name", 200, id="account name"),
    pytest.param(ACCOUNT, "account.bio", 2_000, id="account bio"),
    pytest.param(OFFICIAL_POST, "post.id", 256, id="official post id"),
    pytest.param(OFFICIAL_POST, "post.text", 20_000, id="official post text"),
    pytest.param(ALERT, "id", 256, id="alert id"),
    pytest.param(ALERT, "text", 20_000, id="alert text"),
]


@pytest.mark.parametrize(("base", "path", "limit"), LIMITS)
def test_a_string_at_its_contract_limit_is_accepted_and_one_character_more_is_refused_naming_the_field(
        base: dict[str, Any], path: str, limit: int) -> None:
    at_limit = changed(base, path, "和" * limit)
    over = changed(base, path, "和" * (limit + 1))

    assert event_from_dict(at_limit) == _checked_event(copy.deepcopy(at_limit))
    for refuse in (event_from_dict, _checked_event, lambda obj: parse_event(orjson.dumps(obj))):
        with pytest.raises(ContractError) as caught:
            refuse(copy.deepcopy(over))
        reason = str(caught.value)
        assert path.split(".")[-1] + ":" in reason and f"above the contract's limit of {limit:,}" in reason
        assert len(reason) < 200, "the reason quotes the value"


def test_the_short_path_gives_the_checked_paths_reason_for_an_over_long_mention_id() -> None:
    obj = changed(MENTION, "id", "x:" + "9" * 300_000)

    with pytest.raises(ContractError) as short:
        event_from_dict(obj)
    with pytest.raises(ContractError) as checked:
        _checked_event(obj)

    assert str(short.value) == str(checked.value) == "mention.id: 300,002 characters, above the contract's limit of 256"


def test_an_event_over_256_KiB_is_refused_by_its_size_and_one_at_the_limit_is_read() -> None:
    def padded(total: int) -> bytes:
        empty = orjson.dumps({**MENTION, "padding": ""})
        return orjson.dumps({**MENTION, "padding": "p" * (total - len(empty))})

    assert len(padded(MAX_EVENT_BYTES)) == MAX_EVENT_BYTES
    assert parse_event(padded(MAX_EVENT_BYTES)).id == MENTION["id"]
    with pytest.raises(ContractError, match=r"event is 262,145 bytes, above the contract's limit of 262,144"):
        parse_event(padded(MAX_EVENT_BYTES + 1))
    with pytest.raises(ContractError, match="above the contract's limit"):
        parse_event(padded(MAX_EVENT_BYTES + 1).decode())  # a str is measured in UTF-8 bytes


def nested(depth: int) -> Any:
    value: Any = 1
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


def test_nesting_up_to_the_contract_depth_is_read_and_one_level_more_is_refused() -> None:
    ok = orjson.dumps({**MENTION, "extra": nested(MAX_DEPTH - 1)})  # the event itself is level 1
    deep = orjson.dumps({**MENTION, "extra": nested(MAX_DEPTH)})

    assert parse_event(ok).id == MENTION["id"]
    with pytest.raises(ContractError, match=f"nested deeper than the contract's limit of {MAX_DEPTH}"):
        parse_event(deep)


def test_a_reason_quotes_an_odd_value_cut_short() -> None:
    with pytest.raises(ContractError) as caught:
        event_from_dict(changed(MENTION, "ts", "2026" * 50_000))

    assert len(str(caught.value)) < 200 and "200,002 characters" in str(caught.value)


# --- dead letters always fit -------------------------------------------------------------


def test_a_dead_letter_of_a_huge_message_keeps_its_start_size_and_sha256_and_says_it_is_truncated() -> None:
    raw = b"\xff{" + bytes(range(256)) * 5_000  # 1.28 MB, not UTF-8
    letter = DeadLetter.of(reason="contract: not valid JSON", topic="noroshi.mentions", partition=1,
                           offset=42, key=b"wako", raw=raw, failed_at="2026-12-07T00:00:00+00:00")

    wire = letter.to_json()
    assert len(wire) <= DEAD_LETTER_MAX_BYTES
    read = orjson.loads(wire)
    assert read["truncated"] is True and read["size"] == len(raw)
    assert read["sha256"] == hashlib.sha256(raw).hexdigest()
    assert base64.b64decode(read["raw_b64"]) == raw[:DEAD_LETTER_RAW_BYTES]
    assert DeadLetter.from_json(wire) == letter and letter.raw == raw[:DEAD_LETTER_RAW_BYTES]


def test_a_dead_letter_of_an_ordinary_message_keeps_it_whole() -> None:
    raw = orjson.dumps(MENTION)
    letter = DeadLetter.of(reason="r", topic="t", partition=0, offset=1, key="wako", raw=raw, failed_at="f")

    assert (letter.raw, letter.truncated, letter.size) == (raw, False, len(raw))
    assert letter.sha256 == hashlib.sha256(raw).hexdigest()


def test_the_largest_dead_letter_any_input_can_make_still_fits() -> None:
    hostile = "\x01" * 1_000_000  # control characters take six bytes each in JSON
    letter = DeadLetter.of(reason=hostile, topic=hostile, partition=2**31, offset=2**62, key=hostile.encode(),
                           raw=b"\x00" * 3_000_000, failed_at=hostile)

    assert len(letter.to_json()) <= DEAD_LETTER_MAX_BYTES < 1_000_000
    assert letter.reason.endswith("…") and letter.key is not None and len(letter.key) <= 256


def test_a_dead_letter_written_before_the_bounds_is_still_read() -> None:
    old = {"reason": "r", "topic": "t", "partition": 0, "offset": 1, "key": "wako",
           "raw_b64": base64.b64encode(b"{broken").decode(), "failed_at": "f"}

    letter = DeadLetter.from_json(orjson.dumps(old))

    assert (letter.raw, letter.truncated, letter.size, letter.sha256) == (b"{broken", False, 0, "")


# --- detector state: bounded strings, eviction, a loud cut -------------------------------


def flame_reply(n: int, *, chars: int = 256) -> dict[str, Any]:
    """A critical reply to the official account whose ids take all the contract allows."""
    return {"kind": "mention", "id": long_id("x", n, chars), "platform": "x", "ts": iso(START + n),
            "author": {"id": long_id("x:u", n, chars), "handle": f"u{n}", "followers": 10},
            "text": "謝罪しろ、税金の無駄です",
            "reply_to": {"post_id": "x:p1", "account": "wako_city_official"}}


def batch(events: list[dict[str, Any]], first_offset: int) -> list[Message]:
    return [Message("noroshi.mentions", 0, first_offset + i, b"wako", orjson.dumps(e)) for i, e in enumerate(events)]


def test_four_mentions_with_300_KB_ids_are_refused_and_the_state_keeps_none_of_them() -> None:
    stage = DetectionStage({"wako": load_profile(SAMPLE_PROFILE)}, CheckpointPolicy.every_batch())
    huge = [flame_reply(n, chars=300_000) for n in range(4)]
    fine = [flame_reply(n) for n in range(4, 6)]

    out = stage.process("wako", None, batch([fine[0], *huge, fine[1]], 0), "now")

    assert out.processed == 2 and len(out.dead_letters) == 4
    assert all("bytes, above the contract's limit of 262,144" in d.reason and d.size > 600_000 and d.truncated
               for d in out.dead_letters)
    assert len(out.state) < 10_000


def test_a_state_that_would_not_fit_in_one_message_is_cut_down_reported_and_the_stage_goes_on() -> None:
    stage = DetectionStage({"wako": load_profile(SAMPLE_PROFILE)}, CheckpointPolicy.every_batch())
    stored: bytes | None = None
    cut_letters = []
    with capture_logs() as logs:
        for start in range(0, 4_000, 500):  # every id as long as the contract allows
            out = stage.process("wako", stored, batch([flame_reply(n) for n in range(start, start + 500)], start),
                                "now")
            assert out.processed == 500
            assert len(out.state) <= STATE_MAX_BYTES
            cut_letters += [d for d in out.dead_letters if d.reason.startswith(STATE_TOO_LARGE)]
            stored = bytes(out.state)  # as if read back from the table

    assert cut_letters, "the state never reached the limit: the test proves nothing"
    cuts = [line for line in logs if line["event"] == "detector_state_cut"]
    assert len(cuts) == len(cut_letters) == stage.state_cuts["wako"]
    assert all(line["log_level"] == "error" and line["bytes_before"] > STATE_MAX_BYTES >= line["bytes_after"]
               and line["topic"] == "noroshi.mentions" and line["offset"] >= 0 for line in cuts)
    assert "古い記録を削除しました" in cut_letters[0].reason and "oldest entries were evicted" in cut_letters[0].reason
    # The newest reactions are what is kept: the state still holds the last mention's author.
    state = orjson.loads(stored)
    recent = state["detectors"]["flame"]["targets"]["wako_city_official"]["recent"]
    assert recent[-1][4] == long_id("x", 3_999) and len(recent) < 1_000
    assert state["offsets"] == {"noroshi.mentions:0": 3_999}


def hostile_traffic(count: int) -> list[dict[str, Any]]:
    """Each detector's kind of event, with every id as long as the contract allows."""
    events = []
    for n in range(count):
        ts = iso(START + n)
        kind = n % 4
        author = {"id": long_id("x:u", n), "handle": f"u{n}", "followers": 10}
        if kind == 0:
            events.append(flame_reply(n))
        elif kind == 1:
            events.append({"kind": "mention", "id": long_id("d", n), "platform": "x", "ts": ts,
                           "author": author, "text": f"#和光市災害 川が氾濫しています {n}"})
        elif kind == 2:
            events.append({"kind": "account", "id": long_id("a", n), "platform": "x", "ts": ts, "type": "seen",
                           "account": {"id": long_id("x:u", n), "handle": f"wako_city_officia1_{n}",
                                       "name": "和光市役所【公式】", "bio": "和光市の公式アカウントです",
                                       "followers": 1, "created_at": ts}})
        else:
            events.append({"kind": "account", "id": long_id("o", n), "platform": "x", "ts": ts,
                           "type": "official_post", "account": {"handle": "wako_city_official"},
                           "post": {"id": long_id("x:post", n), "text": f"第{n}回 市民まつりのお知らせ"}})
    return events


def test_every_detector_forgets_the_older_half_of_what_it_keeps_when_asked_to_shrink() -> None:
    detectors = DetectorSet(load_profile(SAMPLE_PROFILE))
    for obj in hostile_traffic(4_000):
        detectors.feed(event_from_dict(obj))
    # "time" is the stream's clock: a few numbers here, nothing held (tests/unit/test_event_time.py).
    before = {kind: len(orjson.dumps(part)) for kind, part in detectors.to_state().items() if kind != "time"}

    detectors.shrink()

    after = {kind: len(orjson.dumps(part)) for kind, part in detectors.to_state().items() if kind != "time"}
    assert all(size > 100_000 for size in before.values()), before  # each one full of long ids
    for kind in before:
        assert after[kind] < before[kind] * 0.6, (kind, before[kind], after[kind])
    # What is left still works: the set reads its own state back and goes on.
    again = DetectorSet(load_profile(SAMPLE_PROFILE), detectors.to_state())
    assert again.feed(event_from_dict(flame_reply(10_000))) == []
    assert long_id("x", 10_000) in again.seen and long_id("x", 3_996) in again.seen


def test_a_disaster_title_and_place_are_kept_short_whatever_the_source_sent() -> None:
    from streams.detectors.disaster import DisasterDetector
    from streams.detectors.common import Context

    detector = DisasterDetector(load_profile(SAMPLE_PROFILE))
    alert = event_from_dict({**ALERT, "areas": ["和光市"], "severity": "emergency", "title": "大雨特別警報" * 10_000})
    detector.on_event(alert, Context())
    rescue = event_from_dict({**MENTION, "id": "x:r1", "ts": ALERT["ts"], "reply_to": None,
                              "text": "#和光市災害 助けてください、家に取り残されています",
                              "geo": {"place": "和光市" * 10_000}})
    detector.on_event(rescue, Context())

    state = detector.to_state()
    assert state["episode"] is not None and len(state["episode"]["title"]) <= 140
    assert all(len(r["place"] or "") <= 140 for r in state["recent_rescues"]) and state["recent_rescues"]
