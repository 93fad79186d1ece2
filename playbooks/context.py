"""The context one input is decided in: `Context.fire` takes the first transition whose
guards hold, runs its step and the steps on entering the new state, then any transition
that follows at once; the steps ask the context for effects, deadlines and timeline entries.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from playbooks.policy import ClosureDays
from playbooks.profile import closure_days_from_profile
from playbooks.rules import Roster, Rules
from playbooks.state import EFFECT_MEMORY, Decision, PlaybookState, incident_of, tree_copy
from playbooks.texts import Refusal, malformed_command, not_allowed_here
from playbooks.transitions import RESUME, TERMINAL, Machine, Transition
from vocabulary.commands import MalformedPayload, TypedCommand, command_from
from vocabulary.contract import parse_ts
from vocabulary.effects import TypedEffect
from vocabulary.records import BoardCommand, Deadline, Detection, Effect, TimelineEntry, iso
from vocabulary.terms import DRILL_LABEL

Input = Detection | BoardCommand | Deadline
C = TypeVar("C", bound=TypedCommand)

#: Who acts when no person does.
DETECTOR = {"kind": "detector", "name": "noroshi"}
CLOCK = {"kind": "clock", "name": "timer"}


class Context:
    """One input being decided: the incident's copied state, its machine and rules, and
    what the decision has asked for so far (effects, deadlines, timeline entries)."""

    def __init__(self, st: PlaybookState, machine: Machine, rules: Rules,
                 profile: Mapping[str, Any], inp: Input, event: str, at: str,
                 actor: dict[str, str]) -> None:
        self.st, self.machine, self.rules, self.profile = st, machine, rules, profile
        self.inp, self.event, self.at, self.actor = inp, event, at, actor
        self.now = parse_ts(at, "at")
        self.effects: list[Effect] = []
        self.deadlines: list[Deadline] = []
        self.cancelled: list[str] = []
        self.timeline: list[TimelineEntry] = []
        self.applied = False
        self._roster: Roster | None = None
        self._closed: ClosureDays | None = None
        self._command: TypedCommand | None = None

    # -- inputs --------------------------------------------------------------
    def command_as(self, *kinds: type[C]) -> C:
        """The board command as its typed class, which must be one of `kinds` (only the guards
        and steps of that command's rows ask). Read on first use, so a command that is not
        allowed in this state is refused as such before its payload is looked at; a payload
        that is not the command it names raises `MalformedPayload`, which `fire` refuses."""
        if self._command is None:
            assert isinstance(self.inp, BoardCommand), f"{self.event}: not a board command"
            self._command = command_from(self.inp)
        command = self._command
        assert isinstance(command, kinds), f"{self.event}: {type(command).__name__} is not one of {kinds}"
        return command

    @property
    def roster(self) -> Roster:
        if self._roster is None:
            self._roster = self.rules.roster(self.profile)
        return self._roster

    @property
    def closed(self) -> ClosureDays:
        """The city's own closure days (the profile's `closure_days`), which business hours skip."""
        if self._closed is None:
            self._closed = closure_days_from_profile(self.profile)
        return self._closed

    @property
    def disaster(self) -> bool:
        return self.st.type == "disaster" or self.st.disaster_time

    # -- the machine ---------------------------------------------------------
    def fire(self, event: str) -> Refusal | None:
        """Take the first transition for `event` whose guards hold, then any that
        follow at once. Guards are checked before anything changes."""
        candidates = self.machine.candidates(self.st.state, event)
        if not candidates:
            return not_allowed_here(event, self.st.state)
        refusal: Refusal | None = None
        for t in candidates:
            refusal = self._first_refusal(t)
            if refusal is None:
                self._take(t)
                self._settle()
                return None
        return refusal

    def _first_refusal(self, t: Transition) -> Refusal | None:
        for guard in t.guards:
            try:
                refusal = guard(self)
            except MalformedPayload as exc:
                return malformed_command(exc.field, exc.problem)
            if refusal is not None:
                return refusal
        return None

    def _take(self, t: Transition) -> None:
        self.applied = True
        target = t.target
        if target == RESUME:
            ended_from = (self.st.ended or {}).get("from", self.st.state)
            target = self.machine.reopen_to.get(ended_from, ended_from)
        if t.step is not None:
            t.step(self)
        if target is not None and target != self.st.state:
            before, self.st.state = self.st.state, target
            if target in TERMINAL:
                self.st.ended = {"at": self.at, "from": before, "how": self.event}
            self.note("state_changed", {"from": before, "to": target, "event": self.event})
            enter = self.machine.on_enter.get(target)
            if enter is not None:
                enter(self)

    def _settle(self) -> None:
        for _ in range(20):
            step = next((t for t in self.machine.completions(self.st.state)
                         if self._first_refusal(t) is None), None)
            if step is None:
                return
            self._take(step)
        raise AssertionError(f"{self.machine.type}: completions do not settle in {self.st.state}")

    # -- outputs -------------------------------------------------------------
    def next_number(self, counter: str) -> int:
        n = self.st.counters.get(counter, 0) + 1
        self.st.counters[counter] = n
        return n

    def note(self, action: str, detail: dict[str, Any] | None = None) -> None:
        detail = dict(detail or {})
        if isinstance(self.inp, BoardCommand):
            detail.setdefault("command_id", self.inp.command_id)
        n = self.next_number("timeline")
        self.timeline.append(TimelineEntry(
            entry_id=f"{self.st.incident_id}:{n}:{action}", incident_id=self.st.incident_id,
            municipality=self.st.municipality, at=self.at, actor=dict(self.actor),
            action=action, detail=detail))

    def effect(self, order: TypedEffect, *, root: str | None = None, attempt: int = 1) -> Effect:
        """Ask a responder to carry `order` out; a drill's texts are labelled 【訓練】 on the way
        out, and the unlabelled payload is remembered so a failed effect can be retried."""
        kind = order.kind
        effect_id = f"{self.st.incident_id}:{kind}:{self.next_number('effect:' + kind)}"
        outgoing = order.labelled(DRILL_LABEL) if self.st.drill else order
        made = outgoing.to_effect(effect_id=effect_id, incident_id=self.st.incident_id,
                                  municipality=self.st.municipality, at=self.at, drill=self.st.drill,
                                  retry_of=root)
        self.effects.append(made)
        payload = order.to_payload()
        self.st.sent[effect_id] = {"kind": kind, "payload": tree_copy(payload),
                                   "root": root or effect_id, "attempt": attempt}
        while len(self.st.sent) > EFFECT_MEMORY:
            del self.st.sent[next(iter(self.st.sent))]
        self.note("effect_requested", {"effect_id": effect_id, "kind": kind, **brief(payload)})
        return made

    def schedule(self, name: str, due: float, payload: dict[str, Any] | None = None) -> None:
        self.stop(name, quietly=True)
        deadline_id = f"{self.st.incident_id}:{name}:{self.next_number('deadline:' + name)}"
        due_at = iso(due)
        self.st.deadlines[name] = {"deadline_id": deadline_id, "due_at": due_at}
        self.deadlines.append(Deadline(deadline_id=deadline_id, incident_id=self.st.incident_id,
                                       municipality=self.st.municipality, name=name,
                                       due_at=due_at, payload=dict(payload or {})))
        self.note("deadline_scheduled", {"name": name, "deadline_id": deadline_id, "due_at": due_at})

    def stop(self, name: str, *, quietly: bool = False) -> None:
        live = self.st.deadlines.pop(name, None)
        if live is None:
            return
        self.cancelled.append(live["deadline_id"])
        if not quietly:
            self.note("deadline_stopped", {"name": name, "deadline_id": live["deadline_id"]})

    def decision(self, change: str | None) -> Decision:
        incident = None
        if self.applied and change is not None:
            self.st.version += 1
            self.st.updated_at = self.at
            incident = incident_of(self.st, self.machine, change)
        return Decision(state=self.st, incident=incident, effects=self.effects,
                        deadlines=self.deadlines, cancelled=self.cancelled,
                        timeline=self.timeline, rejection=None)

    def rejected(self, refusal: Refusal) -> Decision:
        assert not self.effects and not self.deadlines  # guards run before any step
        self.note("command_rejected", {"command": self.event, **refusal._asdict()})
        return Decision(state=self.st, timeline=self.timeline, rejection=refusal._asdict())


def brief(payload: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("account", "to", "draft_id", "platform", "handle", "on", "request_id", "where", "reason")
    brief = {k: payload[k] for k in keys if k in payload}
    if isinstance(brief.get("to"), dict):
        brief["to"] = {k: brief["to"].get(k) for k in ("name", "role", "level")}
    return brief
