"""The steps of every outbound text (文案): drafting with the pre-post check, edits, warnings
overridden, rejection, approval (所属長の承認), queueing until business hours, and publishing
as a statement, a correction, a website notice or a press release.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from playbooks.context import DETECTOR, Context
from playbooks.guards import approval_refusal, approved_draft, valid_texts
from playbooks.notify import held_account, notify, with_role
from playbooks.policy import Approval
from playbooks.profile import official_accounts, official_contacts_from_profile, trusted_links_from_profile
from playbooks.rules import CheckFinding
from playbooks.state import DRAFT_LIMIT, Draft
from playbooks.texts import HOLDING_TEXTS
from vocabulary.commands import ABSENT, Approve, EditDraft, NewDraft, OverrideWarning, Reject
from vocabulary.effects import NotifyPress, PostStatement, PublishNotice
from vocabulary.records import iso

#: The statement deadline: this long after acknowledgement with nothing posted, offer a holding statement.
STATEMENT_AFTER_S = 2 * 3600


def _check(ctx: Context, texts: Mapping[str, str]) -> tuple[str, list[dict[str, Any]]]:
    """The pre-post check on every language: status and findings of a draft."""
    trusted = trusted_links_from_profile(ctx.profile)
    official = official_contacts_from_profile(ctx.profile)
    raw: list[CheckFinding] = []
    findings = []
    for lang, text in texts.items():
        for f in ctx.rules.prepost_check(text, trusted_domains=trusted, official_contacts=official):
            raw.append(f)
            findings.append({"code": f.code, "level": f.level, "message_ja": f.message_ja,
                             "message_en": f.message_en, "excerpt": f.excerpt, "lang": lang})
    if ctx.rules.blocking(raw):
        return "blocked", findings
    return ("needs_override" if any(f["level"] != "block" for f in findings) else "ready"), findings


def _ask_owner_if_ready(ctx: Context, draft: Draft) -> None:
    if draft.status == "ready" and draft.category is None:
        notify(ctx, with_role(ctx, "owner"), "approval_requested", extra={"draft_id": draft.draft_id})


def new_draft(ctx: Context, kind: str, texts: dict[str, str], category: str | None,
              drafter: dict[str, str]) -> Draft:
    n = ctx.next_number("draft")
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


def store_draft(ctx: Context) -> None:
    command = ctx.command_as(NewDraft)
    texts = valid_texts(command.texts)
    assert texts is not None
    category = command.category
    new_draft(ctx, command.draft_kind, texts, None if category is None else str(category),
               {"name": ctx.actor.get("name", ""), "role": ctx.actor.get("role", "")})


def drop_approval(ctx: Context, draft: Draft) -> bool:
    """An edited or withdrawn draft loses its approval (and its place in the queue)."""
    had = draft.approval is not None
    draft.approval = None
    if ctx.st.approved_draft == draft.draft_id:
        ctx.st.approved_draft = None
        ctx.stop("business_open")
    return had


def edit_draft(ctx: Context) -> None:
    command = ctx.command_as(EditDraft)
    draft = ctx.st.draft(command.draft_id)
    assert draft is not None
    texts = valid_texts(command.texts)
    assert texts is not None
    invalidated = drop_approval(ctx, draft)
    draft.texts, draft.revision, draft.reason = texts, draft.revision + 1, None
    if command.category is not ABSENT:  # absent: the draft keeps its category
        draft.category = None if command.category is None else str(command.category)
    draft.hash = ctx.rules.draft_hash(texts)
    draft.status, draft.findings = _check(ctx, texts)
    draft.overridden = []
    ctx.note("draft_edited", {"draft_id": draft.draft_id, "revision": draft.revision,
                              "status": draft.status, "draft_hash": draft.hash,
                              "findings": draft.findings, "approval_invalidated": invalidated})
    _ask_owner_if_ready(ctx, draft)


def override_warnings(ctx: Context) -> None:
    command = ctx.command_as(OverrideWarning)
    draft = ctx.st.draft(command.draft_id)
    assert draft is not None
    draft.overridden = sorted({*draft.overridden, *command.codes})
    if draft.warning_codes <= set(draft.overridden):
        draft.status = "ready"
    ctx.note("warnings_overridden", {"draft_id": draft.draft_id, "codes": sorted(command.codes),
                                     "status": draft.status})
    _ask_owner_if_ready(ctx, draft)


def reject_draft(ctx: Context) -> None:
    command = ctx.command_as(Reject)
    draft = ctx.st.draft(command.draft_id)
    assert draft is not None
    drop_approval(ctx, draft)
    draft.status, draft.reason = "rejected", command.reason.strip()
    ctx.note("draft_rejected", {"draft_id": draft.draft_id, "reason": draft.reason})


def record_approval(ctx: Context) -> None:
    draft = ctx.st.draft(ctx.command_as(Approve).draft_id)
    assert draft is not None
    draft.status = "approved"
    draft.approval = asdict(Approval(
        approver=ctx.actor.get("name", ""), approver_role=ctx.actor.get("role", ""),
        draft_id=draft.draft_id, draft_hash=draft.hash, at=ctx.now, category=draft.category))
    ctx.st.approved_draft = draft.draft_id
    ctx.note("draft_approved", {"draft_id": draft.draft_id, "kind": draft.kind,
                                "draft_hash": draft.hash, "category": draft.category})


def queue_until_business_hours(ctx: Context) -> None:
    due = ctx.rules.next_business_open(ctx.now, ctx.closed)
    ctx.note("post_queued", {"draft_id": ctx.st.approved_draft, "until": iso(due)})
    ctx.schedule("business_open", due, {"draft_id": ctx.st.approved_draft})


def lapse_approval(ctx: Context) -> None:
    draft = approved_draft(ctx)
    refusal = approval_refusal(ctx)
    assert refusal is not None
    drop_approval(ctx, draft)
    draft.status = "ready"
    ctx.note("approval_expired", {"draft_id": draft.draft_id, **refusal._asdict()})
    notify(ctx, with_role(ctx, "owner"), "approval_lapsed", extra={"draft_id": draft.draft_id})


def _publish(ctx: Context) -> Draft:
    """Mark the approved draft posted; the caller asks for the effect(s)."""
    draft = approved_draft(ctx)
    draft.status, draft.posted_at = "posted", ctx.at
    ctx.st.approved_draft = None
    ctx.stop("business_open", quietly=True)
    ctx.note("draft_published", {"draft_id": draft.draft_id, "kind": draft.kind,
                                 "approver": (draft.approval or {}).get("approver"),
                                 "category": draft.category})
    return draft


def _incident_brief(ctx: Context) -> dict[str, Any]:
    """What a press release or a website notice says of the incident itself (経緯)."""
    return {"type": ctx.st.type, "target": ctx.st.target, "severity": ctx.st.severity,
            "opened_at": ctx.st.opened_at, "summary": ctx.st.summary}


def _published(draft: Draft) -> dict[str, Any]:
    """What every publishing effect carries of its draft: the texts and who wrote and approved them."""
    approval = dict(draft.approval or {})
    approval["at"] = iso(approval["at"]) if "at" in approval else None
    return {"draft_id": draft.draft_id, "draft_kind": draft.kind, "texts": dict(draft.texts),
            "drafter": dict(draft.drafter), "approval": approval}


def _report_preapproved(ctx: Context, draft: Draft) -> None:
    if draft.category is not None:  # 事後報告: the owner learns promptly of a pre-approved post
        notify(ctx, with_role(ctx, "owner"), "preapproved_posted", extra={"draft_id": draft.draft_id})


def post_statement_on_account(ctx: Context) -> None:
    draft = _publish(ctx)
    ctx.effect(PostStatement(**_published(draft), account=held_account(ctx)))
    ctx.stop("statement")
    _report_preapproved(ctx, draft)


def post_correction_everywhere(ctx: Context) -> None:
    """One effect per official account, so one channel failing does not stop the others."""
    draft = _publish(ctx)
    for account in official_accounts(ctx.profile):
        ctx.effect(PostStatement(**_published(draft), account=account, source_url=ctx.st.source_url))
    _report_preapproved(ctx, draft)


def publish_notice(ctx: Context) -> None:
    draft = _publish(ctx)
    fake = {"platform": ctx.st.metrics.get("platform"), "handle": ctx.st.target}
    ctx.effect(PublishNotice(**_published(draft), where="website", fake=fake, incident=_incident_brief(ctx)))
    _report_preapproved(ctx, draft)


def notify_press_with_release(ctx: Context) -> None:
    draft = _publish(ctx)
    ctx.effect(NotifyPress(**_published(draft), incident=_incident_brief(ctx)))
    _report_preapproved(ctx, draft)


def notify_press_of_correction(ctx: Context) -> None:
    draft = next(d for d in reversed(ctx.st.drafts) if d.status == "posted")
    ctx.effect(NotifyPress(**_published(draft), source_url=ctx.st.source_url, incident=_incident_brief(ctx),
                           reason="disaster" if ctx.disaster else "severity"))


def offer_holding_statement(ctx: Context) -> None:
    """対応に時間を要する場合は、その旨の書き込み: silence is criticised too."""
    ctx.note("holding_statement_offered", {"after_s": STATEMENT_AFTER_S})
    new_draft(ctx, "holding", dict(HOLDING_TEXTS), None, dict(DETECTOR))
