"""The step between Faust and the playbooks, with no Faust in it: one detection, board command or
deadline in, the incident's outputs and its new stored state out, in the order they must be sent.

Outputs come before the state that says they were sent: after a crash between the two the input
is played again and repeats an output (ids are stable, readers keep the highest version), where
the other order could lose one. A heartbeat (`streams.heartbeat`) touches no incident: it goes on to
the heartbeats topic with its hop times, and there is no state to store.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import structlog

from playbooks.runner import Stored, parse_input, step
from streams import heartbeat
from streams.boundary import Outgoing, Rejected, utc_now
from streams.stage import Message
from vocabulary.contract import Profile

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class PlaybookStep:
    """What one input changed: the outputs to publish, then the state to store under `incident_id`."""

    incident_id: str
    outputs: list[Outgoing]
    state: bytes | None  # None: nothing to store (a heartbeat)
    outcome: dict[str, Any] = field(default_factory=dict)  # the log line that says what happened

    def log_outcome(self) -> None:
        if self.outcome:
            event, fields = self.outcome["event"], {k: v for k, v in self.outcome.items() if k != "event"}
            log.info(event, incident_id=self.incident_id, **fields)


class PlaybookStage:
    def __init__(self, profiles: Mapping[str, Profile], rules: Any) -> None:
        self.profiles, self.rules = profiles, rules

    def play(self, msg: Message, stored: Mapping[str, bytes]) -> PlaybookStep:
        """The step `msg` makes for its incident, given the stored states (the playbook table).
        Raises `Rejected` for input that is not a playbook input or names no configured municipality."""
        beat = heartbeat.parse(msg.value)
        if beat is not None:  # never parsed as a playbook input, never stored
            return PlaybookStep("", [Outgoing("heartbeats", heartbeat.detection_key(beat),
                                              heartbeat.stamped(beat, "played_at", utc_now()))], None)
        try:
            inp = parse_input(msg.value or b"")
            profile = self.profiles.get(inp.municipality)
            if profile is None:
                raise ValueError(f"unknown municipality {inp.municipality!r}")
            after, decision = step(Stored.load(stored.get(inp.incident_id)), inp,
                                   profile_raw=profile.raw, rules=self.rules)
        except Exception as exc:
            raise Rejected(f"bad playbook input: {exc}", event="playbook_input_rejected") from exc
        outputs = [*(Outgoing("effects", e.incident_id, e.to_json()) for e in decision.effects),
                   *(Outgoing("timeline", t.incident_id, t.to_json()) for t in decision.timeline)]
        if decision.incident is not None:
            outputs.append(Outgoing("incidents", decision.incident.incident_id, decision.incident.to_json()))
        # An ended incident's comeback: the new incident's detections, keyed by it (co-partitioned).
        outputs += [Outgoing("detections", d.incident_id, d.to_json()) for d in decision.detections]
        return PlaybookStep(inp.incident_id, outputs, after.dump(), outcome(decision))


def outcome(decision: Any) -> dict[str, Any]:
    """The log line for a decision: a refused command, or the incident's change."""
    if decision.rejection:
        return {"event": "command_rejected", "reason": decision.rejection.get("reason_en")}
    if decision.incident is not None:
        incident = decision.incident
        # One past-tense name: a change is a command's action ("acknowledge") as often as an event.
        return {"event": "incident_changed", "change": incident.change, "state": incident.state,
                "version": incident.version, "effects": len(decision.effects)}
    return {}
