"""The rules every playbook enforces (運用ルール): who is told and when, when the city may post, and whose approval counts.

Pure functions of plain data and `now` (POSIX seconds in event time); the municipality's clock is JST.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import jpholiday

from vocabulary.terms import INCIDENT_TYPES, JST, SEVERITIES


# --- the roster (連絡体制) -----------------------------------------------------

LEVEL_OPERATOR, LEVEL_OWNER, LEVEL_PR_HEAD = 1, 2, 3  # 当番 / 所属長(運用管理責任者) / 広報課長
ROLE_LEVELS = {"operator": LEVEL_OPERATOR, "owner": LEVEL_OWNER, "pr_head": LEVEL_PR_HEAD,
               "pr": 0, "info_policy": 0, "press": 0}
LEVEL_ROLES = {LEVEL_OPERATOR: "operator", LEVEL_OWNER: "owner", LEVEL_PR_HEAD: "pr_head"}
APPROVER_ROLES = frozenset({"owner", "pr_head"})
# Names the seeds give the PR division: 広報課, 広報対話課 (上越市), シティプロモーション課 (富士市).
_PR_DIVISION_MARKERS = ("広報", "シティプロモーション")


class RosterError(ValueError):
    """A profile's roster does not follow the contract; `str()` names the field and the reason."""


@dataclass(frozen=True)
class Contact:
    """A person or desk to notify. With no channels, the contact is reached on the board only."""

    name: str
    role: str  # "operator" | "owner" | "pr_head" | "pr" (広報課) | "info_policy" (情報政策課) | "press"
    level: int  # 1, 2, 3 for the on-call roster; 0 for others (広報課 members, press list)
    channels: tuple[str, ...] = ()  # e.g. ("email:koho@city.example.jp", "chat:slack", "lineworks:koho")
    quiet_hours: tuple[int, int] | None = None  # local hours (start, end), e.g. (22, 7): no non-urgent pings

    def is_quiet_at(self, now: float) -> bool:
        if self.quiet_hours is None:
            return False
        start, end = self.quiet_hours
        hour = datetime.fromtimestamp(now, JST).hour
        return start <= hour < end if start < end else hour >= start or hour < end


@dataclass(frozen=True)
class Roster:
    municipality: str
    contacts: tuple[Contact, ...]

    def at_level(self, level: int) -> tuple[Contact, ...]:
        return tuple(c for c in self.contacts if c.level == level)

    def with_role(self, role: str) -> tuple[Contact, ...]:
        return tuple(c for c in self.contacts if c.role == role)


def roster_from_profile(profile_raw: dict) -> Roster:
    """The profile's optional `roster`, or one built from its accounts' owners and PR departments."""
    if not isinstance(profile_raw, dict):
        raise RosterError("profile: expected a JSON object")
    muni = profile_raw.get("municipality")
    if not isinstance(muni, dict) or not isinstance(muni.get("id"), str) or not muni["id"]:
        raise RosterError("municipality.id: missing or not a string")
    if "roster" not in profile_raw:
        return Roster(muni["id"], _default_contacts(profile_raw))
    roster = profile_raw["roster"]
    if not isinstance(roster, dict):
        raise RosterError("roster: expected an object with a list of contacts")
    contacts = roster.get("contacts")
    if not isinstance(contacts, list) or not contacts:
        raise RosterError("roster.contacts: expected a non-empty list")
    return Roster(muni["id"], tuple(_contact(c, f"roster.contacts[{i}]") for i, c in enumerate(contacts)))


def _default_contacts(profile_raw: dict) -> tuple[Contact, ...]:
    accounts = profile_raw.get("accounts") or []
    if not isinstance(accounts, list):
        raise RosterError("accounts: expected a list")
    found: dict[tuple[str, str], Contact] = {}
    for i, account in enumerate(accounts):
        if not isinstance(account, dict):
            raise RosterError(f"accounts[{i}]: expected an object")
        owner, department = (_optional_str(account, key, f"accounts[{i}]") for key in ("owner", "department"))
        if owner:
            found.setdefault((owner, "owner"), Contact(owner, "owner", LEVEL_OWNER))
        if any(marker in department for marker in _PR_DIVISION_MARKERS):
            found.setdefault((department, "pr"), Contact(department, "pr", 0))
    return tuple(found.values())


