"""Detector state stays small however long and loud the traffic: it is one Kafka message."""

from __future__ import annotations

import orjson

from vocabulary.contract import event_from_dict
from vocabulary.profile_files import load_profile
from streams.detectors import DetectorSet
from vocabulary.records import iso
from streams.stage import STATE_WARN_BYTES

from tests.unit.builders import SAMPLE_PROFILE


def test_a_week_of_heavy_flame_up_keeps_the_state_far_below_a_kafka_message() -> None:
    detectors = DetectorSet(load_profile(SAMPLE_PROFILE))
    start = 1_790_000_000.0
    for i in range(7 * 24 * 360):  # a critical reply every 10 s for a week, all different authors
        detectors.feed(event_from_dict({
            "kind": "mention", "id": f"x:{i}", "platform": "x", "ts": iso(start + i * 10),
            "author": {"id": f"x:u:{i}", "handle": f"u{i}", "followers": 10},
            "text": "謝罪しろ、税金の無駄です",
            "reply_to": {"post_id": "x:p1", "account": "wako_city_official"}}))
    size = len(orjson.dumps(detectors.to_state()))
    assert size < STATE_WARN_BYTES / 2, f"state grew to {size} bytes"


def test_the_normalisation_cache_stays_small_and_answers_as_the_function_does() -> None:
    from streams.detectors import text

    texts = [f"ﾜｺｳｼ の 投稿 {i} https://example.jp/{i} @wako_city" for i in range(1000)]
    answers = [text.normalize(t) for t in texts]
    assert len(text._RECENT) <= text._RECENT_CAP
    assert answers == [text._normalize(t) for t in texts]
    assert answers[5] == "わこうしの投稿 5"  # Japanese is written without spaces (謝 罪しろ)
