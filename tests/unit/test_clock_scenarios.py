"""Wrong clocks in whole scenarios (tools/scenarios/clocks.py, written here and scored): episodes of
the generator — a flame-up in daily waves, an earthquake with aftershocks, a rumour that resurfaces,
two fakes — with posts stamped 3 hours ahead, in Japan time written with a `Z`, in 2099 and in 9999
arriving in the middle of them. Each episode is still one incident, in a replay and live."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from streams.stage import CheckpointPolicy, DetectionStage, Message
from tests.unit.generated import assert_one_incident_per_episode as one_incident_per_episode
from tools.evaluation import load_labels, score
from tools.replay import replay_file
from tools.scenarios.clocks import CLOCK_SUITE, SKEWS, generate_clock_suite
from vocabulary.contract import parse_ts
from vocabulary.profile_files import load_profile

SEED = 3


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("clocks")
    generate_clock_suite(folder, seed=SEED)
    return folder


def wrong_ids(path: Path) -> dict[str, str]:
    """The wrongly stamped posts of a scenario: id → the skew."""
    events = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    return {e["id"]: next(s for s in SKEWS if e["id"].endswith(s)) for e in events if ":clock" in e["id"]}


def assert_one_incident_per_episode(incidents: list[dict], labels: list) -> None:
    one_incident_per_episode(score(incidents, labels), incidents)
    assert all(parse_ts(i["opened_at"]) < parse_ts("2030-01-01T00:00:00+09:00") for i in incidents)


@pytest.mark.parametrize("name", sorted(CLOCK_SUITE))
def test_in_a_replay_each_episode_is_one_incident_and_the_far_future_stamps_are_re_stamped(
        written: Path, name: str) -> None:
    path = written / f"{name}.jsonl"
    labels = load_labels(written / f"{name}.labels.jsonl")
    wrong = wrong_ids(path)
    assert len(wrong) == 4 * len(labels) and set(wrong.values()) == set(SKEWS)

    result = replay_file(path)

    assert_one_incident_per_episode([i.contract_line() for i in result.incidents.values()], labels)
    restamped = {event_id: reason for event_id, _, reason in result.restamped}
    assert set(restamped) <= set(wrong)  # nothing else was touched
    assert {i for i, skew in wrong.items() if skew.startswith("year_")} <= set(restamped)
    assert result.span_s < 5 * 86400  # 9999 is not how long the scenario ran


@pytest.mark.parametrize("name", sorted(CLOCK_SUITE))
def test_live_each_episode_is_one_incident_and_every_wrong_stamp_is_re_stamped_with_its_arrival(
        written: Path, name: str) -> None:
    path = written / f"{name}.jsonl"
    profile = load_profile(written / f"{name}.profile.json")
    lines = [line for line in path.read_bytes().splitlines() if line.strip()]
    stage = DetectionStage({profile.id: profile}, CheckpointPolicy.every_batch())
    # When each post arrives: a wrong stamp arrives with the posts around it.
    arrivals, arrival = [], 0.0
    for line in lines:
        event = orjson.loads(line)
        if ":clock" not in event["id"]:
            arrival = max(arrival, parse_ts(event["ts"]))
        arrivals.append(arrival + 1)
    # The worker's batches: what arrives within a minute, up to 40 posts, received with the last of them.
    batches: list[list[int]] = [[]]
    for n, at in enumerate(arrivals):
        if batches[-1] and (len(batches[-1]) == 40 or at - arrivals[batches[-1][0]] > 60):
            batches.append([])
        batches[-1].append(n)
    stored: bytes | None = None
    opened: list[dict] = []
    for batch in batches:
        out = stage.process(profile.id, stored, [Message("noroshi.mentions", 0, n, profile.id.encode(), lines[n])
                                                 for n in batch], "now", arrived=arrivals[batch[-1]])
        stored = out.state
        opened += [{"type": d.type, "target": d.target, "opened_at": d.opened_at, "evidence_ids": d.evidence_ids}
                   for d, _ in out.detections if d.change == "opened"]

    assert_one_incident_per_episode(opened, load_labels(written / f"{name}.labels.jsonl"))
    remembered = orjson.loads(stored or b"{}")["detectors"]["time"].get("restamped", {})
    assert set(remembered) == set(wrong_ids(path))
    assert {reason for _, reason in remembered.values()} == {"ahead_of_arrival"}
