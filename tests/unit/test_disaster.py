"""災害 monitoring in event time: a surge on the disaster hashtag opens one incident with
its rescue requests (救助要請); festivals, drills, news from elsewhere and everyday
words stay quiet."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

import orjson
import pytest

from vocabulary.contract import Alert, Event, Mention, event_from_dict, profile_from_dict
from vocabulary.profile_files import load_profile
from streams.detectors.common import Context, Finding
from streams.detectors.disaster import DisasterConfig, DisasterDetector
from streams.detectors.disaster_alerts import WARNING, alert_level
from streams.detectors.disaster_posts import RescueRequest, rescue_request
from vocabulary.records import iso
from tests.unit.builders import SAMPLE, SAMPLE_PROFILE, at, mention_dict, ts

HOUR = 60.0
DAY = 24 * HOUR
TAG = "和光市災害"
OFFICIAL = "wako_city_official"
WAKO = {
    "municipality": {"id": "wako", "name": "和光市", "names": ["和光市", "和光", "わこう"],
                     "areas": ["埼玉県南部"]},
    "accounts": [{"platform": "x", "handle": OFFICIAL, "name": "和光市役所"}],
    "watch_hashtags": ["和光市"],
    "disaster_hashtags": [TAG],
}
REPORTS = ("揺れが大きかった", "停電してます", "白子川の水位が上がってる", "道路が冠水しています")
RESCUE = "助けてください、和光市新倉2丁目で家に閉じ込められています #救助 #和光市災害"


def detector(profile: dict[str, Any] | None = None, **config: Any) -> DisasterDetector:
    return DisasterDetector(profile_from_dict(profile or WAKO), config=DisasterConfig(**config))


def post(minute: float, author: str, text: str, **extra: Any) -> Mention:
    """A resident's own post (not a reply); hashtags come from the text."""
    event = event_from_dict(mention_dict(minute, author, text, reply_to=None, **extra))
    assert isinstance(event, Mention)
    return event


def repost(minute: float, author: str, of: Mention, **extra: Any) -> Mention:
    return post(minute, author, "", hashtags=list(of.hashtags),
                repost_of={"post_id": of.id, "account": of.author.handle}, **extra)


def report(minute: float, i: int, prefix: str = "r") -> Mention:
    return post(minute, f"{prefix}{i}", f"{REPORTS[i % len(REPORTS)]} #{TAG}")


def reports(start: float, count: int, *, every: float = 0.5, prefix: str = "r") -> list[Mention]:
    """`count` first-hand reports on the disaster hashtag from distinct authors."""
    return [report(start + i * every, i, prefix) for i in range(count)]


def alert(minute: float, severity: str, title: str, areas: Iterable[str] = ("埼玉県南部",),
          alert_id: str = "jma:1", text: str = "…") -> Alert:
    event = event_from_dict({"kind": "alert", "id": alert_id, "platform": "web", "ts": at(minute),
                             "source": "jma", "title": title, "severity": severity,
                             "areas": list(areas), "text": text})
    assert isinstance(event, Alert)
    return event


def feed(d: DisasterDetector, events: Iterable[Event]) -> list[Finding]:
    return [f for e in events for f in d.on_event(e, Context())]


def opened(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.change == "opened"]


def sample_events() -> list[Event]:
    return [event_from_dict(orjson.loads(line)) for line in SAMPLE.read_bytes().splitlines()]


# --- the sample -------------------------------------------------------------------


def test_the_sample_surge_opens_one_incident_within_two_minutes_carrying_its_rescue_request() -> None:
    d = DisasterDetector(load_profile(SAMPLE_PROFILE))
    findings = feed(d, sample_events())

    [first] = opened(findings)
    start = ts(6 * HOUR + 40)  # 15:40, the label's start
    assert first.target == TAG
    assert 0 <= first.opened_at - start <= 120
    assert all(f.change == "updated" and f.opened_at == first.opened_at for f in findings[1:])
    assert [f.seq for f in findings] == list(range(len(findings)))
    last = findings[-1]
    [request] = last.metrics["rescue_requests"]
    assert (request["id"], request["place"]) == ("x:wako00107", "新倉2丁目")
    assert request["text"].startswith("助けてください")
    assert request["at"] == "2026-11-20T15:45:00+09:00"
    assert last.severity in ("high", "critical")
    assert "x:wako00107" in last.evidence_ids
    assert d.active


