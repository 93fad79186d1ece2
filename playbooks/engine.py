"""The playbook engine: one pure function from an incident's state and one input
(a detection, a board command or a passed deadline) to what must happen next.

`decide` does no I/O and reads no clock: time is the input's own event time.
It returns a `Decision` — the next `PlaybookState`, the `Incident` record to
publish, the `Effect`s for the responders, the `Deadline`s for the timer and the
`TimelineEntry`s of the audit trail (監査記録). The transition tables live in
`playbooks.machines`; the guards and steps they name live here. The
municipality's rules (who is on call, business hours, approvals, the pre-post
check) come in through the small `Rules` protocol; `default_rules()` connects
`playbooks.policy` and `playbooks.checks`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from types import ModuleType
from typing import Any, NamedTuple, Protocol
from urllib.parse import urlsplit

from playbooks.machines import (
    CLOSED, COMMANDS, MACHINES, NEW, REOPEN_WINDOW_S, RESOLVED, RESPONDER_COMMANDS, RESUME,
    ROLE_COMMANDS, ROLE_LABELS, TERMINAL, Machine, Transition, action_label, state_label,
)
from vocabulary.contract import parse_ts
from playbooks.policy import Approval
from vocabulary.records import BoardCommand, Deadline, Detection, Effect, Incident, TimelineEntry, iso

# ---------------------------------------------------------------------------
# The rules the engine needs from the municipality's policy
# ---------------------------------------------------------------------------


class Contact(Protocol):
    name: str
    role: str
    level: int
    channels: Any


class Roster(Protocol):
    def at_level(self, level: int) -> Sequence[Contact]: ...

    def with_role(self, role: str) -> Sequence[Contact]: ...


class Verdict(Protocol):
    ok: bool
    reason_ja: str
    reason_en: str


class CheckFinding(Protocol):
    code: str
    level: str  # "block" | "warn"
    message_ja: str
    message_en: str
    excerpt: str




class Rules(Protocol):
    """What the engine asks of policy; `default_rules()` is the real one, tests pass a fake."""

    def roster(self, profile_raw: Mapping[str, Any]) -> Roster: ...

    def ack_deadline(self, severity: str, since: float) -> float: ...

    def next_level(self, level: int) -> int | None: ...

    def recipients(self, roster: Roster, level: int, now: float, severity: str,
                   disaster: bool) -> Sequence[Contact]: ...

    def may_post_now(self, now: float, *, incident_type: str, severity: str, disaster: bool) -> bool: ...

    def next_business_open(self, now: float) -> float: ...

    def check_approval(self, approval: Approval, *, drafter: str, draft_id: str, draft_hash: str,
                       now: float) -> Verdict: ...

    def draft_hash(self, texts: Mapping[str, str]) -> str: ...

    def check_preapproved_post(self, category: str, *, poster_role: str) -> Verdict: ...

    def prepost_check(self, text: str, *, trusted_domains: Sequence[str] = (),
                      official_contacts: Sequence[str] = ()) -> Sequence[CheckFinding]: ...

    def blocking(self, findings: Sequence[CheckFinding]) -> bool: ...



_ATOMS = (str, int, float, bool, type(None))


def _tree_copy(value: Any) -> Any:
    """A deep copy of a JSON-like tree (dicts, lists, scalars), several times faster
    than `copy.deepcopy`, which a playbook step calls for every stored field;
    anything else is left to `copy.deepcopy`."""
    kind = type(value)
    if kind in _ATOMS:
        return value
    if kind is dict:
        return {k: _tree_copy(v) for k, v in value.items()}
    if kind is list:
        return [_tree_copy(v) for v in value]
    return copy.deepcopy(value)

@dataclass(frozen=True)
class PolicyRules:
    """`Rules` on top of the `playbooks.policy` and `playbooks.checks` modules."""

    policy: ModuleType
    checks: ModuleType

    def roster(self, profile_raw: Mapping[str, Any]) -> Roster:
        return self.policy.roster_from_profile(profile_raw)  # type: ignore[no-any-return]

    def ack_deadline(self, severity: str, since: float) -> float:
        return float(self.policy.ack_deadline(severity, since))

    def next_level(self, level: int) -> int | None:
        return self.policy.next_level(level)  # type: ignore[no-any-return]

    def recipients(self, roster: Roster, level: int, now: float, severity: str,
                   disaster: bool) -> Sequence[Contact]:
        return self.policy.recipients(roster, level, now, severity, disaster)  # type: ignore[no-any-return]

    def may_post_now(self, now: float, *, incident_type: str, severity: str, disaster: bool) -> bool:
        return bool(self.policy.may_post_now(now, incident_type=incident_type, severity=severity,
                                             disaster=disaster))

    def next_business_open(self, now: float) -> float:
        return float(self.policy.next_business_open(now))

    def check_approval(self, approval: Approval, *, drafter: str, draft_id: str, draft_hash: str,
                       now: float) -> Verdict:
        return self.policy.check_approval(  # type: ignore[no-any-return]
            approval, drafter=drafter, draft_id=draft_id, draft_hash=draft_hash, now=now)

    def draft_hash(self, texts: Mapping[str, str]) -> str:
        return str(self.policy.draft_hash(texts))

    def check_preapproved_post(self, category: str, *, poster_role: str) -> Verdict:
        return self.policy.check_preapproved_post(category, poster_role=poster_role)  # type: ignore[no-any-return]

    def prepost_check(self, text: str, *, trusted_domains: Sequence[str] = (),
                      official_contacts: Sequence[str] = ()) -> Sequence[CheckFinding]:
        return self.checks.prepost_check(  # type: ignore[no-any-return]
            text, trusted_domains=tuple(trusted_domains), official_contacts=tuple(official_contacts))

    def blocking(self, findings: Sequence[CheckFinding]) -> bool:
        return bool(self.checks.blocking(tuple(findings)))


def default_rules() -> Rules:
    """The municipality's real rules. Imported here, not at module level, so the
    engine loads (and its tests run) without the policy modules."""
    from playbooks import checks, policy

    return PolicyRules(policy=policy, checks=checks)


# ---------------------------------------------------------------------------
# State, decision
# ---------------------------------------------------------------------------

#: Command ids remembered for idempotency, newest last.
COMMAND_MEMORY = 200
#: Rescue request ids remembered for deduplication.
RESCUE_MEMORY = 1000
#: Effects remembered so a failed one can be retried.
EFFECT_MEMORY = 50
#: Drafts kept per incident; finished ones (posted, rejected, blocked) go first.
DRAFT_LIMIT = 20
#: Attempts per effect before a person is asked to do it by hand.
MAX_ATTEMPTS = 2
#: The statement deadline: this long after acknowledgement with nothing posted, offer a holding statement.
STATEMENT_AFTER_S = 2 * 3600
#: 1週間以上続く炎上: 0件 — the guidelines' target.
WEEK_S = 7 * 24 * 3600
#: Who may resolve an incident (the guidelines: the operator or the account owner).
RESOLVER_ROLES = frozenset({"operator", "owner"})
DRILL_LABEL = "【訓練】"
LANGUAGES = ("ja", "easy_ja", "en")

HOLDING_TEXTS = {
    "ja": "現在、事実関係を確認しております。確認の上、改めてお知らせします。",
    "easy_ja": "いま、なにが あったか しらべて います。わかったら、また おしらせ します。",
    "en": "We are confirming the facts. We will let you know again once they are confirmed.",
}

#: Where each platform takes impersonation reports; a profile's `takedown_report_urls` overrides.
REPORT_PAGES = {
    "x": "https://help.x.com/forms/impersonation",
    "facebook": "https://www.facebook.com/help/contact/295309487309948",
    "instagram": "https://help.instagram.com/contact/636276399721841",
    "youtube": "https://support.google.com/youtube/answer/2801947",
}

TYPE_LABELS = {"flame": ("炎上", "flame-up"), "impersonation": ("なりすまし", "impersonation"),
               "misinformation": ("デマ", "misinformation"), "disaster": ("災害", "disaster")}

DETECTOR = {"kind": "detector", "name": "noroshi"}
CLOCK = {"kind": "clock", "name": "timer"}
SEVERITY_RANK = {"low": 0, "medium": 1, "high": 2, "critical": 3}


class UnknownIncidentType(ValueError):
    """A detection names an incident type that has no playbook."""


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

    def draft(self, draft_id: Any) -> Draft | None:
        return next((d for d in self.drafts if d.draft_id == draft_id), None)

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: _tree_copy(getattr(self, f.name)) for f in fields(self)}
        out["drafts"] = [d.to_dict() for d in self.drafts]
        return out

    @classmethod
    def from_dict(cls, obj: Mapping[str, Any]) -> PlaybookState:
        names = {f.name for f in fields(cls)}
        values = {k: _tree_copy(v) for k, v in obj.items() if k in names}
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


class Refusal(NamedTuple):
    reason_ja: str
    reason_en: str


# ---------------------------------------------------------------------------
# decide
# ---------------------------------------------------------------------------

Input = Detection | BoardCommand | Deadline


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
        )
        ctx = _Ctx(st, machine, rules, profile, d, "opened", d.at, DETECTOR)
        ctx.note("incident_opened", {"severity": d.severity, "summary": d.summary,
                                     "evidence": len(d.evidence_ids), "drill": d.drill})
        _must(ctx.fire("opened"))
        return ctx.decision("opened")
    if d.change == "opened" or d.seq <= state.detection_seq:
        return Decision(state=state)  # delivered again, or older than what was applied
    ctx = _Ctx(_copy(state), machine, rules, profile, d, "evidence", d.at, DETECTOR)
    _must(ctx.fire("evidence"))
    # Signals the detector carries; one that does not apply in the current state is
    # on the record through the evidence entry, which carries the metrics.
    for event, present in (("back_to_baseline", d.metrics.get("back_to_baseline") is True),
                           ("account_gone", d.metrics.get("account_gone") is True),
                           ("rescue_requests", bool(d.metrics.get("rescue_requests")))):
        if present and machine.knows(event):
            ctx.event = event
            ctx.fire(event)
    return ctx.decision("updated")


def _on_command(state: PlaybookState | None, cmd: BoardCommand, profile: Mapping[str, Any],
                rules: Rules) -> Decision:
    actor = {"kind": "person", **{k: str(v) for k, v in cmd.actor.items()}}
    if state is None:
        refusal = Refusal("この事案は見つかりません。", "There is no such incident.")
        entry = TimelineEntry(
            entry_id=f"{cmd.incident_id}:rejected:{cmd.command_id}", incident_id=cmd.incident_id,
            municipality=cmd.municipality, at=cmd.at, actor=actor, action="command_rejected",
            detail={"command_id": cmd.command_id, "command": cmd.action, **refusal._asdict()})
        return Decision(state=None, timeline=[entry], rejection=refusal._asdict())
    if cmd.command_id in state.commands:
        return Decision(state=state)
    st = _copy(state)
    st.commands = [*st.commands, cmd.command_id][-COMMAND_MEMORY:]
    ctx = _Ctx(st, machine_for(st.type), rules, profile, cmd, cmd.action, cmd.at, actor)
    if cmd.municipality != st.municipality:
        refusal: Refusal | None = Refusal("他の自治体の事案は操作できません。",
                                          "This incident belongs to another municipality.")
    elif cmd.action not in COMMANDS:
        refusal = Refusal(f"不明な操作です: {cmd.action}", f"Unknown action: {cmd.action}")
    elif cmd.action not in _allowed(actor):
        role = actor.get("role") or actor.get("kind", "")
        ja, en = ROLE_LABELS.get(role, (role or "不明", f"a {role or 'sender without a role'}"))
        label_ja, label_en = action_label(cmd.action)
        refusal = Refusal(f"{ja}には「{label_ja}」の権限がありません。", f"{en[0].upper()}{en[1:]} may not {label_en}.")
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
    st = _copy(state)
    del st.deadlines[dl.name]
    event = f"deadline:{dl.name}"
    ctx = _Ctx(st, machine_for(st.type), rules, profile, dl, event, dl.due_at, CLOCK)
    ctx.note("deadline_passed", {"name": dl.name, "deadline_id": dl.deadline_id})
    refusal = ctx.fire(event)
    if refusal is not None:
        # Not an error a person made: the deadline's reason no longer holds. On the record.
        ctx.note("deadline_not_applicable", {"name": dl.name, **refusal._asdict()})
        return ctx.decision(None)
    return ctx.decision(event)


def _copy(state: PlaybookState) -> PlaybookState:
    return PlaybookState.from_dict(state.to_dict())


def _must(refusal: Refusal | None) -> None:
    if refusal is not None:  # a table that cannot open or take evidence is a bug
        raise AssertionError(refusal.reason_en)


# ---------------------------------------------------------------------------
# The context one input is decided in
# ---------------------------------------------------------------------------


class _Ctx:
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

    # -- inputs --------------------------------------------------------------
    @property
    def payload(self) -> dict[str, Any]:
        return dict(self.inp.payload) if isinstance(self.inp, BoardCommand) else {}

    @property
    def roster(self) -> Roster:
        if self._roster is None:
            self._roster = self.rules.roster(self.profile)
        return self._roster

    @property
    def disaster(self) -> bool:
        return self.st.type == "disaster" or self.st.disaster_time

    # -- the machine ---------------------------------------------------------
    def fire(self, event: str) -> Refusal | None:
        """Take the first transition for `event` whose guards hold, then any that
        follow at once. Guards are checked before anything changes."""
        candidates = self.machine.candidates(self.st.state, event)
        if not candidates:
            return _not_allowed(event, self.st.state)
        refusal: Refusal | None = None
        for t in candidates:
            refusal = self._first_refusal(t)
            if refusal is None:
                self._take(t)
                self._settle()
                return None
        return refusal

    def _first_refusal(self, t: Transition) -> Refusal | None:
        for name in t.guards:
            refusal = GUARDS[name](self)
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
            STEPS[t.step](self)
        if target is not None and target != self.st.state:
            before, self.st.state = self.st.state, target
            if target in TERMINAL:
                self.st.ended = {"at": self.at, "from": before, "how": self.event}
            self.note("state_changed", {"from": before, "to": target, "event": self.event})
            enter = self.machine.on_enter.get(target)
            if enter is not None:
                STEPS[enter](self)

    def _settle(self) -> None:
        for _ in range(20):
            step = next((t for t in self.machine.completions(self.st.state)
                         if self._first_refusal(t) is None), None)
            if step is None:
                return
            self._take(step)
        raise AssertionError(f"{self.machine.type}: completions do not settle in {self.st.state}")

    # -- outputs -------------------------------------------------------------
    def _next(self, counter: str) -> int:
        n = self.st.counters.get(counter, 0) + 1
        self.st.counters[counter] = n
        return n

    def note(self, action: str, detail: dict[str, Any] | None = None) -> None:
        detail = dict(detail or {})
        if isinstance(self.inp, BoardCommand):
            detail.setdefault("command_id", self.inp.command_id)
        n = self._next("timeline")
        self.timeline.append(TimelineEntry(
            entry_id=f"{self.st.incident_id}:{n}:{action}", incident_id=self.st.incident_id,
            municipality=self.st.municipality, at=self.at, actor=dict(self.actor),
            action=action, detail=detail))

    def effect(self, kind: str, payload: dict[str, Any], *, root: str | None = None,
               attempt: int = 1) -> Effect:
        effect_id = f"{self.st.incident_id}:{kind}:{self._next('effect:' + kind)}"
        sent = _labelled(payload) if self.st.drill else _tree_copy(payload)
        if root is not None:
            sent["retry_of"] = root
        made = Effect(effect_id=effect_id, incident_id=self.st.incident_id,
                      municipality=self.st.municipality, kind=kind, at=self.at, payload=sent,
                      drill=self.st.drill)
        self.effects.append(made)
        self.st.sent[effect_id] = {"kind": kind, "payload": _tree_copy(payload),
                                   "root": root or effect_id, "attempt": attempt}
        while len(self.st.sent) > EFFECT_MEMORY:
            del self.st.sent[next(iter(self.st.sent))]
        self.note("effect_requested", {"effect_id": effect_id, "kind": kind, **_brief(payload)})
        return made

    def schedule(self, name: str, due: float, payload: dict[str, Any] | None = None) -> None:
        self.stop(name, quietly=True)
        deadline_id = f"{self.st.incident_id}:{name}:{self._next('deadline:' + name)}"
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
            incident = _incident(self.st, self.machine, change)
        return Decision(state=self.st, incident=incident, effects=self.effects,
                        deadlines=self.deadlines, cancelled=self.cancelled,
                        timeline=self.timeline, rejection=None)

    def rejected(self, refusal: Refusal) -> Decision:
        assert not self.effects and not self.deadlines  # guards run before any step
        self.note("command_rejected", {"command": self.event, **refusal._asdict()})
        return Decision(state=self.st, timeline=self.timeline, rejection=refusal._asdict())


def _not_allowed(event: str, state: str) -> Refusal:
    action_ja, action_en = action_label(event)
    state_ja, state_en = state_label(state)
    return Refusal(f"「{action_ja}」は現在の状態（{state_ja}）ではできません。",
                   f"'{action_en}' is not allowed while the incident is {state_en}.")


def _incident(st: PlaybookState, machine: Machine, change: str) -> Incident:
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
        "drafts": [_draft_view(d) for d in st.drafts],
    }
    if st.source_url is not None:
        metrics["source_url"] = st.source_url
    return Incident(
        incident_id=st.incident_id, municipality=st.municipality, type=st.type, target=st.target,
        opened_at=st.opened_at, severity=st.severity, evidence_ids=list(st.evidence_ids),
        summary=st.summary, state=st.state, change=change, updated_at=st.updated_at,
        version=st.version, metrics=metrics, drill=st.drill, detection_seq=st.detection_seq)


def _draft_view(d: Draft) -> dict[str, Any]:
    view = d.to_dict()
    if d.approval is not None:
        view["approval"] = {**d.approval, "at": iso(d.approval["at"])}
    return view


def _labelled(payload: dict[str, Any]) -> dict[str, Any]:
    """訓練: every text a person could read starts with 【訓練】."""
    out = _tree_copy(payload)
    for key in ("message_ja", "message_en", "report_text_ja", "subject_ja"):
        if isinstance(out.get(key), str):
            out[key] = DRILL_LABEL + out[key]
    if isinstance(out.get("texts"), dict):
        out["texts"] = {lang: DRILL_LABEL + text for lang, text in out["texts"].items()}
    return out


def _brief(payload: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("account", "to", "draft_id", "platform", "handle", "on", "request_id", "where", "reason")
    brief = {k: payload[k] for k in keys if k in payload}
    if isinstance(brief.get("to"), dict):
        brief["to"] = {k: brief["to"].get(k) for k in ("name", "role", "level")}
    return brief


def _plain(value: Any) -> Any:
    """A contact (or its channels) as plain JSON."""
    if is_dataclass(value) and not isinstance(value, type):
        return _plain(asdict(value))
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def _contact(c: Contact) -> dict[str, Any]:
    return {"name": c.name, "role": c.role, "level": c.level, "channels": _plain(c.channels)}


# ---------------------------------------------------------------------------
# Guards: None when the transition may be taken, a Refusal (with reasons) otherwise
# ---------------------------------------------------------------------------

Guard = Callable[[_Ctx], Refusal | None]
GUARDS: dict[str, Guard] = {}


def guard(fn: Guard) -> Guard:
    GUARDS[fn.__name__] = fn
    return fn


def _unless(ok: bool, ja: str, en: str) -> Refusal | None:
    return None if ok else Refusal(ja, en)


@guard
def rescue_known(ctx: _Ctx) -> Refusal | None:
    request_id = ctx.payload.get("request_id")
    return _unless(request_id in ctx.st.rescues, f"この救助要請はありません: {request_id}",
                   f"No such rescue request: {request_id}")


@guard
def rescue_not_yet_handled(ctx: _Ctx) -> Refusal | None:
    return _unless(ctx.payload.get("request_id") not in ctx.st.rescues_handled,
                   "この救助要請は対応済みです。", "This rescue request is already marked handled.")


@guard
def not_yet_acknowledged(ctx: _Ctx) -> Refusal | None:
    ack = ctx.st.acknowledged
    return _unless(ack is None, f"すでに受付済みです（{(ack or {}).get('name')}）。",
                   f"Already acknowledged by {(ack or {}).get('name')}.")


@guard
def below_top_level(ctx: _Ctx) -> Refusal | None:
    return _unless(ctx.rules.next_level(ctx.st.level) is not None,
                   f"すでに最上位（レベル{ctx.st.level}）までエスカレーションしています。",
                   f"Already escalated to the top level ({ctx.st.level}).")


@guard
def at_top_level(ctx: _Ctx) -> Refusal | None:
    return _unless(ctx.rules.next_level(ctx.st.level) is None, "最上位ではありません。",
                   "Not at the top level.")


@guard
def actor_may_resolve(ctx: _Ctx) -> Refusal | None:
    return _unless(ctx.actor.get("role") in RESOLVER_ROLES,
                   "解決・解除できるのは運用担当者または運用管理責任者です。",
                   "Only an operator or the account owner may resolve.")


@guard
def within_reopen_window(ctx: _Ctx) -> Refusal | None:
    ended = parse_ts((ctx.st.ended or {}).get("at", ctx.at))
    return _unless(ctx.now - ended <= REOPEN_WINDOW_S,
                   "終了から7日を過ぎた事案は再開できません。新しい事案として扱ってください。",
                   "An incident can be reopened only within 7 days of ending; open a new one.")


@guard
def effect_known(ctx: _Ctx) -> Refusal | None:
    return _unless(ctx.payload.get("effect_id") in ctx.st.sent,
                   "この事案の最近の送信ではありません。", "Not a recent effect of this incident.")


def _texts(value: Any) -> dict[str, str] | None:
    if not isinstance(value, Mapping) or not all(isinstance(v, str) for v in value.values()):
        return None
    texts = {str(k): v.strip() for k, v in value.items() if v.strip()}
    return texts if texts.get("ja") else None


@guard
def draft_payload_valid(ctx: _Ctx) -> Refusal | None:
    if not isinstance(ctx.payload.get("kind"), str):
        return Refusal("文案の種類（kind）がありません。", "The draft has no kind.")
    if _texts(ctx.payload.get("texts")) is None:
        return Refusal("日本語の本文（texts.ja）が必要です。", "The draft needs a Japanese text (texts.ja).")
    if sum(d.pending or d.status == "approved" for d in ctx.st.drafts) >= DRAFT_LIMIT:
        return Refusal("未処理の文案が多すぎます。", "Too many open drafts.")
    return None


@guard
def kind_expected_here(ctx: _Ctx) -> Refusal | None:
    kind, kinds = ctx.payload.get("kind"), ctx.machine.draft_kinds.get(ctx.st.state, frozenset())
    if kind in kinds:
        return None
    if ctx.st.hold:
        return Refusal("返信保留中は、承認された事案の声明（説明・訂正・謝罪、確認中のお知らせ）以外は投稿できません。",
                       "While replies are held, only an approved incident statement may be posted.")
    return Refusal(f"ここで作成できる文案は {'・'.join(sorted(kinds))} です（{kind}）。",
                   f"Drafts here must be of kind {', '.join(sorted(kinds))}, not {kind}.")


def _preapproval(ctx: _Ctx, category: Any) -> Refusal | None:
    if category is None:
        return None
    if ctx.st.hold:
        return Refusal("返信保留中は事前承認の範囲の投稿もできません。所属長の承認を受けてください。",
                       "While replies are held, pre-approved categories do not apply; the owner must approve.")
    verdict = ctx.rules.check_preapproved_post(str(category), poster_role=ctx.actor.get("role", ""))
    return None if verdict.ok else Refusal(verdict.reason_ja, verdict.reason_en)


@guard
def preapproval_permitted(ctx: _Ctx) -> Refusal | None:
    return _preapproval(ctx, ctx.payload.get("category"))


def _in_phase(ctx: _Ctx, draft: Draft) -> bool:
    """Whether a draft belongs to the current step (a notice draft is not a press release)."""
    kinds = ctx.machine.draft_kinds.get(ctx.st.state)
    return kinds is None or draft.kind in kinds


def _payload_draft(ctx: _Ctx) -> tuple[Draft | None, Refusal | None]:
    draft = ctx.st.draft(ctx.payload.get("draft_id"))
    if draft is None:
        return None, Refusal(f"文案 {ctx.payload.get('draft_id')} はありません。",
                             f"There is no draft {ctx.payload.get('draft_id')}.")
    if not _in_phase(ctx, draft):
        return None, Refusal(f"文案 {draft.draft_id}（{draft.kind}）は現在の手順の文案ではありません。",
                             f"Draft {draft.draft_id} ({draft.kind}) does not belong to the current step.")
    return draft, None


@guard
def draft_editable(ctx: _Ctx) -> Refusal | None:
    draft, missing = _payload_draft(ctx)
    if draft is None:
        return missing
    if draft.status == "posted":
        return Refusal("公開済みの投稿は修正できません（公開記録です）。訂正は新しい文案で行ってください。",
                       "A published post cannot be edited (it is a public record); draft a correction instead.")
    if _texts(ctx.payload.get("texts")) is None:
        return Refusal("日本語の本文（texts.ja）が必要です。", "The draft needs a Japanese text (texts.ja).")
    if ctx.payload.get("kind", draft.kind) != draft.kind:
        return Refusal("文案の種類は変更できません。新しい文案を作成してください。",
                       "A draft's kind cannot change; create a new draft.")
    return _preapproval(ctx, ctx.payload.get("category", draft.category))


@guard
def draft_has_those_warnings(ctx: _Ctx) -> Refusal | None:
    draft, missing = _payload_draft(ctx)
    if draft is None:
        return missing
    codes = ctx.payload.get("codes")
    if draft.status == "blocked":
        return Refusal("投稿できない内容があります。警告の確認ではなく、文案を修正してください。",
                       "The draft has blocking findings: edit it, they cannot be overridden.")
    if not isinstance(codes, list) or not codes or not set(codes) <= draft.warning_codes:
        return Refusal("確認する警告のコードが文案の警告と一致しません。",
                       "The codes do not match the draft's warnings.")
    return None


@guard
def draft_pending(ctx: _Ctx) -> Refusal | None:
    draft, missing = _payload_draft(ctx)
    if draft is None:
        return missing
    return _unless(draft.pending, f"文案 {draft.draft_id} は承認待ちではありません（{draft.status}）。",
                   f"Draft {draft.draft_id} is not awaiting approval ({draft.status}).")


@guard
def draft_ready(ctx: _Ctx) -> Refusal | None:
    draft, _ = _payload_draft(ctx)
    assert draft is not None  # draft_pending comes first
    return _unless(draft.status == "ready",
                   "警告の確認（override_warning）が済んでいないため承認できません。",
                   "The draft's warnings must be overridden before approval.")


@guard
def gives_a_reason(ctx: _Ctx) -> Refusal | None:
    reason = ctx.payload.get("reason")
    return _unless(isinstance(reason, str) and bool(reason.strip()),
                   "差し戻しの理由を書いてください。", "Give a reason for the rejection.")


def _approval_verdict(ctx: _Ctx, draft: Draft, approval: Approval) -> Refusal | None:
    if draft.category is not None:  # 事前承認: the category and the poster's role decide
        verdict = ctx.rules.check_preapproved_post(draft.category, poster_role=approval.approver_role)
    else:
        verdict = ctx.rules.check_approval(approval, drafter=draft.drafter.get("name", ""),
                                           draft_id=draft.draft_id, draft_hash=draft.hash, now=ctx.now)
    return None if verdict.ok else Refusal(verdict.reason_ja, verdict.reason_en)


@guard
def approval_valid(ctx: _Ctx) -> Refusal | None:
    draft, _ = _payload_draft(ctx)
    assert draft is not None
    seen_hash = ctx.payload.get("draft_hash", draft.hash)
    return _approval_verdict(ctx, draft, Approval(
        approver=ctx.actor.get("name", ""), approver_role=ctx.actor.get("role", ""),
        draft_id=draft.draft_id, draft_hash=str(seen_hash), at=ctx.now, category=draft.category))


@guard
def cites_source_in_every_language(ctx: _Ctx) -> Refusal | None:
    draft, _ = _payload_draft(ctx)
    assert draft is not None
    url = ctx.st.source_url
    missing = [lang for lang in LANGUAGES if url is None or url not in draft.texts.get(lang, "")]
    return _unless(not missing,
                   f"訂正文には公式ページのURL（{url}）を日本語・やさしい日本語・英語のすべてに載せてください"
                   f"（不足: {', '.join(missing)}）。",
                   f"The correction must link the official page ({url}) in ja, easy_ja and en "
                   f"(missing: {', '.join(missing)}).")


@guard
def a_draft_awaits_approval(ctx: _Ctx) -> Refusal | None:
    return _unless(any(d.pending and _in_phase(ctx, d) for d in ctx.st.drafts),
                   "承認待ちの文案はありません。", "No draft awaits approval.")


@guard
def no_draft_awaits_approval(ctx: _Ctx) -> Refusal | None:
    return _unless(not any(d.pending and _in_phase(ctx, d) for d in ctx.st.drafts),
                   "承認待ちの文案があります。", "A draft awaits approval.")


def _may_post(ctx: _Ctx) -> bool:
    return ctx.rules.may_post_now(ctx.now, incident_type=ctx.st.type, severity=ctx.st.severity,
                                  disaster=ctx.disaster)


@guard
def may_post_now(ctx: _Ctx) -> Refusal | None:
    return _unless(_may_post(ctx), "開庁時間外です。", "Outside business hours.")


@guard
def must_wait_for_business_hours(ctx: _Ctx) -> Refusal | None:
    return _unless(not _may_post(ctx), "今すぐ投稿できます。", "Posting is allowed now.")


def _approved(ctx: _Ctx) -> Draft:
    draft = ctx.st.draft(ctx.st.approved_draft)
    assert draft is not None and draft.approval is not None, "no approved draft"
    return draft


def _still_valid(ctx: _Ctx) -> Refusal | None:
    draft = _approved(ctx)
    return _approval_verdict(ctx, draft, Approval(**draft.approval))  # type: ignore[arg-type]


@guard
def approval_still_valid(ctx: _Ctx) -> Refusal | None:
    return _still_valid(ctx)


@guard
def approval_lapsed(ctx: _Ctx) -> Refusal | None:
    return _unless(_still_valid(ctx) is not None, "承認は有効です。", "The approval is still valid.")


@guard
def final_statement(ctx: _Ctx) -> Refusal | None:
    return _unless(_approved(ctx).kind != "holding", "確認中のお知らせです。", "This is a holding statement.")


@guard
def holding_statement(ctx: _Ctx) -> Refusal | None:
    return _unless(_approved(ctx).kind == "holding", "確認中のお知らせではありません。", "Not a holding statement.")


@guard
def is_the_queued_draft(ctx: _Ctx) -> Refusal | None:
    return _unless(ctx.payload.get("draft_id") == ctx.st.approved_draft,
                   "開庁時間待ちの文案ではありません。", "That is not the queued draft.")


@guard
def no_statement_out(ctx: _Ctx) -> Refusal | None:
    out = any(d.status == "posted" or d.kind == "holding" for d in ctx.st.drafts)
    return _unless(not out, "声明または確認中のお知らせは既に出ているか用意されています。",
                   "A statement or holding statement is already out or offered.")


@guard
def nothing_published(ctx: _Ctx) -> Refusal | None:
    return _unless(not any(d.status == "posted" for d in ctx.st.drafts),
                   "すでに投稿しているため誤検知にはできません。解決として終了してください。",
                   "Something was already published; resolve the incident instead.")


def _quiet(ctx: _Ctx) -> bool:
    return ctx.now - parse_ts(ctx.st.last_evidence_at) >= ctx.machine.quiet_s


@guard
def quiet_long_enough(ctx: _Ctx) -> Refusal | None:
    return _unless(_quiet(ctx), "まだ新しい反応があります。", "New evidence arrived recently.")


@guard
def still_active(ctx: _Ctx) -> Refusal | None:
    return _unless(not _quiet(ctx), "反応は落ち着いています。", "It has been quiet.")


@guard
def has_source_url(ctx: _Ctx) -> Refusal | None:
    url = ctx.payload.get("source_url")
    ok = isinstance(url, str) and urlsplit(url).scheme in ("http", "https") and bool(urlsplit(url).netloc)
    return _unless(ok, "正しい情報が載っている公式ページのURL（source_url）が必要です。",
                   "The URL of the official page with the correct information (source_url) is required.")


@guard
def account_not_yet_gone(ctx: _Ctx) -> Refusal | None:
    return _unless(not ctx.st.account_gone, "アカウントの削除は記録済みです。", "The account is already recorded as gone.")


@guard
def account_is_gone(ctx: _Ctx) -> Refusal | None:
    return _unless(ctx.st.account_gone, "アカウントはまだ残っています。", "The account is still there.")


def _press_warranted(ctx: _Ctx) -> bool:
    return ctx.disaster or SEVERITY_RANK.get(ctx.st.severity, 0) >= SEVERITY_RANK["high"]


@guard
def press_warranted(ctx: _Ctx) -> Refusal | None:
    return _unless(_press_warranted(ctx), "報道提供は不要です。", "No press release needed.")


@guard
def press_not_warranted(ctx: _Ctx) -> Refusal | None:
    return _unless(not _press_warranted(ctx), "報道提供が必要です。", "A press release is needed.")


# ---------------------------------------------------------------------------
# Steps: change the state, ask for effects, schedule deadlines, write the record
# ---------------------------------------------------------------------------

Step = Callable[[_Ctx], None]
STEPS: dict[str, Step] = {}


def step(fn: Step) -> Step:
    STEPS[fn.__name__] = fn
    return fn


def _accounts(profile: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [{"platform": a.get("platform"), "handle": a.get("handle")}
            for a in profile.get("accounts") or () if isinstance(a, Mapping) and a.get("handle")]


def _held_account(ctx: _Ctx) -> dict[str, Any]:
    target = ctx.st.target.lstrip("@").lower()
    return next((a for a in _accounts(ctx.profile) if str(a["handle"]).lower() == target),
                {"platform": None, "handle": ctx.st.target})


def _message(ctx: _Ctx, reason: str) -> tuple[str, str]:
    type_ja, type_en = TYPE_LABELS.get(ctx.st.type, (ctx.st.type, ctx.st.type))
    head_ja = f"【{type_ja}】{ctx.st.target}: {ctx.st.summary}"
    head_en = f"[{type_en}] {ctx.st.target} (severity {ctx.st.severity})"
    ja, en = {
        "opened": ("ボードで確認し、受付してください。", "Please check the board and acknowledge."),
        "ack_missed": ("受付がないため、エスカレーションしました。ボードで受付してください。",
                       "Not acknowledged in time: escalated to you. Please acknowledge on the board."),
        "escalated": ("エスカレーションされました。ボードで確認してください。",
                      "Escalated to you. Please check the board."),
        "reported": ("なりすましアカウントを確認しました（報告）。削除依頼を行います。",
                     "An impersonation of an official account was confirmed; a takedown is being requested."),
        "week_open": ("炎上が1週間続いています。最上位で対応してください。",
                      "This flame-up has lasted a week: it is raised to the top."),
        "approval_requested": ("文案の承認をお願いします。", "A draft awaits your approval."),
        "approval_lapsed": ("承認の有効期限が切れたため投稿していません。再承認してください。",
                            "The approval expired before posting; please approve again."),
        "preapproved_posted": ("事前承認の範囲で投稿しました（事後報告）。",
                               "Posted within a pre-approved category (report after posting)."),
        "channel_failed": ("送信に失敗しました。手動で対応してください。",
                           "Delivery failed; please carry it out by hand."),
        "possibly_sent": ("送信中に処理が中断され、送信済みの可能性があります（自動では再送しません）。"
                          "相手に届いたか確認し、届いていなければ手動で再送してください。",
                          "A delivery was cut off by a restart and was possibly sent (it is not resent by"
                          " itself): check whether it arrived and resend it by hand if not."),
        "unreachable": ("担当者に通知が届きませんでした。代わりに確認し、担当者に連絡してください。",
                        "A notification could not reach the person on duty: please check in their place "
                        "and contact them."),
    }[reason]
    return f"{head_ja}\n{ja}", f"{head_en}: {ctx.st.summary}\n{en}"


def _notify(ctx: _Ctx, contacts: Iterable[Contact], reason: str, *, ack: bool = False,
            extra: Mapping[str, Any] | None = None) -> None:
    """One notify effect per person (one failing does not stop the others)."""
    if ack:
        due = ctx.rules.ack_deadline(ctx.st.severity, ctx.now)
        ctx.st.ack_since, ctx.st.ack_due = ctx.at, iso(due)
        ctx.schedule("ack", due)
    message_ja, message_en = _message(ctx, reason)
    seen: set[str] = set()
    for contact in contacts:
        if contact.name in seen:
            continue
        seen.add(contact.name)
        ctx.effect("notify", {
            "to": _contact(contact), "level": ctx.st.level, "reason": reason, "severity": ctx.st.severity,
            "message_ja": message_ja, "message_en": message_en,
            "ack_due": ctx.st.ack_due if ack else None, **(extra or {}),
        })


def _at_level(ctx: _Ctx, level: int) -> list[Contact]:
    return list(ctx.rules.recipients(ctx.roster, level, ctx.now, ctx.st.severity, ctx.disaster))


def _with_role(ctx: _Ctx, *roles: str) -> list[Contact]:
    return [c for role in roles for c in ctx.roster.with_role(role)]


@step
def hold_replies_and_notify(ctx: _Ctx) -> None:
    """炎上: no rebuttal on anyone's own judgement — hold replies first, then 広報課 and the owner."""
    ctx.st.hold = True
    ctx.effect("hold_replies", {"account": _held_account(ctx),
                                "reason": "炎上対応中のため、返信を保留します。"})
    _notify(ctx, [*_at_level(ctx, 1), *_with_role(ctx, "pr")], "opened", ack=True)
    ctx.schedule("week_open", parse_ts(ctx.st.opened_at) + WEEK_S)


