"""The playbooks' steps (手順) outside drafting: holding replies, notifying and escalating,
watching for quiet, the impersonation takedown, the fact check, rescue requests, failed
deliveries, new evidence, and winding down or reopening. Each is a named function of the
decision's context; `playbooks.machines` says when each runs.
"""

from __future__ import annotations

from collections.abc import Mapping

from playbooks.context import Context
from playbooks.drafts import STATEMENT_AFTER_S, drop_approval
from playbooks.notify import at_level, held_account, notify, with_role
from playbooks.profile import city_name, city_website, takedown_report_pages
from playbooks.state import RESCUE_MEMORY, tree_copy
from playbooks.transitions import TERMINAL
from playbooks.texts import HOLD_REASON_OPENED, HOLD_REASON_REOPENED, possibly_sent_note, takedown_report_ja
from vocabulary.contract import parse_ts
from vocabulary.commands import ChannelFailed, DeliveryPossiblySent, FactCheck, RescueHandled
from vocabulary.effects import (
    DisasterMode, HoldReplies, QueueRescue, ReleaseHold, RequestTakedown, effect_payload,
)
from vocabulary.records import Detection, iso
from vocabulary.terms import SEVERITY_RANK

#: Attempts per effect before a person is asked to do it by hand.
MAX_ATTEMPTS = 2
#: 1週間以上続く炎上: 0件 — the guidelines' target.
WEEK_S = 7 * 24 * 3600


def hold_replies_and_notify(ctx: Context) -> None:
    """炎上: no rebuttal on anyone's own judgement — hold replies first, then 広報課 and the owner."""
    ctx.st.hold = True
    ctx.effect(HoldReplies(account=held_account(ctx), reason=HOLD_REASON_OPENED))
    notify(ctx, [*at_level(ctx, 1), *with_role(ctx, "pr")], "opened", ack=True)
    ctx.schedule("week_open", parse_ts(ctx.st.opened_at) + WEEK_S)


def notify_on_call(ctx: Context) -> None:
    notify(ctx, at_level(ctx, 1), "opened", ack=True)


def enter_disaster_mode(ctx: Context) -> None:
    ctx.st.disaster_mode = True
    ctx.effect(DisasterMode.entered(hashtag=ctx.st.target))
    notify(ctx, at_level(ctx, 1), "opened", ack=True)
    queue_rescues(ctx)


def _acknowledge(ctx: Context, *, implicit: bool = False) -> None:
    if ctx.st.acknowledged is not None:
        return
    ctx.st.acknowledged = {"name": ctx.actor.get("name"), "role": ctx.actor.get("role"), "at": ctx.at}
    ctx.st.ack_due = None
    ctx.note("acknowledged", {"level": ctx.st.level, "implicit": implicit})
    ctx.stop("ack")


def acknowledge(ctx: Context) -> None:
    _acknowledge(ctx)


def acknowledge_and_start_statement_clock(ctx: Context) -> None:
    _acknowledge(ctx)
    ctx.schedule("statement", ctx.now + STATEMENT_AFTER_S)


def _escalate(ctx: Context, reason: str) -> None:
    before = ctx.st.level
    level = ctx.rules.next_level(before)
    assert level is not None  # below_top_level
    ctx.st.level = level
    ctx.note("escalated", {"from": before, "to": level, "reason": reason})
    notify(ctx, at_level(ctx, level), reason, ack=ctx.st.acknowledged is None)


def escalate(ctx: Context) -> None:
    _escalate(ctx, "escalated")


def escalate_unanswered(ctx: Context) -> None:
    _escalate(ctx, "ack_missed")


def note_unanswered_at_top(ctx: Context) -> None:
    ctx.st.ack_due = None
    ctx.note("escalation_exhausted", {"level": ctx.st.level})


def raise_to_the_top(ctx: Context) -> None:
    """1週間以上続く炎上: 0件 — a week-old flame-up goes to the top, severity critical."""
    if ctx.st.severity != "critical":
        ctx.note("severity_raised", {"from": ctx.st.severity, "to": "critical", "reason": "week_open"})
        ctx.st.severity = "critical"
    before = ctx.st.level
    while (up := ctx.rules.next_level(ctx.st.level)) is not None:
        ctx.st.level = up
    ctx.note("week_long_flame", {"from": before, "to": ctx.st.level})
    notify(ctx, [*at_level(ctx, ctx.st.level), *with_role(ctx, "pr_head")], "week_open")


def watch_for_quiet(ctx: Context) -> None:
    start = max(ctx.now, parse_ts(ctx.st.last_evidence_at))
    ctx.schedule("monitoring_end", start + ctx.machine.quiet_s)


def keep_watching(ctx: Context) -> None:
    ctx.schedule("monitoring_end", parse_ts(ctx.st.last_evidence_at) + ctx.machine.quiet_s)