def test_the_rescue_request_itself_triggers_an_update_of_the_open_incident() -> None:
    d = DisasterDetector(load_profile(SAMPLE_PROFILE))
    events = sample_events()
    help_post = next(e for e in events if e.id == "x:wako00107")
    feed(d, [e for e in events if e.ts < help_post.ts])

    [update] = d.on_event(help_post, Context())

    assert update.change == "updated" and update.severity == "high"
    assert [r["place"] for r in update.metrics["rescue_requests"]] == ["新倉2丁目"]


# --- the bar ----------------------------------------------------------------------


def test_a_dormant_hashtag_waking_up_with_eight_posts_from_six_authors_is_a_surge() -> None:
    d = detector()
    authors = ["a0", "a1", "a2", "a3", "a4", "a5", "a0", "a1"]
    events = [post(i * 0.5, a, f"#{TAG} みんな大丈夫？") for i, a in enumerate(authors)]

    assert feed(d, events[:7]) == []
    [f] = d.on_event(events[7], Context())
    assert (f.change, f.target, f.seq) == ("opened", TAG, 0)
    assert f.evidence_ids == [e.id for e in events]


def test_many_reports_from_three_authors_are_not_a_surge() -> None:
    d = detector()
    events = [post(i * 0.5, f"a{i % 3}", f"{REPORTS[i % 4]} #{TAG}") for i in range(12)]

    assert feed(d, events) == []
    assert not d.active


def test_four_reports_spread_over_an_hour_are_not_a_surge() -> None:
    d = detector()

    assert feed(d, reports(0, 12, every=6)) == []


def test_local_names_in_disaster_words_open_with_a_higher_bar_on_the_first_disaster_hashtag() -> None:
    d = detector({**WAKO, "disaster_hashtags": [TAG, "和光市水害"]})
    texts = ("和光市で停電してる", "和光の駅前が冠水してる", "わこう市内で断水、水が出ない",
             "和光市 揺れがすごかった")
    events = [post(i * 0.5, f"n{i}", texts[i % 4]) for i in range(8)]

    assert feed(d, events[:7]) == []  # on the hashtag, four would have opened
    [f] = d.on_event(events[7], Context())
    assert (f.change, f.target, f.metrics["source"]) == ("opened", TAG, "names")


def test_without_disaster_hashtags_the_target_is_the_municipality_name_and_災害() -> None:
    d = detector({"municipality": {"id": "niiza", "name": "新座市"},
                  "accounts": [{"platform": "x", "handle": "niiza_city", "name": "新座市"}]})
    events = [post(i * 0.5, f"z{i}", f"{REPORTS[i]} #新座市災害") for i in range(4)]

    [f] = feed(d, events)
    assert f.target == "新座市災害"


def test_disaster_hashtags_match_after_nfkc_and_without_case() -> None:
    d = detector({**WAKO, "disaster_hashtags": ["WakoSaigai"]})
    events = [post(i * 0.5, f"c{i}", f"{REPORTS[i]}", hashtags=[tag])
              for i, tag in enumerate(["wakosaigai", "ＷＡＫＯＳＡＩＧＡＩ", "#WAKOsaigai", "WakoSaigai"])]

    [f] = feed(d, events)
    assert f.target == "WakoSaigai"


def test_a_busy_hashtag_needs_more_than_its_own_usual_chatter() -> None:
    d = detector()
    chatter = [post(m, f"c{m % 7}", f"停電の情報まとめ #{TAG}") for m in range(0, int(2 * DAY), 3)]
    on_top = reports(2 * DAY + 1, 6, prefix="new")

    assert feed(d, chatter + on_top) == []  # six reports would open a dormant hashtag
    assert opened(feed(d, reports(2 * DAY + 4, 20, every=0.1, prefix="big")))


