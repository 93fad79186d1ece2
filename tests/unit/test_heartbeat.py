"""The pipeline's heartbeat without Faust: which key reaches which partition, the detect and playbook
stages passing it on untouched by detectors and incidents, and what the board's 監視 indicator says."""

from __future__ import annotations

import html
import time

import orjson
from aiokafka.partitioner import DefaultPartitioner
from prometheus_client import REGISTRY

from dashboards import pages
from dashboards.feed import MemoryFeed
from dashboards.state import BoardState, Heartbeat, parse_heartbeat, watch
from dashboards.users import User
from playbooks.engine import default_rules
from streams import heartbeat
from streams.playbook_stage import PlaybookStage
from streams.stage import CheckpointPolicy, DetectionStage, Message
from tests.unit.builders import CRITICAL_TEXTS, SAMPLE_PROFILE, mention_dict
from tools.replay import replay_lines
from vocabulary import metrics
from vocabulary.profile_files import load_profile

NOW = "2026-12-07T07:00:00.000+00:00"
MUNICIPALITIES = [f"city{n:02d}" for n in range(40)] + ["wako"]


def user(municipality: str = "wako") -> User:
    return User(name="sato", display_name="佐藤", role="operator", municipality=municipality, password_hash="x")


def beat_at(partition: int, sent_ts: float, municipality: str = "wako") -> Heartbeat:
    return Heartbeat(partition=partition, municipality=municipality, sent_at="", sent_ts=sent_ts)


# --- which key lands where ----------------------------------------------------------------------

def test_one_key_per_partition_in_use_chosen_as_aiokafka_partitions_it() -> None:
    partitioner = DefaultPartitioner()
    for partitions in (1, 3, 8, 12):
        chosen = heartbeat.targets(MUNICIPALITIES, partitions)
        in_use = {partitioner(m.encode(), list(range(partitions)), []) for m in MUNICIPALITIES}
        assert set(chosen) == in_use  # every partition in use, and only those
        assert len(set(chosen.values())) == len(chosen)  # one key each
        for partition, muni in chosen.items():
            assert partitioner(muni.encode(), list(range(partitions)), []) == partition
            assert heartbeat.partition_for(muni, partitions) == partition


def test_few_municipalities_leave_partitions_without_a_heartbeat() -> None:
    chosen = heartbeat.targets(["wako"], 8)
    assert chosen == {heartbeat.partition_for("wako", 8): "wako"}


# --- detect: applied, passed on, never detected -------------------------------------------------

def test_the_detect_stage_passes_a_heartbeat_on_without_touching_the_detectors_but_counts_its_offset() -> None:
    stage = DetectionStage({"wako": load_profile(SAMPLE_PROFILE)}, CheckpointPolicy.every_batch())
    critic = orjson.dumps(mention_dict(0.0, "critic0", CRITICAL_TEXTS[0]))
    before = stage.process("wako", None, [Message("noroshi.mentions", 3, 9, b"wako", critic)], NOW)
    state_before = orjson.loads(before.state)
    beat = heartbeat.beat(3, "wako", 1, "2026-12-07T06:59:59.500+00:00")

    out = stage.process("wako", before.state, [Message("noroshi.mentions", 3, 10, b"wako", beat)], NOW)

    after = orjson.loads(out.state)
    assert after["detectors"] == state_before["detectors"]  # no detector saw it
    assert b"hb:" not in orjson.dumps(after["detectors"])
    assert after["offsets"] == {"noroshi.mentions:3": 10}  # applied: lineage and gaps rely on it
    assert out.processed == 0 and out.dead_letters == [] and out.detections == []
    [(key, record, msg)] = out.heartbeats
    assert key == "heartbeat:3" and msg.offset == 10
    passed = orjson.loads(record)
    assert passed == {"kind": "heartbeat", "id": "hb:3:1", "partition": 3, "municipality": "wako",
                      "sent_at": "2026-12-07T06:59:59.500+00:00", "detected_at": NOW}
    # Redelivered, it is skipped like any applied message.
    again = stage.process("wako", out.state, [Message("noroshi.mentions", 3, 10, b"wako", beat)], NOW)
    assert again.skipped == 1 and again.heartbeats == []


def test_a_record_that_only_mentions_heartbeats_is_not_one() -> None:
    text = orjson.dumps(mention_dict(0.0, "someone", '"heartbeat" の話'))
    assert heartbeat.parse(text) is None
    assert heartbeat.parse(b'{"kind": "heartbeat"}') is None  # no id, partition, sent_at
    assert heartbeat.parse(b'{"kind":"heartbeat",') is None


# --- playbook: to the heartbeats topic and nowhere else ------------------------------------------

