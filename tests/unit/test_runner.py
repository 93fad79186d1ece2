"""What the worker stores per incident: the playbook state and its pending deadlines."""

from __future__ import annotations

from playbooks.engine import default_rules
from playbooks.runner import Stored, due, parse_input, step
from vocabulary.contract import parse_ts
from tests.unit.builders import detection, profile


def opened() -> Stored:
    stored, decision = step(Stored(), detection(severity="high"), profile_raw=profile().raw,
                            rules=default_rules())
    assert decision.incident is not None and decision.deadlines
    return stored


def test_a_scheduled_deadline_is_pending_until_it_fires() -> None:
    stored = opened()
    [ack] = [d for d in stored.pending.values() if d["name"] == "ack"]
    raw = stored.dump()
    assert due(raw, parse_ts(ack["due_at"]) - 1) == []
    [fired] = [d for d in due(raw, parse_ts(ack["due_at"])) if d.name == "ack"]
    after, _ = step(Stored.load(raw), fired, profile_raw=profile().raw, rules=default_rules())
    assert fired.deadline_id not in after.pending


def test_nothing_stored_has_nothing_due() -> None:
    assert due(None, 2e9) == []


def test_stored_bytes_round_trip() -> None:
    stored = opened()
    again = Stored.load(stored.dump())
    assert again.pending == stored.pending and again.state == stored.state


def test_inputs_are_recognised_by_their_identifying_field() -> None:
    d = detection()
    assert parse_input(d.to_json()) == d