# --- staying quiet ----------------------------------------------------------------


def test_a_festival_burst_on_the_watch_hashtag_stays_quiet() -> None:
    d = detector()
    texts = ("和光市民まつり最高！ #和光市", "屋台の焼きそばおいしい #和光市", "和光のお祭り楽しい！",
             "#和光市 #市民まつり パレード始まった", "雨が降ってきたのでテントに避難 #和光市",
             "和光市のお祭り、人が多すぎて動けない #和光市")
    burst = [post(i * 0.1, f"f{i}", texts[i % 6]) for i in range(600)]

    assert feed(d, burst) == []
    assert not d.active


def test_drill_notices_and_occasional_hashtag_mentions_stay_quiet() -> None:
    d = detector()
    events: list[Mention] = []
    for week in range(4):
        t = week * 7 * DAY
        notice = post(t, OFFICIAL, f"防災訓練のお知らせ：今週日曜に避難訓練を行います #{TAG}")
        events.append(notice)
        events += [repost(t + 1 + i, f"fan{i}", notice) for i in range(8)]
        events += [post(t + 2 * DAY + i * 0.3, f"walker{i}",
                        f"今日は避難訓練に参加、避難所まで歩きました #{TAG}") for i in range(12)]
        events += [post(t + 3 * DAY, "resident", f"#{TAG} ってタグがあるの知らなかった"),
                   post(t + 5 * DAY, "resident2", f"地震のときは #{TAG} で情報共有")]

    assert feed(d, events) == []
    assert not d.active


def test_news_about_a_disaster_in_another_city_stays_quiet() -> None:
    d = detector()
    texts = ("【速報】熊本市で震度6強、家屋倒壊の情報 #熊本地震", "熊本市で停電と断水、救助要請が相次ぐ",
             "熊本市の住民が閉じ込められ、救助された模様", "熊本の被害が心配。避難所の情報はこちら #熊本地震")
    news = [post(i * 0.2, f"w{i}", texts[i % 4]) for i in range(200)]

    assert feed(d, news) == []


def test_everyday_posts_using_a_disaster_word_once_stay_quiet() -> None:
    d = detector()
    texts = ("和光市、さっき一瞬停電した？", "和光の台風ってどのくらい来るんだろう",
             "和光市の避難所ってどこだっけ", "宿題が終わらない、誰か助けて")
    events = [post(i * 47, f"e{i}", texts[i % 4]) for i in range(60)]

    assert feed(d, events) == []


# --- alerts -----------------------------------------------------------------------


def test_an_emergency_alert_for_the_area_opens_a_high_incident_with_the_alert_as_evidence() -> None:
    d = detector()

    [f] = d.on_event(alert(0, "emergency", "大雨特別警報", alert_id="jma:sp1"), Context())

    assert (f.change, f.target, f.severity) == ("opened", TAG, "high")
    assert f.evidence_ids == ["jma:sp1"]
    assert d.active


def test_an_alert_naming_the_municipality_counts_as_covering_it() -> None:
    d = detector()

    assert opened(feed(d, [alert(0, "特別警報", "大雨特別警報", areas=["埼玉県和光市"])]))


def test_an_emergency_for_another_area_changes_nothing() -> None:
    d = detector()

    assert feed(d, [alert(0, "emergency", "大雨特別警報", areas=["熊本県熊本地方"])]) == []
    assert feed(d, reports(1, 3)) == []


def test_a_warning_alone_does_not_open_but_lowers_the_bar() -> None:
    warned, unwarned = detector(), detector()
    few = reports(10, 2)

    assert feed(warned, [alert(0, "warning", "大雨警報")]) == []
    assert not warned.active
    assert feed(unwarned, few) == []
    [f] = feed(warned, few)
    assert f.change == "opened" and f.severity == "medium"
    assert f.metrics["alerts"] == ["jma:1"]


