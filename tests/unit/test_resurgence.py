"""再燃: an episode that comes back after a quiet spell stays one incident — on the record every
time, the people told again only when it grows (playbooks.steps.note_resurgence)."""

from __future__ import annotations

from typing import Any

from playbooks.texts import NOTIFICATION_REASONS
from tests.unit.builders import at, ts
from tests.unit.test_playbooks import (
    OFFICIAL, SATO, SUZUKI, Play, actions, effects, flame_opened, update,
)
from vocabulary.records import incident_id_for


def comeback(play: Play, minute: float, seq: int, severity: str, wave: int = 2, **metrics: Any) -> Any:
    return update(play.opening, minute, seq, severity=severity, summary=f"再燃（第{wave}波）: 批判が再び増えています",
                  metrics={"critical": 30, "wave": wave, "resurgence": True, **metrics})


def test_a_smaller_wave_the_next_evening_is_on_the_record_of_the_same_incident_and_tells_no_one() -> None:
    play = Play(flame_opened(severity="medium"))
    play.open()

    again = play.send(comeback(play, 24 * 60, 1, "low"))

    assert again.incident is not None and again.incident.incident_id == play.opening.incident_id
    assert again.incident.severity == "medium"  # never goes down
    [entry] = [e for e in again.timeline if e.action == "resurgence"]
    assert entry.detail["message_ja"] == "再燃（第2波）" and entry.detail["wave"] == 2
    assert entry.actor["kind"] == "detector"
    assert effects(again) == []  # a decaying wave: no fresh alarm every evening
    assert play.at_state == "escalated"


def test_a_wave_that_comes_back_larger_raises_the_severity_and_tells_the_people_again() -> None:
    play = Play(flame_opened(severity="low"))
    play.open()

    again = play.send(comeback(play, 24 * 60, 1, "high"))

    assert actions(again).index("severity_raised") < actions(again).index("resurgence")
    assert again.incident is not None and again.incident.severity == "high"
    told = [e for e in again.effects if e.kind == "notify"]
    assert {e.payload["to"]["name"] for e in told} == {SATO, SUZUKI}
    assert {e.payload["reason"] for e in told} == {"resurgence"}
    assert told[0].payload["message_ja"].endswith(NOTIFICATION_REASONS["resurgence"][0])
    assert ("hold_replies", OFFICIAL) not in effects(again)  # replies are still held from the opening


def test_growth_later_in_a_wave_that_came_back_tells_them_again_but_growth_of_the_first_wave_does_not() -> None:
    play = Play(flame_opened(severity="low"))
    play.open()
    first_wave = play.send(update(play.opening, 30, 1, severity="medium", metrics={"critical": 20, "wave": 1}))
    play.send(comeback(play, 24 * 60, 2, "medium"))

    grown = play.send(update(play.opening, 24 * 60 + 30, 3, severity="high", metrics={"critical": 70, "wave": 2}))

    assert "severity_raised" in actions(first_wave) and effects(first_wave) == []
    assert {(kind, who) for kind, who in effects(grown)} == {("notify", SATO), ("notify", SUZUKI)}


def test_a_comeback_after_staff_resolved_it_opens_a_new_incident_linked_to_the_earlier_one() -> None:
    play = Play(flame_opened(severity="low"))
    play.open()
    play.send(play.command("resolve", 60))

    again = play.send(comeback(play, 24 * 60, 1, "high"))

    assert play.at_state == "resolved" and effects(again) == []  # not reopened behind their back
    [opening] = again.detections
    assert opening.change == "opened" and opening.incident_id != play.opening.incident_id
    assert opening.previous_incident_id == play.opening.incident_id and opening.opened_at == at(24 * 60)
    assert opening.incident_id == incident_id_for("wako", "flame", OFFICIAL, ts(24 * 60))  # the same in a replay
    assert again.incident is not None and again.incident.next_incident_id == opening.incident_id
    [entry] = [e for e in again.timeline if e.action == "resurgence_after_end"]
    assert opening.incident_id in entry.detail["message_ja"]

    successor = Play(opening)
    new = successor.open()
    assert new.incident is not None and new.incident.previous_incident_id == play.opening.incident_id
    assert new.incident.contract_line()["previous_incident_id"] == play.opening.incident_id
    assert ("hold_replies", OFFICIAL) in effects(new) and ("notify", SATO) in effects(new)  # a new alarm

    later = play.send(update(play.opening, 24 * 60 + 20, 2, severity="critical", metrics={"critical": 90, "wave": 2}))
    [passed_on] = later.detections
    assert (passed_on.incident_id, passed_on.seq, passed_on.change) == (opening.incident_id, 2, "updated")
    grown = successor.send(passed_on)
    assert grown.incident is not None and grown.incident.severity == "critical"
    assert play.send(comeback(play, 24 * 60, 1, "high")).detections == []  # delivered again: nothing new


def test_a_comeback_after_a_false_positive_is_also_a_new_incident_and_evidence_without_one_stays() -> None:
    play = Play(flame_opened(severity="low"))
    play.open()
    play.send(play.command("mark_false_positive", 30))

    evidence = play.send(update(play.opening, 40, 1, severity="low"))
    again = play.send(comeback(play, 24 * 60, 2, "medium"))

    assert evidence.detections == [] and play.at_state == "closed"
    assert [d.change for d in again.detections] == ["opened"]
