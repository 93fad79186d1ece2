"""The playbooks' guards (条件): each a named function of the decision's context that returns
None when a transition may be taken, or a `Refusal` with the reason in Japanese and English.

Guards only read: they run before anything changes, so a refused input leaves no trace
but its rejection on the timeline.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from playbooks.context import Context
from playbooks.policy import Approval
from playbooks.state import DRAFT_LIMIT, Draft
from playbooks.texts import LANGUAGES, Refusal
from playbooks.transitions import REOPEN_WINDOW_S
from vocabulary.commands import (
    Approve, ChannelFailed, DeliveryPossiblySent, EditDraft, FactCheck, NewDraft, OverrideWarning, Reject,
    RescueHandled,
)
from vocabulary.contract import parse_ts
from vocabulary.terms import SEVERITY_RANK
from vocabulary.typed import present

#: Who may resolve an incident (the guidelines: the operator or the account owner).
RESOLVER_ROLES = frozenset({"operator", "owner"})


def _unless(ok: bool, ja: str, en: str) -> Refusal | None:
    return None if ok else Refusal(ja, en)


def rescue_known(ctx: Context) -> Refusal | None:
    request_id = ctx.command_as(RescueHandled).request_id
    return _unless(request_id in ctx.st.rescues, f"この救助要請はありません: {request_id}",
                   f"No such rescue request: {request_id}")


def rescue_not_yet_handled(ctx: Context) -> Refusal | None:
    return _unless(ctx.command_as(RescueHandled).request_id not in ctx.st.rescues_handled,
                   "この救助要請は対応済みです。", "This rescue request is already marked handled.")


def not_yet_acknowledged(ctx: Context) -> Refusal | None:
    ack = ctx.st.acknowledged
    return _unless(ack is None, f"すでに受付済みです（{(ack or {}).get('name')}）。",
                   f"Already acknowledged by {(ack or {}).get('name')}.")


def below_top_level(ctx: Context) -> Refusal | None:
    return _unless(ctx.rules.next_level(ctx.st.level) is not None,
                   f"すでに最上位（レベル{ctx.st.level}）までエスカレーションしています。",
                   f"Already escalated to the top level ({ctx.st.level}).")


def at_top_level(ctx: Context) -> Refusal | None:
    return _unless(ctx.rules.next_level(ctx.st.level) is None, "最上位ではありません。",
                   "Not at the top level.")


def actor_may_resolve(ctx: Context) -> Refusal | None:
    return _unless(ctx.actor.get("role") in RESOLVER_ROLES,
                   "解決・解除できるのは運用担当者または運用管理責任者です。",
                   "Only an operator or the account owner may resolve.")


def within_reopen_window(ctx: Context) -> Refusal | None:
    ended = parse_ts((ctx.st.ended or {}).get("at", ctx.at))
    return _unless(ctx.now - ended <= REOPEN_WINDOW_S,
                   "終了から7日を過ぎた事案は再開できません。新しい事案として扱ってください。",
                   "An incident can be reopened only within 7 days of ending; open a new one.")


def effect_known(ctx: Context) -> Refusal | None:
    return _unless(ctx.command_as(ChannelFailed, DeliveryPossiblySent).effect_id in ctx.st.sent,
                   "この事案の最近の送信ではありません。", "Not a recent effect of this incident.")


def valid_texts(value: Any) -> dict[str, str] | None:
    if not isinstance(value, Mapping) or not all(isinstance(v, str) for v in value.values()):
        return None
    texts = {str(k): v.strip() for k, v in value.items() if v.strip()}
    return texts if texts.get("ja") else None


def draft_payload_valid(ctx: Context) -> Refusal | None:
    command = ctx.command_as(NewDraft)
    if not isinstance(command.draft_kind, str):
        return Refusal("文案の種類（kind）がありません。", "The draft has no kind.")
    if valid_texts(command.texts) is None:
        return Refusal("日本語の本文（texts.ja）が必要です。", "The draft needs a Japanese text (texts.ja).")
    if sum(d.pending or d.status == "approved" for d in ctx.st.drafts) >= DRAFT_LIMIT:
        return Refusal("未処理の文案が多すぎます。", "Too many open drafts.")
    return None


def kind_expected_here(ctx: Context) -> Refusal | None:
    kind, kinds = ctx.command_as(NewDraft).draft_kind, ctx.machine.draft_kinds.get(ctx.st.state, frozenset())
    if kind in kinds:
        return None
    if ctx.st.hold:
        return Refusal("返信保留中は、承認された事案の声明（説明・訂正・謝罪、確認中のお知らせ）以外は投稿できません。",
                       "While replies are held, only an approved incident statement may be posted.")
    return Refusal(f"ここで作成できる文案は {'・'.join(sorted(kinds))} です（{kind}）。",
                   f"Drafts here must be of kind {', '.join(sorted(kinds))}, not {kind}.")


def _preapproval(ctx: Context, category: Any) -> Refusal | None:
    if category is None:
        return None
    if ctx.st.hold:
        return Refusal("返信保留中は事前承認の範囲の投稿もできません。所属長の承認を受けてください。",
                       "While replies are held, pre-approved categories do not apply; the owner must approve.")
    verdict = ctx.rules.check_preapproved_post(str(category), poster_role=ctx.actor.get("role", ""))
    return None if verdict.ok else Refusal(verdict.reason_ja, verdict.reason_en)


def preapproval_permitted(ctx: Context) -> Refusal | None:
    return _preapproval(ctx, ctx.command_as(NewDraft).category)


def _in_phase(ctx: Context, draft: Draft) -> bool:
    """Whether a draft belongs to the current step (a notice draft is not a press release)."""
    kinds = ctx.machine.draft_kinds.get(ctx.st.state)
    return kinds is None or draft.kind in kinds


def _payload_draft(ctx: Context) -> tuple[Draft | None, Refusal | None]:
    draft_id = ctx.command_as(EditDraft, OverrideWarning, Approve, Reject).draft_id
    draft = ctx.st.draft(draft_id)
    if draft is None:
        return None, Refusal(f"文案 {draft_id} はありません。", f"There is no draft {draft_id}.")
    if not _in_phase(ctx, draft):
        return None, Refusal(f"文案 {draft.draft_id}（{draft.kind}）は現在の手順の文案ではありません。",
                             f"Draft {draft.draft_id} ({draft.kind}) does not belong to the current step.")
    return draft, None


def draft_editable(ctx: Context) -> Refusal | None:
    draft, missing = _payload_draft(ctx)
    if draft is None:
        return missing
    if draft.status == "posted":
        return Refusal("公開済みの投稿は修正できません（公開記録です）。訂正は新しい文案で行ってください。",
                       "A published post cannot be edited (it is a public record); draft a correction instead.")
    command = ctx.command_as(EditDraft)
    if valid_texts(command.texts) is None:
        return Refusal("日本語の本文（texts.ja）が必要です。", "The draft needs a Japanese text (texts.ja).")
    if present(command.draft_kind, draft.kind) != draft.kind:
        return Refusal("文案の種類は変更できません。新しい文案を作成してください。",
                       "A draft's kind cannot change; create a new draft.")
    return _preapproval(ctx, present(command.category, draft.category))


def draft_has_those_warnings(ctx: Context) -> Refusal | None:
    draft, missing = _payload_draft(ctx)
    if draft is None:
        return missing
    codes = ctx.command_as(OverrideWarning).codes
    if draft.status == "blocked":
        return Refusal("投稿できない内容があります。警告の確認ではなく、文案を修正してください。",
                       "The draft has blocking findings: edit it, they cannot be overridden.")
    if not isinstance(codes, list) or not codes or not set(codes) <= draft.warning_codes:
        return Refusal("確認する警告のコードが文案の警告と一致しません。",
                       "The codes do not match the draft's warnings.")
    return None


def draft_pending(ctx: Context) -> Refusal | None:
    draft, missing = _payload_draft(ctx)
    if draft is None:
        return missing
    return _unless(draft.pending, f"文案 {draft.draft_id} は承認待ちではありません（{draft.status}）。",
                   f"Draft {draft.draft_id} is not awaiting approval ({draft.status}).")


def draft_ready(ctx: Context) -> Refusal | None:
    draft, _ = _payload_draft(ctx)
    assert draft is not None  # draft_pending comes first
    return _unless(draft.status == "ready",
                   "警告の確認（override_warning）が済んでいないため承認できません。",
                   "The draft's warnings must be overridden before approval.")


def gives_a_reason(ctx: Context) -> Refusal | None:
    reason = ctx.command_as(Reject).reason
    return _unless(isinstance(reason, str) and bool(reason.strip()),
                   "差し戻しの理由を書いてください。", "Give a reason for the rejection.")


def _approval_verdict(ctx: Context, draft: Draft, approval: Approval) -> Refusal | None:
    if draft.category is not None:  # 事前承認: the category and the poster's role decide
        verdict = ctx.rules.check_preapproved_post(draft.category, poster_role=approval.approver_role)
    else:
        verdict = ctx.rules.check_approval(approval, drafter=draft.drafter.get("name", ""),
                                           draft_id=draft.draft_id, draft_hash=draft.hash, now=ctx.now)
    return None if verdict.ok else Refusal(verdict.reason_ja, verdict.reason_en)


def approval_valid(ctx: Context) -> Refusal | None:
    draft, _ = _payload_draft(ctx)
    assert draft is not None
    seen_hash = present(ctx.command_as(Approve).draft_hash, draft.hash)
    return _approval_verdict(ctx, draft, Approval(
        approver=ctx.actor.get("name", ""), approver_role=ctx.actor.get("role", ""),
        draft_id=draft.draft_id, draft_hash=str(seen_hash), at=ctx.now, category=draft.category))


def cites_source_in_every_language(ctx: Context) -> Refusal | None:
    draft, _ = _payload_draft(ctx)
    assert draft is not None
    url = ctx.st.source_url
    missing = [lang for lang in LANGUAGES if url is None or url not in draft.texts.get(lang, "")]
    return _unless(not missing,
                   f"訂正文には公式ページのURL（{url}）を日本語・やさしい日本語・英語のすべてに載せてください"
                   f"（不足: {', '.join(missing)}）。",
                   f"The correction must link the official page ({url}) in ja, easy_ja and en "
                   f"(missing: {', '.join(missing)}).")


def a_draft_awaits_approval(ctx: Context) -> Refusal | None:
    return _unless(any(d.pending and _in_phase(ctx, d) for d in ctx.st.drafts),
                   "承認待ちの文案はありません。", "No draft awaits approval.")


def no_draft_awaits_approval(ctx: Context) -> Refusal | None:
    return _unless(not any(d.pending and _in_phase(ctx, d) for d in ctx.st.drafts),
                   "承認待ちの文案があります。", "A draft awaits approval.")


def _may_post(ctx: Context) -> bool:
    return ctx.rules.may_post_now(ctx.now, incident_type=ctx.st.type, severity=ctx.st.severity,
                                  disaster=ctx.disaster, closed=ctx.closed)


def may_post_now(ctx: Context) -> Refusal | None:
    return _unless(_may_post(ctx), "開庁時間外です。", "Outside business hours.")


def must_wait_for_business_hours(ctx: Context) -> Refusal | None:
    return _unless(not _may_post(ctx), "今すぐ投稿できます。", "Posting is allowed now.")


def approved_draft(ctx: Context) -> Draft:
    draft = ctx.st.draft(ctx.st.approved_draft)
    assert draft is not None and draft.approval is not None, "no approved draft"
    return draft


def approval_refusal(ctx: Context) -> Refusal | None:
    draft = approved_draft(ctx)
    return _approval_verdict(ctx, draft, Approval(**draft.approval))  # type: ignore[arg-type]


def approval_still_valid(ctx: Context) -> Refusal | None:
    return approval_refusal(ctx)


def approval_lapsed(ctx: Context) -> Refusal | None:
    return _unless(approval_refusal(ctx) is not None, "承認は有効です。", "The approval is still valid.")


def final_statement(ctx: Context) -> Refusal | None:
    return _unless(approved_draft(ctx).kind != "holding", "確認中のお知らせです。", "This is a holding statement.")


def holding_statement(ctx: Context) -> Refusal | None:
    return _unless(approved_draft(ctx).kind == "holding", "確認中のお知らせではありません。", "Not a holding statement.")


def is_the_queued_draft(ctx: Context) -> Refusal | None:
    return _unless(ctx.command_as(EditDraft, Reject).draft_id == ctx.st.approved_draft,
                   "開庁時間待ちの文案ではありません。", "That is not the queued draft.")


def no_statement_out(ctx: Context) -> Refusal | None:
    out = any(d.status == "posted" or d.kind == "holding" for d in ctx.st.drafts)
    return _unless(not out, "声明または確認中のお知らせは既に出ているか用意されています。",
                   "A statement or holding statement is already out or offered.")


def nothing_published(ctx: Context) -> Refusal | None:
    return _unless(not any(d.status == "posted" for d in ctx.st.drafts),
                   "すでに投稿しているため誤検知にはできません。解決として終了してください。",
                   "Something was already published; resolve the incident instead.")


def _quiet(ctx: Context) -> bool:
    return ctx.now - parse_ts(ctx.st.last_evidence_at) >= ctx.machine.quiet_s


def quiet_long_enough(ctx: Context) -> Refusal | None:
    return _unless(_quiet(ctx), "まだ新しい反応があります。", "New evidence arrived recently.")


def still_active(ctx: Context) -> Refusal | None:
    return _unless(not _quiet(ctx), "反応は落ち着いています。", "It has been quiet.")


def has_source_url(ctx: Context) -> Refusal | None:
    url = ctx.command_as(FactCheck).source_url
    ok = isinstance(url, str) and urlsplit(url).scheme in ("http", "https") and bool(urlsplit(url).netloc)
    return _unless(ok, "正しい情報が載っている公式ページのURL（source_url）が必要です。",
                   "The URL of the official page with the correct information (source_url) is required.")


def account_not_yet_gone(ctx: Context) -> Refusal | None:
    return _unless(not ctx.st.account_gone, "アカウントの削除は記録済みです。", "The account is already recorded as gone.")


def account_is_gone(ctx: Context) -> Refusal | None:
    return _unless(ctx.st.account_gone, "アカウントはまだ残っています。", "The account is still there.")


def _press_warranted(ctx: Context) -> bool:
    return ctx.disaster or SEVERITY_RANK.get(ctx.st.severity, 0) >= SEVERITY_RANK["high"]


def press_warranted(ctx: Context) -> Refusal | None:
    return _unless(_press_warranted(ctx), "報道提供は不要です。", "No press release needed.")


def press_not_warranted(ctx: Context) -> Refusal | None:
    return _unless(not _press_warranted(ctx), "報道提供が必要です。", "A press release is needed.")