def _optional_str(obj: dict, key: str, where: str) -> str:
    value = obj.get(key)
    if value is not None and not isinstance(value, str):
        raise RosterError(f"{where}.{key}: expected a string, got {value!r}")
    return (value or "").strip()


def _contact(raw: Any, where: str) -> Contact:
    if not isinstance(raw, dict):
        raise RosterError(f"{where}: expected an object")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise RosterError(f"{where}.name: missing or empty")
    role = raw.get("role")
    if role not in ROLE_LEVELS:
        raise RosterError(f"{where}.role: {role!r} is not one of {', '.join(ROLE_LEVELS)}")
    level = raw.get("level", ROLE_LEVELS[role])
    if type(level) is not int or level != ROLE_LEVELS[role]:
        raise RosterError(f"{where}.level: a {role} is at level {ROLE_LEVELS[role]}, got {level!r}")
    channels = raw.get("channels", [])
    if not isinstance(channels, list) or not all(_is_channel(ch) for ch in channels):
        raise RosterError(f"{where}.channels: expected a list of 'kind:address' strings, got {channels!r}")
    quiet = raw.get("quiet_hours")
    if quiet is not None:
        if (not isinstance(quiet, list | tuple) or len(quiet) != 2
                or not all(type(h) is int and 0 <= h <= 23 for h in quiet) or quiet[0] == quiet[1]):
            raise RosterError(f"{where}.quiet_hours: expected [start, end], two different hours 0–23, got {quiet!r}")
        quiet = (quiet[0], quiet[1])
    return Contact(name.strip(), role, level, tuple(channels), quiet)


def _is_channel(value: Any) -> bool:
    kind, sep, address = value.partition(":") if isinstance(value, str) else ("", "", "")
    return bool(kind and sep and address.strip())


# --- acknowledgement and escalation (エスカレーション) ------------------------

# How long an incident may wait for the on-call operator's 確認 before the next level is told.
# critical (an account taken over, disaster-time デマ): such posts spread within minutes, so 10 min.
# high (a flame-up under way): the flame detector's short window is 10 min and its long one 60 min;
#   30 min lets the owner act while the long window still describes the flame.
# medium: within the same half working day (2 h).
# low: within one working day (8 h, about the 7 h 45 min of 8:30–17:15), well inside the
#   24-hour response target for residents' comments [000].
ACK_DEADLINE_S: dict[str, int] = {
    "critical": 10 * 60,
    "high": 30 * 60,
    "medium": 2 * 3600,
    "low": 8 * 3600,
}


def _severity(severity: str) -> str:
    if severity not in SEVERITIES:
        raise ValueError(f"severity: {severity!r} is not one of {', '.join(SEVERITIES)}")
    return severity


def ack_deadline(severity: str, since: float) -> float:
    return since + ACK_DEADLINE_S[_severity(severity)]


def _on_call(level: int) -> int:
    if level not in (LEVEL_OPERATOR, LEVEL_OWNER, LEVEL_PR_HEAD):
        raise ValueError(f"level: {level!r} is not an on-call level (1, 2 or 3)")
    return level


def next_level(level: int) -> int | None:
    """1 → 2 → 3 → None: 当番 → 所属長 → 広報課長, then nobody higher."""
    return level + 1 if _on_call(level) < LEVEL_PR_HEAD else None


