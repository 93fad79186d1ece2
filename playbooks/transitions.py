"""The shape of a playbook: states, and transitions that name the guard functions that must
hold and the step function the engine carries out — the vocabulary `playbooks.machines`
writes the four playbooks in.

A row with no event (`at_once`) is taken as soon as its guards hold after any other
transition, which is how a playbook passes through a state that needs nobody.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from vocabulary.terms import CLOSED, RESOLVED, TERMINAL_STATES

NEW = "new"  # before the opening detection: the only way out is the event "opened"
#: Where every playbook ends: resolved, or closed (誤検知: a false positive, ended without a response).
TERMINAL = TERMINAL_STATES
#: A target that means "the state the incident was in when it ended" (reopen).
RESUME = "<resume>"
#: How long after it ended an incident may be reopened.
REOPEN_WINDOW_S = 7 * 24 * 3600

#: A guard takes the decision's context and returns None when the transition may be
#: taken, or a `Refusal` saying why not; a step changes the context's state and asks for
#: effects. Both are plain functions (`playbooks.guards`, `playbooks.steps`).
Guard = Callable[[Any], Any]
Step = Callable[[Any], None]


@dataclass(frozen=True, slots=True)
class Transition:
    source: tuple[str, ...]
    event: str | None  # None: taken at once when the guards hold
    target: str | None  # None: stays in the state
    guards: tuple[Guard, ...] = ()
    step: Step | None = None


def _states(source: str | Iterable[str]) -> tuple[str, ...]:
    return (source,) if isinstance(source, str) else tuple(source)


def on(event: str, source: str | Iterable[str], to: str | None = None, *,
       when: tuple[Guard, ...] = (), do: Step | None = None) -> Transition:
    """`event` in `source` moves to `to` (or stays) when every guard in `when` holds."""
    return Transition(_states(source), event, to, when, do)


def at_once(source: str | Iterable[str], to: str, *, when: tuple[Guard, ...] = (),
            do: Step | None = None) -> Transition:
    return Transition(_states(source), None, to, when, do)


@dataclass(frozen=True)
class Machine:
    type: str
    states: tuple[str, ...]  # without NEW; terminal states last
    transitions: tuple[Transition, ...]
    #: the step a person is expected to take next, per state (the board's 「対応待ち」)
    awaiting: Mapping[str, str] = field(default_factory=dict)
    #: the draft kinds a state accepts
    draft_kinds: Mapping[str, frozenset[str]] = field(default_factory=dict)
    #: steps carried out on entering a state, however it was entered
    on_enter: Mapping[str, Step] = field(default_factory=dict)
    #: where reopen leads, from the state the incident ended in (default: that state)
    reopen_to: Mapping[str, str] = field(default_factory=dict)
    #: monitoring ends when no new evidence arrived for this long
    quiet_s: float = 2 * 3600

    def candidates(self, state: str, event: str) -> tuple[Transition, ...]:
        return tuple(t for t in self.transitions if t.event == event and state in t.source)

    def completions(self, state: str) -> tuple[Transition, ...]:
        return tuple(t for t in self.transitions if t.event is None and state in t.source)

    def knows(self, event: str) -> bool:
        return any(t.event == event for t in self.transitions)


__all__ = [
    "CLOSED", "NEW", "REOPEN_WINDOW_S", "RESOLVED", "RESUME", "TERMINAL", "Guard", "Machine", "Step",
    "Transition", "at_once", "on",
]
