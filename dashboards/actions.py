"""Which actions a signed-in person may take on an incident now, and how a submitted
form becomes a typed command (`vocabulary.commands`) and then a `BoardCommand` for the playbooks. Pure.

Two layers: the role decides what a person may ever do (enforced here, on the
server, whatever the form says); the incident's state and drafts decide what is
offered now (the playbook remains the judge: if the state moved on in between,
its refusal appears in the timeline and on the page).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from dashboards.users import ACTOR_ROLES, User
from playbooks.machines import MACHINES, ROLE_COMMANDS, TERMINAL
from playbooks.policy import APPROVER_ROLES
from vocabulary.commands import (
    COMMAND_TYPES, AccountGone, Acknowledge, Approve, DisasterModeOff, EditDraft, Escalate, FactCheck,
    MarkFalsePositive, NewDraft, OverrideWarning, Reject, Reopen, RescueHandled, Resolve, TypedCommand, Verify,
)
from vocabulary.records import BoardCommand, Incident, iso
from vocabulary.typed import ABSENT

#: What each board role may ever do: what the playbooks let the role it acts as send.
ROLE_ACTIONS: Mapping[str, frozenset[str]] = {
    role: ROLE_COMMANDS.get(actor or "", frozenset()) for role, actor in ACTOR_ROLES.items()
}
DRAFT_LANGS = ("ja", "easy_ja", "en")
#: The kind a new draft starts as: the step's main text first, the holding statement last.
KIND_ORDER = ("statement", "correction", "warning", "press", "holding")
PREAPPROVED = ("published", "established_fact", "legal_procedure", "faq")
TEXT_LIMIT = 5000
REASON_LIMIT = 1000


class FormError(ValueError):
    """A submitted action form that cannot become a command; the message names the field."""


@dataclass(frozen=True)
class Offer:
    """One action offered on the page (for a draft when `draft_id` is set)."""

    action: str
    draft: Mapping[str, Any] | None = None
    kinds: tuple[str, ...] = ()  # for "draft": the kinds the current step accepts
    note: str = ""  # why an action is shown but cannot be taken by this person

    @property
    def draft_id(self) -> str | None:
        return None if self.draft is None else str(self.draft.get("draft_id"))


@dataclass(frozen=True)
class Offers:
    incident: list[Offer] = field(default_factory=list)
    drafts: dict[str, list[Offer]] = field(default_factory=dict)
    own_drafts: frozenset[str] = frozenset()  # drafts this person wrote: they cannot approve them


def may(user: User, action: str, draft: Mapping[str, Any] | None = None) -> bool:
    """Whether this person may ever take `action` (on `draft`, for a draft's actions). Only the
    owner and the head of PR approve; an operator may publish a draft of a pre-approved
    category (事前承認の範囲), which is what "approve" means for such a draft."""
    if action not in ROLE_ACTIONS.get(user.role, frozenset()):
        return False
    if action == "approve" and user.actor_role not in APPROVER_ROLES:
        return draft is not None and bool(draft.get("category"))
    return True


def draft_of(incident: Incident, draft_id: str | None) -> Mapping[str, Any] | None:
    return next((d for d in drafts_of(incident) if str(d.get("draft_id")) == draft_id), None)


def drafts_of(incident: Incident) -> list[dict[str, Any]]:
    return [d for d in incident.metrics.get("drafts") or () if isinstance(d, dict)]


def offers(user: User, incident: Incident) -> Offers:
    """What this person may do on this incident in its current state."""
    machine = MACHINES.get(incident.type)
    if machine is None or not user.sees(incident.municipality):
        return Offers()
    state, m = incident.state, incident.metrics

    def open_to(action: str, draft: Mapping[str, Any] | None = None) -> bool:
        return may(user, action, draft) and bool(machine.candidates(state, action))

    drafts = drafts_of(incident)
    posted = any(d.get("status") == "posted" for d in drafts)
    kinds = tuple(sorted((str(k) for k in m.get("draft_kinds") or ()),
                         key=lambda k: KIND_ORDER.index(k) if k in KIND_ORDER else len(KIND_ORDER)))
    out: list[Offer] = []
    if open_to("acknowledge") and not m.get("acknowledged_by") and state not in TERMINAL:
        out.append(Offer("acknowledge"))
    for action in ("verify", "fact_check"):
        if open_to(action):
            out.append(Offer(action))
    if open_to("draft") and kinds:
        out.append(Offer("draft", kinds=kinds))
    if open_to("escalate") and int(m.get("level") or 1) < 3:
        out.append(Offer("escalate"))
    if open_to("account_gone"):
        out.append(Offer("account_gone"))
    if open_to("disaster_mode_off"):
        out.append(Offer("disaster_mode_off"))
    elif open_to("resolve"):
        out.append(Offer("resolve"))
    if open_to("mark_false_positive") and not posted:
        out.append(Offer("mark_false_positive"))
    if open_to("reopen"):
        out.append(Offer("reopen"))

    per_draft: dict[str, list[Offer]] = {}
    own = frozenset(str(d.get("draft_id")) for d in drafts
                    if str((d.get("drafter") or {}).get("name", "")) == user.name)
    queued = state.endswith("queued")
    for d in drafts:
        draft_id, status = str(d.get("draft_id")), d.get("status")
        in_step = d.get("kind") in kinds or (queued and status == "approved")
        if not in_step or status in ("posted", "rejected"):
            continue
        offered = []
        preapproved = bool(d.get("category"))
        if (status == "ready" and open_to("approve", d)
                and not (preapproved and m.get("hold") and user.actor_role not in APPROVER_ROLES)):
            # 事前承認: anyone who posts may publish it, the drafter too; otherwise never the drafter.
            note = "preapproved" if preapproved else ("own" if draft_id in own else "")
            offered.append(Offer("approve", d, note=note))
        if status == "needs_override" and open_to("override_warning"):
            offered.append(Offer("override_warning", d))
        if status in ("needs_override", "ready", "approved") and open_to("reject"):
            offered.append(Offer("reject", d))
        if status in ("blocked", "needs_override", "ready", "approved") and open_to("edit_draft"):
            offered.append(Offer("edit_draft", d))
        if offered:
            per_draft[draft_id] = offered
    return Offers(incident=out, drafts=per_draft, own_drafts=own)


# --- forms → commands -----------------------------------------------------------------

def _one(form: Mapping[str, Any], name: str, *, limit: int = 200, required: bool = False) -> str:
    value = form.get(name)
    text = value.strip() if isinstance(value, str) else ""
    if required and not text:
        raise FormError(name)
    if len(text) > limit:
        raise FormError(f"{name} (max {limit})")
    return text


def _texts(form: Mapping[str, Any]) -> dict[str, str]:
    texts = {lang: _one(form, f"text_{lang}", limit=TEXT_LIMIT) for lang in DRAFT_LANGS}
    if not texts["ja"]:
        raise FormError("text_ja")
    return {lang: t for lang, t in texts.items() if t}


def _category(form: Mapping[str, Any]) -> str | None:
    category = _one(form, "category", limit=40)
    if category and category not in PREAPPROVED:
        raise FormError("category")
    return category or None


Form = Mapping[str, Any]
#: Reads one command type's form: (the type, the form, the warning codes ticked) → the command.
FormReader = Callable[[type[TypedCommand], Form, list[str]], TypedCommand]
_FORMS: dict[type[TypedCommand], FormReader] = {}
#: Command type → how its form is read (a test checks every board action has one).
FORMS: Mapping[type[TypedCommand], FormReader] = _FORMS


def reads(*types: type[TypedCommand]) -> Callable[[FormReader], FormReader]:
    def register(fn: FormReader) -> FormReader:
        _FORMS.update(dict.fromkeys(types, fn))
        return fn
    return register


def command_for(action: str, form: Form, codes: list[str] | None = None) -> TypedCommand:
    """The typed command an action form carries, checked for shape (not for meaning:
    whether the draft may be approved is the playbook's to decide)."""
    kind = COMMAND_TYPES.get(action)
    reader = None if kind is None else _FORMS.get(kind)
    if kind is None or reader is None:  # a responder's report is no form
        raise FormError("action")
    return reader(kind, form, list(codes or ()))


def payload_for(action: str, form: Form, codes: list[str] | None = None) -> dict[str, Any]:
    """The payload an action form becomes on the commands topic."""
    return command_for(action, form, codes).to_payload()


@reads(Acknowledge, Verify, AccountGone)
def _bare(kind: type[TypedCommand], form: Form, codes: list[str]) -> TypedCommand:
    return kind()


@reads(Escalate, MarkFalsePositive, Resolve, Reopen, DisasterModeOff)
def _with_reason(kind: type[TypedCommand], form: Form, codes: list[str]) -> TypedCommand:
    note = _one(form, "reason", limit=REASON_LIMIT)
    return kind(reason=note) if note else kind()  # type: ignore[call-arg]


@reads(Approve)
def _approve(kind: type[TypedCommand], form: Form, codes: list[str]) -> TypedCommand:
    return Approve(draft_id=_one(form, "draft_id", required=True),
                   draft_hash=_one(form, "draft_hash", limit=200, required=True))


@reads(Reject)
def _reject(kind: type[TypedCommand], form: Form, codes: list[str]) -> TypedCommand:
    return Reject(draft_id=_one(form, "draft_id", required=True),
                  reason=_one(form, "reason", limit=REASON_LIMIT, required=True))


@reads(NewDraft)
def _new_draft(kind: type[TypedCommand], form: Form, codes: list[str]) -> TypedCommand:
    return NewDraft(draft_kind=_one(form, "kind", limit=40, required=True), texts=_texts(form),
                    category=_category(form))


@reads(EditDraft)
def _edit_draft(kind: type[TypedCommand], form: Form, codes: list[str]) -> TypedCommand:
    draft_id, texts = _one(form, "draft_id", required=True), _texts(form)
    # A form without a category field leaves the draft's own (an empty field clears it).
    return EditDraft(draft_id=draft_id, texts=texts, category=_category(form) if "category" in form else ABSENT)


@reads(OverrideWarning)
def _override_warning(kind: type[TypedCommand], form: Form, codes: list[str]) -> TypedCommand:
    chosen = [c.strip() for c in codes if c.strip()][:50]
    if not chosen:
        raise FormError("code")
    return OverrideWarning(draft_id=_one(form, "draft_id", required=True), codes=chosen)


@reads(FactCheck)
def _fact_check(kind: type[TypedCommand], form: Form, codes: list[str]) -> TypedCommand:
    url = _one(form, "source_url", limit=2000, required=True)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise FormError("source_url")
    return FactCheck(source_url=url)


@reads(RescueHandled)
def _rescue_handled(kind: type[TypedCommand], form: Form, codes: list[str]) -> TypedCommand:
    return RescueHandled(request_id=_one(form, "request_id", required=True),
                         note=_one(form, "note", limit=REASON_LIMIT))


def known_action(action: str) -> bool:
    return any(action in actions for actions in ROLE_ACTIONS.values())


def command(user: User, incident: Incident, order: TypedCommand, now: float) -> BoardCommand:
    """A person's action as the playbooks receive it (keyed by incident id on the commands topic)."""
    return order.to_command(command_id=f"board-{uuid.uuid4().hex}", incident_id=incident.incident_id,
                            municipality=incident.municipality, actor=user.actor(), at=iso(now))