def report_to_pr_and_info_policy(ctx: Context) -> None:
    _acknowledge(ctx, implicit=True)
    ctx.note("verified", {"handle": ctx.st.target, "platform": ctx.st.metrics.get("platform")})
    notify(ctx, with_role(ctx, "pr", "info_policy"), "reported")


def request_takedown(ctx: Context) -> None:
    """削除依頼: the platform's report page and a prepared report in Japanese."""
    platform = str(ctx.st.metrics.get("platform") or "")
    official = ctx.st.metrics.get("resembles")
    text = takedown_report_ja(city=city_name(ctx.profile, ctx.st.municipality), official=official,
                              fake=ctx.st.target, site=city_website(ctx.profile), summary=ctx.st.summary)
    ctx.effect(RequestTakedown(platform=platform or None, handle=ctx.st.target,
                               report_url=takedown_report_pages(ctx.profile).get(platform),
                               report_text_ja=text, resembles=official))


def note_account_gone(ctx: Context) -> None:
    ctx.st.account_gone = True
    ctx.note("account_gone", {"handle": ctx.st.target})


def record_source(ctx: Context) -> None:
    _acknowledge(ctx, implicit=True)
    before, ctx.st.source_url = ctx.st.source_url, ctx.command_as(FactCheck).source_url
    ctx.note("fact_checked", {"source_url": ctx.st.source_url, "replaces": before})


def queue_rescues(ctx: Context) -> None:
    """救助要請: each request once, however often the detector reports it."""
    for request in ctx.st.metrics.get("rescue_requests") or ():
        request_id = request.get("id") if isinstance(request, Mapping) else None
        if not request_id or request_id in ctx.st.rescues:
            continue
        ctx.st.rescues = [*ctx.st.rescues, request_id][-RESCUE_MEMORY:]
        ctx.effect(QueueRescue(request_id=request_id, hashtag=ctx.st.target, at=request.get("at"),
                               place=request.get("place"), text=request.get("text"),
                               rescue_kind=request.get("kind"), copies=request.get("copies")))


def mark_rescue_handled(ctx: Context) -> None:
    """An operator took a rescue request in hand (passed to 消防・警察, or answered): on the record."""
    command = ctx.command_as(RescueHandled)
    request_id = str(command.request_id)
    ctx.st.rescues_handled = [*ctx.st.rescues_handled, request_id][-RESCUE_MEMORY:]
    ctx.note("rescue_handled", {"request_id": request_id, "note": str(command.note or "")[:500]})


def wind_down(ctx: Context) -> None:
    """Entering resolved/closed: stop every clock, release what the playbook put in place."""
    for name in list(ctx.st.deadlines):
        ctx.stop(name)
    ctx.st.ack_due = None
    queued = ctx.st.draft(ctx.st.approved_draft)
    if queued is not None:
        drop_approval(ctx, queued)
        queued.status = "ready"
        ctx.note("queued_post_cancelled", {"draft_id": queued.draft_id})
    if ctx.st.hold:
        ctx.st.hold = False
        ctx.effect(ReleaseHold(account=held_account(ctx)))
    if ctx.st.disaster_mode:
        ctx.st.disaster_mode = False
        ctx.effect(DisasterMode.left(hashtag=ctx.st.target))


def reopen(ctx: Context) -> None:
    ctx.note("reopened", {"ended": ctx.st.ended})
    ctx.st.ended = None
    ctx.st.account_gone = False
    if ctx.st.type == "flame":
        ctx.st.hold = True
        ctx.effect(HoldReplies(account=held_account(ctx), reason=HOLD_REASON_REOPENED))
    if ctx.st.type == "disaster":
        ctx.st.disaster_mode = True
        ctx.effect(DisasterMode.entered(hashtag=ctx.st.target))


def handle_failed_channel(ctx: Context) -> None:
    """A responder could not carry an effect out: retry once, then ask a person. Others stand."""
    failed = ctx.command_as(ChannelFailed)
    sent = ctx.st.sent[failed.effect_id]
    ctx.note("channel_failed", {"effect_id": failed.effect_id, "kind": sent["kind"],
                                "channel": failed.channel, "error": failed.error})
    if sent["attempt"] < MAX_ATTEMPTS:
        again = effect_payload(sent["kind"], tree_copy(sent["payload"]))
        ctx.effect(again, root=sent["root"], attempt=sent["attempt"] + 1)
    elif sent["kind"] != "notify":
        notify(ctx, at_level(ctx, ctx.st.level), "channel_failed",
               extra={"failed_effect": sent["root"], "failed_kind": sent["kind"],
                      "channel": failed.channel, "error": failed.error})
    elif sent["payload"].get("reason") != "unreachable":
        # A person no channel reaches: tell the others — this level, the next, and 広報課 —
        # through their own channels, so the notification is carried, not dropped.
        unreached = str((sent["payload"].get("to") or {}).get("name") or "")
        others = [c for c in (*at_level(ctx, ctx.st.level), *at_level(ctx, ctx.st.level + 1),
                              *with_role(ctx, "pr")) if c.name != unreached]
        ctx.note("delivery_gave_up", {"effect_id": failed.effect_id, "to": unreached,
                                      "handed_to": sorted({c.name for c in others})})
        notify(ctx, others, "unreachable",
               extra={"failed_effect": sent["root"], "failed_kind": "notify", "unreached": unreached,
                      "channel": failed.channel, "error": failed.error})
    else:
        ctx.note("delivery_gave_up", {"effect_id": failed.effect_id})  # the board shows it (no loop)


