"""Opening and updating incidents from detections: versions, severity, redelivery."""

from __future__ import annotations

from playbooks.lifecycle import apply_detection
from streams.records import Detection, Incident
from tests.unit.builders import at, detection


def opened_incident() -> Incident:
    incident, _ = apply_detection(None, detection())
    assert incident is not None
    return incident


def update(minute: float, critical: int, severity: str) -> Detection:
    # The detector numbers its reports in the order it makes them; minutes keep that order here.
    return detection(change="updated", at=at(minute), severity=severity, seq=int(minute),
                     evidence_ids=[f"x:{n}" for n in range(1, critical + 1)],
                     metrics={"critical": critical, "total": critical, "authors": critical, "reach": 100 * critical})


def test_an_opened_detection_opens_an_incident_at_version_one() -> None:
    d = detection()

    incident, [entry] = apply_detection(None, d)

    assert incident is not None
    assert (incident.incident_id, incident.state, incident.change, incident.version) == (d.incident_id, "open", "opened", 1)
    assert (incident.type, incident.target, incident.severity) == (d.type, d.target, d.severity)
    assert (incident.opened_at, incident.updated_at) == (d.opened_at, d.at)
    assert incident.evidence_ids == d.evidence_ids and incident.metrics == d.metrics
    assert entry.action == "incident_opened" and entry.actor["kind"] == "detector"
    assert (entry.incident_id, entry.municipality, entry.at) == (d.incident_id, "wako", d.at)


def test_the_same_opened_detection_again_changes_nothing() -> None:
    assert apply_detection(opened_incident(), detection()) == (None, [])


def test_an_update_raises_the_version_and_adds_evidence() -> None:
    current = opened_incident()

    incident, entries = apply_detection(current, update(10, 12, "low"))

    assert incident is not None
    assert (incident.version, incident.change, incident.state) == (2, "updated", "open")
    assert incident.updated_at == at(10) and incident.opened_at == current.opened_at
    assert len(incident.evidence_ids) == 12 and incident.metrics["critical"] == 12
    [entry] = entries
    assert entry.action == "evidence_added" and entry.actor["kind"] == "detector"
    assert (entry.incident_id, entry.at) == (current.incident_id, at(10))


def test_severity_raised_is_recorded_only_when_severity_rises() -> None:
    low = opened_incident()

    medium, raised = apply_detection(low, update(10, 15, "medium"))
    assert medium is not None
    same, unchanged = apply_detection(medium, update(20, 35, "medium"))

    assert medium.severity == "medium"
    assert [e.action for e in raised] == ["severity_raised", "evidence_added"]
    assert raised[0].detail == {"from": "low", "to": "medium"}
    assert same is not None and [e.action for e in unchanged] == ["evidence_added"]


def test_severity_never_goes_down() -> None:
    high, _ = apply_detection(opened_incident(), update(10, 50, "high"))
    assert high is not None

    later, entries = apply_detection(high, update(20, 70, "medium"))

    assert later is not None and later.severity == "high"
    assert "severity_raised" not in [e.action for e in entries]


def test_the_latest_update_delivered_again_changes_nothing() -> None:
    latest = update(10, 15, "medium")
    current, _ = apply_detection(opened_incident(), latest)

    assert apply_detection(current, latest) == (None, [])


def test_a_redelivered_older_update_changes_nothing() -> None:
    older, newer = update(10, 15, "medium"), update(20, 35, "medium")
    v2, _ = apply_detection(opened_incident(), older)
    assert v2 is not None
    v3, _ = apply_detection(v2, newer)
    assert v3 is not None

    assert apply_detection(v3, older) == (None, [])
