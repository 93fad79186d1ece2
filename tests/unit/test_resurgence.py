"""再燃: an episode that comes back after a quiet spell stays one incident — on the record every
time, the people told again only when it grows (playbooks.steps.note_resurgence)."""

from __future__ import annotations

from typing import Any

from playbooks.texts import NOTIFICATION_REASONS
from tests.unit.test_playbooks import (
    OFFICIAL, SATO, SUZUKI, Play, actions, effects, flame_opened, update,
)


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


def test_a_resurgence_once_resolved_does_not_reopen_or_alarm_through_the_old_incident() -> None:
    play = Play(flame_opened(severity="low"))
    play.open()
    play.send(play.command("resolve", 60))

    again = play.send(comeback(play, 24 * 60, 1, "high"))

    assert play.at_state == "resolved"
    assert "resurgence" not in actions(again)
    assert [kind for kind, _ in effects(again)] == []