def ask_about_possibly_sent(ctx: Context) -> None:
    """送信済みの可能性: a send cut off by a crash, through a channel that cannot tell a repeat.
    Not retried (it may have arrived); the people at the current level are asked to check it."""
    report = ctx.command_as(DeliveryPossiblySent)
    sent = ctx.st.sent[report.effect_id]
    message_ja, message_en = possibly_sent_note(report.channel, report.to)
    ctx.note("delivery_possibly_sent", {
        "message_ja": message_ja, "message_en": message_en,
        "effect_id": report.effect_id, "kind": sent["kind"], "channel": report.channel, "to": report.to,
        "key": report.key})
    if sent["payload"].get("reason") != "possibly_sent":  # never a chain of checks about checks
        notify(ctx, at_level(ctx, ctx.st.level), "possibly_sent",
               extra={"failed_effect": sent["root"], "failed_kind": sent["kind"],
                      "channel": report.channel, "possibly_sent_to": report.to})


def note_resurgence(ctx: Context) -> None:
    """再燃: the same episode came back after a quiet spell; it stays this incident. On the
    record every time; the people are told again only when it grows (`apply_evidence`)."""
    d = ctx.inp
    assert isinstance(d, Detection)
    wave = d.metrics.get("wave")
    ctx.note("resurgence", {"message_ja": f"再燃（第{wave}波）", "message_en": f"flared up again (wave {wave})",
                            "wave": wave, "severity": ctx.st.severity, "summary": d.summary})
    if any(e.action == "severity_raised" for e in ctx.timeline):  # this detection raised it
        _notify_growth(ctx)


def _notify_growth(ctx: Context) -> None:
    """A resurgence that raises the severity: the people at the current level (and 広報課 for a
    炎上) hear of it again; a smaller wave is only on the record."""
    contacts = at_level(ctx, ctx.st.level)
    if ctx.st.type == "flame":
        contacts += with_role(ctx, "pr")
    notify(ctx, contacts, "resurgence")


def official_source(d: Detection) -> str | None:
    """The URL of the city's own post a デマ claim contradicts (`metrics.source_url`, set by the
    detector with `contradicts_official`): the correction's source until staff name another."""
    url = d.metrics.get("source_url")
    if d.type != "misinformation" or d.metrics.get("contradicts_official") is not True:
        return None
    return url if isinstance(url, str) and url.startswith(("https://", "http://")) else None


def apply_evidence(ctx: Context) -> None:
    """A newer detection: evidence, metrics, and severity that never goes down."""
    d = ctx.inp
    assert isinstance(d, Detection)
    st = ctx.st
    if st.source_url is None:
        st.source_url = official_source(d)
    severity = max(st.severity, d.severity, key=lambda s: SEVERITY_RANK.get(s, -1))
    raised = severity != st.severity
    if raised:
        ctx.note("severity_raised", {"from": st.severity, "to": severity})
    st.severity, st.evidence_ids, st.summary = severity, list(d.evidence_ids), d.summary
    st.metrics, st.detection_seq, st.last_evidence_at = dict(d.metrics), d.seq, d.at
    st.disaster_time = st.disaster_time or d.metrics.get("disaster_active") is True
    ctx.note("evidence_added", {"metrics": d.metrics, "seq": d.seq})
    if raised and (d.metrics.get("wave") or 1) > 1 and not d.metrics.get("resurgence") \
            and st.state not in TERMINAL:
        _notify_growth(ctx)  # a wave that came back keeps growing: told again
    # A rising severity may shorten the time to acknowledge.
    live = st.deadlines.get("ack")
    if live is not None and st.acknowledged is None and st.ack_since is not None:
        due = ctx.rules.ack_deadline(severity, parse_ts(st.ack_since))
        if due < parse_ts(live["due_at"]):
            st.ack_due = iso(due)
            ctx.schedule("ack", due)