def recipients(roster: Roster, level: int, now: float, severity: str, disaster: bool) -> tuple[Contact, ...]:
    """Who to notify at `level` now, going up while a level has nobody reachable.

    Quiet hours hold back only low and medium notifications outside disasters. An empty
    answer means nobody on the roster may be woken for this: notify when quiet hours end.
    """
    urgent = disaster or _severity(severity) in ("high", "critical")
    current: int | None = _on_call(level)
    while current is not None:
        reachable = tuple(c for c in roster.at_level(current) if urgent or not c.is_quiet_at(now))
        if reachable:
            return reachable
        current = next_level(current)
    return ()


# --- business hours (就業時間) -------------------------------------------------

OPENS, CLOSES = time(8, 30), time(17, 15)  # 開庁時間 8:30–17:15, both ends included

def holiday_name(day: date) -> str | None:
    """The 祝日 or 休日 on `day` (振替休日 and 国民の休日 included), or None: `jpholiday`, which follows
    the Cabinet Office's list, so a one-off holiday (an enthronement, the Olympics' moved days)
    arrives as a release of it, not as a change here."""
    return jpholiday.is_holiday_name(day)


@dataclass(frozen=True)
class ClosureDays:
    """The city's own 閉庁日 beyond the national ones (a profile's `closure_days`, read by
    `playbooks.profile.closure_days_from_profile`): single dates, and month-days closed every year."""

    dates: frozenset[date] = frozenset()
    yearly: frozenset[tuple[int, int]] = frozenset()  # (month, day)

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and (day in self.dates or (day.month, day.day) in self.yearly)


NO_CLOSURES = ClosureDays()


def is_business_day(day: date, closed: ClosureDays = NO_CLOSURES) -> bool:
    """A weekday that is neither a 祝日・休日, nor in the 年末年始 closure (12/29–1/3, 行政機関の休日に
    関する法律), nor one of the city's own closure days `closed`."""
    year_end = (day.month == 12 and day.day >= 29) or (day.month == 1 and day.day <= 3)
    return day.weekday() < 5 and not year_end and day not in closed and holiday_name(day) is None


def in_business_hours(now: float, closed: ClosureDays = NO_CLOSURES) -> bool:
    local = datetime.fromtimestamp(now, JST)
    return is_business_day(local.date(), closed) and OPENS <= local.time() <= CLOSES


def next_business_open(now: float, closed: ClosureDays = NO_CLOSURES) -> float:
    """`now` if the offices are open, else the next 8:30 JST on a business day."""
    if in_business_hours(now, closed):
        return now
    local = datetime.fromtimestamp(now, JST)
    day = local.date() if local.time() < OPENS else local.date() + timedelta(days=1)
    while not is_business_day(day, closed):
        day += timedelta(days=1)
    return datetime.combine(day, OPENS, JST).timestamp()


def may_post_now(now: float, *, incident_type: str, severity: str, disaster: bool,
                 closed: ClosureDays = NO_CLOSURES) -> bool:
    """原則として就業時間内. Out of hours (the city's closure days `closed` included) only disaster
    information and urgent corrections [002].

    Urgent corrections are misinformation of high or critical severity, and statements on a
    critical flame-up; everything else waits for `next_business_open`.
    """
    if incident_type not in INCIDENT_TYPES:
        raise ValueError(f"incident_type: {incident_type!r} is not one of {', '.join(INCIDENT_TYPES)}")
    _severity(severity)
    if in_business_hours(now, closed) or disaster or incident_type == "disaster":
        return True
    if incident_type == "misinformation":
        return severity in ("high", "critical")
    return incident_type == "flame" and severity == "critical"


# --- approval (所属長の承認) ---------------------------------------------------

# What an operator may post without the owner's prior approval (富士市 運用指針, [004]).
PREAPPROVED_CATEGORIES = {
    "published": "公表済み",
    "established_fact": "既成の事実",
    "legal_procedure": "法令で定められた手続",
    "faq": "FAQ",
}
POSTING_ROLES = frozenset({"operator", "owner", "pr_head", "pr"})

