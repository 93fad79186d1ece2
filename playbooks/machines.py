"""The four playbooks — 炎上 flame, なりすまし impersonation, デマ misinformation and
災害 disaster — as transition tables: states, and for each event the guards that must
hold and the step the engine carries out, named as the functions themselves.

This module holds only the tables, so a reader can check a playbook against the
guidelines without reading code that runs; `playbooks.guards`, `playbooks.steps` and
`playbooks.drafts` own the guards and steps, `playbooks.transitions` the shape. A row
with no event (`at_once`) is taken as soon as its guards hold after any other
transition, which is how a playbook passes through a state that needs nobody
(`approved` → post, or → `queued` out of hours).
"""

from __future__ import annotations

from collections.abc import Mapping

from playbooks.drafts import (
    edit_draft, lapse_approval, notify_press_of_correction, notify_press_with_release,
    offer_holding_statement, override_warnings, post_correction_everywhere,
    post_statement_on_account, publish_notice, queue_until_business_hours, record_approval,
    reject_draft, store_draft,
)
from playbooks.guards import (
    a_draft_awaits_approval, account_is_gone, account_not_yet_gone, actor_may_resolve,
    approval_lapsed, approval_still_valid, approval_valid, at_top_level, below_top_level,
    cites_source_in_every_language, draft_editable, draft_has_those_warnings, draft_payload_valid,
    draft_pending, draft_ready, effect_known, final_statement, gives_a_reason, has_source_url,
    holding_statement, is_the_queued_draft, kind_expected_here, may_post_now,
    must_wait_for_business_hours, no_draft_awaits_approval, no_statement_out, not_yet_acknowledged,
    nothing_published, preapproval_permitted, press_not_warranted, press_warranted,
    quiet_long_enough, rescue_known, rescue_not_yet_handled, still_active, within_reopen_window,
)
from playbooks.steps import (
    acknowledge, acknowledge_and_start_statement_clock, apply_evidence, ask_about_possibly_sent,
    enter_disaster_mode, escalate, escalate_unanswered, handle_failed_channel,
    hold_replies_and_notify, keep_watching, mark_rescue_handled, note_account_gone, note_resurgence,
    note_unanswered_at_top, notify_on_call, queue_rescues, raise_to_the_top, record_source, reopen,
    report_to_pr_and_info_policy, request_takedown, watch_for_quiet, wind_down,
)
from playbooks.texts import ACTION_LABELS, ROLE_LABELS, STATE_LABELS, action_label, state_label
from playbooks.transitions import (
    CLOSED, NEW, REOPEN_WINDOW_S, RESOLVED, RESUME, TERMINAL, Guard, Machine, Step, Transition, at_once, on,
)

#: Board actions a person (or a responder, for channel_failed) may send.
COMMANDS = frozenset({
    "acknowledge", "escalate", "mark_false_positive", "resolve", "reopen", "draft",
    "edit_draft", "override_warning", "approve", "reject", "verify", "fact_check",
    "channel_failed", "account_gone", "disaster_mode_off", "rescue_handled", "delivery_possibly_sent",
})
_HANDLING = frozenset({
    "acknowledge", "escalate", "mark_false_positive", "resolve", "reopen", "draft", "edit_draft",
    "override_warning", "verify", "fact_check", "account_gone", "disaster_mode_off", "rescue_handled",
})
#: Which commands a person in each role may send; anyone else sends none. Only the account
#: owner (所属長) and the head of PR approve a draft; for an operator or 広報課 staff, "approve"
#: publishes a draft of a pre-approved category (事前承認), which the approval guard checks.
#: The head of PR and 広報課 staff support the handling but do not end it (the guidelines:
#: the operator or the owner resolves). The board offers these (dashboards.actions); the
#: playbooks refuse the rest whoever sends them.
ROLE_COMMANDS: Mapping[str, frozenset[str]] = {
    "operator": _HANDLING | {"approve"},
    "owner": _HANDLING | {"approve", "reject"},
    "pr_head": (_HANDLING - {"resolve", "disaster_mode_off"}) | {"approve", "reject"},
    "pr": (_HANDLING - {"resolve", "disaster_mode_off"}) | {"approve"},
}
#: What a responder may report back: that a channel kept failing, or that a send was cut off by
#: a crash through a channel that cannot tell a repeat (送信済みの可能性: a person checks).
RESPONDER_COMMANDS = frozenset({"channel_failed", "delivery_possibly_sent"})


