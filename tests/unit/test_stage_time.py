"""The detect stage live: arrival is the worker's clock (the Kafka timestamp is the event's own time,
set by the producer), an event stamped more than 15 minutes after it arrived is re-stamped, counted
and logged; a drill, sped up or shifted in time, runs on its own clock and is never re-stamped."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from prometheus_client import REGISTRY
from structlog.testing import capture_logs

from sources.drill import drill_scenario, on_the_wall_clock
from streams.detectors import DetectorSet
from streams.stage import DetectionStage, Message
from tests.unit.builders import CRITICAL_TEXTS, SAMPLE_PROFILE, at, mention_dict, ts
from vocabulary.contract import event_from_dict
from vocabulary.profile_files import load_profile
from vocabulary.records import Detection

TOPIC = "noroshi.mentions"
DRILL_PROFILE = Path(__file__).resolve().parents[2] / "sources" / "drill.profile.json"


def restamped_total(reason: str) -> float:
    return REGISTRY.get_sample_value("noroshi_events_restamped_total", {"reason": reason}) or 0.0


def run_live(stage: DetectionStage, muni: str, timed: list[tuple[float, dict[str, Any]]], *, batch: int = 5
             ) -> list[Detection]:
    """Messages in batches, each batch received at the arrival of its last message."""
    stored: bytes | None = None
    found: list[Detection] = []
    for start in range(0, len(timed), batch):
        chunk = timed[start:start + batch]
        msgs = [Message(TOPIC, 0, start + n, muni.encode(), orjson.dumps(e)) for n, (_, e) in enumerate(chunk)]
        out = stage.process(muni, stored, msgs, "now", arrived=chunk[-1][0])
        assert not out.dead_letters
        found += [d for d, _ in out.detections]
        stored = out.state if out.state is not None else stored  # the table keeps the last checkpoint
    return found


def test_live_a_reply_stamped_2099_is_re_stamped_with_its_arrival_counted_logged_and_opens_no_duplicate() -> None:
    stage = DetectionStage({"wako": load_profile(SAMPLE_PROFILE)})
    posts = [(ts(i * 0.5) + 2, mention_dict(i * 0.5, f"critic{i}", CRITICAL_TEXTS[i % 5])) for i in range(40)]
    wrong = {**mention_dict(6, "critic_wrong", CRITICAL_TEXTS[0], event_id="x:wrong-clock"),
             "ts": "2099-11-20T09:06:00+09:00"}
    posts.insert(13, (ts(6) + 2, wrong))
    before = restamped_total("ahead_of_arrival")

    with capture_logs() as logs:
        found = run_live(stage, "wako", posts)

    assert [d.change for d in found].count("opened") == 1
    assert len({d.incident_id for d in found}) == 1
    assert not [d for d in found if d.metrics.get("resurgence") or d.metrics.get("back_to_baseline")]
    assert restamped_total("ahead_of_arrival") == before + 1
    [line] = [entry for entry in logs if entry["event"] == "event_restamped"]
    assert (line["event_id"], line["ts_original"], line["reason"], line["topic"], line["offset"]) == (
        "x:wrong-clock", "2099-11-20T09:06:00+09:00", "ahead_of_arrival", TOPIC, 13)
    assert at(6) <= line["ts"] <= at(7)  # when its batch was received
    assert "時刻を付け直しました" in line["message"]
    marked = [d for d in found if "x:wrong-clock" in d.metrics.get("restamped", {})]
    assert marked and marked[0].metrics["restamped"]["x:wrong-clock"]["ts_original"] == "2099-11-20T09:06:00+09:00"


def test_live_events_from_the_past_are_never_re_stamped_and_give_the_replays_answer() -> None:
    """A scenario from last month produced now (as `noroshi produce` does): late, not ahead."""
    stage = DetectionStage({"wako": load_profile(SAMPLE_PROFILE)})
    lines = [orjson.loads(line) for line in (SAMPLE_PROFILE.parent / "wako-sample.jsonl").read_bytes().splitlines()
             if line.strip()]
    now = time.time()

    with capture_logs() as logs:
        found = run_live(stage, "wako", [(now + n * 0.01, e) for n, e in enumerate(lines)])

    assert not [entry for entry in logs if entry["event"] == "event_restamped"]
    assert key(found) == key(replayed(load_profile(SAMPLE_PROFILE), lines))


def key(found: list[Detection]) -> list[tuple[str, str, int, str]]:
    return [(d.incident_id, d.change, d.seq, d.at) for d in found]


def replayed(profile: Any, events: list[dict[str, Any]]) -> list[Detection]:
    detectors = DetectorSet(profile)
    return [d for e in events for d in detectors.feed(event_from_dict(e))] + detectors.finish()


@pytest.mark.parametrize("speed", [60.0, 600.0])
@pytest.mark.parametrize("delay", [0.05, 5.0])
def test_a_drill_runs_on_the_wall_clock_and_gives_the_replays_answer(speed: float, delay: float) -> None:
    """`noroshi run --demo` squeezes the drill's hour by `--speed` (60× by default) onto the real
    clock and sends each event at its stamp: one clock for everything the board shows. No event is
    ahead of its arrival, none is re-stamped, and every kind of incident is still found."""
    profile = load_profile(DRILL_PROFILE)
    wall = time.time()
    events = on_the_wall_clock(drill_scenario(profile, start=wall), start=wall, speed=speed)
    assert min(ts_of(e) for e in events) == pytest.approx(wall, abs=1)
    assert max(ts_of(e) for e in events) - wall <= 3600 / speed + 1  # the hour, squeezed
    timed = [(ts_of(e) + delay, e) for e in events]  # the worker receives each a moment after it is sent
    stage = DetectionStage({profile.id: profile})
    before = restamped_total("ahead_of_arrival") + restamped_total("ahead_of_stream")

    with capture_logs() as logs:
        found = run_live(stage, profile.id, timed, batch=7)

    assert not [entry for entry in logs if entry["event"] == "event_restamped"]
    assert restamped_total("ahead_of_arrival") + restamped_total("ahead_of_stream") == before
    assert {d.type for d in found if d.change == "opened"} == {"flame", "impersonation", "misinformation", "disaster"}
    assert all(d.drill for d in found)
    assert all(wall - 1 <= datetime.fromisoformat(d.at).timestamp() <= wall + 3600 / speed + 1 for d in found)
    assert key(found) == key(replayed(profile, events))[:len(found)]


def test_a_drill_squeezed_on_the_wall_clock_finds_what_its_own_hour_finds() -> None:
    profile = load_profile(DRILL_PROFILE)
    hour = drill_scenario(profile, start=time.time() - 3600)
    squeezed = on_the_wall_clock(hour, start=time.time(), speed=60.0)
    assert [(d.type, d.change, d.severity) for d in replayed(profile, squeezed)] == [
        (d.type, d.change, d.severity) for d in replayed(profile, hour)]
    with pytest.raises(ValueError, match="速度"):
        on_the_wall_clock(hour, start=time.time(), speed=0)


def ts_of(event: dict[str, Any]) -> float:
    return event_from_dict(event).ts


def test_noroshi_replay_names_each_event_it_re_stamped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from noroshi.cli import main

    lines = (SAMPLE_PROFILE.parent / "wako-sample.jsonl").read_bytes().splitlines()
    wrong = {**orjson.loads(lines[10]), "id": "x:wrong-clock", "ts": "2099-11-20T09:30:00+09:00"}
    scenario = tmp_path / "wako-clock.jsonl"
    scenario.write_bytes(b"\n".join([*lines[:11], orjson.dumps(wrong), *lines[11:]]) + b"\n")

    assert main(["replay", str(scenario), "--profile", str(SAMPLE_PROFILE)]) == 0

    err = capsys.readouterr().err
    assert f"{scenario}: x:wrong-clock: 時刻を付け直しました re-stamped (ts 2099-11-20T09:30:00+09:00: ahead_of_stream)" in err
