"""Opening and updating incidents from detections, as a pure function.

`apply_detection(current, detection)` returns the incident's next record and
the timeline entries to publish, or nothing when the detection changes
nothing (a detection delivered again after a restart). The per-type playbook
state machines of the playbooks issue grow from here.
"""

from __future__ import annotations

from dataclasses import replace

from streams.records import Actor, Detection, Incident, TimelineEntry

DETECTOR = Actor(kind="detector", name="noroshi").to_dict()
SEVERITY_RANK = {"low": 0, "medium": 1, "high": 2, "critical": 3}


def _entry(incident: Incident, action: str, at: str, detail: dict) -> TimelineEntry:
    return TimelineEntry(
        entry_id=f"{incident.incident_id}:v{incident.version}:{action}",
        incident_id=incident.incident_id,
        municipality=incident.municipality,
        at=at,
        actor=DETECTOR,
        action=action,
        detail=detail,
    )


def apply_detection(
    current: Incident | None, d: Detection
) -> tuple[Incident | None, list[TimelineEntry]]:
    if current is None:
        opened = Incident(
            incident_id=d.incident_id, municipality=d.municipality, type=d.type,
            target=d.target, opened_at=d.opened_at, severity=d.severity,
            evidence_ids=list(d.evidence_ids), summary=d.summary, state="open",
            change="opened", updated_at=d.at, version=1, metrics=dict(d.metrics), drill=d.drill,
            detection_seq=d.seq,
        )
        detail = {"severity": d.severity, "summary": d.summary, "evidence": len(d.evidence_ids)}
        return opened, [_entry(opened, "incident_opened", d.at, detail)]

    if d.change == "opened" or d.seq <= current.detection_seq:
        return None, []  # applied before: a redelivered or stale detection changes nothing
    severity = max(current.severity, d.severity, key=SEVERITY_RANK.__getitem__)
    updated = replace(
        current, severity=severity, evidence_ids=list(d.evidence_ids), summary=d.summary,
        change="updated", updated_at=d.at, version=current.version + 1, metrics=dict(d.metrics),
        detection_seq=d.seq,
    )
    entries = []
    if severity != current.severity:
        entries.append(_entry(updated, "severity_raised", d.at,
                              {"from": current.severity, "to": severity}))
    entries.append(_entry(updated, "evidence_added", d.at, {"metrics": d.metrics}))
    return updated, entries