def _machine(type_: str, states: tuple[str, ...], rows: list[Transition], *,
             awaiting: Mapping[str, str] | None = None,
             draft_kinds: Mapping[str, frozenset[str]] | None = None,
             on_enter: Mapping[str, Step] | None = None,
             reopen_to: Mapping[str, str] | None = None,
             quiet_s: float = 2 * 3600) -> Machine:
    """A machine with the rows every playbook shares appended after its own."""
    every = (*states, RESOLVED, CLOSED)
    open_ = tuple(states)
    common = [
        on("acknowledge", open_, when=(not_yet_acknowledged,), do=acknowledge),
        on("escalate", open_, when=(below_top_level,), do=escalate),
        on("deadline:ack", open_, when=(not_yet_acknowledged, below_top_level),
           do=escalate_unanswered),
        on("deadline:ack", open_, when=(not_yet_acknowledged, at_top_level),
           do=note_unanswered_at_top),
        on("resolve", open_, RESOLVED, when=(actor_may_resolve,)),
        on("reopen", TERMINAL, RESUME, when=(within_reopen_window,), do=reopen),
        on("channel_failed", every, when=(effect_known,), do=handle_failed_channel),
        on("delivery_possibly_sent", every, when=(effect_known,), do=ask_about_possibly_sent),
        on("evidence", every, do=apply_evidence),
        # 再燃: the episode came back after a quiet spell (the detector's `resurgence`).
        on("resurgence", open_, do=note_resurgence),
    ]
    known = {NEW, RESUME, None, *every}
    for t in rows:
        unknown = ({*t.source, t.target}) - known
        assert not unknown, f"{type_}: unknown state(s) {sorted(map(str, unknown))} in {t}"
    return Machine(
        type=type_, states=every, transitions=(*rows, *common),
        awaiting=dict(awaiting or {}), draft_kinds=dict(draft_kinds or {}),
        on_enter={RESOLVED: wind_down, CLOSED: wind_down, **(on_enter or {})},
        reopen_to=dict(reopen_to or {}), quiet_s=quiet_s,
    )


def publication(*, drafting: str, awaiting: str, approved: str, queued: str, publish: Step,
                then: tuple[tuple[tuple[Guard, ...], str], ...],
                approval_guards: tuple[Guard, ...] = ()) -> list[Transition]:
    """Draft → approval (所属長の承認) → publish, or queue until business hours:
    the path every outbound text takes. `then` lists (guards, state) for after publishing."""
    return [
        on("draft", (drafting, awaiting),
           when=(draft_payload_valid, kind_expected_here, preapproval_permitted),
           do=store_draft),
        on("edit_draft", (drafting, awaiting), when=(draft_editable,), do=edit_draft),
        on("override_warning", awaiting, when=(draft_has_those_warnings,), do=override_warnings),
        on("reject", awaiting, when=(draft_pending, gives_a_reason), do=reject_draft),
        at_once(drafting, awaiting, when=(a_draft_awaits_approval,)),
        at_once(awaiting, drafting, when=(no_draft_awaits_approval,)),
        on("approve", awaiting, approved,
           when=(draft_pending, draft_ready, *approval_guards, approval_valid),
           do=record_approval),
        *(at_once(approved, state, when=(may_post_now, *guards), do=publish)
          for guards, state in then),
        at_once(approved, queued, when=(must_wait_for_business_hours,),
                do=queue_until_business_hours),
        *(on("deadline:business_open", queued, state, when=(approval_still_valid, *guards),
             do=publish) for guards, state in then),
        on("deadline:business_open", queued, awaiting, when=(approval_lapsed,),
           do=lapse_approval),
        on("edit_draft", queued, awaiting, when=(draft_editable, is_the_queued_draft),
           do=edit_draft),
        on("reject", queued, awaiting, when=(is_the_queued_draft, gives_a_reason),
           do=reject_draft),
    ]


STATEMENT_KINDS = frozenset({"statement", "holding", "correction"})  # 説明・訂正・謝罪, and 「確認中」

#: 炎上: hold replies, escalate to 広報課, statement approved by the owner, monitor, release.
FLAME = _machine(
    "flame",
    ("escalated", "drafting", "awaiting_approval", "approved", "queued", "monitoring"),
    [
        on("opened", NEW, "escalated", do=hold_replies_and_notify),
        on("acknowledge", "escalated", "drafting", when=(not_yet_acknowledged,),
           do=acknowledge_and_start_statement_clock),
        *publication(drafting="drafting", awaiting="awaiting_approval", approved="approved",
                     queued="queued", publish=post_statement_on_account,
                     then=(((final_statement,), "monitoring"),
                           ((holding_statement,), "drafting"))),
        on("deadline:statement", ("drafting", "awaiting_approval"), when=(no_statement_out,),
           do=offer_holding_statement),
        on("deadline:week_open", ("escalated", "drafting", "awaiting_approval", "queued", "monitoring"),
           do=raise_to_the_top),
        on("back_to_baseline", "monitoring", RESOLVED),
        on("deadline:monitoring_end", "monitoring", RESOLVED, when=(quiet_long_enough,)),
        on("deadline:monitoring_end", "monitoring", when=(still_active,), do=keep_watching),
        on("mark_false_positive", ("escalated", "drafting", "awaiting_approval"), CLOSED,
           when=(nothing_published,)),
    ],
    awaiting={"escalated": "acknowledge", "drafting": "draft", "awaiting_approval": "approve"},
    draft_kinds={"drafting": STATEMENT_KINDS, "awaiting_approval": STATEMENT_KINDS},
    on_enter={"monitoring": watch_for_quiet},
    reopen_to={"queued": "awaiting_approval"},
    # Monitoring ends after the flame detector's quiet period (FlameConfig.episode_end_s): a
    # 炎上 that comes back the next evening is the same incident, with replies still held.
    quiet_s=48 * 3600,
)

