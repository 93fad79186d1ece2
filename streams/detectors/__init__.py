"""Detectors (検知): pure, event-time code that turns contract events into detections.

`DetectorSet` holds every detector of one municipality and its state as plain
JSON-able data, so the live agent can keep it in a Faust table and `replay`
can run it in-process; both give the same answer for the same events.
Each detector follows the shape in `streams.detectors.common`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from vocabulary.contract import Event, Profile
from streams.detectors.common import Context, Finding
from streams.detectors.disaster import DisasterDetector
from streams.detectors.event_time import StreamTime
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
        # Which events the detectors see now, and with what time (a source's clock may be wrong).
        self.time = StreamTime(state.get("time"))
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
        return {"seen": list(self.seen), "time": self.time.to_state(),
                **{kind: d.to_state() for kind, d in self.detectors.items()}}

    def shrink(self) -> None:
        """Forget the older half of everything the detectors keep, oldest first.

        The caps keep a municipality's state far below one Kafka message; this is for
        the snapshot that would still not fit (`streams.stage` calls it, and says so).
        """
        seen = list(self.seen)
        self.seen = dict.fromkeys(seen[len(seen) - len(seen) // 2:] if len(seen) > 1 else ())
        self.time.shrink()
        for detector in self.detectors.values():
            detector.shrink()

    def feed(self, event: Event, arrived: float | None = None) -> list[Detection]:
        """The detections `event` leads to. `arrived`: when the worker received it (POSIX seconds);
        None in a replay, where the stream's own events confirm its time
        (`streams.detectors.event_time`). The events re-stamped meanwhile are in `self.time.fresh`."""
        if event.id in self.seen:
            self.time.fresh = []
            return []
        self.seen[event.id] = None
        if len(self.seen) > SEEN_CAP:
            del self.seen[next(iter(self.seen))]
        admitted = self.time.admit(event, arrived)
        found = self._run(event) if len(admitted) == 1 and admitted[0] is event else \
            [d for e in admitted for d in self._run(e)]
        return self._marked(found) if found and self.time.remembered else found

    def finish(self) -> list[Detection]:
        """The end of a replay: what is still provisional is re-stamped and seen (`event_time`)."""
        return self._marked([d for e in self.time.finish() for d in self._run(e)])

    def _marked(self, found: list[Detection]) -> list[Detection]:
        """Detections whose evidence was re-stamped say so: `metrics.restamped`, event id →
        {ts_original, reason} (additive; the incident shows when the source said it was posted)."""
        remembered = self.time.remembered
        if not remembered:
            return found
        out = []
        for d in found:
            marks = {i: {"ts_original": remembered[i][0], "reason": remembered[i][1]}
                     for i in d.evidence_ids if i in remembered}
            out.append(dataclasses.replace(d, metrics={**d.metrics, "restamped": marks}) if marks else d)
        return out

    def _run(self, event: Event) -> list[Detection]:
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
