"""One incident's playbook step as stored by the worker: the engine's state plus the
deadlines it has scheduled and not yet seen fire.

Pure: the agent loads the stored bytes, calls `step`, sends what the decision
says and stores the result; the timer asks `due` which deadlines to deliver.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from playbooks.context import Input
from playbooks.engine import Decision, PlaybookState, Rules, decide
from vocabulary.contract import parse_ts
from vocabulary.records import BoardCommand, Deadline, Detection


@dataclass
class Stored:
    state: PlaybookState | None = None
    pending: dict[str, dict[str, Any]] = field(default_factory=dict)  # deadline_id → Deadline

    @classmethod
    def load(cls, raw: bytes | None) -> Stored:
        if not raw:
            return cls()
        obj = orjson.loads(raw)
        state = obj.get("state")
        return cls(PlaybookState.from_dict(state) if state else None, dict(obj.get("pending", {})))

    def dump(self) -> bytes:
        return orjson.dumps({"state": self.state.to_dict() if self.state else None,
                             "pending": self.pending})


def step(stored: Stored, inp: Input, *, profile_raw: Mapping[str, Any], rules: Rules
         ) -> tuple[Stored, Decision]:
    decision = decide(stored.state, inp, profile_raw=profile_raw, rules=rules)
    pending = dict(stored.pending)
    if isinstance(inp, Deadline):
        pending.pop(inp.deadline_id, None)
    for deadline_id in decision.cancelled:
        pending.pop(deadline_id, None)
    for deadline in decision.deadlines:
        pending[deadline.deadline_id] = deadline.to_dict()
    state = decision.state if decision.state is not None else stored.state
    return Stored(state, pending), decision


def due(raw: bytes | None, now: float) -> list[Deadline]:
    """The scheduled deadlines in a stored entry whose time has come, oldest first.

    The timer calls this every second for every stored incident, so it reads only the
    pending deadlines and never rebuilds the playbook state.
    """
    pending = orjson.loads(raw).get("pending", {}) if raw else {}
    ready = [Deadline.from_dict(d) for d in pending.values()
             if parse_ts(d["due_at"], "due_at") <= now]
    return sorted(ready, key=lambda d: parse_ts(d.due_at, "due_at"))


def parse_input(raw: bytes) -> Input:
    """A detection, board command or deadline, recognised by its own identifying field."""
    obj = orjson.loads(raw)
    if not isinstance(obj, dict):
        raise ValueError("expected a JSON object")
    for id_field, record in (("command_id", BoardCommand), ("deadline_id", Deadline),
                             ("change", Detection)):
        if id_field in obj:
            return record.from_dict(obj)
    raise ValueError("neither a detection, a board command nor a deadline")