@step
def notify_on_call(ctx: _Ctx) -> None:
    _notify(ctx, _at_level(ctx, 1), "opened", ack=True)


@step
def enter_disaster_mode(ctx: _Ctx) -> None:
    ctx.st.disaster_mode = True
    ctx.effect("disaster_mode", {"on": True, "hashtag": ctx.st.target, "allow_out_of_hours": True,
                                 "queue_rescues": True, "tighten_misinformation": True})
    _notify(ctx, _at_level(ctx, 1), "opened", ack=True)
    queue_rescues(ctx)


def _acknowledge(ctx: _Ctx, *, implicit: bool = False) -> None:
    if ctx.st.acknowledged is not None:
        return
    ctx.st.acknowledged = {"name": ctx.actor.get("name"), "role": ctx.actor.get("role"), "at": ctx.at}
    ctx.st.ack_due = None
    ctx.note("acknowledged", {"level": ctx.st.level, "implicit": implicit})
    ctx.stop("ack")


@step
def acknowledge(ctx: _Ctx) -> None:
    _acknowledge(ctx)


@step
def acknowledge_and_start_statement_clock(ctx: _Ctx) -> None:
    _acknowledge(ctx)
    ctx.schedule("statement", ctx.now + STATEMENT_AFTER_S)


def _escalate(ctx: _Ctx, reason: str) -> None:
    before = ctx.st.level
    level = ctx.rules.next_level(before)
    assert level is not None  # below_top_level
    ctx.st.level = level
    ctx.note("escalated", {"from": before, "to": level, "reason": reason})
    _notify(ctx, _at_level(ctx, level), reason, ack=ctx.st.acknowledged is None)


