"""Flame-ups opened on time on generated cases beyond the committed suites (issue 15, items 3
and 7): a flame-up over a tone-deaf post during a typhoon or heavy rain, on other seeds than
the suites', opens within minutes; a slow flame-up that starts near the end of an hour is not
its own baseline; disasters alone open no flame-up."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from tools import scenarios as sc
from tools.evaluation import load_labels, score
from tools.replay import replay_file
from tools.scenarios.suites import generate, write_scenario


def scored(tmp_path: Path, name: str, spec: sc.Spec, seed: int):  # type: ignore[no-untyped-def]
    path = write_scenario(tmp_path, name, generate(name, spec, seed))
    labels = load_labels(tmp_path / f"{name}.labels.jsonl")
    incidents = [i.contract_line() for i in replay_file(path).incidents.values()]
    return score(incidents, labels)


@pytest.mark.parametrize("seed", [2, 3, 4, 5])
@pytest.mark.parametrize("name, bank", [("nishihama-typhoon", "main"), ("shioiri-rain", "variant")])
def test_a_flame_up_during_a_disaster_opens_within_fifteen_minutes(tmp_path: Path, name: str, bank: str,
                                                                 seed: int) -> None:
    flame = scored(tmp_path, name, sc.SUITES[bank][name], seed)["flame"]

    assert flame.labels == flame.true_positives == flame.incidents == 1
    assert max(flame.latencies) <= 15 * 60  # up to 53 minutes when a disaster doubled every bar


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5, 6])
def test_a_slow_flame_up_that_starts_just_before_the_hour_turns_is_found(tmp_path: Path, seed: int) -> None:
    """The case found under item 5: the disguised slow flame-up at 14:05 (seed 4) starts at
    14:51, its first replies fell in the previous hour and became the baseline: missed."""
    spec = sc.SUITES["disguise"]["kirino-disguised-slow-flame"]
    at_1405 = dataclasses.replace(spec, episodes=tuple(
        dataclasses.replace(e, at="14:05") if e.kind == "flame" else e for e in spec.episodes))

    flame = scored(tmp_path, "kirino-disguised-slow-flame", at_1405, seed)["flame"]

    assert flame.labels == flame.true_positives == flame.incidents == 1


@pytest.mark.parametrize("seed", [2, 3])
@pytest.mark.parametrize("name, bank", [
    ("shirasagi-quake-lion", "main"), ("asahino-night-quake", "main"), ("nagumo-heavy-rain", "main"),
    ("kasumino-night-quake", "variant"), ("okutani-snow", "variant"), ("yamabuki-quake-tiger", "variant"),
])
def test_a_disaster_without_a_flame_up_opens_no_flame_incident(tmp_path: Path, name: str, bank: str,
                                                                seed: int) -> None:
    scores = scored(tmp_path, name, sc.SUITES[bank][name], seed)

    assert "flame" not in scores or scores["flame"].incidents == 0
    assert scores["disaster"].true_positives == scores["disaster"].labels


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
@pytest.mark.parametrize("name, bank", [("miyaura-flame-after-flame", "episodes"),
                                        ("sakuradai-flame-after-flame", "episodes")])
def test_the_slow_rising_flame_up_the_day_after_a_big_one_opens_at_its_third_critic(
        tmp_path: Path, name: str, bank: str, seed: int) -> None:
    """8 critical posts a minute only after 40 minutes: the first three come in about four and a
    half minutes. Neither the big flame-up of the day before nor the ramp's own first replies
    raise the bar: it opens at the third distinct critic the detector reads as one."""
    import orjson

    from streams.detectors.flame import CRITICAL, classify
    from tools.evaluation import matches
    from vocabulary.contract import parse_ts

    path = write_scenario(tmp_path, name, generate(name, sc.SUITES[bank][name], seed))
    ramp = load_labels(tmp_path / f"{name}.labels.jsonl")[1]
    critics: list[str] = []
    third = None
    for e in map(orjson.loads, path.read_bytes().splitlines()):
        ref = (e.get("reply_to") or e.get("quote_of") or {}).get("account")
        if e["kind"] != "mention" or ref != ramp.target or parse_ts(e["ts"]) < ramp.start:
            continue
        if classify(e["text"]) == CRITICAL and e["author"]["id"] not in critics:
            critics.append(e["author"]["id"])
            if len(critics) == 3:
                third = parse_ts(e["ts"])
                break
    incidents = [i.contract_line() for i in replay_file(path).incidents.values()]

    [incident] = [i for i in incidents if matches(i, ramp)]
    assert parse_ts(incident["opened_at"]) == third
