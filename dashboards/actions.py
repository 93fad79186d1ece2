"""Which actions a signed-in person may take on an incident now, and how a submitted
form becomes a `BoardCommand` for the playbooks. Pure.

Two layers: the role decides what a person may ever do (enforced here, on the
server, whatever the form says); the incident's state and drafts decide what is
offered now (the playbook remains the judge: if the state moved on in between,
its refusal appears in the timeline and on the page).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from dashboards.users import User
from playbooks.machines import MACHINES, TERMINAL
from streams.records import BoardCommand, Incident, iso

#: Sent as commands although no playbook knows them yet (see the report: rescue_handled).
BOARD_ONLY_COMMANDS = frozenset({"rescue_handled"})

_OPERATOR = frozenset({
    "acknowledge", "escalate", "mark_false_positive", "resolve", "reopen", "draft", "edit_draft",
    "override_warning", "verify", "fact_check", "account_gone", "disaster_mode_off", "rescue_handled",
})
#: What each board role may ever do. The 広報課 admin acts as "pr_head", whom the playbooks
#: let approve but not end an incident (RESOLVER_ROLES: operator, owner).
ROLE_ACTIONS: Mapping[str, frozenset[str]] = {
    "viewer": frozenset(),
    "operator": _OPERATOR,
    "owner": _OPERATOR | {"approve", "reject"},
    "admin": (_OPERATOR - {"resolve", "disaster_mode_off"}) | {"approve", "reject"},
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


def may(user: User, action: str) -> bool:
    return action in ROLE_ACTIONS.get(user.role, frozenset())


def drafts_of(incident: Incident) -> list[dict[str, Any]]:
    return [d for d in incident.metrics.get("drafts") or () if isinstance(d, dict)]


def offers(user: User, incident: Incident) -> Offers:
    """What this person may do on this incident in its current state."""
    machine = MACHINES.get(incident.type)
    if machine is None or not user.sees(incident.municipality):
        return Offers()
    state, m = incident.state, incident.metrics

    def open_to(action: str) -> bool:
        return may(user, action) and bool(machine.candidates(state, action))

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
        if status == "ready" and open_to("approve"):
            offered.append(Offer("approve", d, note="own" if draft_id in own else ""))
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


def payload_for(action: str, form: Mapping[str, Any], codes: list[str] | None = None) -> dict[str, Any]:
    """The command payload an action form carries, checked for shape (not for meaning:
    whether the draft may be approved is the playbook's to decide)."""
    if action == "approve":
        return {"draft_id": _one(form, "draft_id", required=True),
                "draft_hash": _one(form, "draft_hash", limit=200, required=True)}
    if action == "reject":
        return {"draft_id": _one(form, "draft_id", required=True),
                "reason": _one(form, "reason", limit=REASON_LIMIT, required=True)}
    if action == "edit_draft":
        payload: dict[str, Any] = {"draft_id": _one(form, "draft_id", required=True), "texts": _texts(form)}
        if "category" in form:
            payload["category"] = _category(form)
        return payload
    if action == "draft":
        return {"kind": _one(form, "kind", limit=40, required=True), "texts": _texts(form),
                "category": _category(form)}
    if action == "override_warning":
        chosen = [c.strip() for c in codes or () if c.strip()][:50]
        if not chosen:
            raise FormError("code")
        return {"draft_id": _one(form, "draft_id", required=True), "codes": chosen}
    if action == "fact_check":
        url = _one(form, "source_url", limit=2000, required=True)
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise FormError("source_url")
        return {"source_url": url}
    if action == "rescue_handled":
        return {"request_id": _one(form, "request_id", required=True),
                "note": _one(form, "note", limit=REASON_LIMIT)}
    if action in ("escalate", "mark_false_positive", "resolve", "reopen", "disaster_mode_off"):
        note = _one(form, "reason", limit=REASON_LIMIT)
        return {"reason": note} if note else {}
    return {}


def known_action(action: str) -> bool:
    return any(action in actions for actions in ROLE_ACTIONS.values())


def command(user: User, incident: Incident, action: str, payload: dict[str, Any], now: float) -> BoardCommand:
    """A person's action as the playbooks receive it (keyed by incident id on the commands topic)."""
    return BoardCommand(command_id=f"board-{uuid.uuid4().hex}", incident_id=incident.incident_id,
                        municipality=incident.municipality, action=action, actor=user.actor(),
                        at=iso(now), payload=payload)