@step
def escalate(ctx: _Ctx) -> None:
    _escalate(ctx, "escalated")


@step
def escalate_unanswered(ctx: _Ctx) -> None:
    _escalate(ctx, "ack_missed")


@step
def note_unanswered_at_top(ctx: _Ctx) -> None:
    ctx.st.ack_due = None
    ctx.note("escalation_exhausted", {"level": ctx.st.level})


@step
def raise_to_the_top(ctx: _Ctx) -> None:
    """1週間以上続く炎上: 0件 — a week-old flame-up goes to the top, severity critical."""
    if ctx.st.severity != "critical":
        ctx.note("severity_raised", {"from": ctx.st.severity, "to": "critical", "reason": "week_open"})
        ctx.st.severity = "critical"
    before = ctx.st.level
    while (up := ctx.rules.next_level(ctx.st.level)) is not None:
        ctx.st.level = up
    ctx.note("week_long_flame", {"from": before, "to": ctx.st.level})
    _notify(ctx, [*_at_level(ctx, ctx.st.level), *_with_role(ctx, "pr_head")], "week_open")


def _trusted_domains(profile: Mapping[str, Any]) -> list[str]:
    domains = [str(d) for d in profile.get("trusted_domains") or ()]
    muni = profile.get("municipality") or {}
    for key in ("website", "url"):
        host = urlsplit(str(muni.get(key) or "")).hostname
        if host:
            domains.append(host)
    return domains