def test_a_warning_stops_lowering_the_bar_once_it_expires_or_is_cancelled() -> None:
    expired, cancelled = detector(), detector()
    feed(expired, [alert(0, "warning", "大雨警報")])
    feed(cancelled, [alert(0, "warning", "大雨警報"), alert(5, "info", "大雨警報解除")])

    assert feed(expired, reports(7 * HOUR, 2)) == []
    assert feed(cancelled, reports(10, 2)) == []


# --- slow builds under a warning: the long window ---------------------------------


def slow_reports(start: float, count: int, *, every: float = 12, prefix: str = "slow") -> list[Mention]:
    """First-hand reports from distinct authors, never two within five minutes."""
    return reports(start, count, every=every, prefix=prefix)


def test_under_a_warning_a_slow_build_opens_on_the_third_reporter_within_the_hour() -> None:
    d = detector()
    feed(d, [alert(0, "warning", "大雨警報")])
    slow = slow_reports(30, 3)  # +30, +42, +54: the five-minute window never holds two

    assert feed(d, slow[:2]) == []
    [f] = d.on_event(slow[2], Context())

    assert (f.change, f.target, f.opened_at) == ("opened", TAG, slow[2].ts)
    assert f.metrics["window_s"] == 3600
    assert (f.metrics["posts"], f.metrics["authors"]) == (3, 3)
    assert f.evidence_ids == [e.id for e in slow]
    assert f.metrics["alerts"] == ["jma:1"]


def test_under_a_warning_two_reports_and_two_bare_posts_within_the_hour_open() -> None:
    d = detector()
    feed(d, [alert(0, "warning", "大雨警報")])
    events = [report(10, 0), post(25, "b1", f"#{TAG} みんな大丈夫？"),
              post(40, "b2", f"雨の音がこわい #{TAG}"), report(55, 1)]

    assert feed(d, events[:3]) == []
    [f] = d.on_event(events[3], Context())
    assert f.change == "opened" and f.metrics["window_s"] == 3600


@pytest.mark.parametrize("alerts", [
    [],
    [alert(0, "warning", "大雨警報"), alert(10, "info", "大雨警報解除")],
    [alert(-7 * HOUR, "warning", "大雨警報")],  # expired after six hours
    [alert(0, "warning", "震源・震度に関する情報", text="埼玉県で最大震度3を観測しました。")],
    [alert(0, "warning", "大雨警報", areas=["熊本県熊本地方"])],
], ids=["none", "cancelled", "expired", "small-quake-report", "elsewhere"])
def test_the_same_slow_trickle_without_a_warning_in_effect_stays_quiet(alerts: list[Alert]) -> None:
    d = detector()
    feed(d, alerts)

    assert feed(d, slow_reports(30, 12)) == []  # a report every 12 minutes for over two hours
    assert not d.active


def test_under_a_warning_a_trickle_from_two_people_and_their_reposts_stays_quiet() -> None:
    d = detector()
    feed(d, [alert(0, "warning", "大雨警報")])
    trickle = [post(10 + 8 * i, f"p{i % 2}", f"{REPORTS[i % 4]} #{TAG}") for i in range(20)]
    echoes = [repost(12 + 8 * i, f"fan{i}", p) for i, p in enumerate(trickle)]
    copies = [post(14 + 8 * i, f"cp{i}", f"RT {REPORTS[i % 4]} #{TAG}", repost_of={
        "post_id": p.id, "account": p.author.handle}) for i, p in enumerate(trickle)]
    events = sorted([*trickle, *echoes, *copies], key=lambda e: e.ts)

    assert feed(d, events) == []  # score far above three an hour, but from two people
    assert not d.active
    assert feed(d, [post(170, "p0", f"まだ停電してる #{TAG}")]) == []  # one of them again


