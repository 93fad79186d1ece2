"""対応待ち: who must take an incident's next step now, read from the municipality's roster."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from dashboards.views import Rosters, row, who_acts
from playbooks.policy import Contact, Roster
from vocabulary.records import JST, Incident

NIGHT = datetime(2026, 11, 20, 2, 0, tzinfo=JST).timestamp()  # inside 佐藤's quiet hours
DAY = datetime(2026, 11, 20, 10, 0, tzinfo=JST).timestamp()

ROSTER = Roster("wako", (
    Contact("当番 佐藤", "operator", 1, ("email:sato@x",), (22, 7)),
    Contact("当番 鈴木", "operator", 1, ("chat:koho",)),
    Contact("所属長 田中", "owner", 2, ("email:tanaka@x",), (22, 7)),
    Contact("広報課長 山本", "pr_head", 3),
    Contact("広報課", "pr", 0),
))


def incident(awaiting: str | None, **metrics: Any) -> Incident:
    return Incident(
        incident_id="wako-flame-1", municipality="wako", type="flame", target="wako_city_official",
        opened_at="2026-11-20T01:00:00+09:00", severity=metrics.pop("severity", "high"), evidence_ids=[],
        summary="", state=metrics.pop("state", "escalated"), change="opened",
        updated_at="2026-11-20T01:00:00+09:00", version=1, metrics={"awaiting": awaiting, **metrics})


def test_acknowledgement_falls_to_the_level_the_escalation_has_reached() -> None:
    assert who_acts(incident("acknowledge", level=1), ROSTER, DAY) == ("operator", ("当番 佐藤", "当番 鈴木"))
    assert who_acts(incident("acknowledge", level=2), ROSTER, DAY) == ("owner", ("所属長 田中",))
    assert who_acts(incident("acknowledge", level=3), ROSTER, DAY) == ("pr_head", ("広報課長 山本",))


def test_quiet_hours_hold_back_only_what_is_not_urgent() -> None:
    medium = incident("acknowledge", level=1, severity="medium")
    assert who_acts(medium, ROSTER, NIGHT) == ("operator", ("当番 鈴木",))  # 佐藤 sleeps
    assert who_acts(dataclasses.replace(incident("acknowledge", level=1), severity="high"), ROSTER, NIGHT) == (
        "operator", ("当番 佐藤", "当番 鈴木"))
    # The owner sleeps and nobody above is reachable at level 2 but the 広報課長 (no quiet hours).
    assert who_acts(incident("acknowledge", level=2, severity="low"), ROSTER, NIGHT) == ("pr_head", ("広報課長 山本",))


def test_approval_falls_to_the_owner_else_the_head_of_pr() -> None:
    for step in ("approve", "override_warning"):
        assert who_acts(incident(step, state="awaiting_approval"), ROSTER, NIGHT) == ("owner", ("所属長 田中",))
    no_owner = Roster("wako", tuple(c for c in ROSTER.contacts if c.role != "owner"))
    assert who_acts(incident("approve"), no_owner, DAY) == ("pr_head", ("広報課長 山本",))
    assert who_acts(incident("approve"), Roster("wako", ()), DAY) == ("owner", ())


def test_other_steps_fall_to_the_operator_on_call() -> None:
    for step in ("draft", "verify", "fact_check"):
        assert who_acts(incident(step, level=3), ROSTER, DAY) == ("operator", ("当番 佐藤", "当番 鈴木"))


def test_a_closed_incident_or_one_waiting_for_nothing_names_nobody() -> None:
    assert who_acts(incident(None), ROSTER, DAY) is None
    assert who_acts(incident("acknowledge", state="resolved"), ROSTER, DAY) is None


def test_the_board_reads_each_roster_once_and_a_broken_one_names_nobody() -> None:
    profiles = {"wako": {"municipality": {"id": "wako"}, "roster": {"contacts": [
                    {"name": "当番 鈴木", "role": "operator", "channels": ["chat:koho"]}]}},
                "broken": {"municipality": {"id": "broken"}, "roster": {"contacts": "nobody"}}}
    rosters = Rosters(profiles, lambda: DAY)
    assert row(incident("draft"), [], who=rosters)["awaiting_people"] == ["当番 鈴木"]
    broken = dataclasses.replace(incident("draft"), municipality="broken")
    assert row(broken, [], who=rosters)["awaiting_role"] is None
