"""What the engine remembers about one incident (`PlaybookState`, with its `Draft`s) and what
one decision returns (`Decision`): plain data that survives JSON and stays bounded.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from playbooks.transitions import NEW, TERMINAL, Machine
from vocabulary.records import Deadline, Detection, Effect, Incident, TimelineEntry, iso

#: Command ids remembered for idempotency, newest last.
COMMAND_MEMORY = 200
#: Rescue request ids remembered for deduplication.
RESCUE_MEMORY = 1000
#: Effects remembered so a failed one can be retried.
EFFECT_MEMORY = 50
#: Drafts kept per incident; finished ones (posted, rejected, blocked) go first.
DRAFT_LIMIT = 20


class UnknownIncidentType(ValueError):
    """A detection names an incident type that has no playbook."""


_ATOMS = (str, int, float, bool, type(None))


def tree_copy(value: Any) -> Any:
    """A deep copy of a JSON-like tree (dicts, lists, scalars), several times faster
    than `copy.deepcopy`, which a playbook step calls for every stored field;
    anything else is left to `copy.deepcopy`."""
    kind = type(value)
    if kind in _ATOMS:
        return value
    if kind is dict:
        return {k: tree_copy(v) for k, v in value.items()}
    if kind is list:
        return [tree_copy(v) for v in value]
    return copy.deepcopy(value)


@dataclass(slots=True)
class Draft:
    """A text to publish (statement, holding, correction, warning, press) and its approval."""

    draft_id: str
    kind: str
    texts: dict[str, str]
    drafter: dict[str, str]
    at: str
    hash: str
    status: str  # blocked | needs_override | ready | approved | rejected | posted
    findings: list[dict[str, Any]] = field(default_factory=list)
    overridden: list[str] = field(default_factory=list)
    category: str | None = None
    approval: dict[str, Any] | None = None
    revision: int = 1
    reason: str | None = None  # why it was rejected
    posted_at: str | None = None

    @property
    def pending(self) -> bool:
        return self.status in ("needs_override", "ready")

    @property
    def warning_codes(self) -> set[str]:
        return {f["code"] for f in self.findings if f["level"] != "block"}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, obj: Mapping[str, Any]) -> Draft:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in obj.items() if k in names})


@dataclass(slots=True)
class PlaybookState:
    """Everything the engine remembers about one incident (JSON via to_dict/from_dict, bounded)."""

    incident_id: str
    municipality: str
    type: str
    target: str
    opened_at: str
    severity: str
    evidence_ids: list[str]
    summary: str
    metrics: dict[str, Any]  # the detector's latest
    drill: bool
    detection_seq: int
    last_evidence_at: str
    updated_at: str
    state: str = NEW
    version: int = 0
    level: int = 1
    disaster_time: bool = False  # a misinformation incident during a disaster
    acknowledged: dict[str, Any] | None = None
    ack_since: str | None = None
    ack_due: str | None = None
    hold: bool = False
    disaster_mode: bool = False
    source_url: str | None = None
    account_gone: bool = False
    approved_draft: str | None = None
    drafts: list[Draft] = field(default_factory=list)
    deadlines: dict[str, dict[str, str]] = field(default_factory=dict)  # live: name → id, due_at
    counters: dict[str, int] = field(default_factory=dict)
    commands: list[str] = field(default_factory=list)
    rescues: list[str] = field(default_factory=list)
    rescues_handled: list[str] = field(default_factory=list)
    sent: dict[str, dict[str, Any]] = field(default_factory=dict)
    ended: dict[str, Any] | None = None  # {"at", "from", "how"}
    previous_incident_id: str | None = None  # the episode's earlier incident (再燃 after it ended)
    next_incident_id: str | None = None  # the incident this one's comeback opened

    def draft(self, draft_id: Any) -> Draft | None:
        return next((d for d in self.drafts if d.draft_id == draft_id), None)

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: tree_copy(getattr(self, f.name)) for f in fields(self)}
        out["drafts"] = [d.to_dict() for d in self.drafts]
        return out

    @classmethod
    def from_dict(cls, obj: Mapping[str, Any]) -> PlaybookState:
        names = {f.name for f in fields(cls)}
        values = {k: tree_copy(v) for k, v in obj.items() if k in names}
        values["drafts"] = [Draft.from_dict(d) for d in obj.get("drafts", ())]
        return cls(**values)


@dataclass(frozen=True)
class Decision:
    """What one input changed. `state` is what to store; `incident` is None when
    the input changed nothing the board shows (a duplicate or a rejected command)."""

    state: PlaybookState | None
    incident: Incident | None = None
    effects: list[Effect] = field(default_factory=list)
    deadlines: list[Deadline] = field(default_factory=list)
    #: ids of scheduled deadlines that are no longer wanted (the timer may drop them;
    #: if one is delivered anyway, the engine ignores it)
    cancelled: list[str] = field(default_factory=list)
    timeline: list[TimelineEntry] = field(default_factory=list)
    rejection: dict[str, str] | None = None
    #: Detections for other incidents: the new incident an ended one's comeback opens, and the
    #: episode's later evidence passed on to it (published on the detections topic).
    detections: list[Detection] = field(default_factory=list)


def copy_of(state: PlaybookState) -> PlaybookState:
    """A copy to change, so that `decide` never mutates the state it was given."""
    return PlaybookState.from_dict(state.to_dict())


def incident_of(st: PlaybookState, machine: Machine, change: str) -> Incident:
    awaiting = machine.awaiting.get(st.state)
    kinds = machine.draft_kinds.get(st.state, frozenset())
    if awaiting == "approve" and not any(d.status == "ready" and d.kind in kinds for d in st.drafts):
        awaiting = "override_warning"
    if awaiting is None and st.acknowledged is None and st.state not in TERMINAL:
        awaiting = "acknowledge"
    metrics = {
        **st.metrics,
        "awaiting": awaiting,
        "draft_kinds": sorted(kinds),
        "ack_due": st.ack_due,
        "level": st.level,
        "acknowledged_by": (st.acknowledged or {}).get("name"),
        "hold": st.hold,
        "disaster_mode": st.disaster_mode,
        "drafts": [draft_view(d) for d in st.drafts],
    }
    if st.source_url is not None:
        metrics["source_url"] = st.source_url
    return Incident(
        incident_id=st.incident_id, municipality=st.municipality, type=st.type, target=st.target,
        opened_at=st.opened_at, severity=st.severity, evidence_ids=list(st.evidence_ids),
        summary=st.summary, state=st.state, change=change, updated_at=st.updated_at,
        version=st.version, metrics=metrics, drill=st.drill, detection_seq=st.detection_seq,
        previous_incident_id=st.previous_incident_id, next_incident_id=st.next_incident_id)


def draft_view(d: Draft) -> dict[str, Any]:
    view = d.to_dict()
    if d.approval is not None:
        view["approval"] = {**d.approval, "at": iso(d.approval["at"])}
    return view
