"""Episodes that last (the generator's `episodes` suite, written here and scored): a 炎上 that
comes back in evening waves over days, an earthquake with aftershocks over days and a rumour
that resurfaces a day or two after it died down are one incident each, updated with 再燃 on
each wave; a slow-rising flame-up the day after a big one
opens within five minutes (the big one is left out of the account's baseline)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.generated import assert_one_incident_per_episode, scored
from tools import scenarios as sc
from tools.evaluation import load_labels
from tools.replay import replay_file
from vocabulary.contract import parse_ts

SEED = 3


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("episodes")
    sc.generate_suite(folder, seed=SEED, bank="episodes")
    return folder


@pytest.mark.parametrize("name", sorted(sc.SUITES["episodes"]))
def test_each_episode_opens_one_incident_on_time_and_nothing_else(written: Path, name: str) -> None:
    scores, incidents = scored(written, name)

    assert_one_incident_per_episode(scores, incidents)
    assert max(scores["flame"].latencies or [0]) <= 5 * 60
    assert max(scores["disaster"].latencies or [0]) <= 2 * 60


@pytest.mark.parametrize("name", [n for n in sorted(sc.SUITES["episodes"]) if n.endswith("-days")])
def test_a_flame_up_in_daily_waves_is_one_incident_that_records_each_comeback(written: Path, name: str) -> None:
    [label] = load_labels(written / f"{name}.labels.jsonl")
    [incident] = replay_file(written / f"{name}.jsonl").incidents.values()

    days = sc.SUITES["episodes"][name].episodes[0].params["days"]
    assert label.end - label.start > (days - 1) * 86400 - 9 * 3600  # the label spans every wave
    assert incident.metrics["wave"] >= days  # each day came back as 再燃 of the same incident
    assert parse_ts(incident.opened_at) - label.start < 300


def test_the_slow_flame_up_rises_to_eight_critical_posts_a_minute_only_after_forty_minutes(written: Path) -> None:
    import orjson

    name = "miyaura-flame-after-flame"
    labels = load_labels(written / f"{name}.labels.jsonl")
    slow = labels[1]
    times = sorted(parse_ts(e["ts"]) for e in map(orjson.loads, (written / f"{name}.jsonl").read_bytes().splitlines())
                   if e["kind"] == "mention" and slow.start <= parse_ts(e["ts"]) <= slow.start + 3600
                   and (e.get("reply_to") or e.get("quote_of") or {}).get("account") == "miyaura_city")
    per_minute = [sum(1 for t in times if slow.start + m * 60 <= t < slow.start + (m + 1) * 60) for m in range(60)]
    assert max(per_minute[:10]) <= 3 and sum(per_minute[:5]) <= 4
    assert 7 <= sum(per_minute[40:50]) / 10 <= 9


@pytest.mark.parametrize("name", [n for n in sorted(sc.SUITES["episodes"]) if n.endswith("-rumour-again")])
def test_a_rumour_that_resurfaces_after_it_died_down_is_the_same_incident_again(written: Path, name: str) -> None:
    [label] = load_labels(written / f"{name}.labels.jsonl")
    [incident] = replay_file(written / f"{name}.jsonl").incidents.values()

    assert label.end - label.start > 20 * 3600
    assert incident.metrics["wave"] == 2  # came back once, as 再燃 of the same incident