def _check(ctx: _Ctx, texts: Mapping[str, str]) -> tuple[str, list[dict[str, Any]]]:
    """The pre-post check on every language: status and findings of a draft."""
    raw: list[CheckFinding] = []
    findings = []
    for lang, text in texts.items():
        for f in ctx.rules.prepost_check(
                text, trusted_domains=_trusted_domains(ctx.profile),
                official_contacts=[str(c) for c in ctx.profile.get("official_contacts") or ()]):
            raw.append(f)
            findings.append({"code": f.code, "level": f.level, "message_ja": f.message_ja,
                             "message_en": f.message_en, "excerpt": f.excerpt, "lang": lang})
    if ctx.rules.blocking(raw):
        return "blocked", findings
    return ("needs_override" if any(f["level"] != "block" for f in findings) else "ready"), findings


def _ask_owner_if_ready(ctx: _Ctx, draft: Draft) -> None:
    if draft.status == "ready" and draft.category is None:
        _notify(ctx, _with_role(ctx, "owner"), "approval_requested", extra={"draft_id": draft.draft_id})


def _new_draft(ctx: _Ctx, kind: str, texts: dict[str, str], category: str | None,
               drafter: dict[str, str]) -> Draft:
    n = ctx._next("draft")
    status, findings = _check(ctx, texts)
    draft = Draft(draft_id=f"{ctx.st.incident_id}:draft:{n}", kind=kind, texts=texts,
                  drafter=drafter, at=ctx.at, hash=ctx.rules.draft_hash(texts), status=status,
                  findings=findings, category=category)
    ctx.st.drafts.append(draft)
    finished = [d for d in ctx.st.drafts if d.status in ("posted", "rejected", "blocked")]
    while len(ctx.st.drafts) > DRAFT_LIMIT and finished:
        ctx.st.drafts.remove(finished.pop(0))
    ctx.note("draft_saved", {"draft_id": draft.draft_id, "kind": kind, "status": status,
                             "draft_hash": draft.hash, "category": category, "findings": findings})
    _ask_owner_if_ready(ctx, draft)
    return draft