def test_under_a_warning_the_long_window_must_still_beat_the_hashtags_usual_chatter() -> None:
    d = detector()
    chatter = [post(m, f"c{m % 7}", f"停電の情報まとめ #{TAG}") for m in range(0, int(2 * DAY), 20)]
    feed(d, [*chatter, alert(2 * DAY, "warning", "大雨警報")])

    assert feed(d, slow_reports(2 * DAY + 10, 4)) == []  # would open a dormant hashtag
    [f] = opened(feed(d, reports(2 * DAY + 60, 20, every=3, prefix="many")))
    assert f.metrics["window_s"] == 3600 and f.metrics["baseline_per_window"] > 2


@pytest.mark.parametrize("renewed", [False, True])
def test_a_slow_trickle_under_a_warning_opens_one_incident_however_long_it_goes_on(renewed: bool) -> None:
    d = detector()
    events: list[Event] = [alert(0, "warning", "大雨警報")]
    if renewed:  # each renewal keeps the episode busy
        events += [alert(h * 5 * HOUR, "warning", "大雨警報", alert_id=f"jma:{h}") for h in range(1, 4)]
    events += slow_reports(30, 80, every=10)  # thirteen hours of a report every ten minutes
    findings = feed(d, sorted(events, key=lambda e: e.ts))

    assert len(opened(findings)) == 1
    assert d.active == renewed  # without: closed six quiet hours after opening, the warning over


# --- small quakes -----------------------------------------------------------------


@pytest.mark.parametrize(("severity", "title", "text", "level"), [
    ("warning", "震源・震度に関する情報", "埼玉県で最大震度3を観測しました。", 0),
    ("info", "震度速報", "埼玉県南部で震度3を観測しました。", 0),
    ("warning", "震度速報", "埼玉県南部で震度４を観測しました。", 0),
    ("warning", "震度速報", "埼玉県南部で震度5弱を観測しました。", WARNING),
    ("warning", "震源・震度に関する情報", "埼玉県で最大震度６強を観測しました。", WARNING),
    ("warning", "震源に関する情報", "震源は埼玉県南部。", WARNING),  # no intensity given: as before
    ("warning", "津波警報", "震度3。津波警報を発表しました。", WARNING),
    ("warning", "大雨警報", "…", WARNING),
])
def test_a_report_of_a_small_quake_is_not_a_warning(severity: str, title: str, text: str,
                                                    level: int) -> None:
    assert alert_level(alert(0, severity, title, text=text)) == level


def test_after_a_small_quake_report_the_felt_chatter_needs_twice_the_bar_for_an_hour() -> None:
    small = alert(0, "info", "震度速報", text="埼玉県南部で震度3を観測しました。")
    felt, later = detector(), detector()
    feed(felt, [small])
    feed(later, [small])

    assert feed(felt, reports(1, 6)) == []  # 「揺れた」 from six people: a dormant hashtag opens at four
    [f] = opened(feed(felt, reports(10, 8, prefix="big")))  # eight from eight still open
    assert f.metrics["posts"] == 8
    assert opened(feed(later, reports(61, 4)))  # an hour on, the usual bar


def test_a_damaging_quake_after_a_small_one_is_not_held_back() -> None:
    d = detector()
    feed(d, [alert(0, "info", "震度速報", text="埼玉県南部で震度3を観測しました。"),
             alert(2, "warning", "震度速報", text="埼玉県南部で震度5強を観測しました。", alert_id="jma:2")])

    [f] = feed(d, reports(3, 2))  # the warned bar, not doubled
    assert f.change == "opened" and f.metrics["alerts"] == ["jma:2"]


# --- one incident per episode -----------------------------------------------------


def test_updates_come_only_on_a_doubling_a_higher_severity_or_a_new_rescue_request() -> None:
    d = detector()
    [first] = feed(d, reports(0, 4))
    assert first.metrics["posts"] == 4

    assert feed(d, [report(2.0 + i * 0.1, 10 + i, "more") for i in range(3)]) == []  # 7 posts
    [doubled] = d.on_event(report(2.5, 20, "more"), Context())  # 8 posts
    [rescue] = d.on_event(post(3, "victim", RESCUE), Context())
    copy = post(3.5, "friend", "RT: 助けてください！和光市新倉2丁目で家に閉じ込められています #和光市災害")

    assert (doubled.change, doubled.seq, doubled.metrics["posts"]) == ("updated", 1, 8)
    assert (rescue.change, rescue.seq, rescue.severity) == ("updated", 2, "high")
    assert d.on_event(copy, Context()) == []


