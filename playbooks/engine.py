"""The playbook engine: one pure function from an incident's state and one input
(a detection, a board command or a passed deadline) to what must happen next.

`decide` does no I/O and reads no clock: time is the input's own event time.
It returns a `Decision` — the next `PlaybookState`, the `Incident` record to
publish, the `Effect`s for the responders, the `Deadline`s for the timer and the
`TimelineEntry`s of the audit trail (監査記録). The transition tables live in
`playbooks.machines`, their guards in `playbooks.guards` and their steps in
`playbooks.steps` and `playbooks.drafts`; `playbooks.context` takes transitions.
The municipality's rules come in through the small `Rules` protocol
(`playbooks.rules`); `default_rules()` connects `playbooks.policy` and `playbooks.checks`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from playbooks.context import CLOCK, DETECTOR, Context, Input
from playbooks.machines import COMMANDS, MACHINES, RESPONDER_COMMANDS, ROLE_COMMANDS, Machine
from playbooks.policy import Approval
from playbooks.rules import PolicyRules, Rules, default_rules
from playbooks.steps import official_source
from playbooks.state import (
    COMMAND_MEMORY, Decision, Draft, PlaybookState, UnknownIncidentType, copy_of,
)
from playbooks.texts import (
    ANOTHER_MUNICIPALITY, HOLDING_TEXTS, NO_SUCH_INCIDENT, TYPE_LABELS, Refusal, not_permitted_for,
    unknown_action,
)
from playbooks.transitions import CLOSED, RESOLVED, TERMINAL
from vocabulary.contract import parse_ts
from vocabulary.records import BoardCommand, Deadline, Detection, TimelineEntry, incident_id_for


def decide(state: PlaybookState | None, inp: Input, *, profile_raw: Mapping[str, Any],
           rules: Rules) -> Decision:
    """The next step of the incident's playbook. Never mutates `state`."""
    if isinstance(inp, Detection):
        return _on_detection(state, inp, profile_raw, rules)
    if isinstance(inp, BoardCommand):
        return _on_command(state, inp, profile_raw, rules)
    if isinstance(inp, Deadline):
        return _on_deadline(state, inp, profile_raw, rules)
    raise TypeError(f"decide: unexpected input {type(inp).__name__}")


def machine_for(type_: str) -> Machine:
    try:
        return MACHINES[type_]
    except KeyError:
        raise UnknownIncidentType(f"no playbook for incident type {type_!r}") from None


def _on_detection(state: PlaybookState | None, d: Detection, profile: Mapping[str, Any],
                  rules: Rules) -> Decision:
    machine = machine_for(d.type)
    if state is None:
        st = PlaybookState(
            incident_id=d.incident_id, municipality=d.municipality, type=d.type, target=d.target,
            opened_at=d.opened_at, severity=d.severity, evidence_ids=list(d.evidence_ids),
            summary=d.summary, metrics=dict(d.metrics), drill=d.drill, detection_seq=d.seq,
            last_evidence_at=d.at, updated_at=d.at,
            disaster_time=d.metrics.get("disaster_active") is True,
            previous_incident_id=d.previous_incident_id, source_url=official_source(d),
        )
        ctx = Context(st, machine, rules, profile, d, "opened", d.at, DETECTOR)
        ctx.note("incident_opened", {"severity": d.severity, "summary": d.summary,
                                     "evidence": len(d.evidence_ids), "drill": d.drill,
                                     **({"previous_incident_id": d.previous_incident_id}
                                        if d.previous_incident_id else {})})
        _must(ctx.fire("opened"))
        return ctx.decision("opened")
    if d.change == "opened" or d.seq <= state.detection_seq:
        return Decision(state=state)  # delivered again, or older than what was applied
    if state.state in TERMINAL and state.next_incident_id:
        # The episode came back after this incident ended: its evidence goes to the new one.
        return Decision(state=state, detections=[dataclasses.replace(
            d, incident_id=state.next_incident_id, previous_incident_id=state.incident_id)])
    if state.state in TERMINAL and d.metrics.get("resurgence") is True:
        return _comeback_after_the_end(state, d, machine, rules, profile)
    ctx = Context(copy_of(state), machine, rules, profile, d, "evidence", d.at, DETECTOR)
    _must(ctx.fire("evidence"))
    # Signals the detector carries; one that does not apply in the current state is
    # on the record through the evidence entry, which carries the metrics.
    for event, present in (("resurgence", d.metrics.get("resurgence") is True),
                           ("back_to_baseline", d.metrics.get("back_to_baseline") is True),
                           ("account_gone", d.metrics.get("account_gone") is True),
                           ("rescue_requests", bool(d.metrics.get("rescue_requests")))):
        if present and machine.knows(event):
            ctx.event = event
            ctx.fire(event)
    return ctx.decision("updated")


