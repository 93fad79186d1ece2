"""The board's memory of the topics (bounded, redelivery-proof), the monthly figures,
the actions offered and the form checks, and the charts — all pure."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

import orjson
import pytest

from dashboards import actions, charts, report
from dashboards.feed import InvalidIncident, MemoryFeed, parse_incident
from dashboards.state import BoardState, Summary, measure, parse_post
from dashboards.users import User
from dashboards.views import now_list
from vocabulary.records import JST, Effect, Incident, TimelineEntry
from vocabulary.typed import MalformedPayload


def incident(**changes: Any) -> Incident:
    base = Incident(
        incident_id="wako-flame-1", municipality="wako", type="flame", target="wako_city_official",
        opened_at="2026-11-20T10:00:00+09:00", severity="high", evidence_ids=["m1", "m2"],
        summary="批判が急増", state="escalated", change="opened", updated_at="2026-11-20T10:00:00+09:00",
        version=1, metrics={"critical": 5, "total": 10, "awaiting": "acknowledge"},
    )
    return dataclasses.replace(base, **changes)


def entry(n: int, incident_id: str = "wako-flame-1", **changes: Any) -> TimelineEntry:
    base = TimelineEntry(entry_id=f"{incident_id}:{n}:x", incident_id=incident_id, municipality="wako",
                         at="2026-11-20T10:00:00+09:00", actor={"kind": "detector", "name": "noroshi"},
                         action="evidence_added", detail={})
    return dataclasses.replace(base, **changes)


def mention(post_id: str, text: str = "批判") -> bytes:
    return orjson.dumps({"kind": "mention", "id": post_id, "platform": "x", "ts": "2026-11-20T10:00:00+09:00",
                         "author": {"handle": "taro", "name": "和光 太郎"}, "text": text})


# --- incidents ---------------------------------------------------------------------------

def test_only_a_higher_version_changes_an_incident() -> None:
    state = BoardState()
    assert state.add_incident(incident(version=3, severity="critical"))
    assert not state.add_incident(incident(version=2, severity="low"))  # a late redelivery
    assert not state.add_incident(incident(version=3, severity="low"))  # a duplicate
    assert state.latest["wako-flame-1"].severity == "critical"


def test_a_chart_point_is_kept_per_detector_report_not_per_lifecycle_change() -> None:
    state = BoardState()
    state.add_incident(incident(version=1, detection_seq=0))
    state.add_incident(incident(version=2, detection_seq=0, state="drafting"))  # acknowledged: no new point
    state.add_incident(incident(version=3, detection_seq=1, metrics={"critical": 9, "total": 12},
                                updated_at="2026-11-20T10:05:00+09:00"))
    assert [(v, n) for _, v, n, _ in state.detail("wako-flame-1").points] == [(10.0, 0.5), (12.0, 0.75)]
    assert state.volume_series("wako-flame-1") == [10.0, 12.0]


def test_volume_and_negativity_come_from_what_each_detector_reports() -> None:
    assert measure(incident(metrics={"critical": 3, "total": 12})) == (12.0, 0.25)
    assert measure(incident(type="disaster", metrics={"posts": 40})) == (40.0, None)
    assert measure(incident(type="impersonation", metrics={"score": 9}, evidence_ids=["a", "b", "c"])) == (3.0, None)


def test_the_now_list_puts_the_most_severe_first_then_the_oldest() -> None:
    incidents = [
        incident(incident_id="low", severity="low", opened_at="2025-11-22T08:00:00+09:00"),
        incident(incident_id="crit-late", severity="critical", opened_at="2025-11-22T10:00:00+09:00"),
        incident(incident_id="crit-early", severity="critical", opened_at="2025-11-22T00:30:00Z"),
        incident(incident_id="gone", severity="critical", state="resolved"),
        incident(incident_id="closed", severity="critical", state="closed"),
        incident(incident_id="high", severity="high"),
    ]
    # 00:30Z is 09:30 in Japan: earlier than 10:00+09:00, though it reads smaller.
    assert [i.incident_id for i in now_list(incidents)] == ["crit-early", "crit-late", "high", "low"]


# --- evidence posts ----------------------------------------------------------------------

def test_evidence_posts_are_found_whether_they_arrive_before_or_after_the_incident() -> None:
    state = BoardState()
    state.add_post(parse_post(mention("m1", "先に届いた投稿")))
    state.add_incident(incident(evidence_ids=["m1", "m2"]))
    state.add_post(parse_post(mention("m2", "後から届いた投稿")))
    state.add_post(parse_post(mention("m3", "関係のない投稿")))
    evidence = state.detail("wako-flame-1").evidence
    assert {k: p.text for k, p in evidence.items()} == {"m1": "先に届いた投稿", "m2": "後から届いた投稿"}


def test_posts_nobody_points_at_are_kept_only_up_to_a_bound() -> None:
    state = BoardState(recent_posts=100)
    for n in range(1000):
        state.add_post(parse_post(mention(f"p{n}")))
    assert state.sizes()["recent_posts"] == 100


def test_an_account_event_is_evidence_too_and_garbage_is_not() -> None:
    account = parse_post(orjson.dumps({"kind": "account", "id": "x:acct:1", "platform": "x", "ts": "t",
                                       "account": {"handle": "wako_clty_official", "name": "和光市【公式】",
                                                   "bio": "和光市の公式アカウントです"}, "note": "住民から通報"}))
    assert account is not None and account.author == "wako_clty_official"
    assert account.text == "和光市の公式アカウントです / 住民から通報"
    for raw in (b"{", b"[]", b'{"kind": "alert", "id": "a"}', None, b'{"kind": "mention"}'):
        assert parse_post(raw) is None


# --- bounds --------------------------------------------------------------------------------

def test_the_detail_of_ended_incidents_is_dropped_first_and_open_ones_never() -> None:
    state = BoardState(max_incidents=50)
    for n in range(20):
        state.add_incident(incident(incident_id=f"open-{n}"))
    for n in range(200):
        state.add_incident(incident(incident_id=f"ended-{n}", state="resolved"))
        state.add_entry(entry(1, f"ended-{n}"))
    assert len(state.data) <= 50
    assert all(f"open-{n}" in state.latest for n in range(20))
    assert len(state.summaries) == 220  # the report still counts every one of them


def test_a_late_redelivery_of_a_dropped_incident_does_not_come_back_as_open() -> None:
    state = BoardState(max_incidents=10)
    state.add_incident(incident(incident_id="old", version=1))
    state.add_incident(incident(incident_id="old", version=5, state="resolved"))
    for n in range(20):
        state.add_incident(incident(incident_id=f"new-{n}", state="resolved"))
    assert "old" not in state.latest
    assert not state.add_incident(incident(incident_id="old", version=2))
    assert "old" not in state.latest


def test_an_incidents_timeline_keeps_its_newest_entries_and_each_entry_once() -> None:
    from dashboards import state as state_module

    state = BoardState()
    for n in range(state_module.TIMELINE_PER_INCIDENT + 50):
        assert state.add_entry(entry(n))
    assert not state.add_entry(entry(state_module.TIMELINE_PER_INCIDENT + 49))  # redelivered
    data = state.detail("wako-flame-1")
    assert len(data.timeline) == state_module.TIMELINE_PER_INCIDENT and data.trimmed
    assert next(iter(data.timeline)) == "wako-flame-1:50:x"


def test_a_week_of_a_busy_ward_stays_within_the_bounds() -> None:
    from dashboards import state as state_module

    state = BoardState(max_incidents=200, recent_posts=500)
    for n in range(2000):
        iid = f"i{n}"
        state.add_incident(incident(incident_id=iid, evidence_ids=[f"{iid}-p{k}" for k in range(50)]))
        for k in range(10):
            state.add_entry(entry(k, iid))
        state.add_incident(incident(incident_id=iid, version=2, state="resolved"))
        for k in range(30):
            state.add_post(parse_post(mention(f"{iid}-p{k}")))
    sizes = state.sizes()
    assert sizes["details"] <= 200 and sizes["recent_posts"] <= 500
    assert sizes["wanted_posts"] <= 200 * state_module.EVIDENCE_PER_INCIDENT
    assert sizes["timeline_entries"] <= 200 * 10
    assert all(len(d.evidence) <= state_module.EVIDENCE_PER_INCIDENT for d in state.data.values())


# --- effects -------------------------------------------------------------------------------

def effect(kind_: str, n: int = 1, **payload: Any) -> Effect:
    return Effect(effect_id=f"d:{kind_}:{n}", incident_id="d", municipality="wako", kind=kind_,
                  at="2026-11-20T10:00:00+09:00", payload=payload)


def test_rescue_requests_disaster_mode_and_holds_come_from_the_effects() -> None:
    state = BoardState()
    assert state.add_effect(effect("disaster_mode", on=True, hashtag="和光市災害"))
    assert state.add_effect(effect("queue_rescue", 1, request_id="r1", place="新倉", text="助けて", kind="stranded"))
    assert not state.add_effect(effect("queue_rescue", 2, request_id="r1", place="新倉"))  # once per request
    state.add_effect(effect("hold_replies", account={"platform": "x", "handle": "wako"}, reason="炎上"))
    state.add_effect(effect("release_hold", account={"platform": "x", "handle": "wako"}))
    assert not state.add_effect(effect("notify", to={"name": "x"}))
    data = state.detail("d")
    assert data.disaster_mode is True and list(data.rescues) == ["r1"] and data.holds == {}


def test_an_effect_the_board_shows_is_read_as_its_typed_class_and_a_malformed_one_is_refused() -> None:
    state = BoardState()
    with pytest.raises(MalformedPayload, match="request_id"):
        state.add_effect(effect("queue_rescue", place="新倉"))  # no request id: nothing to queue
    with pytest.raises(MalformedPayload, match="on"):
        state.add_effect(effect("disaster_mode", on="yes"))
    assert state.detail("d") is None or not state.detail("d").rescues


def test_a_handled_rescue_is_read_from_the_timeline() -> None:
    state = BoardState()
    state.add_entry(entry(1, "d", action="rescue_handled", actor={"kind": "person", "name": "sato",
                                                                  "display_name": "佐藤"},
                          detail={"request_id": "r1"}))
    assert state.detail("d").handled == {"r1": {"by": "佐藤", "at": "2026-11-20T10:00:00+09:00"}}


# --- the feed's parsing ------------------------------------------------------------------------

def test_a_record_that_is_not_an_incident_is_refused_by_name() -> None:
    for raw in (b"{not json", b"[1, 2]", b'{"incident_id": "x"}', None,
                incident(version="2").to_json(), incident(metrics=[]).to_json()):
        with pytest.raises(InvalidIncident):
            parse_incident(raw)
    assert parse_incident(incident().to_json()) == incident()


async def test_a_slow_subscriber_is_dropped_without_holding_up_the_others() -> None:
    feed = MemoryFeed(queue_size=2)
    slow, fast = feed.subscribe(), feed.subscribe()
    for version in (1, 2, 3):
        feed.push(incident(version=version))
        assert fast.get_nowait().incident_id == "wako-flame-1"
    assert slow.get_nowait() is None  # told to disconnect, nothing else pending
    assert feed.subscriber_count == 1


# --- the monthly report -----------------------------------------------------------------------

def ts(day: int, hour: float = 10) -> float:
    return datetime(2026, 11, day, 0, 0, tzinfo=JST).timestamp() + hour * 3600


def summary(iid: str, type_: str = "flame", *, opened: float, ack: float | None = None,
            post: float | None = None, ended: float | None = None, state: str = "resolved",
            drill: bool = False, municipality: str = "wako") -> Summary:
    return Summary(incident_id=iid, municipality=municipality, type=type_, target="t", opened_at="",
                   opened_ts=opened, severity="high", drill=drill, state=state, acknowledged_ts=ack,
                   first_post_ts=post, ended_ts=ended)


def test_the_monthly_figures_follow_the_guidelines() -> None:
    summaries = [
        summary("a", opened=ts(2), ack=ts(2, 10.5), post=ts(2, 12), ended=ts(3)),  # ack 30 min, resolve 24 h
        summary("b", opened=ts(5), ack=ts(5, 10.25), ended=ts(13)),  # a flame-up of eight days
        summary("c", "impersonation", opened=ts(9), ack=ts(9, 11), post=ts(9, 14), ended=ts(10), state="resolved"),
        summary("d", "misinformation", opened=ts(20), ack=None, ended=ts(20, 11), state="closed"),  # false positive
        summary("e", opened=ts(25), state="drafting"),  # still open
        summary("drill", opened=ts(26), ack=ts(26, 10.1), drill=True),
        summary("other-muni", opened=ts(2), municipality="asaka"),
        summary("last-month", opened=ts(1, -1)),  # 23:00 on 31 October in Japan
    ]
    figures = report.monthly(summaries, "2026-11", "wako", now=ts(28))
    by_type = {r.type: r for r in figures.rows}
    assert figures.total == 5 and figures.drills == 1
    assert (by_type["flame"].incidents, by_type["flame"].still_open) == (3, 1)
    assert by_type["misinformation"].false_positives == 1
    assert by_type["flame"].ack.mean_s == pytest.approx((30 + 15) * 60 / 2)
    assert by_type["flame"].resolve.median_s == pytest.approx((24 * 3600 + 8 * 86400) / 2)
    assert [s.incident_id for s in figures.week_flames] == ["b"]  # target 0: this month missed it
    assert figures.response.count == 2 and figures.response.mean_s == pytest.approx((2 * 3600 + 4 * 3600) / 2)
    assert report.monthly(summaries, "2026-11", "*", now=ts(28)).total == 6


def test_an_open_flame_up_counts_as_week_long_once_a_week_has_passed() -> None:
    open_flame = [summary("x", opened=ts(20), state="drafting")]
    assert report.monthly(open_flame, "2026-11", "wako", now=ts(26)).week_flames == []
    assert len(report.monthly(open_flame, "2026-11", "wako", now=ts(28)).week_flames) == 1


def test_a_month_is_parsed_or_defaults_to_this_month_in_japan() -> None:
    assert report.parse_month("2026-02", now=0) == "2026-02"
    assert report.parse_month("nonsense", now=ts(30, 20)) == "2026-11"
    assert report.shift_month("2026-01", -1) == "2025-12" and report.shift_month("2026-12", 1) == "2027-01"


# --- actions ---------------------------------------------------------------------------------

USER = {role: User(name=role, display_name=role, role=role, municipality="wako", password_hash="$argon2id$")
        for role in ("viewer", "operator", "owner", "admin")}


def _offered(user: User, inc: Incident) -> set[str]:
    found = actions.offers(user, inc)
    return {o.action for o in found.incident} | {o.action for os in found.drafts.values() for o in os}


def test_a_new_flame_up_offers_acknowledgement_to_everyone_who_acts_and_nothing_to_a_viewer() -> None:
    inc = incident(metrics={"awaiting": "acknowledge", "level": 1})
    assert _offered(USER["viewer"], inc) == set()
    assert _offered(USER["operator"], inc) == {"acknowledge", "escalate", "resolve", "mark_false_positive"}
    assert _offered(USER["admin"], inc) == {"acknowledge", "escalate", "mark_false_positive"}  # may not end it


def test_approval_is_offered_to_approvers_for_a_ready_draft_that_is_not_their_own() -> None:
    drafts = [{"draft_id": "d1", "kind": "statement", "status": "ready", "drafter": {"name": "operator"}, "hash": "h"},
              {"draft_id": "d2", "kind": "statement", "status": "needs_override", "drafter": {"name": "owner"}}]
    inc = incident(state="awaiting_approval", metrics={"drafts": drafts, "draft_kinds": ["statement"],
                                                       "acknowledged_by": "operator", "level": 3})
    operator, owner = actions.offers(USER["operator"], inc), actions.offers(USER["owner"], inc)
    assert {o.action for o in operator.drafts["d1"]} == {"edit_draft"}
    assert {o.action for o in owner.drafts["d1"]} == {"approve", "reject", "edit_draft"}
    assert {o.action for o in owner.drafts["d2"]} == {"override_warning", "reject", "edit_draft"}
    assert "escalate" not in {o.action for o in owner.incident}  # already at the top level
    assert actions.offers(USER["owner"], dataclasses.replace(inc, municipality="asaka")).incident == []


def test_an_ended_incident_offers_only_reopening() -> None:
    inc = incident(state="resolved", metrics={"acknowledged_by": "x"})
    assert _offered(USER["operator"], inc) == {"reopen"}


@pytest.mark.parametrize(("action", "form", "payload"), [
    ("approve", {"draft_id": "d1", "draft_hash": "h"}, {"draft_id": "d1", "draft_hash": "h"}),
    ("reject", {"draft_id": "d1", "reason": " 表現を見直してください "}, {"draft_id": "d1", "reason": "表現を見直してください"}),
    ("draft", {"kind": "statement", "text_ja": "説明します", "text_en": "We explain", "category": ""},
     {"kind": "statement", "texts": {"ja": "説明します", "en": "We explain"}, "category": None}),
    ("draft", {"kind": "correction", "text_ja": "訂正", "category": "faq"},
     {"kind": "correction", "texts": {"ja": "訂正"}, "category": "faq"}),
    ("edit_draft", {"draft_id": "d1", "text_ja": "直しました"}, {"draft_id": "d1", "texts": {"ja": "直しました"}}),
    ("fact_check", {"source_url": "https://www.city.wako.lg.jp/x"}, {"source_url": "https://www.city.wako.lg.jp/x"}),
    ("acknowledge", {"anything": "ignored"}, {}),
    ("escalate", {"reason": "返答がない"}, {"reason": "返答がない"}),
    ("rescue_handled", {"request_id": "x:r1"}, {"request_id": "x:r1", "note": ""}),
])
def test_a_form_becomes_the_payload_the_playbook_expects(action: str, form: dict, payload: dict) -> None:
    assert actions.payload_for(action, form) == payload


@pytest.mark.parametrize(("action", "form", "field"), [
    ("reject", {"draft_id": "d1", "reason": "  "}, "reason"),
    ("draft", {"kind": "statement", "text_ja": ""}, "text_ja"),
    ("draft", {"kind": "statement", "text_ja": "x", "category": "anything"}, "category"),
    ("draft", {"kind": "statement", "text_ja": "x" * 5001}, "text_ja"),
    ("fact_check", {"source_url": "javascript:alert(1)"}, "source_url"),
    ("approve", {"draft_id": "d1"}, "draft_hash"),
])
def test_a_malformed_form_names_its_field(action: str, form: dict, field: str) -> None:
    with pytest.raises(actions.FormError, match=field):
        actions.payload_for(action, form)


def test_overriding_needs_at_least_one_warning_code() -> None:
    with pytest.raises(actions.FormError):
        actions.payload_for("override_warning", {"draft_id": "d"}, [])
    assert actions.payload_for("override_warning", {"draft_id": "d"}, ["rumour"]) == {"draft_id": "d", "codes": ["rumour"]}


# --- charts ------------------------------------------------------------------------------------

def test_charts_escape_their_labels_and_say_when_there_is_no_data() -> None:
    svg = charts.bar_chart([("<b>炎上</b>", 2.0, "x"), ("なし", None, "y")], title="<t>", empty="データなし")
    assert "&lt;b&gt;炎上&lt;/b&gt;" in svg and "<b>" not in svg and "&lt;t&gt;" in svg
    assert "なし" not in svg  # nothing to measure: left out, not a bar of "—"
    assert charts.line_chart([], title="t", empty="データなし") == '<p class="chart-none">データなし</p>'
    line = charts.line_chart([(0.0, 1.0), (600.0, 3.0)], title="t", empty="e", percent=True)
    assert "100%" in line and line.count("<circle") == 2
    assert charts.sparkline([1, 2, 3], label="x").count("<polyline") == 1
