"""Detectors (検知): pure, event-time code that turns contract events into detections.

`DetectorSet` holds every detector of one municipality and its state as plain
JSON-able data, so the live agent can keep it in a Faust table and `replay`
can run it in-process; both give the same answer for the same events.
"""

from __future__ import annotations

from typing import Any

from streams.contract import AccountEvent, Event, Mention, Profile
from streams.detectors.flame import FlameConfig, FlameDetector, Finding
from streams.records import Detection, incident_id_for, iso

#: How many recent event ids are remembered to drop duplicates a source sent
#: twice (bounded; redelivery by the broker is caught by offsets in the stage).
SEEN_CAP = 2000


class DetectorSet:
    """All detectors of one municipality, idempotent per event id."""

    def __init__(self, profile: Profile, state: dict[str, Any] | None = None,
                 *, flame: FlameConfig | None = None) -> None:
        state = state or {}
        self.profile = profile
        self.seen: dict[str, None] = dict.fromkeys(state.get("seen", ()))
        self.flame = FlameDetector(profile.official_handles, flame, state.get("flame"))

    def to_state(self) -> dict[str, Any]:
        return {"seen": list(self.seen), "flame": self.flame.to_state()}

    def feed(self, event: Event) -> list[Detection]:
        if event.id in self.seen:
            return []
        self.seen[event.id] = None
        if len(self.seen) > SEEN_CAP:
            del self.seen[next(iter(self.seen))]
        findings: list[tuple[str, Finding]] = []
        if isinstance(event, Mention):
            findings += [("flame", f) for f in self.flame.on_mention(event)]
        elif isinstance(event, AccountEvent):
            pass  # impersonation arrives with the detectors issue
        return [self._detection(kind, f) for kind, f in findings]

    def _detection(self, kind: str, f: Finding) -> Detection:
        return Detection(
            incident_id=incident_id_for(self.profile.id, kind, f.target, f.opened_at),
            municipality=self.profile.id,
            type=kind,
            target=f.target,
            change=f.change,
            opened_at=iso(f.opened_at),
            at=iso(f.at),
            severity=f.severity,
            evidence_ids=f.evidence_ids,
            summary=f.summary,
            metrics=f.metrics,
            seq=f.seq,
        )