@step
def store_draft(ctx: _Ctx) -> None:
    p = ctx.payload
    texts = _texts(p["texts"])
    assert texts is not None
    category = p.get("category")
    _new_draft(ctx, p["kind"], texts, None if category is None else str(category),
               {"name": ctx.actor.get("name", ""), "role": ctx.actor.get("role", "")})


def _drop_approval(ctx: _Ctx, draft: Draft) -> bool:
    """An edited or withdrawn draft loses its approval (and its place in the queue)."""
    had = draft.approval is not None
    draft.approval = None
    if ctx.st.approved_draft == draft.draft_id:
        ctx.st.approved_draft = None
        ctx.stop("business_open")
    return had


@step
def edit_draft(ctx: _Ctx) -> None:
    draft = ctx.st.draft(ctx.payload["draft_id"])
    assert draft is not None
    texts = _texts(ctx.payload["texts"])
    assert texts is not None
    invalidated = _drop_approval(ctx, draft)
    draft.texts, draft.revision, draft.reason = texts, draft.revision + 1, None
    if "category" in ctx.payload:
        draft.category = None if ctx.payload["category"] is None else str(ctx.payload["category"])
    draft.hash = ctx.rules.draft_hash(texts)
    draft.status, draft.findings = _check(ctx, texts)
    draft.overridden = []
    ctx.note("draft_edited", {"draft_id": draft.draft_id, "revision": draft.revision,
                              "status": draft.status, "draft_hash": draft.hash,
                              "findings": draft.findings, "approval_invalidated": invalidated})
    _ask_owner_if_ready(ctx, draft)


