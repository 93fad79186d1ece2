"""The metrics' bounded label words, and the counts the stages leave in the default registry."""

from __future__ import annotations

import orjson
import pytest
from prometheus_client import REGISTRY

from streams import heartbeat

from streams.boundary import DeadLetters, Rejected, handling
from streams.lineage import Applied, loss_letter
from streams.stage import DetectionStage, Message, dead_letter
from tests.unit.builders import CRITICAL_TEXTS, SAMPLE_PROFILE, mention_dict
from vocabulary import metrics
from vocabulary.profile_files import load_profile
from vocabulary.metrics import DEADLETTER_REASONS, deadletter_reason, exposition, on_scrape, status_code, word


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.mark.parametrize(("reason", "expected"), [
    ("contract: ts: missing", "contract"),
    ("unknown municipality key 'nowhere': configure its profile in NOROSHI_PROFILES", "unknown_municipality"),
    ("message has no key: produce with key = municipality id", "unknown_municipality"),
    ("detector failed: KeyError: 'x'", "detector_failed"),
    ("bad playbook input: unknown kind", "playbook_input"),
    ("playbook failed: ValueError: boom", "playbook_input"),
    ("bad effect: payload.to missing", "effect"),
    ("respond failed: RuntimeError: boom", "effect"),
    ("state_too_large: wako の検知状態が …", "state_too_large"),
    ("detect failed: RuntimeError: boom", "other"),
    ("何か別の理由", "other"),
    ("", "other"),
])
def test_a_dead_letter_reason_becomes_one_of_a_few_words(reason: str, expected: str) -> None:
    assert deadletter_reason(reason) == expected
    assert expected in DEADLETTER_REASONS


def test_the_broker_loss_letter_counts_as_broker_log_lost() -> None:
    letter = loss_letter(Applied("noroshi.mentions", 0, 41, None), "offset went back", "2026-12-07T00:00:00Z")
    assert deadletter_reason(letter.reason) == "broker_log_lost"


def test_labels_never_carry_free_text_nor_ids() -> None:
    assert word("slack") == "slack"
    assert word("bluesky:dry-run") == "bluesky:dry-run"
    assert word("Teams") == "teams"
    assert word("インシデント 42") == "other"
    assert word("x" * 200) == "other"
    assert word(None, "none") == "none"
    assert status_code(503) == "503"
    assert status_code("200") == "200"
    assert status_code(None) == "none"
    assert status_code(42) == "none"


async def test_dead_letters_are_counted_by_the_word_of_their_reason() -> None:
    class Topic:
        def __init__(self) -> None:
            self.sent: list[bytes] = []

        async def send(self, *, key: object, value: bytes) -> None:
            self.sent.append(value)

    msg = Message("noroshi.mentions", 0, 7, b"wako", b"{}")
    before = value("noroshi_deadletters_total", reason="contract")
    topic = Topic()
    await DeadLetters(topic).send([dead_letter(msg, "contract: id: missing", "2026-12-07T00:00:00Z")])
    assert len(topic.sent) == 1
    assert value("noroshi_deadletters_total", reason="contract") == before + 1


async def test_an_input_the_detect_boundary_rejects_counts_as_dead_lettered() -> None:
    class Topic:
        async def send(self, *, key: object, value: bytes) -> None:
            pass

    msg = Message("noroshi.test-input", 0, 3, b"wako", b"{}")
    before = value("noroshi_events_total", topic="noroshi.test-input", outcome="dead_lettered")
    async with handling([msg], DeadLetters(Topic()), "detect"):
        raise Rejected("contract: nope")
    assert value("noroshi_events_total", topic="noroshi.test-input", outcome="dead_lettered") == before + 1


def test_the_detect_stage_counts_unknown_keys_by_topic() -> None:
    stage = DetectionStage({})
    before = value("noroshi_events_total", topic="noroshi.test-keys", outcome="dead_lettered")
    groups, rejected = stage.group([Message("noroshi.test-keys", 1, 0, b"nowhere", b"{}")], "t")
    assert groups == {} and len(rejected) == 1
    assert value("noroshi_events_total", topic="noroshi.test-keys", outcome="dead_lettered") == before + 1


def test_the_exposition_runs_the_scrape_hooks_and_survives_a_failing_one() -> None:
    seen: list[int] = []
    hooks = list(metrics._SCRAPE_HOOKS)
    try:
        @on_scrape
        def broken() -> None:
            raise RuntimeError("a gauge that cannot be read")

        on_scrape(lambda: seen.append(1))
        failures = value("noroshi_scrape_hook_failures_total")
        body, content_type = exposition()
    finally:
        metrics._SCRAPE_HOOKS[:] = hooks
    assert seen == [1]
    assert value("noroshi_scrape_hook_failures_total") == failures + 1
    assert content_type.startswith("text/plain")
    text = body.decode()
    for name in ("noroshi_events_total", "noroshi_detection_latency_seconds", "noroshi_deadletters_total",
                 "noroshi_consumer_lag_messages", "noroshi_board_sse_clients", "noroshi_heartbeat_age_seconds"):
        assert f"# TYPE {name}" in text


def test_the_detect_stage_counts_each_outcome_of_a_batch_by_topic() -> None:
    topic = "noroshi.test-outcomes"
    stage = DetectionStage({"wako": load_profile(SAMPLE_PROFILE)})
    before = {o: value("noroshi_events_total", topic=topic, outcome=o)
              for o in ("processed", "dead_lettered", "skipped", "heartbeat")}
    critics = [orjson.dumps(mention_dict(float(n), f"critic{n}", CRITICAL_TEXTS[0])) for n in range(3)]
    batch = [Message(topic, 0, n, b"wako", raw) for n, raw in enumerate(critics)]
    batch += [Message(topic, 0, 3, b"wako", b'{"kind": "mention"}'),  # breaks the contract
              Message(topic, 0, 4, b"wako", heartbeat.beat(0, "wako", 1, "2026-12-07T07:00:00.000+00:00"))]
    out = stage.process("wako", None, batch, "2026-12-07T07:00:01.000+00:00")
    stage.process("wako", out.state, batch[:2], "2026-12-07T07:00:02.000+00:00")  # redelivered
    after = {o: value("noroshi_events_total", topic=topic, outcome=o) - before[o] for o in before}
    assert after == {"processed": 3, "dead_lettered": 1, "skipped": 2, "heartbeat": 1}
