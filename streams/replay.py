"""Replaying a scenario file through the detectors and the lifecycle, in-process.

No broker and no clock: events are fed in file order in event time, exactly as
the live agents would see them, so a day of traffic replays in seconds.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from playbooks.lifecycle import apply_detection
from streams.contract import ContractError, Profile, load_profile, parse_event
from streams.detectors import DetectorSet
from streams.records import Incident


@dataclass
class ReplayResult:
    incidents: dict[str, Incident] = field(default_factory=dict)
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason)
    events: int = 0
    first_ts: float | None = None
    last_ts: float | None = None

    @property
    def span_s(self) -> float:
        if self.first_ts is None or self.last_ts is None:
            return 0.0
        return self.last_ts - self.first_ts


def replay_lines(lines: Iterable[bytes | str], profile: Profile) -> ReplayResult:
    result = ReplayResult()
    detectors = DetectorSet(profile)
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            event = parse_event(line)
        except ContractError as exc:
            result.rejected.append((number, str(exc)))
            continue
        result.events += 1
        result.first_ts = event.ts if result.first_ts is None else min(result.first_ts, event.ts)
        result.last_ts = event.ts if result.last_ts is None else max(result.last_ts, event.ts)
        for detection in detectors.feed(event):
            current = result.incidents.get(detection.incident_id)
            updated, _entries = apply_detection(current, detection)
            if updated is not None:
                result.incidents[detection.incident_id] = updated
    return result


def default_profile_path(scenario: Path) -> Path:
    """`NAME.jsonl` → `NAME.profile.json` beside it."""
    name = scenario.name.removesuffix(".jsonl")
    return scenario.with_name(name + ".profile.json")


def replay_file(path: Path, profile_path: Path | None = None) -> ReplayResult:
    profile = load_profile(profile_path or default_profile_path(path))
    with path.open("rb") as lines:
        return replay_lines(lines, profile)
