"""Replaying a scenario file through the detectors and the playbooks, in-process.

No broker and no clock: events are fed in file order in event time, exactly as
the live agents would see them, so a day of traffic replays in seconds. There is no
arrival time: the stream's own events confirm its time (an event stamped far ahead
stays provisional, streams/detectors/event_time.py), and what is still provisional
at the end is re-stamped.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from playbooks.engine import default_rules
from playbooks.rules import Rules
from playbooks.runner import Stored, step
from vocabulary.contract import ContractError, Profile, parse_event
from vocabulary.profile_files import load_profile
from streams import heartbeat
from streams.detectors import DetectorSet
from vocabulary.records import Detection, Incident


@dataclass
class ReplayResult:
    incidents: dict[str, Incident] = field(default_factory=dict)
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason)
    events: int = 0
    state_bytes: int = 0  # the detectors' state snapshot at the end, as the worker would store it
    first_ts: float | None = None
    last_ts: float | None = None
    #: Events whose time could not be trusted (streams/detectors/event_time.py): (id, the time
    #: the source wrote, the reason), in the order they were re-stamped.
    restamped: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def span_s(self) -> float:
        if self.first_ts is None or self.last_ts is None:
            return 0.0
        return self.last_ts - self.first_ts


def replay_lines(lines: Iterable[bytes | str], profile: Profile) -> ReplayResult:
    result = ReplayResult()
    detectors = DetectorSet(profile)
    rules = default_rules()
    playbooks: dict[str, Stored] = {}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        if heartbeat.parse(line.encode() if isinstance(line, str) else line) is not None:
            continue  # a heartbeat copied from a live input topic: not an event (streams/heartbeat.py)
        try:
            event = parse_event(line)
        except ContractError as exc:
            result.rejected.append((number, str(exc)))
            continue
        result.events += 1
        result.first_ts = event.ts if result.first_ts is None else min(result.first_ts, event.ts)
        result.last_ts = event.ts if result.last_ts is None else max(result.last_ts, event.ts)
        _play(detectors.feed(event), detectors, result, playbooks, profile, rules)
    # The end: what is still provisional is re-stamped (nothing more can confirm its time).
    _play(detectors.finish(), detectors, result, playbooks, profile, rules)
    newest = detectors.time.newest()
    if newest is not None and result.last_ts is not None:  # a stamp of 2099 is not how long it ran
        result.last_ts = min(result.last_ts, newest)
    result.state_bytes = len(orjson.dumps(detectors.to_state()))
    return result


def _play(pending: list[Detection], detectors: DetectorSet, result: ReplayResult,
          playbooks: dict[str, Stored], profile: Profile, rules: Rules) -> None:
    """Detections through their playbooks, in-process."""
    for event in detectors.time.fresh:
        assert event.restamp is not None
        result.restamped.append((event.id, event.restamp.ts_original, event.restamp.reason))
    while pending:
        detection = pending.pop(0)
        stored = playbooks.get(detection.incident_id, Stored())
        playbooks[detection.incident_id], decision = step(
            stored, detection, profile_raw=profile.raw, rules=rules)
        if decision.incident is not None:
            result.incidents[detection.incident_id] = decision.incident
        pending += decision.detections  # an ended incident's comeback, as the detections topic would


def default_profile_path(scenario: Path) -> Path:
    """`NAME.jsonl` → `NAME.profile.json` beside it."""
    name = scenario.name.removesuffix(".jsonl")
    return scenario.with_name(name + ".profile.json")


def replay_file(path: Path, profile_path: Path | None = None) -> ReplayResult:
    profile = load_profile(profile_path or default_profile_path(path))
    with path.open("rb") as lines:
        return replay_lines(lines, profile)