def test_a_surge_after_the_quiet_spell_is_the_same_disaster_again_and_after_48_hours_a_new_one() -> None:
    d = detector()
    [first] = opened(feed(d, reports(0, 6)))
    later_same_episode = feed(d, reports(5 * HOUR, 6, prefix="s"))
    aftershock = feed(d, reports(5 * HOUR + 6 * HOUR + 10, 6, prefix="t"))  # quiet for six hours, then 余震
    assert d.active
    [second] = opened(feed(d, reports(5 * HOUR + 6 * HOUR + 10 + 49 * HOUR, 6, prefix="u")))

    assert opened(later_same_episode) == [] and opened(aftershock) == []
    [comeback] = [f for f in aftershock if f.metrics.get("resurgence")]
    assert comeback.change == "updated" and comeback.opened_at == first.opened_at
    assert comeback.metrics["wave"] == 2 and comeback.summary.startswith("再燃（第2波）")
    assert second.opened_at > first.opened_at
    assert second.target == first.target == TAG
    assert second.seq == 0


def test_a_quiet_disaster_waiting_for_aftershocks_no_longer_tightens_the_other_detectors() -> None:
    d = detector()
    feed(d, reports(0, 6))
    feed(d, [post(7 * HOUR, "y", "今日のランチ")])

    assert d.episode is not None and not d.active  # still the episode, no longer the context


def test_a_new_warning_for_a_quiet_disaster_brings_it_back_as_a_resurgence() -> None:
    d = detector()
    [first] = opened(feed(d, reports(0, 6)))
    feed(d, [post(7 * HOUR, "y", "今日のランチ")])

    found = d.on_event(alert(20 * HOUR, "warning", "大雨警報", alert_id="jma:2"), Context())

    assert [f.metrics.get("resurgence") for f in found] == [True]
    assert found[0].opened_at == first.opened_at and d.active


def test_active_flips_on_with_a_surge_and_off_after_six_quiet_hours() -> None:
    d = detector()
    assert not d.active

    feed(d, reports(0, 4))
    assert d.active
    feed(d, [post(3 * HOUR, "lone", f"まだ停電してる #{TAG}")])  # one post is back near baseline
    feed(d, [post(6 * HOUR + 1, "x", "今日のランチ")])
    assert d.active  # six hours after the last busy minute (1.5), not yet
    feed(d, [post(6 * HOUR + 2, "y", "今日のランチ")])
    assert not d.active


# --- rescue requests --------------------------------------------------------------


@pytest.mark.parametrize(("text", "kind", "place"), [
    (RESCUE, "trapped", "新倉2丁目"),
    ("下新倉五丁目で家が倒壊、下敷きになっている人がいます", "trapped", "下新倉五丁目"),
    ("新倉2丁目3番5号 閉じ込められています", "trapped", "新倉2丁目3番5号"),
    ("埼玉県和光市本町3-5、1階が浸水して2階に避難しています", "flooding", "本町3-5"),
    ("白子123番地、水が来ています 助けて", "flooding", "白子123番地"),
    ("新倉小学校付近で車ごと取り残されています", "stranded", "新倉小学校付近"),
    ("和光市駅の近くで地震で倒れた棚に挟まれて動けない", "trapped", "和光市駅の近く"),
    ("白子川付近、屋根の上に人がいます", "flooding", "白子川付近"),
    ("樹林公園で孤立しています", "stranded", "樹林公園"),
    ("中央公民館に救助をお願いします、けが人がいます", "help", "中央公民館"),
    ("閉じ込められています、誰か助けて", "trapped", None),
    ("ＳＯＳ　地震で家が傾いて出られない", "help", None),
])
def test_rescue_requests_are_spotted_with_their_place(text: str, kind: str, place: str | None) -> None:
    found = rescue_request(text)

    assert isinstance(found, RescueRequest)
    assert (found.kind, found.place) == (kind, place)
    assert found.phrase


