"""The playbooks' rules: roster and escalation, business hours and holidays, approvals."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import pytest

from playbooks.policy import (
    ACK_DEADLINE_S,
    APPROVAL_TTL_S,
    JST,
    LEVEL_OPERATOR,
    LEVEL_OWNER,
    LEVEL_PR_HEAD,
    PREAPPROVED_CATEGORIES,
    Approval,
    Contact,
    Roster,
    RosterError,
    ack_deadline,
    check_approval,
    check_preapproved_post,
    draft_hash,
    holiday_name,
    in_business_hours,
    is_business_day,
    may_post_now,
    next_business_open,
    next_level,
    recipients,
    roster_from_profile,
)

SAMPLE_PROFILE = Path(__file__).parents[1] / "data" / "wako-sample.profile.json"


def jst(y: int, m: int, d: int, hour: int = 12, minute: int = 0) -> float:
    return datetime(y, m, d, hour, minute, tzinfo=JST).timestamp()


def profile(**extra) -> dict:
    return {"municipality": {"id": "wako", "name": "和光市"},
            "accounts": [{"platform": "x", "handle": "wako_city_official", "name": "和光市役所",
                          "department": "広報課", "owner": "広報課長"}], **extra}


def roster_of(*contacts: Contact) -> Roster:
    return Roster("wako", contacts)


NIGHT = jst(2026, 11, 24, 23)  # a Tuesday, 23:00 JST
ON_CALL_QUIET = Contact("佐藤", "operator", LEVEL_OPERATOR, ("chat:slack",), quiet_hours=(22, 7))
ON_CALL_AWAKE = Contact("鈴木", "operator", LEVEL_OPERATOR, ("chat:slack",))
OWNER = Contact("広報課長", "owner", LEVEL_OWNER, ("email:kacho@city.wako.lg.jp",))
OWNER_QUIET = replace(OWNER, quiet_hours=(22, 7))
PR_HEAD = Contact("広報部長", "pr_head", LEVEL_PR_HEAD, ("lineworks:bucho",))


# --- roster ------------------------------------------------------------------


def test_a_roster_in_the_profile_is_read_with_levels_channels_and_quiet_hours() -> None:
    raw = profile(roster={"contacts": [
        {"name": "佐藤", "role": "operator", "level": 1, "channels": ["chat:slack"], "quiet_hours": [22, 7]},
        {"name": "広報課長", "role": "owner", "level": 2, "channels": ["email:kacho@city.wako.lg.jp"]},
        {"name": "広報部長", "role": "pr_head", "level": 3, "channels": ["lineworks:bucho"]},
    ]})

    roster = roster_from_profile(raw)

    assert roster == roster_of(ON_CALL_QUIET, OWNER, PR_HEAD)


def test_a_contacts_level_follows_from_its_role_when_left_out() -> None:
    raw = profile(roster={"contacts": [{"name": "広報課", "role": "pr", "channels": ["email:koho@city.wako.lg.jp"]},
                                       {"name": "佐藤", "role": "operator"}]})

    pr, operator = roster_from_profile(raw).contacts

    assert (pr.level, operator.level) == (0, LEVEL_OPERATOR)
    assert operator.channels == () and operator.quiet_hours is None


def test_without_a_roster_the_account_owner_is_level_two_and_the_pr_department_is_pr() -> None:
    raw = json.loads(SAMPLE_PROFILE.read_text(encoding="utf-8"))

    roster = roster_from_profile(raw)

    assert roster.municipality == "wako"
    assert roster.at_level(LEVEL_OWNER) == (Contact("広報課長", "owner", LEVEL_OWNER),)
    assert roster.with_role("pr") == (Contact("広報課", "pr", 0),)
    assert roster.at_level(LEVEL_OPERATOR) == () and roster.at_level(LEVEL_PR_HEAD) == ()


def test_the_default_roster_names_an_owner_of_several_accounts_once_and_no_pr_for_other_departments() -> None:
    raw = profile()
    raw["accounts"] += [
        {"platform": "line", "handle": "wako_line", "name": "和光市LINE", "department": "広報課", "owner": "広報課長"},
        {"platform": "x", "handle": "wako_bousai", "name": "和光市防災", "department": "危機管理室", "owner": "危機管理室長"},
        {"platform": "instagram", "handle": "wako_ig", "name": "和光市"},
    ]

    roster = roster_from_profile(raw)

    assert [c.name for c in roster.with_role("owner")] == ["広報課長", "危機管理室長"]
    assert [c.name for c in roster.with_role("pr")] == ["広報課"]


@pytest.mark.parametrize("department", ["広報対話課", "シティプロモーション課"])
def test_the_default_roster_knows_the_pr_division_by_its_other_names(department: str) -> None:
    raw = profile()
    raw["accounts"][0]["department"] = department

    assert roster_from_profile(raw).with_role("pr") == (Contact(department, "pr", 0),)


def operator(**fields) -> dict:
    return {"contacts": [{"name": "佐藤", "role": "operator", **fields}]}


FIRST = r"^roster\.contacts\[0\]"


@pytest.mark.parametrize(("roster", "field"), [
    ([], r"^roster: "),
    ({"contacts": []}, r"^roster\.contacts: "),
    ({"contacts": ["佐藤"]}, FIRST + ": "),
    ({"contacts": [{"role": "operator"}]}, FIRST + r"\.name: "),
    (operator(role="intern"), FIRST + r"\.role: 'intern'"),
    (operator(level=2), FIRST + r"\.level: "),
    (operator(level="1"), FIRST + r"\.level: "),
    (operator(channels="chat:slack"), FIRST + r"\.channels: "),
    (operator(channels=["slack"]), FIRST + r"\.channels: "),
    (operator(quiet_hours=[22, 24]), FIRST + r"\.quiet_hours: "),
    (operator(quiet_hours=[7, 7]), FIRST + r"\.quiet_hours: "),
    (operator(quiet_hours=[22]), FIRST + r"\.quiet_hours: "),
])
def test_a_malformed_roster_is_refused_naming_the_field(roster: object, field: str) -> None:
    with pytest.raises(RosterError, match=field):
        roster_from_profile(profile(roster=roster))


def test_a_roster_error_is_a_value_error_and_a_profile_without_municipality_id_is_refused() -> None:
    assert issubclass(RosterError, ValueError)
    with pytest.raises(RosterError, match=r"^municipality\.id"):
        roster_from_profile({"accounts": []})
    with pytest.raises(RosterError, match=r"^accounts\[0\]\.owner"):
        roster_from_profile({"municipality": {"id": "wako"}, "accounts": [{"owner": 3}]})


def test_a_roster_answers_by_level_and_by_role_in_its_own_order() -> None:
    press = Contact("埼玉新聞", "press", 0, ("email:desk@example.jp",))
    roster = roster_of(ON_CALL_QUIET, OWNER, press, ON_CALL_AWAKE)

    assert roster.at_level(LEVEL_OPERATOR) == (ON_CALL_QUIET, ON_CALL_AWAKE)
    assert roster.with_role("press") == (press,)
    assert roster.with_role("info_policy") == ()


# --- acknowledgement and escalation ---------------------------------------------


def test_the_ack_deadline_shortens_as_severity_rises() -> None:
    since = jst(2026, 11, 24, 10)

    deadlines = {s: ack_deadline(s, since) - since for s in ("low", "medium", "high", "critical")}

    assert deadlines == {"low": 8 * 3600, "medium": 2 * 3600, "high": 30 * 60, "critical": 10 * 60}
    assert deadlines == ACK_DEADLINE_S


def test_an_unknown_severity_is_an_error_not_a_default() -> None:
    with pytest.raises(ValueError, match="severity: 'urgent'"):
        ack_deadline("urgent", 0.0)
    with pytest.raises(ValueError, match="severity"):
        recipients(roster_of(OWNER), LEVEL_OWNER, NIGHT, "urgent", False)


def test_escalation_goes_from_operator_to_owner_to_pr_head_and_then_stops() -> None:
    assert next_level(LEVEL_OPERATOR) == LEVEL_OWNER
    assert next_level(LEVEL_OWNER) == LEVEL_PR_HEAD
    assert next_level(LEVEL_PR_HEAD) is None


@pytest.mark.parametrize("level", [0, 4])
def test_there_is_no_escalation_from_outside_the_on_call_levels(level: int) -> None:
    pr_desk = roster_of(Contact("広報課", "pr", 0), OWNER)

    with pytest.raises(ValueError, match="level"):
        next_level(level)
    with pytest.raises(ValueError, match="level"):
        recipients(pr_desk, level, NIGHT, "high", False)


@pytest.mark.parametrize("severity", ["low", "medium"])
def test_quiet_hours_hold_back_low_and_medium_notifications_at_night(severity: str) -> None:
    roster = roster_of(ON_CALL_QUIET, ON_CALL_AWAKE, OWNER)

    assert recipients(roster, LEVEL_OPERATOR, NIGHT, severity, False) == (ON_CALL_AWAKE,)


@pytest.mark.parametrize("severity", ["high", "critical"])
def test_quiet_hours_do_not_hold_back_high_or_critical_notifications(severity: str) -> None:
    roster = roster_of(ON_CALL_QUIET, ON_CALL_AWAKE, OWNER)

    assert recipients(roster, LEVEL_OPERATOR, NIGHT, severity, False) == (ON_CALL_QUIET, ON_CALL_AWAKE)


def test_quiet_hours_do_not_hold_back_anything_in_a_disaster() -> None:
    roster = roster_of(ON_CALL_QUIET, OWNER)

    assert recipients(roster, LEVEL_OPERATOR, NIGHT, "low", True) == (ON_CALL_QUIET,)


def test_quiet_hours_run_from_their_start_hour_up_to_their_end_hour() -> None:
    roster = roster_of(ON_CALL_QUIET, OWNER)

    assert recipients(roster, LEVEL_OPERATOR, jst(2026, 11, 24, 21, 59), "low", False) == (ON_CALL_QUIET,)
    assert recipients(roster, LEVEL_OPERATOR, jst(2026, 11, 24, 22, 0), "low", False) == (OWNER,)
    assert recipients(roster, LEVEL_OPERATOR, jst(2026, 11, 25, 6, 59), "low", False) == (OWNER,)
    assert recipients(roster, LEVEL_OPERATOR, jst(2026, 11, 25, 7, 0), "low", False) == (ON_CALL_QUIET,)


def test_quiet_hours_within_one_day_do_not_wrap_around_midnight() -> None:
    lunch = Contact("田中", "operator", LEVEL_OPERATOR, quiet_hours=(12, 13))
    roster = roster_of(lunch, OWNER)

    assert recipients(roster, LEVEL_OPERATOR, jst(2026, 11, 24, 12, 30), "low", False) == (OWNER,)
    assert recipients(roster, LEVEL_OPERATOR, NIGHT, "low", False) == (lunch,)


def test_escalation_goes_up_a_level_when_nobody_at_the_level_is_reachable() -> None:
    roster = roster_of(ON_CALL_QUIET, OWNER_QUIET, PR_HEAD)

    assert recipients(roster, LEVEL_OPERATOR, NIGHT, "medium", False) == (PR_HEAD,)


def test_escalation_goes_up_a_level_when_the_level_has_nobody_on_it() -> None:
    roster = roster_from_profile(profile())

    assert recipients(roster, LEVEL_OPERATOR, NIGHT, "low", False) == (Contact("広報課長", "owner", LEVEL_OWNER),)


def test_when_nobody_on_the_roster_may_be_woken_nobody_is_notified() -> None:
    roster = roster_of(ON_CALL_QUIET, OWNER_QUIET)

    assert recipients(roster, LEVEL_OPERATOR, NIGHT, "low", False) == ()
    assert recipients(roster, LEVEL_OPERATOR, NIGHT, "high", False) == (ON_CALL_QUIET,)


def test_recipients_never_include_pr_or_press_contacts_outside_the_levels() -> None:
    roster = roster_of(Contact("広報課", "pr", 0), Contact("埼玉新聞", "press", 0), PR_HEAD)

    assert recipients(roster, LEVEL_OPERATOR, NIGHT, "critical", True) == (PR_HEAD,)


# --- business hours and holidays ---------------------------------------------------


def test_business_hours_open_at_8_30_and_not_a_minute_earlier() -> None:
    assert not in_business_hours(jst(2026, 11, 24, 8, 29))
    assert in_business_hours(jst(2026, 11, 24, 8, 30))


def test_business_hours_include_17_15_and_end_before_17_16() -> None:
    assert in_business_hours(jst(2026, 11, 24, 17, 15))
    assert not in_business_hours(jst(2026, 11, 24, 17, 16))


def test_business_hours_are_counted_in_japan_time_whatever_the_utc_date() -> None:
    # 23:45 UTC on Monday is 8:45 on Tuesday in Japan.
    assert in_business_hours(datetime.fromisoformat("2026-11-23T23:45:00+00:00").timestamp())
    assert not in_business_hours(datetime.fromisoformat("2026-11-24T09:00:00+00:00").timestamp())


@pytest.mark.parametrize("day", [date(2026, 11, 28), date(2026, 11, 29)])
def test_weekends_are_closed(day: date) -> None:
    assert not in_business_hours(jst(day.year, day.month, day.day, 10))


@pytest.mark.parametrize(("day", "name"), [
    (date(2025, 2, 24), "天皇誕生日 振替休日"),  # 天皇誕生日 on a Sunday
    (date(2025, 5, 6), "みどりの日 振替休日"),  # みどりの日 on a Sunday, こどもの日 on the Monday
    (date(2025, 11, 24), "勤労感謝の日 振替休日"),
    (date(2026, 1, 12), "成人の日"),
    (date(2026, 5, 6), "憲法記念日 振替休日"),  # 憲法記念日 on a Sunday: the first free day after
    (date(2026, 9, 22), "国民の休日"),  # between 敬老の日 and 秋分の日
    (date(2026, 11, 23), "勤労感謝の日"),
    (date(2027, 3, 22), "春分の日 振替休日"),  # 春分の日 on a Sunday
    (date(2027, 10, 11), "スポーツの日"),
])
def test_public_holidays_and_substitute_holidays_are_closed(day: date, name: str) -> None:
    assert day.weekday() < 5
    assert holiday_name(day) == name
    assert not is_business_day(day)
    assert not in_business_hours(jst(day.year, day.month, day.day, 10))


@pytest.mark.parametrize("day", [date(2025, 2, 25), date(2026, 9, 24), date(2027, 3, 23), date(2026, 11, 24)])
def test_the_working_day_after_a_holiday_is_open(day: date) -> None:
    assert holiday_name(day) is None
    assert in_business_hours(jst(day.year, day.month, day.day, 10))


@pytest.mark.parametrize("day", [date(2025, 12, 29), date(2025, 12, 30), date(2025, 12, 31),
                                 date(2026, 1, 2), date(2027, 12, 29), date(2027, 12, 31), date(2028, 1, 3)])
def test_the_year_end_closure_runs_from_12_29_to_1_3(day: date) -> None:
    assert day.weekday() < 5 and holiday_name(day) is None
    assert not in_business_hours(jst(day.year, day.month, day.day, 10))


@pytest.mark.parametrize("day", [date(2025, 12, 26), date(2026, 1, 5), date(2027, 12, 28), date(2028, 1, 4)])
def test_the_days_either_side_of_the_year_end_closure_are_open(day: date) -> None:
    assert in_business_hours(jst(day.year, day.month, day.day, 10))


@pytest.mark.parametrize("day", [date(2019, 5, 1), date(2021, 7, 23), date(2024, 2, 12), date(2024, 9, 23),
                                 date(2028, 3, 20), date(2029, 4, 30)])
def test_other_years_holidays_are_closed_too(day: date) -> None:
    assert holiday_name(day) is not None
    assert not is_business_day(day)


def test_next_business_open_is_now_while_the_offices_are_open() -> None:
    now = jst(2026, 11, 24, 10, 5)

    assert next_business_open(now) == now


def test_next_business_open_is_8_30_the_same_morning_before_opening() -> None:
    assert next_business_open(jst(2026, 11, 24, 6, 0)) == jst(2026, 11, 24, 8, 30)


def test_next_business_open_after_closing_skips_the_weekend_and_a_substitute_holiday() -> None:
    friday_evening = jst(2025, 2, 21, 17, 16)

    assert next_business_open(friday_evening) == jst(2025, 2, 25, 8, 30)


def test_next_business_open_skips_the_year_end_closure() -> None:
    assert next_business_open(jst(2025, 12, 26, 18, 0)) == jst(2026, 1, 5, 8, 30)


# --- posting out of hours -------------------------------------------------------------

SATURDAY_NIGHT = jst(2026, 11, 28, 22)


@pytest.mark.parametrize("incident_type", ["flame", "impersonation", "misinformation", "disaster"])
def test_anything_may_be_posted_in_business_hours(incident_type: str) -> None:
    assert may_post_now(jst(2026, 11, 24, 10), incident_type=incident_type, severity="low", disaster=False)


@pytest.mark.parametrize(("incident_type", "severity", "disaster", "allowed"), [
    ("disaster", "low", False, True),
    ("flame", "low", True, True),  # disaster mode: everything the city says may be urgent
    ("misinformation", "critical", False, True),
    ("misinformation", "high", False, True),
    ("misinformation", "medium", False, False),
    ("misinformation", "low", False, False),
    ("flame", "critical", False, True),
    ("flame", "high", False, False),
    ("impersonation", "critical", False, False),
])
def test_out_of_hours_only_disasters_and_urgent_corrections_may_be_posted(
        incident_type: str, severity: str, disaster: bool, allowed: bool) -> None:
    assert may_post_now(SATURDAY_NIGHT, incident_type=incident_type, severity=severity, disaster=disaster) is allowed


def test_may_post_now_refuses_an_unknown_incident_type() -> None:
    with pytest.raises(ValueError, match="incident_type: 'fire'"):
        may_post_now(SATURDAY_NIGHT, incident_type="fire", severity="high", disaster=False)


# --- approval -------------------------------------------------------------------------

TEXTS = {"ja": "本日のイベントは中止します。", "easy_ja": "きょうの イベントは ありません。", "en": "Today's event is cancelled."}
APPROVED_AT = jst(2026, 11, 24, 10)


def approval(**changes) -> Approval:
    base = Approval(approver="広報課長", approver_role="owner", draft_id="d1",
                    draft_hash=draft_hash(TEXTS), at=APPROVED_AT)
    return replace(base, **changes)


def check(a: Approval, *, drafter: str = "佐藤", texts: dict | None = None, now: float = APPROVED_AT + 600):
    return check_approval(a, drafter=drafter, draft_id="d1", draft_hash=draft_hash(texts or TEXTS), now=now)


def test_the_draft_hash_does_not_depend_on_the_order_of_the_variants() -> None:
    reordered = dict(reversed(list(TEXTS.items())))

    assert draft_hash(reordered) == draft_hash(TEXTS)
    assert draft_hash(TEXTS).startswith("sha256:")


@pytest.mark.parametrize("change", [
    {"en": "Today's event is canceled."},
    {"easy_ja": "きょうの イベントは ありません"},
    {"zh": "今天的活动取消。"},
])
def test_the_draft_hash_changes_when_any_variant_changes(change: dict) -> None:
    assert draft_hash({**TEXTS, **change}) != draft_hash(TEXTS)


def test_the_draft_hash_tells_which_language_a_text_is_in() -> None:
    assert draft_hash({"ja": "a", "en": "b"}) != draft_hash({"ja": "b", "en": "a"})


def test_the_draft_hash_refuses_anything_but_texts() -> None:
    with pytest.raises(ValueError, match="text_variants"):
        draft_hash({"ja": None})  # type: ignore[dict-item]


@pytest.mark.parametrize("role", ["owner", "pr_head"])
def test_an_approval_by_the_owner_or_the_pr_head_of_the_unchanged_draft_is_accepted(role: str) -> None:
    verdict = check(approval(approver_role=role))

    assert verdict.ok
    assert "広報課長" in verdict.reason_ja and "広報課長" in verdict.reason_en


@pytest.mark.parametrize("approver", ["佐藤", " 佐藤 ", "ｓａｔｏ"])
def test_the_drafter_cannot_approve_their_own_draft(approver: str) -> None:
    drafter = "sato" if approver == "ｓａｔｏ" else "佐藤"

    verdict = check(approval(approver=approver, approver_role="owner"), drafter=drafter)

    assert not verdict.ok
    assert "起案者本人" in verdict.reason_ja and "own draft" in verdict.reason_en


@pytest.mark.parametrize("role", ["operator", "pr", "info_policy", "press"])
def test_only_the_owner_or_the_pr_head_may_approve(role: str) -> None:
    verdict = check(approval(approver="鈴木", approver_role=role))

    assert not verdict.ok
    assert "所属長" in verdict.reason_ja and role in verdict.reason_en


def test_a_draft_edited_after_approval_needs_approval_again() -> None:
    verdict = check(approval(), texts={**TEXTS, "ja": "本日のイベントは延期します。"})

    assert not verdict.ok
    assert "変更" in verdict.reason_ja and "changed" in verdict.reason_en


def test_an_approval_holds_until_its_ttl_and_expires_after() -> None:
    assert check(approval(), now=APPROVED_AT + APPROVAL_TTL_S).ok

    verdict = check(approval(), now=APPROVED_AT + APPROVAL_TTL_S + 1)

    assert not verdict.ok
    assert "24時間" in verdict.reason_ja and "24 h" in verdict.reason_en


def test_an_approval_of_another_draft_does_not_count() -> None:
    verdict = check(approval(draft_id="d2"))

    assert not verdict.ok and "d2" in verdict.reason_ja


def test_an_approval_dated_after_now_or_without_an_approver_is_refused() -> None:
    assert not check(approval(), now=APPROVED_AT - 1).ok
    assert not check(approval(approver=" ")).ok


# --- pre-approved scope -------------------------------------------------------------------


@pytest.mark.parametrize("category", sorted(PREAPPROVED_CATEGORIES))
def test_an_operator_may_post_a_pre_approved_category_then_reports_it_and_has_it_checked(category: str) -> None:
    verdict = check_preapproved_post(category, poster_role="operator")

    assert verdict.ok
    assert PREAPPROVED_CATEGORIES[category] in verdict.reason_ja
    assert "所属長へ報告" in verdict.reason_ja and "複数の職員" in verdict.reason_ja
    assert "report" in verdict.reason_en and "second person" in verdict.reason_en


def test_the_pre_approved_categories_are_the_four_of_the_guidelines() -> None:
    assert PREAPPROVED_CATEGORIES == {"published": "公表済み", "established_fact": "既成の事実",
                                      "legal_procedure": "法令で定められた手続", "faq": "FAQ"}


@pytest.mark.parametrize("category", [None, "statement", "apology", "公表済み"])
def test_anything_outside_the_pre_approved_categories_needs_the_owners_approval(category: str | None) -> None:
    verdict = check_preapproved_post(category, poster_role="operator")

    assert not verdict.ok
    assert "所属長の承認" in verdict.reason_ja and "owner must approve" in verdict.reason_en


@pytest.mark.parametrize("role", ["press", "info_policy", "resident"])
def test_roles_that_do_not_run_the_accounts_may_not_post_at_all(role: str) -> None:
    assert not check_preapproved_post("faq", poster_role=role).ok
