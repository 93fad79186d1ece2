"""Detectors (検知): pure, event-time code that turns contract events into detections.

`DetectorSet` holds every detector of one municipality and its state as plain
JSON-able data, so the live agent can keep it in a Faust table and `replay`
can run it in-process; both give the same answer for the same events.
Each detector follows the shape in `streams.detectors.common`.
"""

from __future__ import annotations

from typing import Any

from vocabulary.contract import Event, Profile
from streams.detectors.common import Context, Finding
from streams.detectors.disaster import DisasterDetector
from streams.detectors.flame import FlameConfig, FlameDetector
from streams.detectors.impersonation import ImpersonationDetector
from streams.detectors.misinformation import MisinformationDetector
from vocabulary.records import Detection, incident_id_for, iso

#: How many recent event ids are remembered to drop duplicates a source sent
#: twice (bounded; redelivery by the broker is caught by offsets in the stage).
SEEN_CAP = 2000


# A context is frozen: one of each serves every event.
_CALM = Context()
_IN_DISASTER = Context(disaster_active=True)


class DetectorSet:
    """All detectors of one municipality, idempotent per event id."""

    def __init__(self, profile: Profile, state: dict[str, Any] | None = None,
                 *, flame: FlameConfig | None = None) -> None:
        state = state or {}
        self.profile = profile
        self.seen: dict[str, None] = dict.fromkeys(state.get("seen", ()))
        # The disaster detector goes first: whether a disaster is open is the
        # context the others see for the same event.
        self.disaster = DisasterDetector(profile, state.get("disaster"))
        self.detectors = {
            "disaster": self.disaster,
            "flame": FlameDetector(profile, state.get("flame"), flame),
            "impersonation": ImpersonationDetector(profile, state.get("impersonation")),
            "misinformation": MisinformationDetector(profile, state.get("misinformation")),
        }
        self._others = tuple((k, d) for k, d in self.detectors.items() if d is not self.disaster)

    def to_state(self) -> dict[str, Any]:
        return {"seen": list(self.seen),
                **{kind: d.to_state() for kind, d in self.detectors.items()}}

    def shrink(self) -> None:
        """Forget the older half of everything the detectors keep, oldest first.

        The caps keep a municipality's state far below one Kafka message; this is for
        the snapshot that would still not fit (`streams.stage` calls it, and says so).
        """
        seen = list(self.seen)
        self.seen = dict.fromkeys(seen[len(seen) - len(seen) // 2:] if len(seen) > 1 else ())
        for detector in self.detectors.values():
            detector.shrink()

    def feed(self, event: Event) -> list[Detection]:
        if event.id in self.seen:
            return []
        self.seen[event.id] = None
        if len(self.seen) > SEEN_CAP:
            del self.seen[next(iter(self.seen))]
        found = [self._detection("disaster", f, event.drill)
                 for f in self.disaster.on_event(event, _CALM)]
        ctx = _IN_DISASTER if self.disaster.active else _CALM
        for kind, detector in self._others:
            findings = detector.on_event(event, ctx)
            if findings:  # most events find nothing
                found += [self._detection(kind, f, event.drill) for f in findings]
        return found

    def _detection(self, kind: str, f: Finding, drill: bool) -> Detection:
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
            drill=drill,  # found by a drill's event: the playbook labels its effects 訓練
        )