@step
def override_warnings(ctx: _Ctx) -> None:
    draft = ctx.st.draft(ctx.payload["draft_id"])
    assert draft is not None
    draft.overridden = sorted({*draft.overridden, *ctx.payload["codes"]})
    if draft.warning_codes <= set(draft.overridden):
        draft.status = "ready"
    ctx.note("warnings_overridden", {"draft_id": draft.draft_id, "codes": sorted(ctx.payload["codes"]),
                                     "status": draft.status})
    _ask_owner_if_ready(ctx, draft)


@step
def reject_draft(ctx: _Ctx) -> None:
    draft = ctx.st.draft(ctx.payload["draft_id"])
    assert draft is not None
    _drop_approval(ctx, draft)
    draft.status, draft.reason = "rejected", ctx.payload["reason"].strip()
    ctx.note("draft_rejected", {"draft_id": draft.draft_id, "reason": draft.reason})


@step
def record_approval(ctx: _Ctx) -> None:
    draft = ctx.st.draft(ctx.payload["draft_id"])
    assert draft is not None
    draft.status = "approved"
    draft.approval = asdict(Approval(
        approver=ctx.actor.get("name", ""), approver_role=ctx.actor.get("role", ""),
        draft_id=draft.draft_id, draft_hash=draft.hash, at=ctx.now, category=draft.category))
    ctx.st.approved_draft = draft.draft_id
    ctx.note("draft_approved", {"draft_id": draft.draft_id, "kind": draft.kind,
                                "draft_hash": draft.hash, "category": draft.category})