@pytest.mark.parametrize("text", [
    "救助隊が来てくれた！",
    "助けてくれてありがとう",
    "近所の方が助けてくれて無事でした",
    "熊本市で住民3人が救助された",
    "倒壊した家屋から2人が救出されました",
    "各地で救助要請が相次いでいる",
    "宿題が終わらない、誰か助けて",
    "和光市役所の手続きが難しすぎて助けて",
    "疲れてもう動けない",
    "エレベーターに閉じ込められたらどうしよう",
    "防災訓練：閉じ込められた人の救助訓練を実施します",
    "今日は晴れ",
    "",
])
def test_thanks_news_hypotheticals_and_everyday_help_are_not_rescue_requests(text: str) -> None:
    assert rescue_request(text) is None


def test_reposts_and_near_identical_copies_of_a_rescue_request_add_no_new_one() -> None:
    d = detector()
    feed(d, reports(0, 8))  # opened at 4 posts, updated at 8: the next volume update is at 16
    original = post(3, "victim", RESCUE)
    [update] = d.on_event(original, Context())
    echoes = [
        repost(3.5, "rt1", original),
        post(4, "cp1", "RT @victim: 助けてください!! 和光市新倉2丁目で家に閉じ込められています https://t.co/x"),
        post(4.5, "cp2", "助けてください。和光市新倉2丁目で家に閉じ込められています #拡散 #和光市災害 #救助"),
    ]

    assert feed(d, echoes) == []
    [another] = d.on_event(post(5, "victim2", "白子3丁目 屋根の上に取り残されています #和光市災害"), Context())
    assert [r["id"] for r in update.metrics["rescue_requests"]] == [original.id]
    items = another.metrics["rescue_requests"]
    assert [r["place"] for r in items] == ["新倉2丁目", "白子3丁目"]
    assert items[0]["copies"] == 3
    assert another.metrics["rescue_request_count"] == 2


def test_a_rescue_request_just_before_the_surge_is_carried_by_the_incident() -> None:
    d = detector()

    [f] = feed(d, [post(0, "victim", RESCUE), *reports(10, 4)])

    assert f.change == "opened" and f.severity == "high"
    assert [r["place"] for r in f.metrics["rescue_requests"]] == ["新倉2丁目"]


def test_an_official_post_is_never_counted_as_a_rescue_request() -> None:
    d = detector()
    feed(d, reports(0, 4))

    assert d.on_event(post(3, OFFICIAL, "新倉2丁目で閉じ込められた方の情報があります #和光市災害"), Context()) == []


# --- state ------------------------------------------------------------------------


def test_resuming_from_the_state_after_every_event_gives_the_same_findings_and_state() -> None:
    profile = load_profile(SAMPLE_PROFILE)
    events = sample_events()
    help_post = next(e for e in events if e.id == "x:wako00107")
    assert isinstance(help_post, Mention)
    events += [repost(7 * HOUR - 2, "rt", help_post), post(7 * HOUR - 1, "cp", f"RT {help_post.text}"),
               alert(7 * HOUR, "warning", "大雨警報", areas=["和光市"]),
               post(7 * HOUR + 1, "late", "白子3丁目 屋根の上に取り残されています #和光市災害")]
    straight = DisasterDetector(profile)
    expected = feed(straight, events)

    resumed: list[Finding] = []
    state: dict[str, Any] | None = None
    for event in events:
        d = DisasterDetector(profile, state=state)
        resumed += d.on_event(event, Context())
        state = orjson.loads(orjson.dumps(d.to_state()))

    assert len(expected) > 3
    assert [dataclasses.asdict(f) for f in resumed] == [dataclasses.asdict(f) for f in expected]
    assert state == orjson.loads(orjson.dumps(straight.to_state()))
    assert DisasterDetector(profile, state=state).active


