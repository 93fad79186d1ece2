"""The generated suites that are written and scored in the tests rather than committed
(`episodes`, `disguise`, `retold`, the wrong clocks): replay one scenario, score it against its
labels, and the check every such suite makes — one incident per labelled episode, nothing else."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tools.evaluation import load_labels, score
from tools.replay import replay_file


def scored(folder: Path, name: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The scenario `name` in `folder` replayed: its scores per incident type, and its incidents."""
    labels = load_labels(folder / f"{name}.labels.jsonl")
    incidents = [i.contract_line() for i in replay_file(folder / f"{name}.jsonl").incidents.values()]
    return score(incidents, labels), incidents


def assert_one_incident_per_episode(scores: dict[str, Any], incidents: list[dict[str, Any]]) -> None:
    """Every label found by exactly one incident: no duplicate, no false alarm, no miss."""
    assert sum(s.labels for s in scores.values()) == sum(s.true_positives for s in scores.values()) == len(incidents)
    assert sum(s.duplicates + s.false_alarms for s in scores.values()) == 0
