"""Scoring detections against labelled episodes with the contract's matching rule.

An incident matches a label when the types agree, the target agrees (for
misinformation: the evidence overlaps the label's `event_ids`) and `opened_at`
lies within the label's [start, end]. Each label is matched one-to-one by its
earliest matching incident; further incidents of the same episode count as
duplicates and as false positives, because an operator sees them as extra alarms.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from vocabulary.contract import INCIDENT_TYPES, ContractError, parse_ts

DAY_S = 86400.0


@dataclass(frozen=True)
class Label:
    type: str
    target: str
    start: float
    end: float
    event_ids: frozenset[str]


def load_labels(path: Path) -> list[Label]:
    labels = []
    for number, line in enumerate(path.read_bytes().splitlines(), 1):
        if not line.strip():
            continue
        try:
            labels.append(_label(orjson.loads(line)))
        except (orjson.JSONDecodeError, ContractError) as exc:
            raise ContractError(f"{path.name}:{number}: bad label: {exc}") from None
    return labels


def _label(obj: object) -> Label:
    if not isinstance(obj, dict):
        raise ContractError(f"expected a JSON object, got {type(obj).__name__}")
    kind, target, ids = obj.get("type"), obj.get("target"), obj.get("event_ids") or []
    if kind not in INCIDENT_TYPES:
        raise ContractError(f"type: {kind!r} is not one of {', '.join(INCIDENT_TYPES)}")
    if not isinstance(target, str) or not target:
        raise ContractError("target: missing or not a string")
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise ContractError("event_ids: expected a list of strings")
    return Label(type=kind, target=target, start=parse_ts(obj.get("start"), "start"),
                 end=parse_ts(obj.get("end"), "end"), event_ids=frozenset(ids))


def matches(incident: dict[str, Any], label: Label) -> bool:
    if incident["type"] != label.type:
        return False
    if label.type == "misinformation":
        if not label.event_ids.intersection(incident.get("evidence_ids") or ()):
            return False
    elif str(incident["target"]).lower() != label.target.lower():
        return False
    return label.start <= parse_ts(incident["opened_at"], "opened_at") <= label.end


@dataclass
class TypeScore:
    labels: int = 0
    incidents: int = 0
    true_positives: int = 0  # labels matched
    duplicates: int = 0
    false_alarms: int = 0  # incidents matching no label at all
    latencies: list[float] = field(default_factory=list)

    @property
    def precision(self) -> float | None:
        return self.true_positives / self.incidents if self.incidents else None

    @property
    def recall(self) -> float | None:
        return self.true_positives / self.labels if self.labels else None

    @property
    def f1(self) -> float | None:
        p, r = self.precision, self.recall
        if p is None or r is None:
            return None
        return 0.0 if p + r == 0 else 2 * p * r / (p + r)


def score(incidents: Sequence[dict[str, Any]], labels: Sequence[Label],
          into: dict[str, TypeScore] | None = None) -> dict[str, TypeScore]:
    scores = into if into is not None else {t: TypeScore() for t in INCIDENT_TYPES}
    ordered = sorted(incidents, key=lambda i: parse_ts(i["opened_at"], "opened_at"))
    matched: set[int] = set()
    for label in labels:
        scores.setdefault(label.type, TypeScore()).labels += 1
    for incident in ordered:
        s = scores.setdefault(incident["type"], TypeScore())
        s.incidents += 1
        hits = [n for n, label in enumerate(labels) if matches(incident, label)]
        fresh = [n for n in hits if n not in matched]
        if fresh:
            label = labels[fresh[0]]
            matched.add(fresh[0])
            s.true_positives += 1
            s.latencies.append(parse_ts(incident["opened_at"], "opened_at") - label.start)
        elif hits:
            s.duplicates += 1
        else:
            s.false_alarms += 1
    return scores


def explain(incidents: Sequence[dict[str, Any]], labels: Sequence[Label]) -> list[str]:
    """One line per label (matched by which incident, how late, or missed) and per false alarm."""
    ordered = sorted(incidents, key=lambda i: parse_ts(i["opened_at"], "opened_at"))
    used: set[int] = set()
    lines = []
    for label in labels:
        hits = [(n, i) for n, i in enumerate(ordered) if matches(i, label)]
        fresh = [(n, i) for n, i in hits if n not in used]
        where = f"{label.type:<14} {label.target[:28]:<28}"
        if fresh:
            n, incident = fresh[0]
            used.update(m for m, _ in hits)
            late = (parse_ts(incident["opened_at"], "opened_at") - label.start) / 60
            extra = f", {len(hits) - 1} duplicate(s)" if len(hits) > 1 else ""
            lines.append(f"  found   {where} after {late:5.1f}m ({incident['severity']}){extra}")
        else:
            lines.append(f"  MISSED  {where}")
    for n, incident in enumerate(ordered):
        if n not in used:
            lines.append(f"  FALSE   {incident['type']:<14} {str(incident['target'])[:28]:<28} "
                         f"at {incident['opened_at']}: {incident.get('summary', '')[:60]}")
    return lines


def _fmt(value: float | None, spec: str = ".2f") -> str:
    return "—" if value is None else format(value, spec)


def _minutes(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds / 60:.1f}m"


def table(scores: dict[str, TypeScore], simulated_days: float) -> str:
    rows = [("type", "labels", "incidents", "precision", "recall", "F1",
             "median latency", "worst latency", "duplicates", "false alarms/day")]
    for kind, s in scores.items():
        rows.append((
            kind, str(s.labels), str(s.incidents), _fmt(s.precision), _fmt(s.recall), _fmt(s.f1),
            _minutes(statistics.median(s.latencies) if s.latencies else None),
            _minutes(max(s.latencies) if s.latencies else None),
            str(s.duplicates),
            _fmt(s.false_alarms / simulated_days if simulated_days else None),
        ))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def scenario_files(folder: Path) -> Iterable[Path]:
    """Scenario files in a folder: `*.jsonl` that are not labels or outputs."""
    for path in sorted(folder.glob("*.jsonl")):
        if not path.name.endswith((".labels.jsonl", ".incidents.jsonl")):
            yield path
