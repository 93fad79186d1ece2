"""The playbooks' words: what a person reads in a notification, a holding statement, a
takedown report or a refusal, in Japanese and English, and the labels of states and actions.

Pure data and small functions of plain values; the steps and guards choose which words
to use, this module owns how they read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from playbooks.transitions import CLOSED, NEW, RESOLVED

#: The languages every outbound text is drafted in: Japanese, やさしい日本語, English.
LANGUAGES = ("ja", "easy_ja", "en")

#: 「確認中」: the holding statement offered when nothing has been posted for a while.
HOLDING_TEXTS = {
    "ja": "現在、事実関係を確認しております。確認の上、改めてお知らせします。",
    "easy_ja": "いま、なにが あったか しらべて います。わかったら、また おしらせ します。",
    "en": "We are confirming the facts. We will let you know again once they are confirmed.",
}

TYPE_LABELS = {"flame": ("炎上", "flame-up"), "impersonation": ("なりすまし", "impersonation"),
               "misinformation": ("デマ", "misinformation"), "disaster": ("災害", "disaster")}

#: Why replies are held, as the responder records it on the account.
HOLD_REASON_OPENED = "炎上対応中のため、返信を保留します。"
HOLD_REASON_REOPENED = "炎上対応の再開のため、返信を保留します。"

#: The second line of a notification, by its reason: (日本語, English).
NOTIFICATION_REASONS: Mapping[str, tuple[str, str]] = {
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
    "resurgence": ("収まっていた事案が再燃し、拡大しています。ボードで確認してください。",
                   "The incident had calmed down and has flared up again, larger: please check the board."),
    "unreachable": ("担当者に通知が届きませんでした。代わりに確認し、担当者に連絡してください。",
                    "A notification could not reach the person on duty: please check in their place "
                    "and contact them."),
}


ROLE_LABELS: Mapping[str, tuple[str, str]] = {
    "operator": ("運用担当者", "an operator"), "owner": ("所属長", "the account owner"),
    "pr_head": ("広報課長", "the head of PR"), "pr": ("広報課", "PR division staff"),
}

#: Words for rejections and the board: (日本語, English).
STATE_LABELS: Mapping[str, tuple[str, str]] = {
    NEW: ("未開始", "not opened"),
    "escalated": ("受付待ち", "awaiting acknowledgement"),
    "drafting": ("文案作成中", "drafting"),
    "awaiting_approval": ("承認待ち", "awaiting approval"),
    "approved": ("承認済み", "approved"),
    "queued": ("開庁時間待ち", "queued until business hours"),
    "monitoring": ("経過観察中", "monitoring"),
    "verifying": ("確認待ち", "awaiting verification"),
    "reported": ("報告済み", "reported"),
    "takedown_requested": ("削除依頼済み・周知文作成待ち", "takedown requested, notice to draft"),
    "notice_awaiting_approval": ("周知文の承認待ち", "notice awaiting approval"),
    "notice_approved": ("周知文承認済み", "notice approved"),
    "notice_queued": ("周知文の開庁時間待ち", "notice queued until business hours"),
    "notice_published": ("周知済み・報道提供文作成待ち", "notice published, press release to draft"),
    "press_awaiting_approval": ("報道提供文の承認待ち", "press release awaiting approval"),
    "press_approved": ("報道提供文承認済み", "press release approved"),
    "press_queued": ("報道提供の開庁時間待ち", "press release queued until business hours"),
    "watching": ("削除待ち", "watching until the account is gone"),
    "checking": ("事実確認待ち", "awaiting a fact check"),
    "corrected": ("訂正済み", "corrected"),
    "disaster_mode": ("災害モード", "disaster mode"),
    RESOLVED: ("解決済み", "resolved"),
    CLOSED: ("誤検知として終了", "closed as a false positive"),
}

ACTION_LABELS: Mapping[str, tuple[str, str]] = {
    "acknowledge": ("受付", "acknowledge"),
    "escalate": ("エスカレーション", "escalate"),
    "mark_false_positive": ("誤検知", "mark as false positive"),
    "resolve": ("解決", "resolve"),
    "reopen": ("再開", "reopen"),
    "draft": ("文案作成", "draft"),
    "edit_draft": ("文案修正", "edit draft"),
    "override_warning": ("警告の確認", "override warning"),
    "approve": ("承認", "approve"),
    "reject": ("差し戻し", "reject"),
    "verify": ("なりすまし確認", "verify"),
    "fact_check": ("事実確認", "fact check"),
    "channel_failed": ("送信失敗", "channel failed"),
    "delivery_possibly_sent": ("送信済みの可能性", "possibly sent"),
    "account_gone": ("アカウント削除確認", "account gone"),
    "disaster_mode_off": ("災害モード解除", "disaster mode off"),
    "rescue_handled": ("救助要請の対応済み", "mark rescue request handled"),
}


def state_label(state: str) -> tuple[str, str]:
    return STATE_LABELS.get(state, (state, state))


def action_label(action: str) -> tuple[str, str]:
    return ACTION_LABELS.get(action, (action, action))


class Refusal(NamedTuple):
    """Why an input was not applied, for the person who sent it."""

    reason_ja: str
    reason_en: str


def notification_message(type_: str, target: str, summary: str, severity: str,
                         reason: str) -> tuple[str, str]:
    """A notification's text: a headline naming the incident, then what the reader should do."""
    type_ja, type_en = TYPE_LABELS.get(type_, (type_, type_))
    head_ja = f"【{type_ja}】{target}: {summary}"
    head_en = f"[{type_en}] {target} (severity {severity})"
    ja, en = NOTIFICATION_REASONS[reason]
    return f"{head_ja}\n{ja}", f"{head_en}: {summary}\n{en}"