def test_the_playbook_stage_publishes_a_heartbeat_to_the_heartbeats_topic_and_nothing_else() -> None:
    stage = PlaybookStage({"wako": load_profile(SAMPLE_PROFILE)}, default_rules())
    detected = heartbeat.stamped(heartbeat.parse(heartbeat.beat(3, "wako", 7, "2026-12-07T06:59:59.000+00:00")),
                                 "detected_at", "2026-12-07T06:59:59.200+00:00")
    table: dict[str, bytes] = {}

    step = stage.play(Message("noroshi.detections", 0, 5, b"heartbeat:3", detected), table)

    assert step.state is None and step.incident_id == ""  # nothing to store: the agent stores nothing
    [out] = step.outputs
    assert (out.topic, out.key) == ("heartbeats", "heartbeat:3")
    record = orjson.loads(out.value)
    assert record["id"] == "hb:3:7" and record["sent_at"] and record["detected_at"] and record["played_at"]
    assert set(heartbeat.HOPS) <= set(record)
    assert table == {}


def test_replay_passes_over_a_heartbeat_copied_from_a_live_topic() -> None:
    result = replay_lines([heartbeat.beat(0, "wako", 1, NOW)], load_profile(SAMPLE_PROFILE))
    assert result.events == 0 and result.rejected == [] and result.incidents == {}


# --- the board -----------------------------------------------------------------------------------

def test_the_board_keeps_the_latest_heartbeat_per_partition() -> None:
    state = BoardState()
    assert state.add_heartbeat(beat_at(1, 100.0))
    assert not state.add_heartbeat(beat_at(1, 90.0))  # an older one read late changes nothing
    assert state.add_heartbeat(beat_at(2, 95.0))
    assert {p: b.sent_ts for p, b in state.heartbeats.items()} == {1: 100.0, 2: 95.0}


def test_the_watch_is_ok_waiting_or_late_from_the_oldest_latest_heartbeat() -> None:
    beats = {0: beat_at(0, 1000.0, "asaka"), 1: beat_at(1, 990.0)}
    assert watch({}, 2000.0).state == "waiting"
    ok = watch(beats, 1002.0)
    assert (ok.state, ok.age, ok.late) == ("ok", 12.0, ())
    late = watch(beats, 990.0 + 181)
    assert late.state == "late" and late.late == ((1, "wako"),)
    # A partition in use never heard from is late once the board has waited long enough.
    assert watch(beats, 1002.0, expected={5: "toda"}, since=1000.0).state == "ok"
    missing = watch(beats, 1200.0, 300, expected={5: "toda"}, since=1000.0)
    assert missing.state == "ok"
    missing = watch({0: beat_at(0, 1195.0)}, 1200.0, 180, expected={5: "toda"}, since=1000.0)
    assert missing.state == "late" and missing.late == ((5, "toda"),)
    assert watch({}, 1200.0, 180, expected={5: "toda"}, since=1000.0).state == "late"


def test_every_page_header_says_how_old_the_last_heartbeat_is_in_japanese_and_english() -> None:
    now = time.time()
    beats = {1: beat_at(1, now - 12.4)}
    for lang, words in (("ja", "監視: 正常 · 12秒前"), ("en", "Monitoring: OK · 12 s ago")):
        frame = pages.Frame(lang=lang, user=user(), csrf="c", path="/", now=now, watch=watch(beats, now))
        page = html.unescape(pages.message_page(frame, "t", "m"))
        assert words in page and 'data-state="ok"' in page and page.index('id="watch"') < page.index("<main")


def test_past_the_threshold_the_header_turns_late_and_names_the_partition() -> None:
    now = time.time()
    beats = {0: beat_at(0, now - 5, "asaka"), 1: beat_at(1, now - 245)}
    frame = pages.Frame(lang="ja", user=user(), csrf="c", path="/", now=now, watch=watch(beats, now))
    assert pages.watch_text("ja", frame.watch, user().sees) == \
        "監視: 遅延 · 4分前 — パーティション 1（wako）の心拍が届いていません"
    assert pages.watch_text("en", frame.watch, user().sees) == \
        "Monitoring: late · 4 min ago — no heartbeat from partition 1 (wako)"
    assert 'data-state="late"' in pages.message_page(frame, "t", "m")
    # Another municipality's user learns which partition, not whose.
    assert pages.watch_text("ja", frame.watch, user("asaka").sees) == \
        "監視: 遅延 · 4分前 — パーティション 1の心拍が届いていません"
    assert pages.watch_text("ja", watch({}, now), user().sees) == "監視: 心拍待ち"


async def test_the_feed_tells_every_stream_and_the_age_metric_follows_the_last_heartbeat() -> None:
    feed = MemoryFeed()
    queue = feed.subscribe()
    sent = time.time() - 30
    record = heartbeat.stamped(heartbeat.parse(heartbeat.beat(6, "wako", 1, _iso(sent))), "played_at", _iso(sent))
    feed.push_heartbeat(parse_heartbeat(record))
    change = queue.get_nowait()
    assert change.kind == "heartbeat" and b"wako" not in change.frame  # no municipality to other users
    age = REGISTRY.get_sample_value(metrics.HEARTBEAT_AGE._name, {"partition": "6"})
    assert 29 <= age <= 60


def _iso(ts: float) -> str:
    from datetime import datetime, timezone
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="milliseconds")