#: なりすまし: verify, report to PR and information policy, ask the platform to delete it,
#: announce it on the city website, tell the press, watch until the account is gone.
IMPERSONATION = _machine(
    "impersonation",
    ("verifying", "reported", "takedown_requested", "notice_awaiting_approval", "notice_approved",
     "notice_queued", "notice_published", "press_awaiting_approval", "press_approved",
     "press_queued", "watching"),
    [
        on("opened", NEW, "verifying", do=notify_on_call),
        on("verify", "verifying", "reported", do=report_to_pr_and_info_policy),
        on("mark_false_positive", "verifying", CLOSED),
        at_once("reported", "takedown_requested", do=request_takedown),
        *publication(drafting="takedown_requested", awaiting="notice_awaiting_approval",
                     approved="notice_approved", queued="notice_queued", publish=publish_notice,
                     then=(((), "notice_published"),)),
        *publication(drafting="notice_published", awaiting="press_awaiting_approval",
                     approved="press_approved", queued="press_queued",
                     publish=notify_press_with_release, then=(((), "watching"),)),
        on("account_gone", ("verifying", "takedown_requested", "notice_awaiting_approval",
                            "notice_queued", "notice_published", "press_awaiting_approval",
                            "press_queued", "watching"),
           when=(account_not_yet_gone,), do=note_account_gone),
        at_once("watching", RESOLVED, when=(account_is_gone,)),
    ],
    awaiting={"verifying": "verify", "takedown_requested": "draft",
              "notice_awaiting_approval": "approve", "notice_published": "draft",
              "press_awaiting_approval": "approve"},
    draft_kinds={"takedown_requested": frozenset({"warning"}),
                 "notice_awaiting_approval": frozenset({"warning"}),
                 "notice_published": frozenset({"press"}),
                 "press_awaiting_approval": frozenset({"press"})},
    reopen_to={"notice_queued": "notice_awaiting_approval",
               "press_queued": "press_awaiting_approval"},
)

#: デマ: find the official page, post the correction with its link on every account,
#: tell the press when it matters, monitor.
MISINFORMATION = _machine(
    "misinformation",
    ("checking", "drafting", "awaiting_approval", "approved", "queued", "corrected", "monitoring"),
    [
        on("opened", NEW, "checking", do=notify_on_call),
        on("fact_check", "checking", "drafting", when=(has_source_url,), do=record_source),
        on("fact_check", ("drafting", "awaiting_approval"), when=(has_source_url,),
           do=record_source),
        *publication(drafting="drafting", awaiting="awaiting_approval", approved="approved",
                     queued="queued", publish=post_correction_everywhere,
                     then=(((), "corrected"),),
                     approval_guards=(cites_source_in_every_language,)),
        at_once("corrected", "monitoring", when=(press_warranted,), do=notify_press_of_correction),
        at_once("corrected", "monitoring", when=(press_not_warranted,)),
        on("mark_false_positive", ("checking", "drafting", "awaiting_approval"), CLOSED,
           when=(nothing_published,)),
        on("back_to_baseline", "monitoring", RESOLVED),
        on("deadline:monitoring_end", "monitoring", RESOLVED, when=(quiet_long_enough,)),
        on("deadline:monitoring_end", "monitoring", when=(still_active,), do=keep_watching),
    ],
    awaiting={"checking": "fact_check", "drafting": "draft", "awaiting_approval": "approve"},
    draft_kinds={"drafting": frozenset({"correction"}),
                 "awaiting_approval": frozenset({"correction"})},
    on_enter={"monitoring": watch_for_quiet},
    reopen_to={"queued": "awaiting_approval"},
    quiet_s=24 * 3600,
)

#: 災害: disaster mode on (posting out of hours, rescue requests queued), until turned off.
DISASTER = _machine(
    "disaster",
    ("disaster_mode",),
    [
        on("opened", NEW, "disaster_mode", do=enter_disaster_mode),
        on("rescue_requests", ("disaster_mode", RESOLVED, CLOSED), do=queue_rescues),
        on("rescue_handled", ("disaster_mode", RESOLVED, CLOSED), when=(rescue_known, rescue_not_yet_handled),
           do=mark_rescue_handled),
        on("disaster_mode_off", "disaster_mode", RESOLVED, when=(actor_may_resolve,)),
        on("mark_false_positive", "disaster_mode", CLOSED),
    ],
)

MACHINES: Mapping[str, Machine] = {m.type: m for m in (FLAME, IMPERSONATION, MISINFORMATION, DISASTER)}

__all__ = [
    "ACTION_LABELS", "CLOSED", "COMMANDS", "MACHINES", "NEW", "REOPEN_WINDOW_S", "RESOLVED", "RESPONDER_COMMANDS",
    "RESUME", "ROLE_COMMANDS", "ROLE_LABELS", "STATE_LABELS", "TERMINAL", "Machine", "Transition",
    "action_label", "state_label",
]