# An approval holds for 24 h. Statements are about a situation that moves: after a day the facts,
# numbers and tone the owner approved are likely stale, so the owner should read it again. 24 h
# still carries an approval given at closing time over to the next morning's 8:30, and lapses
# over a weekend, when the owner should look again anyway.
APPROVAL_TTL_S = 24 * 3600


@dataclass(frozen=True)
class Approval:
    approver: str
    approver_role: str
    draft_id: str
    draft_hash: str
    at: float
    category: str | None = None


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason_ja: str = ""
    reason_en: str = ""


def draft_hash(text_variants: Mapping[str, str]) -> str:
    """A stable hash of a draft's texts (ja, easy_ja, en, …): any change to any of them changes it."""
    if not isinstance(text_variants, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in text_variants.items()):
        raise ValueError("text_variants: expected a mapping of language to text")
    canonical = json.dumps(dict(sorted(text_variants.items())), ensure_ascii=False, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _same_person(a: str, b: str) -> bool:
    # "Tanaka" and "ｔａｎａｋａ " are one person; self-approval must not slip through by spelling.
    def key(name: str) -> str:
        return unicodedata.normalize("NFKC", name).strip().casefold()
    return key(a) == key(b)


def check_approval(approval: Approval, *, drafter: str, draft_id: str, draft_hash: str, now: float) -> Verdict:
    """Whether `approval` lets this draft go out now; the first failing rule is the reason."""
    if approval.draft_id != draft_id:
        return Verdict(False, f"この承認は別の下書き（{approval.draft_id}）に対するものです",
                       f"The approval is for another draft ({approval.draft_id})")
    if not approval.approver.strip():
        return Verdict(False, "承認者が記録されていません", "The approval names no approver")
    if _same_person(approval.approver, drafter):
        return Verdict(False, "起案者本人は承認できません（別の者の承認が必要です）",
                       "The drafter cannot approve their own draft; someone else must")
    if approval.approver_role not in APPROVER_ROLES:
        return Verdict(False, "承認できるのは所属長（運用管理責任者）または広報課長です",
                       f"Only the account owner or the head of PR may approve, not a {approval.approver_role!r}")
    if approval.draft_hash != draft_hash:
        return Verdict(False, "承認後に下書きが変更されています。もう一度承認を受けてください",
                       "The draft was changed after it was approved; it needs approval again")
    if approval.at > now:
        return Verdict(False, "承認時刻が現在より後になっています", "The approval is dated after now")
    if now - approval.at > APPROVAL_TTL_S:
        hours = APPROVAL_TTL_S // 3600
        return Verdict(False, f"承認から{hours}時間を過ぎています。内容を見直し、もう一度承認を受けてください",
                       f"The approval is more than {hours} h old; review the draft and approve it again")
    return Verdict(True, f"{approval.approver}が承認済み", f"Approved by {approval.approver}")


def check_preapproved_post(category: str | None, *, poster_role: str) -> Verdict:
    """Whether a post may go out without the owner's prior approval: only in a pre-approved category."""
    if poster_role not in POSTING_ROLES:
        return Verdict(False, "この役割では公式アカウントに投稿できません",
                       f"A {poster_role!r} does not post on the official accounts")
    if category is None:
        return Verdict(False, "所属長の承認が必要です（事前承認の範囲外）",
                       "The account owner must approve this post (not in a pre-approved category)")
    if category not in PREAPPROVED_CATEGORIES:
        return Verdict(False, f"「{category}」は事前承認の範囲ではありません。所属長の承認が必要です",
                       f"{category!r} is not a pre-approved category; the account owner must approve it")
    label = PREAPPROVED_CATEGORIES[category]
    return Verdict(
        True,
        f"事前承認の範囲（{label}）です。可能な限り複数の職員で内容を確認し、投稿後は速やかに所属長へ報告してください",
        f"Pre-approved category ({category}): have a second person check it where possible, "
        "and report the post to the account owner at once",
    )