def test_a_long_loud_disaster_keeps_the_state_bounded() -> None:
    d = detector()
    events = reports(-5, 6)
    for i in range(8 * 24 * 20):  # eight days, a new rescue request every 3 minutes
        minute = i * 3.0
        events.append(post(minute, f"a{i}", f"白子{i}丁目 屋根の上に取り残されています 家族{i}人 #{TAG}"))
        if i % 2:
            events.append(post(minute + 1, f"b{i}", f"和光市 停電がまだ続いてる {i}"))
    findings = feed(d, events)
    state = d.to_state()

    assert len(opened(findings)) == 1
    assert len(state["rescue_keys"]) == 2000
    assert len(state["recent_rescues"]) <= 20
    episode = state["episode"]
    assert len(episode["rescues"]) == 50 and episode["rescues"][-1]["id"] == events[-2].id
    assert len(episode["evidence_head"]) + len(episode["evidence_tail"]) <= 50
    assert len(episode["authors"]) <= 500
    assert all(len(ch["hours"]) <= 168 and len(ch["recent"]) <= 500 and len(ch["earlier"]) <= 200
               for ch in state["channels"].values())
    assert all(len(f.evidence_ids) <= 50 and len(f.metrics["rescue_requests"]) <= 50 for f in findings)
    assert len(orjson.dumps(state)) < 160_000


def test_resuming_during_a_slow_build_under_a_warning_gives_the_same_findings_and_state() -> None:
    profile = profile_from_dict(WAKO)
    events: list[Event] = [alert(0, "warning", "大雨警報"), post(5, "n0", "和光市 停電してる")]
    events += slow_reports(20, 3, every=13)  # opens on the long window at +46
    events += [post(50, "victim", RESCUE), post(60, "n1", "和光の駅前が冠水してる"),
               alert(70, "info", "震度速報", text="埼玉県南部で震度3を観測しました。", alert_id="jma:q"),
               *slow_reports(75, 6, every=7, prefix="later")]
    straight = DisasterDetector(profile)
    expected = feed(straight, events)

    resumed: list[Finding] = []
    state: dict[str, Any] | None = None
    saw_long_window = False
    for event in events:
        d = DisasterDetector(profile, state=state)
        resumed += d.on_event(event, Context())
        state = orjson.loads(orjson.dumps(d.to_state()))
        saw_long_window |= bool(state["channels"]["tag"]["earlier"])

    assert saw_long_window
    assert opened(expected)[0].metrics["window_s"] == 3600
    assert [dataclasses.asdict(f) for f in resumed] == [dataclasses.asdict(f) for f in expected]
    assert state == orjson.loads(orjson.dumps(straight.to_state()))
    assert state["felt"]["id"] == "jma:q"


def test_state_from_before_the_long_window_still_loads() -> None:
    d = detector()
    feed(d, [alert(0, "warning", "大雨警報"), report(10, 0)])
    state = orjson.loads(orjson.dumps(d.to_state()))
    for channel in state["channels"].values():
        del channel["earlier"]
    del state["felt"]

    old = DisasterDetector(profile_from_dict(WAKO), state=state)

    assert old.to_state()["channels"]["tag"]["earlier"] == [] and old.felt is None
    [f] = feed(old, [report(12, 1)])  # the carried report still counts in the window
    assert f.change == "opened" and f.metrics["posts"] == 2


def test_hourly_baselines_keep_at_most_a_week() -> None:
    d = detector()
    feed(d, [post(h * HOUR, f"c{h}", f"停電の情報まとめ #{TAG}") for h in range(3 * 7 * 24)])

    hours = d.to_state()["channels"]["tag"]["hours"]
    assert 0 < len(hours) <= 168
    assert min(map(int, hours)) > int(ts(3 * 7 * DAY) // 3600) - 170


def test_findings_are_plain_json_for_the_board() -> None:
    d = detector()
    [f] = feed(d, [post(0, "victim", RESCUE), *reports(1, 3)])

    metrics = orjson.loads(orjson.dumps(dataclasses.asdict(f)))["metrics"]
    assert metrics["rescue_requests"][0]["at"] == iso(ts(0))