def _comeback_after_the_end(state: PlaybookState, d: Detection, machine: Machine, rules: Rules,
                            profile: Mapping[str, Any]) -> Decision:
    """再燃 after staff resolved (or closed) the incident: not reopened behind their back, but a new
    incident opened for the comeback, linked both ways (previous_incident_id / next_incident_id).
    Its id derives from the comeback's time, so a replay or a redelivery opens the same one."""
    new_id = incident_id_for(d.municipality, d.type, d.target, parse_ts(d.at, "at"))
    st = copy_of(state)
    st.next_incident_id = new_id
    st.detection_seq = d.seq
    ctx = Context(st, machine, rules, profile, d, "resurgence", d.at, DETECTOR)
    ctx.note("resurgence_after_end", {
        "message_ja": f"終了後に再燃したため、新しい事案 {new_id} を開きました",
        "message_en": f"It flared up again after it ended: new incident {new_id} opened",
        "next_incident_id": new_id, "wave": d.metrics.get("wave"), "summary": d.summary})
    ctx.applied = True
    opening = dataclasses.replace(d, incident_id=new_id, change="opened", opened_at=d.at,
                                  previous_incident_id=state.incident_id)
    return dataclasses.replace(ctx.decision("linked"), detections=[opening])


def _on_command(state: PlaybookState | None, cmd: BoardCommand, profile: Mapping[str, Any],
                rules: Rules) -> Decision:
    actor = {"kind": "person", **{k: str(v) for k, v in cmd.actor.items()}}
    if state is None:
        refusal = NO_SUCH_INCIDENT
        entry = TimelineEntry(
            entry_id=f"{cmd.incident_id}:rejected:{cmd.command_id}", incident_id=cmd.incident_id,
            municipality=cmd.municipality, at=cmd.at, actor=actor, action="command_rejected",
            detail={"command_id": cmd.command_id, "command": cmd.action, **refusal._asdict()})
        return Decision(state=None, timeline=[entry], rejection=refusal._asdict())
    if cmd.command_id in state.commands:
        return Decision(state=state)
    st = copy_of(state)
    st.commands = [*st.commands, cmd.command_id][-COMMAND_MEMORY:]
    ctx = Context(st, machine_for(st.type), rules, profile, cmd, cmd.action, cmd.at, actor)
    if cmd.municipality != st.municipality:
        refusal: Refusal | None = ANOTHER_MUNICIPALITY
    elif cmd.action not in COMMANDS:
        refusal = unknown_action(cmd.action)
    elif cmd.action not in _allowed(actor):
        refusal = not_permitted_for(actor.get("role") or actor.get("kind", ""), cmd.action)
    else:
        refusal = ctx.fire(cmd.action)
    if refusal is not None:
        return ctx.rejected(refusal)
    return ctx.decision(cmd.action)


def _allowed(actor: Mapping[str, str]) -> frozenset[str]:
    if actor.get("kind") == "responder":
        return RESPONDER_COMMANDS
    if actor.get("kind") == "person":
        return ROLE_COMMANDS.get(actor.get("role", ""), frozenset())
    return frozenset()


def _on_deadline(state: PlaybookState | None, dl: Deadline, profile: Mapping[str, Any],
                 rules: Rules) -> Decision:
    live = state.deadlines.get(dl.name) if state is not None else None
    if state is None or live is None or live["deadline_id"] != dl.deadline_id:
        return Decision(state=state)  # stopped, replaced or already handled
    st = copy_of(state)
    del st.deadlines[dl.name]
    event = f"deadline:{dl.name}"
    ctx = Context(st, machine_for(st.type), rules, profile, dl, event, dl.due_at, CLOCK)
    ctx.note("deadline_passed", {"name": dl.name, "deadline_id": dl.deadline_id})
    refusal = ctx.fire(event)
    if refusal is not None:
        # Not an error a person made: the deadline's reason no longer holds. On the record.
        ctx.note("deadline_not_applicable", {"name": dl.name, **refusal._asdict()})
        return ctx.decision(None)
    return ctx.decision(event)


def _must(refusal: Refusal | None) -> None:
    if refusal is not None:  # a table that cannot open or take evidence is a bug
        raise AssertionError(refusal.reason_en)


__all__ = [
    "Approval", "CLOSED", "Decision", "Draft", "HOLDING_TEXTS", "PlaybookState", "PolicyRules", "RESOLVED",
    "Rules", "TYPE_LABELS", "UnknownIncidentType", "decide", "default_rules",
]
