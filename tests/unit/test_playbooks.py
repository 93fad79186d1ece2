"""The four playbooks walked through their paths: each test is a list of inputs
(detections, board commands, passed deadlines) with the state and the effects
(kind, target) each must produce, against a fake `Rules` that keeps Friday
business hours and a three-level roster."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

import orjson
import pytest

from playbooks.engine import (
    HOLDING_TEXTS, Approval, Decision, PlaybookState, PolicyRules, UnknownIncidentType, decide,
)
from playbooks.machines import MACHINES
from vocabulary.records import JST, BoardCommand, Deadline, Detection
from tests.unit.builders import OFFICIAL, at, detection, ts

# --- the fake rules ----------------------------------------------------------------


@dataclass(frozen=True)
class Contact:
    name: str
    role: str
    level: int
    channels: tuple[str, ...] = ("email",)


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason_ja: str = ""
    reason_en: str = ""


@dataclass(frozen=True)
class Finding:
    code: str
    level: str
    message_ja: str
    message_en: str
    excerpt: str


SATO, TANAKA, SUZUKI, TAKAHASHI, YAMAMOTO = (
    "当番 佐藤", "広報課長 田中", "広報 鈴木", "情報政策 高橋", "広報部長 山本")
ROSTER = (Contact(SATO, "operator", 1), Contact(TANAKA, "owner", 2), Contact(SUZUKI, "pr", 2),
          Contact(TAKAHASHI, "info_policy", 2), Contact(YAMAMOTO, "pr_head", 3))
OPERATOR = {"kind": "person", "name": SATO, "role": "operator"}
OWNER = {"kind": "person", "name": TANAKA, "role": "owner"}
PR = {"kind": "person", "name": SUZUKI, "role": "pr"}
RESPONDER = {"kind": "responder", "name": "noroshi"}  # as responders.responder sends it
APPROVAL_TTL_S = 12 * 3600


class Roster:
    def at_level(self, level: int) -> tuple[Contact, ...]:
        return tuple(c for c in ROSTER if c.level == level)

    def with_role(self, role: str) -> tuple[Contact, ...]:
        return tuple(c for c in ROSTER if c.role == role)


class FakeRules:
    """Weekdays 08:30–17:15 JST; ack within 15 min (5 when critical); approvals by the
    owner or PR head, not by the drafter, for 12 h; bit.ly blocks, 噂 warns."""

    def roster(self, profile_raw: Mapping[str, Any]) -> Roster:
        return Roster()

    def ack_deadline(self, severity: str, since: float) -> float:
        return since + (5 if severity == "critical" else 15) * 60

    def next_level(self, level: int) -> int | None:
        return level + 1 if level < 3 else None

    def recipients(self, roster: Roster, level: int, now: float, severity: str,
                   disaster: bool) -> tuple[Contact, ...]:
        return roster.at_level(level)

    def may_post_now(self, now: float, *, incident_type: str, severity: str, disaster: bool,
                     closed: Any = None) -> bool:
        t = datetime.fromtimestamp(now, JST)
        return disaster or (t.weekday() < 5 and (8, 30) <= (t.hour, t.minute) < (17, 15))

    def next_business_open(self, now: float, closed: Any = None) -> float:
        t = datetime.fromtimestamp(now, JST)
        day = t.replace(hour=8, minute=30, second=0, microsecond=0)
        if day <= t:
            day += timedelta(days=1)
        while day.weekday() >= 5:
            day += timedelta(days=1)
        return day.timestamp()

    def check_approval(self, approval: Approval, *, drafter: str, draft_id: str, draft_hash: str,
                       now: float) -> Verdict:
        if approval.approver == drafter:
            return Verdict(False, "自分の文案は承認できません。", "You cannot approve your own draft.")
        if approval.approver_role not in ("owner", "pr_head"):
            return Verdict(False, "承認できるのは所属長です。", "Only the owner may approve.")
        if approval.draft_hash != draft_hash or approval.draft_id != draft_id:
            return Verdict(False, "承認後に文案が変わりました。", "The draft changed after approval.")
        if now - approval.at > APPROVAL_TTL_S:
            return Verdict(False, "承認の有効期限が切れています。", "The approval has expired.")
        return Verdict(True)

    def draft_hash(self, texts: Mapping[str, str]) -> str:
        return hashlib.sha256(orjson.dumps(dict(texts), option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]

    def check_preapproved_post(self, category: str, *, poster_role: str) -> Verdict:
        if category in ("faq", "published") and poster_role == "operator":
            return Verdict(True)
        return Verdict(False, "事前承認の範囲外です。", "Not a pre-approved category.")

    def prepost_check(self, text: str, *, trusted_domains: Sequence[str] = (),
                      official_contacts: Sequence[str] = ()) -> tuple[Finding, ...]:
        found = []
        if "bit.ly" in text:
            found.append(Finding("url_shortener", "block", "短縮URLは使えません", "No URL shorteners", "bit.ly"))
        if "噂" in text:
            found.append(Finding("rumour", "warn", "単なる噂に触れています", "Mentions a rumour", "噂"))
        return tuple(found)

    def blocking(self, findings: Sequence[Finding]) -> bool:
        return any(f.level == "block" for f in findings)


# --- scenario builders ---------------------------------------------------------------

PROFILE = {
    "municipality": {"id": "wako", "name": "和光市", "website": "https://www.city.wako.lg.jp"},
    "accounts": [{"platform": "x", "handle": OFFICIAL, "name": "和光市役所"},
                 {"platform": "facebook", "handle": "wako.city", "name": "和光市"}],
}
FLAME_ID = "wako-flame-000000000001"
FAKE = "wako_clty_official"
SOURCE = "https://www.city.wako.lg.jp/news/water.html"
STATEMENT = {"ja": "動画について説明します。", "easy_ja": "どうがに ついて せつめい します。",
             "en": "About the video."}
CORRECTION = {"ja": f"断水の情報は誤りです。正しい情報: {SOURCE}",
              "easy_ja": f"みずは とまりません。ただしい じょうほう: {SOURCE}",
              "en": f"The water outage claim is false. Correct information: {SOURCE}"}
WARNING = {"ja": "和光市を名乗る偽アカウントにご注意ください。", "easy_ja": "にせの アカウントに きを つけて ください。",
           "en": "Beware of a fake account posing as Wako City."}
PRESS = {"ja": "和光市公式アカウントのなりすましについて（報道提供）"}
FRIDAY_18 = 9 * 60  # minutes after T0 (Friday 09:00)
MONDAY_07, MONDAY_0830 = 3 * 1440 - 120, 3 * 1440 - 30


def flame_opened(**changes: Any) -> Detection:
    return detection(**changes)


def impersonation_opened(**changes: Any) -> Detection:
    return detection(incident_id="wako-impersonation-000000000002", type="impersonation",
                     target=FAKE, severity="high", summary=f"@{FAKE} が公式アカウントになりすましている疑い",
                     metrics={"platform": "x", "resembles": OFFICIAL, "score": 9}, **changes)


def misinformation_opened(**changes: Any) -> Detection:
    base = dict(incident_id="wako-misinformation-000000000003", type="misinformation",
                target="claim:water", severity="high", summary="「市内全域で断水」という誤った投稿が拡散",
                metrics={"posts": 40})
    return detection(**{**base, **changes})


def disaster_opened(**changes: Any) -> Detection:
    base = dict(incident_id="wako-disaster-000000000004", type="disaster", target="和光市災害",
                severity="high", summary="#和光市災害 に災害関連の投稿",
                metrics={"rescue_requests": [rescue("x:r1", "新倉"), rescue("x:r2", "白子")]})
    return detection(**{**base, **changes})


def rescue(request_id: str, place: str) -> dict[str, Any]:
    return {"id": request_id, "at": at(5), "place": place, "text": f"{place}で取り残されています",
            "kind": "stranded", "copies": 0}


def update(d: Detection, minute: float, seq: int, **changes: Any) -> Detection:
    return dataclasses.replace(d, change="updated", at=at(minute), seq=seq, **changes)


class Play:
    """One incident driven as the agent and the timer will drive it. Every step checks
    that `decide` left its input state untouched and that the new state survives JSON."""

    _ids = itertools.count(1)

    def __init__(self, opening: Detection, profile: Mapping[str, Any] = PROFILE) -> None:
        self.opening, self.profile, self.rules = opening, profile, FakeRules()
        self.state: PlaybookState | None = None

    @property
    def incident_id(self) -> str:
        return self.opening.incident_id

    def send(self, inp: Detection | BoardCommand | Deadline) -> Decision:
        before = None if self.state is None else orjson.dumps(self.state.to_dict())
        decision = decide(self.state, inp, profile_raw=self.profile, rules=self.rules)
        if self.state is not None:
            assert orjson.dumps(self.state.to_dict()) == before, "decide mutated its input"
        if decision.state is not None:
            assert round_trip(decision.state) == decision.state
        self.state = decision.state
        return decision

    def open(self) -> Decision:
        return self.send(self.opening)

    def command(self, action: str, minute: float, who: Mapping[str, str] = OPERATOR,
                **payload: Any) -> BoardCommand:
        return BoardCommand(command_id=f"c{next(self._ids)}", incident_id=self.incident_id,
                            municipality="wako", action=action, actor=dict(who), at=at(minute),
                            payload=payload)

    def due(self, name: str) -> Deadline:
        """The live deadline `name`, as the timer delivers it when it passes."""
        assert self.state is not None
        live = self.state.deadlines[name]
        return Deadline(deadline_id=live["deadline_id"], incident_id=self.incident_id,
                        municipality="wako", name=name, due_at=live["due_at"])

    def draft_id(self, n: int) -> str:
        return f"{self.incident_id}:draft:{n}"

    @property
    def at_state(self) -> str:
        assert self.state is not None
        return self.state.state


Step = tuple[Any, str, list[tuple[str, str]]]


def walk(play: Play, steps: Sequence[Step]) -> list[Decision]:
    """Send each input (or the input a callable builds then) and check state and effects."""
    decisions = []
    for n, (inp, state, expected) in enumerate(steps):
        decision = play.send(inp() if callable(inp) else inp)
        assert decision.rejection is None, (n, decision.rejection)
        assert (play.at_state, effects(decision)) == (state, expected), f"step {n}: {inp}"
        decisions.append(decision)
    return decisions


def effects(decision: Decision) -> list[tuple[str, str]]:
    return [(e.kind, _target(e.kind, e.payload)) for e in decision.effects]


def _target(kind: str, p: Mapping[str, Any]) -> str:
    if kind == "notify":
        return str(p["to"]["name"])
    if "account" in p:
        return str(p["account"]["handle"])
    return str({"request_takedown": p.get("handle"), "publish_notice": p.get("where"),
                "notify_press": p.get("kind"), "queue_rescue": p.get("request_id"),
                "disaster_mode": "on" if p.get("on") else "off"}.get(kind))


def actions(decision: Decision) -> list[str]:
    return [e.action for e in decision.timeline]


def round_trip(state: PlaybookState) -> PlaybookState:
    return PlaybookState.from_dict(orjson.loads(orjson.dumps(state.to_dict())))


def acknowledged_flame(minute: float = 10) -> Play:
    play = Play(flame_opened())
    play.open()
    play.send(play.command("acknowledge", minute))
    return play


def awaiting_approval(play: Play, minute: float, texts: Mapping[str, str] = STATEMENT,
                      kind: str = "statement") -> Decision:
    decision = play.send(play.command("draft", minute, kind=kind, texts=dict(texts)))
    assert decision.rejection is None, decision.rejection
    return decision


# --- 炎上 flame ------------------------------------------------------------------------


def test_flame_up_holds_replies_before_escalating_and_walks_to_a_posted_statement() -> None:
    play = Play(flame_opened())
    first = "escalated", [("hold_replies", OFFICIAL), ("notify", SATO), ("notify", SUZUKI)]
    opened, acked, drafted, approved, calmed = walk(play, [
        (play.opening, *first),
        (play.command("acknowledge", 10), "drafting", []),
        (play.command("draft", 20, kind="statement", texts=STATEMENT), "awaiting_approval",
         [("notify", TANAKA)]),
        (play.command("approve", 30, who=OWNER, draft_id=play.draft_id(1)), "monitoring",
         [("post_statement", OFFICIAL)]),
        (update(play.opening, 90, 1, metrics={"back_to_baseline": True}), "resolved",
         [("release_hold", OFFICIAL)]),
    ])

    assert opened.effects[0].kind == "hold_replies"  # held before anyone is told
    assert opened.incident is not None and opened.incident.metrics["awaiting"] == "acknowledge"
    assert opened.incident.metrics["ack_due"] == at(20) and opened.incident.metrics["level"] == 1
    assert {d.name for d in opened.deadlines} == {"ack", "week_open"}
    assert acked.cancelled == [opened.deadlines[0].deadline_id]
    assert [d.name for d in acked.deadlines] == ["statement"] and acked.deadlines[0].due_at == at(130)
    assert drafted.incident is not None and drafted.incident.metrics["awaiting"] == "approve"
    post = approved.effects[0].payload
    assert post["texts"] == STATEMENT and post["approval"]["approver"] == TANAKA
    assert [d.name for d in approved.deadlines] == ["monitoring_end"]
    assert calmed.incident is not None and calmed.incident.state == "resolved"
    assert play.state is not None and play.state.deadlines == {} and not play.state.hold


def test_every_side_effect_and_transition_leaves_a_timeline_entry_naming_its_actor() -> None:
    play = Play(flame_opened())
    opened = play.open()
    acked = play.send(play.command("acknowledge", 10))
    timer = play.send(play.due("statement"))

    assert actions(opened)[:1] == ["incident_opened"]
    assert actions(opened).count("effect_requested") == len(opened.effects) == 3
    assert {e.actor["kind"] for e in opened.timeline} == {"detector"}
    assert acked.timeline[0].actor == OPERATOR and "acknowledged" in actions(acked)
    assert all(e.detail["command_id"] == acked.timeline[0].detail["command_id"] for e in acked.timeline)
    assert {e.actor["name"] for e in timer.timeline} == {"timer"}
    ids = [e.entry_id for d in (opened, acked, timer) for e in d.timeline]
    assert len(ids) == len(set(ids))


def test_flame_monitoring_ends_after_the_48_quiet_hours_and_waits_while_criticism_goes_on() -> None:
    play = acknowledged_flame()
    awaiting_approval(play, 20)
    play.send(play.command("approve", 30, who=OWNER, draft_id=play.draft_id(1)))
    assert play.state is not None and play.state.deadlines["monitoring_end"]["due_at"] == at(30 + 48 * 60)

    play.send(update(play.opening, 100, 1))
    still = play.send(play.due("monitoring_end"))
    done = play.send(play.due("monitoring_end"))

    assert (effects(still), [d.due_at for d in still.deadlines]) == ([], [at(100 + 48 * 60)])
    assert play.at_state == "resolved" and effects(done) == [("release_hold", OFFICIAL)]


def test_missed_ack_deadline_escalates_level_by_level_up_to_three() -> None:
    play = Play(flame_opened())
    walk(play, [
        (play.opening, "escalated", [("hold_replies", OFFICIAL), ("notify", SATO), ("notify", SUZUKI)]),
        (lambda: play.due("ack"), "escalated", [("notify", TANAKA), ("notify", SUZUKI), ("notify", TAKAHASHI)]),
        (lambda: play.due("ack"), "escalated", [("notify", YAMAMOTO)]),
    ])
    assert play.state is not None and play.state.level == 3
    assert play.state.deadlines["ack"]["due_at"] == at(50)  # 15 min after each delivery

    last = play.send(play.due("ack"))

    assert effects(last) == [] and "escalation_exhausted" in actions(last)
    assert "ack" not in play.state.deadlines and last.incident is not None
    assert last.incident.metrics["level"] == 3 and last.incident.metrics["ack_due"] is None


def test_an_ack_deadline_that_passes_after_acknowledgement_changes_nothing() -> None:
    play = Play(flame_opened())
    play.open()
    deadline = play.due("ack")
    play.send(play.command("acknowledge", 10))
    state = play.state

    assert play.send(deadline) == Decision(state=state)


def test_manual_escalation_notifies_the_next_level_and_stops_at_the_top() -> None:
    play = acknowledged_flame()
    up = play.send(play.command("escalate", 15))
    play.send(play.command("escalate", 16))
    refused = play.send(play.command("escalate", 17))

    assert effects(up) == [("notify", TANAKA), ("notify", SUZUKI), ("notify", TAKAHASHI)]
    assert not up.deadlines  # acknowledged already: nobody has to acknowledge again
    assert refused.rejection is not None and "最上位" in refused.rejection["reason_ja"]


def test_missed_statement_deadline_offers_the_holding_statement_which_needs_approval() -> None:
    play = acknowledged_flame()
    holding = play.draft_id(1)
    offered, posted = walk(play, [
        (lambda: play.due("statement"), "awaiting_approval", [("notify", TANAKA)]),
        (play.command("approve", 140, who=OWNER, draft_id=holding), "drafting",
         [("post_statement", OFFICIAL)]),
    ])
    assert "holding_statement_offered" in actions(offered)
    assert play.state is not None and play.state.drafts[0].texts == HOLDING_TEXTS
    assert posted.effects[0].payload["kind"] == "holding"
    assert "statement" not in play.state.deadlines  # offered once

    walk(play, [
        (play.command("draft", 200, kind="statement", texts=STATEMENT), "awaiting_approval",
         [("notify", TANAKA)]),
        (play.command("approve", 210, who=OWNER, draft_id=play.draft_id(2)), "monitoring",
         [("post_statement", OFFICIAL)]),
    ])


def test_the_holding_statement_is_not_posted_without_approval() -> None:
    play = acknowledged_flame()
    play.send(play.due("statement"))

    by_operator = play.send(play.command("approve", 140, who=OPERATOR, draft_id=play.draft_id(1)))

    assert by_operator.rejection is not None and by_operator.effects == []
    assert play.at_state == "awaiting_approval"


def test_the_statement_deadline_does_nothing_once_a_statement_is_out() -> None:
    play = acknowledged_flame()
    awaiting_approval(play, 20)
    deadline = play.due("statement")
    play.send(play.command("approve", 30, who=OWNER, draft_id=play.draft_id(1)))

    late = play.send(deadline)

    assert late == Decision(state=play.state)  # posting stopped it: the timer's delivery is stale
    assert late.state is not None and [d.kind for d in late.state.drafts] == ["statement"]


def test_week_long_flame_up_is_raised_to_the_top() -> None:
    play = acknowledged_flame()
    assert play.state is not None and play.state.deadlines["week_open"]["due_at"] == at(5 + 7 * 1440)

    raised = play.send(play.due("week_open"))

    assert effects(raised) == [("notify", YAMAMOTO)]
    assert raised.incident is not None
    assert (raised.incident.severity, raised.incident.metrics["level"]) == ("critical", 3)
    assert raised.effects[0].payload["reason"] == "week_open"


def test_hold_refuses_a_post_that_is_not_an_incident_statement() -> None:
    play = acknowledged_flame()

    warning = play.send(play.command("draft", 20, kind="warning", texts=WARNING))
    faq = play.send(play.command("draft", 21, kind="statement", texts=STATEMENT, category="faq"))

    for refused in (warning, faq):
        assert refused.rejection is not None and "返信保留中" in refused.rejection["reason_ja"]
        assert refused.effects == [] and refused.incident is None
        assert actions(refused) == ["command_rejected"]
    assert play.state is not None and play.state.drafts == [] and play.at_state == "drafting"


def test_out_of_hours_post_is_queued_until_business_hours() -> None:
    play = Play(flame_opened(opened_at=at(MONDAY_07 - 30), at=at(MONDAY_07 - 30)))
    play.open()
    play.send(play.command("acknowledge", MONDAY_07 - 20))
    awaiting_approval(play, MONDAY_07 - 10)

    queued = play.send(play.command("approve", MONDAY_07, who=OWNER, draft_id=play.draft_id(1)))
    assert (play.at_state, effects(queued)) == ("queued", [])
    assert [(d.name, d.due_at) for d in queued.deadlines] == [("business_open", at(MONDAY_0830))]

    posted = play.send(play.due("business_open"))
    assert (play.at_state, effects(posted)) == ("monitoring", [("post_statement", OFFICIAL)])


def test_an_approval_older_than_its_ttl_at_post_time_is_not_used() -> None:
    play = acknowledged_flame()
    awaiting_approval(play, FRIDAY_18 - 10)
    play.send(play.command("approve", FRIDAY_18, who=OWNER, draft_id=play.draft_id(1)))
    assert play.at_state == "queued"

    lapsed = play.send(play.due("business_open"))

    assert play.at_state == "awaiting_approval"
    assert effects(lapsed) == [("notify", TANAKA)] and "approval_expired" in actions(lapsed)
    assert play.state is not None and play.state.drafts[0].approval is None
    again = play.send(play.command("approve", MONDAY_0830 + 5, who=OWNER, draft_id=play.draft_id(1)))
    assert (play.at_state, effects(again)) == ("monitoring", [("post_statement", OFFICIAL)])


def test_editing_a_queued_draft_invalidates_its_approval() -> None:
    play = acknowledged_flame()
    awaiting_approval(play, FRIDAY_18 - 10)
    play.send(play.command("approve", FRIDAY_18, who=OWNER, draft_id=play.draft_id(1)))

    edited = play.send(play.command("edit_draft", FRIDAY_18 + 5, draft_id=play.draft_id(1),
                                    texts={**STATEMENT, "ja": "動画について改めて説明します。"}))

    assert play.at_state == "awaiting_approval" and "business_open" not in (play.state or PlaybookState).deadlines
    [entry] = [e for e in edited.timeline if e.action == "draft_edited"]
    assert edited.cancelled and entry.detail["approval_invalidated"] is True


def test_self_approval_is_refused_and_changes_nothing() -> None:
    play = acknowledged_flame()
    play.send(play.command("draft", 20, who=OWNER, kind="statement", texts=STATEMENT))
    before = play.state

    refused = play.send(play.command("approve", 25, who=OWNER, draft_id=play.draft_id(1)))

    assert refused.rejection == {"reason_ja": "自分の文案は承認できません。",
                                 "reason_en": "You cannot approve your own draft."}
    assert refused.effects == [] and refused.incident is None and play.at_state == "awaiting_approval"
    assert refused.timeline[0].action == "command_rejected" and refused.timeline[0].actor == OWNER
    assert before is not None and play.state is not None
    assert play.state.drafts == before.drafts


def test_an_approval_of_a_version_the_approver_did_not_see_is_refused() -> None:
    play = acknowledged_flame()
    awaiting_approval(play, 20)

    stale = play.send(play.command("approve", 25, who=OWNER, draft_id=play.draft_id(1), draft_hash="old"))

    assert stale.rejection is not None and stale.rejection["reason_en"] == "The draft changed after approval."


def test_rejection_then_redraft_reaches_approval() -> None:
    play = acknowledged_flame()
    walk(play, [
        (play.command("draft", 20, kind="statement", texts=STATEMENT), "awaiting_approval", [("notify", TANAKA)]),
        (play.command("reject", 25, who=OWNER, draft_id=play.draft_id(1), reason="謝罪の言葉を"),
         "drafting", []),
        (play.command("edit_draft", 30, draft_id=play.draft_id(1),
                      texts={**STATEMENT, "ja": "動画についてお詫びし、説明します。"}),
         "awaiting_approval", [("notify", TANAKA)]),
        (play.command("approve", 35, who=OWNER, draft_id=play.draft_id(1)), "monitoring",
         [("post_statement", OFFICIAL)]),
    ])
    assert play.state is not None and play.state.drafts[0].revision == 2


def test_a_rejection_needs_a_reason() -> None:
    play = acknowledged_flame()
    awaiting_approval(play, 20)

    refused = play.send(play.command("reject", 25, who=OWNER, draft_id=play.draft_id(1), reason=" "))

    assert refused.rejection is not None and play.at_state == "awaiting_approval"


def test_warnings_must_be_overridden_on_the_record_before_approval() -> None:
    play = acknowledged_flame()
    drafted = play.send(play.command("draft", 20, kind="statement",
                                     texts={**STATEMENT, "ja": "噂について説明します。"}))
    assert drafted.incident is not None and drafted.incident.metrics["awaiting"] == "override_warning"
    assert effects(drafted) == []  # the owner is asked only once the draft is ready

    early = play.send(play.command("approve", 25, who=OWNER, draft_id=play.draft_id(1)))
    wrong = play.send(play.command("override_warning", 26, draft_id=play.draft_id(1), codes=["other"]))
    overridden = play.send(play.command("override_warning", 27, draft_id=play.draft_id(1), codes=["rumour"]))
    approved = play.send(play.command("approve", 28, who=OWNER, draft_id=play.draft_id(1)))

    assert early.rejection is not None and "override_warning" in early.rejection["reason_ja"]
    assert wrong.rejection is not None
    assert "warnings_overridden" in actions(overridden) and overridden.timeline[0].actor == OPERATOR
    assert effects(approved) == [("post_statement", OFFICIAL)]


def test_a_blocked_draft_is_kept_with_its_findings_and_cannot_be_overridden() -> None:
    play = acknowledged_flame()
    blocked = play.send(play.command("draft", 20, kind="statement",
                                     texts={**STATEMENT, "ja": "詳細は https://bit.ly/x"}))
    refused = play.send(play.command("override_warning", 21, draft_id=play.draft_id(1),
                                     codes=["url_shortener"]))

    assert play.at_state == "drafting" and play.state is not None
    draft = play.state.drafts[0]
    assert (draft.status, [f["code"] for f in draft.findings]) == ("blocked", ["url_shortener"])
    assert blocked.timeline[0].detail["status"] == "blocked"
    assert refused.rejection is not None
    play.send(play.command("edit_draft", 22, draft_id=play.draft_id(1), texts=STATEMENT))
    assert play.at_state == "awaiting_approval"


def test_flame_false_positive_closes_and_releases_the_hold() -> None:
    play = Play(flame_opened())
    opened = play.open()

    closed = play.send(play.command("mark_false_positive", 8))

    assert (play.at_state, effects(closed)) == ("closed", [("release_hold", OFFICIAL)])
    assert sorted(closed.cancelled) == sorted(d.deadline_id for d in opened.deadlines)
    assert play.state is not None and play.state.deadlines == {}


def test_once_something_was_published_the_flame_is_resolved_not_marked_false_positive() -> None:
    play = acknowledged_flame()
    play.send(play.due("statement"))
    play.send(play.command("approve", 140, who=OWNER, draft_id=play.draft_id(1)))
    assert play.at_state == "drafting"  # the holding statement is out

    refused = play.send(play.command("mark_false_positive", 150))

    assert refused.rejection is not None and "resolve" in refused.rejection["reason_en"]


def test_resolving_while_a_post_waits_for_business_hours_cancels_the_post() -> None:
    play = acknowledged_flame()
    awaiting_approval(play, FRIDAY_18 - 10)
    play.send(play.command("approve", FRIDAY_18, who=OWNER, draft_id=play.draft_id(1)))
    queued = play.due("business_open")

    resolved = play.send(play.command("resolve", FRIDAY_18 + 30, who=OWNER))

    assert "queued_post_cancelled" in actions(resolved) and queued.deadline_id in resolved.cancelled
    assert play.send(queued).effects == []
    assert play.state is not None and play.state.drafts[0].approval is None
    reopened = play.send(play.command("reopen", FRIDAY_18 + 40))
    assert play.at_state == "awaiting_approval" and effects(reopened) == [("hold_replies", OFFICIAL)]


def test_a_resolved_flame_can_be_reopened_within_seven_days_and_holds_replies_again() -> None:
    play = acknowledged_flame()
    resolved = play.send(play.command("resolve", 30, who=OWNER))
    assert effects(resolved) == [("release_hold", OFFICIAL)]

    reopened = play.send(play.command("reopen", 60))
    assert (play.at_state, effects(reopened)) == ("drafting", [("hold_replies", OFFICIAL)])

    play.send(play.command("resolve", 70, who=OWNER))
    late = play.send(play.command("reopen", 70 + 7 * 1440 + 1))
    assert late.rejection is not None and play.at_state == "resolved"


# --- なりすまし impersonation ------------------------------------------------------------


def test_impersonation_is_verified_reported_taken_down_announced_and_told_to_the_press() -> None:
    play = Play(impersonation_opened())
    iid = play.incident_id
    opened, verified, _, notice, _, press, gone = walk(play, [
        (play.opening, "verifying", [("notify", SATO)]),
        (play.command("verify", 10), "takedown_requested",
         [("notify", SUZUKI), ("notify", TAKAHASHI), ("request_takedown", FAKE)]),
        (play.command("draft", 20, kind="warning", texts=WARNING), "notice_awaiting_approval",
         [("notify", TANAKA)]),
        (play.command("approve", 30, who=OWNER, draft_id=f"{iid}:draft:1"), "notice_published",
         [("publish_notice", "website")]),
        (play.command("draft", 40, kind="press", texts=PRESS), "press_awaiting_approval",
         [("notify", TANAKA)]),
        (play.command("approve", 50, who=OWNER, draft_id=f"{iid}:draft:2"), "watching",
         [("notify_press", "press")]),
        (play.command("account_gone", 300), "resolved", []),
    ])
    assert opened.incident is not None and opened.incident.metrics["awaiting"] == "verify"
    assert verified.cancelled  # verifying acknowledges
    takedown = verified.effects[2].payload
    assert takedown["report_url"] == "https://help.x.com/forms/impersonation"
    assert takedown["platform"] == "x" and takedown["handle"] == FAKE
    assert f"@{FAKE}" in takedown["report_text_ja"] and "削除をお願いします" in takedown["report_text_ja"]
    assert "reported" in [e.payload["reason"] for e in verified.effects if e.kind == "notify"]
    assert notice.effects[0].payload["fake"] == {"platform": "x", "handle": FAKE}
    assert press.effects[0].payload["texts"] == PRESS
    assert gone.incident is not None and gone.incident.state == "resolved"


def test_an_account_gone_early_ends_the_impersonation_once_the_press_is_told() -> None:
    play = Play(impersonation_opened())
    iid = play.incident_id
    play.open()
    play.send(play.command("verify", 10))
    play.send(update(play.opening, 15, 1, metrics={"platform": "x", "account_gone": True}))
    assert play.at_state == "takedown_requested" and play.state is not None and play.state.account_gone

    awaiting_approval(play, 20, WARNING, "warning")
    play.send(play.command("approve", 30, who=OWNER, draft_id=f"{iid}:draft:1"))
    awaiting_approval(play, 40, PRESS, "press")
    play.send(play.command("approve", 50, who=OWNER, draft_id=f"{iid}:draft:2"))

    assert play.at_state == "resolved"


def test_impersonation_marked_false_positive_is_closed_without_a_takedown() -> None:
    play = Play(impersonation_opened())
    walk(play, [
        (play.opening, "verifying", [("notify", SATO)]),
        (play.command("mark_false_positive", 10), "closed", []),
    ])


def test_a_notice_draft_is_not_approved_in_the_press_step() -> None:
    play = Play(impersonation_opened())
    iid = play.incident_id
    play.open()
    play.send(play.command("verify", 10))
    awaiting_approval(play, 20, WARNING, "warning")
    awaiting_approval(play, 21, {**WARNING, "ja": "偽アカウントにご注意を。"}, "warning")
    play.send(play.command("approve", 30, who=OWNER, draft_id=f"{iid}:draft:1"))
    assert play.at_state == "notice_published"  # the second notice draft does not count here
    awaiting_approval(play, 40, PRESS, "press")

    refused = play.send(play.command("approve", 41, who=OWNER, draft_id=f"{iid}:draft:2"))
    released = play.send(play.command("approve", 42, who=OWNER, draft_id=f"{iid}:draft:3"))

    assert refused.rejection is not None and "draft:2" in refused.rejection["reason_en"]
    assert effects(released) == [("notify_press", "press")] and play.at_state == "watching"


# --- デマ misinformation -------------------------------------------------------------------


def corrected(play: Play, minute: float = 30) -> Decision:
    play.open()
    play.send(play.command("fact_check", 10, source_url=SOURCE))
    awaiting_approval(play, 20, CORRECTION, "correction")
    return play.send(play.command("approve", minute, who=OWNER, draft_id=play.draft_id(1)))


def test_misinformation_is_corrected_on_every_account_with_the_official_link() -> None:
    play = Play(misinformation_opened())
    walk(play, [
        (play.opening, "checking", [("notify", SATO)]),
        (play.command("fact_check", 10, source_url=SOURCE), "drafting", []),
        (play.command("draft", 20, kind="correction", texts=CORRECTION), "awaiting_approval",
         [("notify", TANAKA)]),
    ])
    posted = play.send(play.command("approve", 30, who=OWNER, draft_id=play.draft_id(1)))

    assert play.at_state == "monitoring"
    assert effects(posted) == [("post_statement", OFFICIAL), ("post_statement", "wako.city"),
                               ("notify_press", "correction")]  # severity high: the press is told
    assert all(e.payload["source_url"] == SOURCE for e in posted.effects)
    assert posted.incident is not None and posted.incident.metrics["source_url"] == SOURCE


def test_a_correction_without_the_source_url_in_every_language_is_not_approved() -> None:
    play = Play(misinformation_opened())
    play.open()
    play.send(play.command("fact_check", 10, source_url=SOURCE))
    awaiting_approval(play, 20, {**CORRECTION, "en": "The water outage claim is false."}, "correction")

    refused = play.send(play.command("approve", 30, who=OWNER, draft_id=play.draft_id(1)))

    assert refused.rejection is not None and "en" in refused.rejection["reason_en"]
    assert SOURCE in refused.rejection["reason_ja"] and play.at_state == "awaiting_approval"


def test_a_fact_check_needs_the_official_page() -> None:
    play = Play(misinformation_opened())
    play.open()

    refused = play.send(play.command("fact_check", 10, source_url="市のサイト"))

    assert refused.rejection is not None and play.at_state == "checking"


def test_a_failed_channel_is_retried_and_then_handed_to_a_person_while_the_others_stand() -> None:
    play = Play(misinformation_opened())
    posted = corrected(play)
    x_post = posted.effects[0]

    retry = play.send(play.command("channel_failed", 31, who=RESPONDER, effect_id=x_post.effect_id,
                                   channel="x", error="503"))
    assert effects(retry) == [("post_statement", OFFICIAL)]
    assert retry.effects[0].payload["retry_of"] == x_post.effect_id
    assert retry.effects[0].effect_id not in {e.effect_id for e in posted.effects}
    assert "channel_failed" in actions(retry) and retry.timeline[0].actor == RESPONDER

    again = play.send(play.command("channel_failed", 32, who=RESPONDER,
                                   effect_id=retry.effects[0].effect_id, channel="x", error="503"))
    assert effects(again) == [("notify", SATO)]
    assert again.effects[0].payload["failed_effect"] == x_post.effect_id
    assert play.at_state == "monitoring"  # the facebook post and the press release stand


def test_a_person_no_channel_reaches_is_handed_to_the_others_once_never_dropped() -> None:
    play = Play(flame_opened())
    opened = play.open()
    to_sato = next(e for e in opened.effects if e.kind == "notify" and e.payload["to"]["name"] == SATO)

    retry = play.send(play.command("channel_failed", 40, who=RESPONDER, effect_id=to_sato.effect_id,
                                   channel="slack", error="HTTP 503"))
    assert effects(retry) == [("notify", SATO)]  # the same person once more first

    handed = play.send(play.command("channel_failed", 41, who=RESPONDER, effect_id=retry.effects[0].effect_id,
                                    channel="slack", error="HTTP 503"))
    told = {e.payload["to"]["name"] for e in handed.effects if e.kind == "notify"}
    assert told and SATO not in told and {TANAKA, SUZUKI} <= told  # the next level and 広報課
    assert all(e.payload["reason"] == "unreachable" and e.payload["unreached"] == SATO
               for e in handed.effects)
    assert "当番 佐藤" not in told and "delivery_gave_up" in actions(handed)
    assert "届きませんでした" in handed.effects[0].payload["message_ja"]

    # If the fallback cannot be reached either, the board says so; no endless chain of notices.
    last = play.send(play.command("channel_failed", 42, who=RESPONDER, effect_id=handed.effects[0].effect_id,
                                  channel="email", error="550"))
    final = play.send(play.command("channel_failed", 43, who=RESPONDER, effect_id=last.effects[0].effect_id,
                                   channel="email", error="550"))
    assert final.effects == [] and "delivery_gave_up" in actions(final)


def test_misinformation_of_low_severity_is_not_sent_to_the_press_unless_in_a_disaster() -> None:
    calm = Play(misinformation_opened(severity="low"))
    in_disaster = Play(misinformation_opened(severity="low", metrics={"disaster_active": True}))

    assert [k for k, _ in effects(corrected(calm))] == ["post_statement", "post_statement"]
    assert [k for k, _ in effects(corrected(in_disaster))][-1] == "notify_press"


def test_a_pre_approved_correction_is_posted_by_the_operator_and_reported_to_the_owner() -> None:
    play = Play(misinformation_opened(severity="low"))
    play.open()
    play.send(play.command("fact_check", 10, source_url=SOURCE))
    play.send(play.command("draft", 20, kind="correction", texts=CORRECTION, category="published"))

    posted = play.send(play.command("approve", 21, who=OPERATOR, draft_id=play.draft_id(1)))

    assert effects(posted) == [("post_statement", OFFICIAL), ("post_statement", "wako.city"),
                               ("notify", TANAKA)]
    assert posted.effects[-1].payload["reason"] == "preapproved_posted"


# --- 災害 disaster -----------------------------------------------------------------------


def test_disaster_mode_queues_each_rescue_request_once_until_turned_off() -> None:
    play = Play(disaster_opened())
    opened, grown, off = walk(play, [
        (play.opening, "disaster_mode",
         [("disaster_mode", "on"), ("notify", SATO), ("queue_rescue", "x:r1"), ("queue_rescue", "x:r2")]),
        (update(play.opening, 20, 1, metrics={"rescue_requests": [rescue("x:r1", "新倉"), rescue("x:r3", "下新倉")]}),
         "disaster_mode", [("queue_rescue", "x:r3")]),
        (play.command("disaster_mode_off", 600, who=OWNER), "resolved", [("disaster_mode", "off")]),
    ])
    assert opened.effects[0].payload["allow_out_of_hours"] is True
    assert opened.effects[0].payload["tighten_misinformation"] is True
    assert grown.effects[0].payload["place"] == "下新倉"

    late = play.send(update(play.opening, 700, 2, metrics={"rescue_requests": [rescue("x:r4", "白子")]}))
    assert effects(late) == [("queue_rescue", "x:r4")]  # a rescue request is never dropped


def test_a_rescue_request_is_marked_handled_once_on_the_record() -> None:
    play = Play(disaster_opened())
    play.open()

    handled = play.send(play.command("rescue_handled", 30, request_id="x:r1", note="消防に連絡済み"))
    again = play.send(play.command("rescue_handled", 31, request_id="x:r1"))
    unknown = play.send(play.command("rescue_handled", 32, request_id="x:nope"))

    assert handled.rejection is None and effects(handled) == []
    (entry,) = [e for e in handled.timeline if e.action == "rescue_handled"]
    assert (entry.detail["request_id"], entry.detail["note"], entry.actor["name"]) == ("x:r1", "消防に連絡済み", SATO)
    assert again.rejection is not None and "対応済み" in again.rejection["reason_ja"]
    assert unknown.rejection is not None and play.at_state == "disaster_mode"


def test_disaster_mode_is_turned_off_by_resolve_too() -> None:
    play = Play(disaster_opened())
    play.open()

    resolved = play.send(play.command("resolve", 600, who=OPERATOR))

    assert (play.at_state, effects(resolved)) == ("resolved", [("disaster_mode", "off")])


# --- rules every playbook shares -----------------------------------------------------------


@pytest.mark.parametrize(("opening", "action", "payload"), [
    (flame_opened(), "verify", {}),
    (flame_opened(), "approve", {"draft_id": "nope"}),
    (flame_opened(), "draft", {"kind": "statement", "texts": STATEMENT}),
    (flame_opened(), "disaster_mode_off", {}),
    (flame_opened(), "evidence", {}),
    (flame_opened(), "launch_rockets", {}),
    (impersonation_opened(), "fact_check", {"source_url": SOURCE}),
    (flame_opened(), "account_gone", {}),
    (flame_opened(), "channel_failed", {"effect_id": "someone-else:notify:1"}),
    (disaster_opened(), "reopen", {}),
])
def test_illegal_commands_are_rejected_with_a_reason_and_change_nothing(
        opening: Detection, action: str, payload: dict[str, Any]) -> None:
    play = Play(opening)
    play.open()
    before = play.state

    refused = play.send(play.command(action, 10, **payload))

    assert refused.rejection is not None
    assert refused.rejection["reason_ja"] and refused.rejection["reason_en"]
    assert (refused.effects, refused.deadlines, refused.incident) == ([], [], None)
    assert [(e.action, e.detail["command"]) for e in refused.timeline] == [("command_rejected", action)]
    assert play.state is not None and before is not None
    assert dataclasses.replace(play.state, commands=before.commands,
                               counters=before.counters) == before


def test_only_an_operator_or_the_owner_resolves() -> None:
    play = acknowledged_flame()

    refused = play.send(play.command("resolve", 20, who=PR))

    assert refused.rejection is not None and play.at_state == "drafting"


@pytest.mark.parametrize(("who", "action", "payload"), [
    ({"kind": "person", "name": "見学者", "role": "viewer"}, "acknowledge", {}),
    ({"kind": "person", "name": "誰か"}, "escalate", {}),  # no role at all
    ({"kind": "person", "name": "住民", "role": "resident"}, "mark_false_positive", {}),
    ({"kind": "responder", "name": "noroshi"}, "acknowledge", {}),  # a responder only reports failures
    (OPERATOR, "channel_failed", {"effect_id": "x", "channel": "email", "error": "down"}),
    (OPERATOR, "reject", {"reason": "だめ"}),
    (PR, "disaster_mode_off", {}),
])
def test_the_playbook_itself_refuses_a_command_the_senders_role_may_not_send(
        who: Mapping[str, str], action: str, payload: dict[str, Any]) -> None:
    """Whoever writes to the commands topic, not only the board, is held to the roles."""
    play = Play(flame_opened())
    play.open()
    before = play.state

    refused = play.send(play.command(action, 10, who=who, **payload))

    assert refused.rejection is not None and "権限がありません" in refused.rejection["reason_ja"]
    assert (refused.effects, refused.incident) == ([], None)
    assert play.state is not None and before is not None
    assert dataclasses.replace(play.state, commands=before.commands, counters=before.counters) == before


def test_an_operator_approve_publishes_only_a_pre_approved_category() -> None:
    play = acknowledged_flame()
    play.send(play.command("draft", 20, kind="statement", texts=STATEMENT))

    refused = play.send(play.command("approve", 21, who=OPERATOR, draft_id=play.draft_id(1)))

    assert refused.rejection is not None and refused.effects == []
    assert play.at_state == "awaiting_approval"


def test_a_command_delivered_twice_changes_nothing_the_second_time() -> None:
    play = acknowledged_flame()
    draft = play.command("draft", 20, kind="statement", texts=STATEMENT)
    first = play.send(draft)
    state = play.state

    assert first.effects and play.send(draft) == Decision(state=state)
    rejected = play.command("verify", 21)
    assert play.send(rejected).timeline and play.send(rejected).timeline == []


def test_detections_keep_the_lifecycle_guarantees() -> None:
    play = Play(flame_opened())
    play.open()
    newer = update(play.opening, 10, 2, severity="high")
    raised = play.send(newer)
    state = play.state

    assert raised.incident is not None and raised.incident.severity == "high"
    assert raised.incident.version == 2 and "severity_raised" in actions(raised)
    assert play.send(play.opening) == Decision(state=state)  # opened again
    assert play.send(newer) == Decision(state=state)  # delivered again
    assert play.send(update(play.opening, 12, 1, severity="critical")) == Decision(state=state)  # stale
    lower = play.send(update(play.opening, 15, 3, severity="low"))
    assert lower.incident is not None and lower.incident.severity == "high"


def test_a_rising_severity_shortens_the_time_to_acknowledge() -> None:
    play = Play(flame_opened())
    play.open()

    critical = play.send(update(play.opening, 6, 1, severity="critical"))

    assert [(d.name, d.due_at) for d in critical.deadlines] == [("ack", at(10))]
    assert critical.incident is not None and critical.incident.metrics["ack_due"] == at(10)


def test_commands_for_an_unknown_incident_or_another_municipality_are_rejected() -> None:
    play = Play(flame_opened())
    unknown = play.send(play.command("acknowledge", 10))
    assert unknown.rejection is not None and unknown.state is None

    play.open()
    other = dataclasses.replace(play.command("acknowledge", 10), municipality="asaka")
    assert play.send(other).rejection is not None and play.at_state == "escalated"


def test_a_drill_runs_the_same_playbook_with_every_effect_labelled() -> None:
    def holding_statement_posted(opening: Detection) -> tuple[Play, list[Decision]]:
        play = Play(opening)
        return play, [play.open(), play.send(play.command("acknowledge", 10)),
                      play.send(play.due("statement")),
                      play.send(play.command("approve", 140, who=OWNER, draft_id=play.draft_id(1)))]

    _, real = holding_statement_posted(flame_opened())
    drill, drilled = holding_statement_posted(flame_opened(drill=True))

    assert [effects(d) for d in drilled] == [effects(d) for d in real]
    drill_effects = [e for d in drilled for e in d.effects]
    assert all(e.drill for e in drill_effects) and not any(e.drill for d in real for e in d.effects)
    for e in drill_effects:
        texts = [e.payload[k] for k in ("message_ja", "message_en") if k in e.payload]
        texts += list(e.payload.get("texts", {}).values())
        assert all(t.startswith("【訓練】") for t in texts), e
    post = drilled[-1].effects[0].payload
    assert post["texts"]["ja"] == "【訓練】" + HOLDING_TEXTS["ja"]
    assert drill.state is not None and drill.state.drafts[0].texts == HOLDING_TEXTS  # labelled on the way out
    assert all(d.incident is not None and d.incident.drill for d in drilled)


def test_effect_and_deadline_ids_are_stable_across_a_replay() -> None:
    def run() -> list[Decision]:
        play = Play(flame_opened())
        return [play.open(), play.send(play.due("ack")), play.send(play.command("acknowledge", 25)),
                play.send(play.due("statement")),
                play.send(play.command("approve", 150, who=OWNER, draft_id=play.draft_id(1)))]

    first, second = run(), run()

    def ids(decisions: list[Decision]) -> list[str]:
        return [e.effect_id for d in decisions for e in d.effects] + [
            d.deadline_id for d in decisions for d in d.deadlines] + [
            e.entry_id for d in decisions for e in d.timeline]

    assert ids(first) == ids(second)
    assert [e.effect_id for d in first for e in d.effects] == [
        f"{FLAME_ID}:hold_replies:1", f"{FLAME_ID}:notify:1", f"{FLAME_ID}:notify:2",
        f"{FLAME_ID}:notify:3", f"{FLAME_ID}:notify:4", f"{FLAME_ID}:notify:5",
        f"{FLAME_ID}:notify:6", f"{FLAME_ID}:post_statement:1"]
    assert [d.deadline_id for d in first for d in d.deadlines] == [
        f"{FLAME_ID}:ack:1", f"{FLAME_ID}:week_open:1", f"{FLAME_ID}:ack:2", f"{FLAME_ID}:statement:1"]


def test_the_state_survives_json_and_stays_bounded() -> None:
    play = acknowledged_flame()
    for n in range(250):
        play.send(play.command("acknowledge", 11 + n / 100))  # rejected, but remembered
    assert play.state is not None and len(play.state.commands) == 200
    restored = round_trip(play.state)
    assert restored == play.state and restored.to_dict() == play.state.to_dict()


def test_every_playbook_opens_from_new_and_can_end_resolved_or_closed() -> None:
    for machine in MACHINES.values():
        assert machine.candidates("new", "opened"), machine.type
        assert "resolved" in machine.states and "closed" in machine.states


def test_a_detection_of_an_unknown_type_is_an_error() -> None:
    with pytest.raises(UnknownIncidentType):
        decide(None, detection(type="meteor"), profile_raw=PROFILE, rules=FakeRules())


def test_policy_rules_pass_the_engine_calls_on_to_the_policy_modules() -> None:
    calls: list[tuple[str, Any]] = []

    def record(name: str, result: Any) -> Callable[..., Any]:
        def fn(*args: Any, **kwargs: Any) -> Any:
            calls.append((name, (args, kwargs)))
            return result
        return fn

    policy = SimpleNamespace(
        Approval=lambda **kw: SimpleNamespace(**kw),
        roster_from_profile=record("roster_from_profile", "roster"),
        recipients=record("recipients", ()),
        check_approval=record("check_approval", Verdict(True)),
        may_post_now=record("may_post_now", True),
    )
    checks = SimpleNamespace(prepost_check=record("prepost_check", ()), blocking=record("blocking", False))
    rules = PolicyRules(policy=policy, checks=checks)  # type: ignore[arg-type]
    approval = Approval("田中", "owner", "d1", "h", 1.0)

    rules.roster({"municipality": {}})
    rules.recipients("roster", 2, 5.0, "high", False)  # type: ignore[arg-type]
    rules.check_approval(approval, drafter="佐藤", draft_id="d1", draft_hash="h", now=2.0)
    rules.may_post_now(3.0, incident_type="flame", severity="low", disaster=False)
    rules.prepost_check("本文", trusted_domains=["city.wako.lg.jp"])

    names = [name for name, _ in calls]
    assert names == ["roster_from_profile", "recipients", "check_approval", "may_post_now", "prepost_check"]
    (args, kwargs) = calls[2][1]
    assert vars(args[0]) == {"approver": "田中", "approver_role": "owner", "draft_id": "d1",
                             "draft_hash": "h", "at": 1.0, "category": None}
    assert kwargs == {"drafter": "佐藤", "draft_id": "d1", "draft_hash": "h", "now": 2.0}
    assert calls[1][1] == (("roster", 2, 5.0, "high", False), {})
    assert calls[4][1] == (("本文",), {"trusted_domains": ("city.wako.lg.jp",), "official_contacts": ()})


def test_the_fake_business_hours_are_what_the_scenarios_assume() -> None:
    rules = FakeRules()
    assert not rules.may_post_now(ts(FRIDAY_18), incident_type="flame", severity="low", disaster=False)
    assert rules.next_business_open(ts(FRIDAY_18)) == ts(MONDAY_0830)
    assert rules.next_business_open(ts(MONDAY_07)) == ts(MONDAY_0830)


def test_every_transition_names_its_guards_and_steps_as_functions_of_their_own_modules() -> None:
    for machine in MACHINES.values():
        for t in machine.transitions:
            assert all(callable(g) and g.__module__ == "playbooks.guards" for g in t.guards), t
            assert t.step is None or t.step.__module__ in ("playbooks.steps", "playbooks.drafts"), t
        assert all(s.__module__ == "playbooks.steps" for s in machine.on_enter.values()), machine.type


def test_a_command_the_state_does_not_allow_is_refused_with_the_state_named() -> None:
    play = Play(flame_opened())
    play.open()
    refused = play.send(play.command("verify", 5))  # an impersonation's step, not a flame-up's
    assert refused.rejection == {"reason_ja": "「なりすまし確認」は現在の状態（受付待ち）ではできません。",
                                 "reason_en": "'verify' is not allowed while the incident is awaiting acknowledgement."}


def test_every_incident_type_has_a_playbook_and_words_for_it() -> None:
    from playbooks.texts import TYPE_LABELS
    from vocabulary.terms import INCIDENT_TYPES

    assert tuple(MACHINES) == tuple(TYPE_LABELS) == INCIDENT_TYPES


def test_every_effect_the_playbooks_ask_for_reads_back_as_its_typed_class() -> None:
    from vocabulary.effects import effect_from

    play = Play(impersonation_opened(drill=True))
    iid = play.incident_id
    sent = [*play.open().effects, *play.send(play.command("verify", 10)).effects,
            *play.send(play.command("draft", 20, kind="warning", texts=WARNING)).effects,
            *play.send(play.command("approve", 30, who=OWNER, draft_id=f"{iid}:draft:1")).effects]
    sent += Play(disaster_opened()).open().effects
    assert {e.kind for e in sent} >= {"notify", "request_takedown", "publish_notice", "disaster_mode", "queue_rescue"}
    for effect in sent:
        assert effect_from(effect).to_payload() == effect.payload, effect.kind


def test_a_command_without_what_its_action_needs_is_refused_on_the_record_not_a_crash() -> None:
    play = acknowledged_flame()
    play.send(play.command("draft", 20, kind="statement", texts=STATEMENT))
    refused = play.send(play.command("approve", 25, who=OWNER))  # which draft?
    assert refused.rejection == {"reason_ja": "操作の内容に「draft_id」がありません。",
                                 "reason_en": "The command has no 'draft_id'."}
    assert actions(refused) == ["command_rejected"] and not refused.effects
    assert play.at_state == "awaiting_approval"


def test_a_malformed_command_in_a_state_that_does_not_take_it_is_refused_for_the_state() -> None:
    play = acknowledged_flame()
    refused = play.send(play.command("approve", 25, who=OWNER))  # nothing awaits approval yet
    assert refused.rejection is not None and "文案作成中" in refused.rejection["reason_ja"]