@step
def queue_until_business_hours(ctx: _Ctx) -> None:
    due = ctx.rules.next_business_open(ctx.now)
    ctx.note("post_queued", {"draft_id": ctx.st.approved_draft, "until": iso(due)})
    ctx.schedule("business_open", due, {"draft_id": ctx.st.approved_draft})


@step
def lapse_approval(ctx: _Ctx) -> None:
    draft = _approved(ctx)
    refusal = _still_valid(ctx)
    assert refusal is not None
    _drop_approval(ctx, draft)
    draft.status = "ready"
    ctx.note("approval_expired", {"draft_id": draft.draft_id, **refusal._asdict()})
    _notify(ctx, _with_role(ctx, "owner"), "approval_lapsed", extra={"draft_id": draft.draft_id})


def _publish(ctx: _Ctx) -> Draft:
    """Mark the approved draft posted; the caller asks for the effect(s)."""
    draft = _approved(ctx)
    draft.status, draft.posted_at = "posted", ctx.at
    ctx.st.approved_draft = None
    ctx.stop("business_open", quietly=True)
    ctx.note("draft_published", {"draft_id": draft.draft_id, "kind": draft.kind,
                                 "approver": (draft.approval or {}).get("approver"),
                                 "category": draft.category})
    return draft


def _incident_brief(ctx: _Ctx) -> dict[str, Any]:
    """What a press release or a website notice says of the incident itself (経緯)."""
    return {"type": ctx.st.type, "target": ctx.st.target, "severity": ctx.st.severity,
            "opened_at": ctx.st.opened_at, "summary": ctx.st.summary}


def _post_payload(draft: Draft, **extra: Any) -> dict[str, Any]:
    approval = dict(draft.approval or {})
    approval["at"] = iso(approval["at"]) if "at" in approval else None
    return {"draft_id": draft.draft_id, "kind": draft.kind, "texts": dict(draft.texts),
            "drafter": dict(draft.drafter), "approval": approval, **extra}


def _report_preapproved(ctx: _Ctx, draft: Draft) -> None:
    if draft.category is not None:  # 事後報告: the owner learns promptly of a pre-approved post
        _notify(ctx, _with_role(ctx, "owner"), "preapproved_posted", extra={"draft_id": draft.draft_id})


@step
def post_statement_on_account(ctx: _Ctx) -> None:
    draft = _publish(ctx)
    ctx.effect("post_statement", _post_payload(draft, account=_held_account(ctx)))
    ctx.stop("statement")
    _report_preapproved(ctx, draft)


@step
def post_correction_everywhere(ctx: _Ctx) -> None:
    """One effect per official account, so one channel failing does not stop the others."""
    draft = _publish(ctx)
    for account in _accounts(ctx.profile):
        ctx.effect("post_statement", _post_payload(draft, account=account, source_url=ctx.st.source_url))
    _report_preapproved(ctx, draft)


@step
def publish_notice(ctx: _Ctx) -> None:
    draft = _publish(ctx)
    fake = {"platform": ctx.st.metrics.get("platform"), "handle": ctx.st.target}
    ctx.effect("publish_notice", _post_payload(draft, where="website", fake=fake, incident=_incident_brief(ctx)))
    _report_preapproved(ctx, draft)


@step
def notify_press_with_release(ctx: _Ctx) -> None:
    draft = _publish(ctx)
    ctx.effect("notify_press", _post_payload(draft, incident=_incident_brief(ctx)))
    _report_preapproved(ctx, draft)


@step
def notify_press_of_correction(ctx: _Ctx) -> None:
    draft = next(d for d in reversed(ctx.st.drafts) if d.status == "posted")
    ctx.effect("notify_press", _post_payload(draft, source_url=ctx.st.source_url, incident=_incident_brief(ctx),
                                             reason="disaster" if ctx.disaster else "severity"))


@step
def offer_holding_statement(ctx: _Ctx) -> None:
    """対応に時間を要する場合は、その旨の書き込み: silence is criticised too."""
    ctx.note("holding_statement_offered", {"after_s": STATEMENT_AFTER_S})
    _new_draft(ctx, "holding", dict(HOLDING_TEXTS), None, dict(DETECTOR))


@step
def watch_for_quiet(ctx: _Ctx) -> None:
    start = max(ctx.now, parse_ts(ctx.st.last_evidence_at))
    ctx.schedule("monitoring_end", start + ctx.machine.quiet_s)


@step
def keep_watching(ctx: _Ctx) -> None:
    ctx.schedule("monitoring_end", parse_ts(ctx.st.last_evidence_at) + ctx.machine.quiet_s)


@step
def report_to_pr_and_info_policy(ctx: _Ctx) -> None:
    _acknowledge(ctx, implicit=True)
    ctx.note("verified", {"handle": ctx.st.target, "platform": ctx.st.metrics.get("platform")})
    _notify(ctx, _with_role(ctx, "pr", "info_policy"), "reported")


@step
def request_takedown(ctx: _Ctx) -> None:
    """削除依頼: the platform's report page and a prepared report in Japanese."""
    platform = str(ctx.st.metrics.get("platform") or "")
    pages = {**REPORT_PAGES, **dict(ctx.profile.get("takedown_report_urls") or {})}
    muni = ctx.profile.get("municipality") or {}
    city = muni.get("name") or ctx.st.municipality
    official = ctx.st.metrics.get("resembles")
    whom = f"公式アカウント @{official}" if official else "公式アカウント"
    site = muni.get("website") or muni.get("url")
    text = (f"{city}の{whom}になりすましたアカウント @{ctx.st.target} を確認しました。"
            f"このアカウントは{city}が運用するものではありません。"
            f"住民の誤認や被害を招くおそれがあるため、削除をお願いします。"
            + (f"{city}の公式アカウントは {site} に掲載しています。" if site else "")
            + f"（検知内容: {ctx.st.summary}）")
    ctx.effect("request_takedown", {"platform": platform or None, "handle": ctx.st.target,
                                    "report_url": pages.get(platform), "report_text_ja": text,
                                    "resembles": official})