def takedown_report_ja(*, city: str, official: str | None, fake: str, site: str | None,
                       summary: str) -> str:
    """削除依頼: the report a platform's form receives, in Japanese."""
    whom = f"公式アカウント @{official}" if official else "公式アカウント"
    return (f"{city}の{whom}になりすましたアカウント @{fake} を確認しました。"
            f"このアカウントは{city}が運用するものではありません。"
            f"住民の誤認や被害を招くおそれがあるため、削除をお願いします。"
            + (f"{city}の公式アカウントは {site} に掲載しています。" if site else "")
            + f"（検知内容: {summary}）")


def possibly_sent_note(channel: Any, to: Any) -> tuple[str, str]:
    """送信済みの可能性 on the timeline: what was cut off and what was done about it."""
    where = f"{channel}（{to}）" if to else str(channel)
    return (f"送信済みの可能性：{where}。自動では再送せず、担当者に確認を依頼しました。",
            f"Possibly sent through {channel}: not resent; the people on call are asked to check it.")


def not_allowed_here(event: str, state: str) -> Refusal:
    action_ja, action_en = action_label(event)
    state_ja, state_en = state_label(state)
    return Refusal(f"「{action_ja}」は現在の状態（{state_ja}）ではできません。",
                   f"'{action_en}' is not allowed while the incident is {state_en}.")


def not_permitted_for(role: str, action: str) -> Refusal:
    ja, en = ROLE_LABELS.get(role, (role or "不明", f"a {role or 'sender without a role'}"))
    label_ja, label_en = action_label(action)
    return Refusal(f"{ja}には「{label_ja}」の権限がありません。", f"{en[0].upper()}{en[1:]} may not {label_en}.")


NO_SUCH_INCIDENT = Refusal("この事案は見つかりません。", "There is no such incident.")
ANOTHER_MUNICIPALITY = Refusal("他の自治体の事案は操作できません。",
                               "This incident belongs to another municipality.")


def malformed_command(field: str, problem: str) -> Refusal:
    """A command whose payload is not what its action needs (a board or responder bug, on the record)."""
    if problem == "missing":
        return Refusal(f"操作の内容に「{field}」がありません。", f"The command has no {field!r}.")
    return Refusal(f"操作の内容「{field}」が不正です。", f"The command's {field!r} {problem}.")


def unknown_action(action: str) -> Refusal:
    return Refusal(f"不明な操作です: {action}", f"Unknown action: {action}")


__all__ = [
    "ACTION_LABELS", "HOLDING_TEXTS", "LANGUAGES", "ROLE_LABELS", "STATE_LABELS", "TYPE_LABELS",
    "Refusal", "notification_message", "possibly_sent_note", "takedown_report_ja",
]
