"""Scoring incidents against labels with the contract's matching rule."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from vocabulary.contract import ContractError, parse_ts
from tools.evaluation import Label, load_labels, matches, score, table
from tests.unit.builders import OFFICIAL, at, ts


def label(type_: str = "flame", target: str = OFFICIAL, start: float = 0, end: float = 180,
          event_ids: tuple[str, ...] = ()) -> Label:
    return Label(type=type_, target=target, start=ts(start), end=ts(end), event_ids=frozenset(event_ids))


def incident(minute: float, type_: str = "flame", target: str = OFFICIAL, **extra: Any) -> dict[str, Any]:
    return {"incident_id": f"wako-{type_}-{minute}", "type": type_, "target": target,
            "opened_at": at(minute), "severity": "low", "evidence_ids": [], "summary": "", **extra}


# --- the matching rule ---------------------------------------------------------


def test_an_incident_matches_a_label_of_the_same_type_target_and_time() -> None:
    assert matches(incident(5), label())


def test_the_target_is_compared_case_insensitively() -> None:
    assert matches(incident(5, target="Wako_City_Official"), label(target="WAKO_city_official"))


@pytest.mark.parametrize(("inc", "lab"), [
    pytest.param(incident(5, type_="impersonation"), label(), id="other type"),
    pytest.param(incident(5, target="toda_city"), label(), id="other target"),
    pytest.param(incident(-1), label(start=0), id="before start"),
    pytest.param(incident(181), label(end=180), id="after end"),
])
def test_an_incident_differing_in_type_target_or_time_does_not_match(inc: dict[str, Any], lab: Label) -> None:
    assert not matches(inc, lab)


def test_the_window_includes_both_its_start_and_its_end() -> None:
    assert matches(incident(0), label(start=0, end=180))
    assert matches(incident(180), label(start=0, end=180))


def test_misinformation_matches_by_overlapping_evidence_not_by_target() -> None:
    claim = label("misinformation", target="school-lunch", event_ids=("x:51", "x:52"))

    assert matches(incident(5, "misinformation", target="anything", evidence_ids=["x:9", "x:52"]), claim)
    assert not matches(incident(5, "misinformation", target="school-lunch", evidence_ids=["x:9"]), claim)
    assert not matches(incident(500, "misinformation", evidence_ids=["x:51"]), claim)


def test_an_incident_in_another_time_zone_is_compared_by_instant() -> None:
    in_utc = incident(5) | {"opened_at": "2026-11-20T00:05:00Z"}  # 09:05 JST

    assert matches(in_utc, label(start=0, end=10))


# --- scores ---------------------------------------------------------------------


def test_one_incident_per_labelled_episode_scores_perfectly_with_its_latency() -> None:
    scores = score([incident(7)], [label(start=2)])

    flame = scores["flame"]
    assert (flame.labels, flame.incidents, flame.true_positives) == (1, 1, 1)
    assert (flame.precision, flame.recall, flame.f1) == (1.0, 1.0, 1.0)
    assert flame.latencies == [5 * 60.0]
    assert list(scores) == ["flame", "impersonation", "misinformation", "disaster"]


def test_a_second_incident_for_the_same_label_is_a_duplicate_and_lowers_precision() -> None:
    flame = score([incident(30), incident(7)], [label(start=2)])["flame"]

    assert (flame.true_positives, flame.duplicates, flame.false_alarms) == (1, 1, 0)
    assert flame.precision == 0.5 and flame.recall == 1.0
    assert flame.f1 == pytest.approx(2 / 3)
    assert flame.latencies == [5 * 60.0]  # the earliest incident is the match


def test_an_incident_matching_no_label_is_a_false_alarm() -> None:
    flame = score([incident(7), incident(600)], [label(start=2, end=180)])["flame"]

    assert (flame.true_positives, flame.duplicates, flame.false_alarms) == (1, 0, 1)
    assert flame.precision == 0.5


def test_a_missed_label_lowers_recall() -> None:
    scores = score([incident(7)], [label(start=2), label("disaster", target="和光市災害")])

    assert scores["disaster"].recall == 0.0 and scores["disaster"].precision is None
    assert scores["disaster"].f1 is None


def test_two_episodes_of_the_same_account_each_need_their_own_incident() -> None:
    labels = [label(start=0, end=180), label(start=300, end=480)]

    flame = score([incident(5), incident(310)], labels)["flame"]

    assert (flame.true_positives, flame.duplicates, flame.recall) == (2, 0, 1.0)


def test_scores_accumulate_across_scenarios() -> None:
    scores = score([incident(7)], [label(start=2)])

    score([], [label(start=2)], scores)

    assert (scores["flame"].labels, scores["flame"].recall) == (2, 0.5)


# --- the table --------------------------------------------------------------------


def test_the_table_lists_all_four_types_with_a_dash_where_a_score_is_undefined() -> None:
    text = table(score([incident(7)], [label(start=2)]), simulated_days=0.5)

    header, rule, *rows = text.splitlines()
    assert header.split()[:3] == ["type", "labels", "incidents"]
    assert set(rule) <= {"-", " "}
    cells = {row.split()[0]: row.split() for row in rows}
    assert list(cells) == ["flame", "impersonation", "misinformation", "disaster"]
    assert cells["flame"][1:6] == ["1", "1", "1.00", "1.00", "1.00"]
    assert cells["flame"][6:8] == ["5.0m", "5.0m"]
    assert cells["impersonation"][1:] == ["0", "0", "—", "—", "—", "—", "—", "0", "0.00"]


def test_false_alarms_are_reported_per_simulated_day() -> None:
    scores = score([incident(7), incident(600), incident(700)], [label(start=2, end=180)])

    [flame_row] = [r for r in table(scores, simulated_days=0.5).splitlines() if r.startswith("flame")]

    assert flame_row.split()[-1] == "4.00"  # two false alarms in half a day


def test_without_simulated_time_the_false_alarm_rate_is_undefined() -> None:
    [flame_row] = [r for r in table(score([], []), simulated_days=0).splitlines() if r.startswith("flame")]

    assert flame_row.split()[-1] == "—"


# --- labels files -------------------------------------------------------------------


def test_load_labels_reads_the_contract_lines(tmp_path: Path) -> None:
    path = tmp_path / "s.labels.jsonl"
    path.write_text(
        '{"type": "flame", "target": "wako_city_official", '
        '"start": "2026-11-22T10:14:00+09:00", "end": "2026-11-22T13:00:00+09:00"}\n'
        "\n"
        '{"type": "misinformation", "target": "claim-1", "start": "2026-11-22T10:00:00+09:00", '
        '"end": "2026-11-22T11:00:00+09:00", "event_ids": ["x:1", "x:2"]}\n',
        encoding="utf-8",
    )

    first, second = load_labels(path)

    assert first == Label("flame", "wako_city_official", parse_ts("2026-11-22T10:14:00+09:00"),
                          parse_ts("2026-11-22T13:00:00+09:00"), frozenset())
    assert second.event_ids == {"x:1", "x:2"}


@pytest.mark.parametrize("bad_line", [
    pytest.param('{"type": "flame", "target": "a", "start": "2026-11-22T10:14:00+09:00"', id="not JSON"),
    pytest.param('{"type": "flame", "target": "a", "start": "2026-11-22T10:14:00+09:00"}', id="no end"),
    pytest.param('{"type": "flame", "target": "a", "start": "10:14", "end": "2026-11-22T13:00:00+09:00"}',
                 id="start without offset"),
    pytest.param('["flame", "a"]', id="not an object"),
])
def test_a_bad_label_line_is_refused_naming_file_and_line(tmp_path: Path, bad_line: str) -> None:
    path = tmp_path / "wako.labels.jsonl"
    good = '{"type": "flame", "target": "a", "start": "2026-11-22T10:14:00+09:00", "end": "2026-11-22T13:00:00+09:00"}'
    path.write_text(f"{good}\n{bad_line}\n", encoding="utf-8")

    with pytest.raises(ContractError, match=r"^wako\.labels\.jsonl:2: bad label"):
        load_labels(path)


@pytest.mark.parametrize("line, field", [
    ('{"type": "flames", "target": "a", "start": "2026-11-20T10:00:00+09:00", "end": "2026-11-20T11:00:00+09:00"}', "type"),
    ('{"type": "flame", "target": null, "start": "2026-11-20T10:00:00+09:00", "end": "2026-11-20T11:00:00+09:00"}', "target"),
    ('{"type": "misinformation", "target": "c", "event_ids": "x:1", "start": "2026-11-20T10:00:00+09:00", "end": "2026-11-20T11:00:00+09:00"}', "event_ids"),
])
def test_a_label_with_a_wrong_field_is_refused_naming_the_field(tmp_path: Path, line: str, field: str) -> None:
    path = tmp_path / "s.labels.jsonl"
    path.write_text(line + "\n", encoding="utf-8")
    with pytest.raises(ContractError, match=f"s.labels.jsonl:1: bad label: {field}"):
        load_labels(path)