@step
def note_account_gone(ctx: _Ctx) -> None:
    ctx.st.account_gone = True
    ctx.note("account_gone", {"handle": ctx.st.target})


@step
def record_source(ctx: _Ctx) -> None:
    _acknowledge(ctx, implicit=True)
    before, ctx.st.source_url = ctx.st.source_url, ctx.payload["source_url"]
    ctx.note("fact_checked", {"source_url": ctx.st.source_url, "replaces": before})


@step
def queue_rescues(ctx: _Ctx) -> None:
    """救助要請: each request once, however often the detector reports it."""
    for request in ctx.st.metrics.get("rescue_requests") or ():
        request_id = request.get("id") if isinstance(request, Mapping) else None
        if not request_id or request_id in ctx.st.rescues:
            continue
        ctx.st.rescues = [*ctx.st.rescues, request_id][-RESCUE_MEMORY:]
        ctx.effect("queue_rescue", {"request_id": request_id, "hashtag": ctx.st.target,
                                    **{k: request.get(k) for k in ("at", "place", "text", "kind", "copies")}})


@step
def mark_rescue_handled(ctx: _Ctx) -> None:
    """An operator took a rescue request in hand (passed to 消防・警察, or answered): on the record."""
    request_id = str(ctx.payload.get("request_id"))
    ctx.st.rescues_handled = [*ctx.st.rescues_handled, request_id][-RESCUE_MEMORY:]
    ctx.note("rescue_handled", {"request_id": request_id, "note": str(ctx.payload.get("note") or "")[:500]})


@step
def wind_down(ctx: _Ctx) -> None:
    """Entering resolved/closed: stop every clock, release what the playbook put in place."""
    for name in list(ctx.st.deadlines):
        ctx.stop(name)
    ctx.st.ack_due = None
    queued = ctx.st.draft(ctx.st.approved_draft)
    if queued is not None:
        _drop_approval(ctx, queued)
        queued.status = "ready"
        ctx.note("queued_post_cancelled", {"draft_id": queued.draft_id})
    if ctx.st.hold:
        ctx.st.hold = False
        ctx.effect("release_hold", {"account": _held_account(ctx)})
    if ctx.st.disaster_mode:
        ctx.st.disaster_mode = False
        ctx.effect("disaster_mode", {"on": False, "hashtag": ctx.st.target})


@step
def reopen(ctx: _Ctx) -> None:
    ctx.note("reopened", {"ended": ctx.st.ended})
    ctx.st.ended = None
    ctx.st.account_gone = False
    if ctx.st.type == "flame":
        ctx.st.hold = True
        ctx.effect("hold_replies", {"account": _held_account(ctx),
                                    "reason": "炎上対応の再開のため、返信を保留します。"})
    if ctx.st.type == "disaster":
        ctx.st.disaster_mode = True
        ctx.effect("disaster_mode", {"on": True, "hashtag": ctx.st.target, "allow_out_of_hours": True,
                                     "queue_rescues": True, "tighten_misinformation": True})


@step
def handle_failed_channel(ctx: _Ctx) -> None:
    """A responder could not carry an effect out: retry once, then ask a person. Others stand."""
    p = ctx.payload
    sent = ctx.st.sent[p["effect_id"]]
    ctx.note("channel_failed", {"effect_id": p["effect_id"], "kind": sent["kind"],
                                "channel": p.get("channel"), "error": p.get("error")})
    if sent["attempt"] < MAX_ATTEMPTS:
        ctx.effect(sent["kind"], sent["payload"], root=sent["root"], attempt=sent["attempt"] + 1)
    elif sent["kind"] != "notify":
        _notify(ctx, _at_level(ctx, ctx.st.level), "channel_failed",
                extra={"failed_effect": sent["root"], "failed_kind": sent["kind"],
                       "channel": p.get("channel"), "error": p.get("error")})
    elif sent["payload"].get("reason") != "unreachable":
        # A person no channel reaches: tell the others — this level, the next, and 広報課 —
        # through their own channels, so the notification is carried, not dropped.
        unreached = str((sent["payload"].get("to") or {}).get("name") or "")
        others = [c for c in (*_at_level(ctx, ctx.st.level), *_at_level(ctx, ctx.st.level + 1),
                              *_with_role(ctx, "pr")) if c.name != unreached]
        ctx.note("delivery_gave_up", {"effect_id": p["effect_id"], "to": unreached,
                                      "handed_to": sorted({c.name for c in others})})
        _notify(ctx, others, "unreachable",
                extra={"failed_effect": sent["root"], "failed_kind": "notify", "unreached": unreached,
                       "channel": p.get("channel"), "error": p.get("error")})
    else:
        ctx.note("delivery_gave_up", {"effect_id": p["effect_id"]})  # the board shows it (no loop)


@step
def ask_about_possibly_sent(ctx: _Ctx) -> None:
    """送信済みの可能性: a send cut off by a crash, through a channel that cannot tell a repeat.
    Not retried (it may have arrived); the people at the current level are asked to check it."""
    p = ctx.payload
    sent = ctx.st.sent[p["effect_id"]]
    where = f"{p.get('channel')}（{p['to']}）" if p.get("to") else str(p.get("channel"))
    ctx.note("delivery_possibly_sent", {
        "message_ja": f"送信済みの可能性：{where}。自動では再送せず、担当者に確認を依頼しました。",
        "message_en": f"Possibly sent through {p.get('channel')}: not resent; the people on call are asked"
                      " to check it.",
        "effect_id": p["effect_id"], "kind": sent["kind"], "channel": p.get("channel"), "to": p.get("to"),
        "key": p.get("key")})
    if sent["payload"].get("reason") != "possibly_sent":  # never a chain of checks about checks
        _notify(ctx, _at_level(ctx, ctx.st.level), "possibly_sent",
                extra={"failed_effect": sent["root"], "failed_kind": sent["kind"],
                       "channel": p.get("channel"), "possibly_sent_to": p.get("to")})


@step
def apply_evidence(ctx: _Ctx) -> None:
    """A newer detection: evidence, metrics, and severity that never goes down."""
    d = ctx.inp
    assert isinstance(d, Detection)
    st = ctx.st
    severity = max(st.severity, d.severity, key=lambda s: SEVERITY_RANK.get(s, -1))
    if severity != st.severity:
        ctx.note("severity_raised", {"from": st.severity, "to": severity})
    st.severity, st.evidence_ids, st.summary = severity, list(d.evidence_ids), d.summary
    st.metrics, st.detection_seq, st.last_evidence_at = dict(d.metrics), d.seq, d.at
    st.disaster_time = st.disaster_time or d.metrics.get("disaster_active") is True
    ctx.note("evidence_added", {"metrics": d.metrics, "seq": d.seq})
    # A rising severity may shorten the time to acknowledge.
    live = st.deadlines.get("ack")
    if live is not None and st.acknowledged is None and st.ack_since is not None:
        due = ctx.rules.ack_deadline(severity, parse_ts(st.ack_since))
        if due < parse_ts(live["due_at"]):
            st.ack_due = iso(due)
            ctx.schedule("ack", due)


def _check_tables() -> None:
    for machine in MACHINES.values():
        for t in machine.transitions:
            missing = [g for g in t.guards if g not in GUARDS] + (
                [t.step] if t.step and t.step not in STEPS else [])
            missing += [s for s in machine.on_enter.values() if s not in STEPS]
            assert not missing, f"{machine.type}: no guard/step named {missing}"


_check_tables()

__all__ = [
    "Approval", "CLOSED", "Decision", "Draft", "PlaybookState", "PolicyRules", "RESOLVED",
    "Rules", "UnknownIncidentType", "decide", "default_rules",
]
