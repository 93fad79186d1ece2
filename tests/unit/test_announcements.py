"""Announcements retold are not rumours: a resident restating the city's own post with hearsay
markers (「川端断水、9時から15時だって」) agrees with it and opens nothing; a claim that contradicts
it (「断水は1週間続くらしい」) is a rumour, with the city's post as the correction's source; and a
planned outage the city announced is no disaster."""

from __future__ import annotations

import pytest

from streams.detectors.announcements import AGREES, CONTRADICTS, UNRELATED, Announcements, read, relation
from streams.detectors.common import Context
from streams.detectors.disaster import DisasterDetector
from streams.detectors.misinformation import MisinformationDetector
from vocabulary.contract import event_from_dict, profile_from_dict
from tests.unit.builders import OFFICIAL, at, mention, ts
from tests.unit.test_playbooks import CORRECTION, OWNER, Play, effects, misinformation_opened

CALM = Context()
WAKO = profile_from_dict({
    "municipality": {"id": "wako", "name": "和光市", "names": ["和光市", "和光", "わこう"],
                     "areas": ["川端", "本町"]},
    "accounts": [{"platform": "x", "handle": OFFICIAL, "name": "和光市役所"}],
})
POST_URL = "https://x.com/wako_city_official/status/1001"
PAGE = "https://www.city.wako.lg.jp/suido/dansui.html"
# T0 is Friday 2026-11-20 09:00 JST: the work is the next day.
ANNOUNCEMENT = ("【断水のお知らせ】水道管工事のため、11月21日(土)午前9時から午後3時まで、川端地区で断水します。"
                f"ご不便をおかけして申し訳ありません。 {PAGE}")
RETOLD = (
    "川端断水、9時から15時だって",
    "明日川端地区は断水らしい、9時〜15時",
    "和光市の川端で断水するらしいよ。15時までだって",
    "和光市川端の断水、午後3時までだって",
    "11/21は川端で断水らしい。水ためとかなきゃ",
    "川端断水だって、9-15時",
    "和光市、川端地区で工事のため断水らしい",
    "和光市で明日断水らしい、トイレ流せないって",
    "川端、あした6時間くらい断水するみたい",
    "川端の断水、朝9時から午後3時までだって",
    "川端の断水、夕方には戻るって",
    "川端で断水って噂、明日の9:00〜15:00",
    "川端の断水、土曜の9時からって聞いた",
    "明日の断水、10時からだっけ？9時からだって",
)
CONTRADICTING = (
    "川端の断水は1週間続くらしい、拡散して",
    "和光市の川端の断水、1週間続くらしいよ",
    "川端地区の断水、復旧は未定らしい",
    "断水は一週間続くって聞いた、川端",
    "和光市川端の断水、3日間続くらしい",
)


def official_mention(minute: float = 0, text: str = ANNOUNCEMENT):
    return mention(minute, OFFICIAL, text, reply_to=None, event_id="x:wako:1001")


def official_post_event(minute: float = 0, text: str = ANNOUNCEMENT):
    return event_from_dict({
        "kind": "account", "id": "x:acct:wako:1001", "platform": "x", "ts": at(minute), "type": "official_post",
        "account": {"id": "x:u:wako", "handle": OFFICIAL, "name": "和光市役所"},
        "post": {"id": "x:wako:1001", "text": text, "url": POST_URL},
    })


def residents(texts: tuple[str, ...], *, start: float = 60, every: float = 0.3, rounds: int = 3):
    """Each text from `rounds` different residents, `every` minutes apart."""
    out = []
    for i, text in enumerate(texts * rounds):
        out.append(mention(start + i * every, f"resident{i}", text, reply_to=None))
    return out


def run(detector, events):
    return [f for e in events for f in detector.on_event(e, CALM)]


def facts(text: str, minute: float = 60):
    return read(text, ts(minute), ("川端", "本町"))


# --- what the text gives -------------------------------------------------------------


@pytest.mark.parametrize("text", RETOLD)
def test_a_retelling_in_other_words_with_hearsay_agrees_with_the_announcement(text: str) -> None:
    assert relation(facts(text), facts(ANNOUNCEMENT, 0)) == AGREES


@pytest.mark.parametrize("text", CONTRADICTING + (
    "川端の断水、18時までだって",  # a time outside the announced hours
    "川端の断水は中止らしい",  # negated
    "川端は断水しないらしい",
    "11月28日に川端で断水らしい",  # another day
    "川端の断水、実は22日かららしい",
    "川端の断水、明後日まで続くらしい",
    "川端だけじゃなくて市内全域で断水らしい",  # everywhere, not 川端
    "川端の断水延期になったらしい",
    "川端の断水は夜8時までかかるって",
    "川端の断水、しばらく続くらしい",
))
def test_a_claim_that_says_otherwise_about_the_same_outage_contradicts_it(text: str) -> None:
    assert relation(facts(text), facts(ANNOUNCEMENT, 0)) == CONTRADICTS


@pytest.mark.parametrize("text", (
    "本町で断水らしい",  # another area
    "川端の水道が汚染されてるらしい",  # another story about the same water
    "駅前で事故があったらしい",
))
def test_a_claim_about_something_else_is_unrelated(text: str) -> None:
    assert relation(facts(text), facts(ANNOUNCEMENT, 0)) == UNRELATED


def test_a_correction_by_the_city_is_contradicted_by_the_rumour_it_denies_and_agreed_by_its_debunk() -> None:
    correction = facts("【和光市】動物園からライオンが逃げたという情報はデマです。動物はすべて無事です", 0)

    assert relation(facts("動物園のライオンが逃げたらしい、拡散して"), correction) == CONTRADICTS
    assert relation(facts("ライオンが逃げたってデマらしいよ"), correction) == AGREES


# --- the misinformation detector ------------------------------------------------------


def test_retellings_of_the_announcement_open_nothing_though_they_would_without_it() -> None:
    without = run(MisinformationDetector(WAKO), residents(RETOLD))
    detector = MisinformationDetector(WAKO)

    found = run(detector, [official_mention(), *residents(RETOLD)])

    assert [f.change for f in without][:1] == ["opened"]  # today's false alarm, without the city's post
    assert found == []
    assert detector.announcements.items[0][4] >= 3 * (len(RETOLD) - 1)  # counted as 公式発表の拡散 (the marked ones)


def test_a_claim_contradicting_the_announcement_is_a_rumour_with_the_official_post_as_its_source() -> None:
    detector = MisinformationDetector(WAKO)

    found = run(detector, [official_post_event(), official_mention(), *residents(RETOLD, rounds=1),
                           *residents(CONTRADICTING, start=90, every=0.5, rounds=2)])

    opened = [f for f in found if f.change == "opened"]
    assert len(opened) == 1 and all(f.target == opened[0].target for f in found)
    metrics = opened[0].metrics
    assert metrics["official_post_id"] == "x:wako:1001"
    assert metrics["source_url"] == POST_URL  # the city's post itself, from its official_post event
    assert metrics["contradicts_official"] is True
    assert "和光市の発表「" in opened[0].summary and "食い違" in opened[0].summary


def test_an_announcement_seen_only_as_a_mention_links_the_page_it_gives() -> None:
    detector = MisinformationDetector(WAKO)

    found = run(detector, [official_mention(), *residents(CONTRADICTING, start=90, every=0.5, rounds=2)])

    assert found[0].change == "opened" and found[0].metrics["source_url"] == PAGE


def test_the_contradiction_and_its_source_survive_the_json_state() -> None:
    events = [official_post_event(), *residents(CONTRADICTING, start=90, every=0.5, rounds=2)]
    straight = MisinformationDetector(WAKO)
    assert [f.change for f in run(straight, events[:4])] == ["opened"]
    whole = run(straight, events[4:])
    first = MisinformationDetector(WAKO)
    run(first, events[:4])

    rebuilt = MisinformationDetector(WAKO, first.to_state())
    rest = run(rebuilt, events[4:])

    assert rest and all(f.metrics["source_url"] == POST_URL for f in rest)
    assert [(f.change, f.metrics, f.summary) for f in rest] == [(f.change, f.metrics, f.summary) for f in whole]


def test_the_announcements_remembered_are_bounded_by_count_and_age() -> None:
    kept = Announcements(cap=3, keep_s=2 * 86400)
    for day in range(5):
        kept.remember(f"p{day}", ts(day * 600), f"{day + 1}日に本町で断水します", None)
    kept.remember("chatter", ts(3001), "今日もいい天気です", None)  # nothing checkable: not kept

    assert [i[0] for i in kept.items] == ["p2", "p3", "p4"]
    kept.forget(ts(2400 + 2 * 1440 - 1))
    assert [i[0] for i in kept.items] == ["p4"]


# --- the disaster detector --------------------------------------------------------------

NAMING_THE_CITY = tuple(t for t in RETOLD + CONTRADICTING if "和光" in t)


def test_a_planned_outage_the_city_announced_is_no_disaster() -> None:
    without = run(DisasterDetector(WAKO), residents(NAMING_THE_CITY, every=0.2, rounds=4))

    found = run(DisasterDetector(WAKO), [official_post_event(), *residents(NAMING_THE_CITY, every=0.2, rounds=4)])

    assert [f.change for f in without][:1] == ["opened"]  # today: the city's name + 断水 reads as a disaster
    assert found == []


def test_a_real_outage_during_the_planned_one_is_still_a_disaster() -> None:
    quake = ("和光市で地震、断水してる", "和光市、揺れて水道管が破裂して断水", "和光市で地震のあと停電と断水")

    found = run(DisasterDetector(WAKO), [official_mention(), *residents(quake, every=0.2, rounds=4)])

    assert [f.change for f in found][:1] == ["opened"]


def test_an_emergency_outage_the_city_reports_explains_nothing() -> None:
    report = "【和光市】地震の影響で川端地区が断水しています。復旧作業中です"

    found = run(DisasterDetector(WAKO), [official_mention(text=report),
                                         *residents(NAMING_THE_CITY, every=0.2, rounds=4)])

    assert [f.change for f in found][:1] == ["opened"]


def test_the_planned_outage_is_forgotten_six_hours_after_the_day_it_names() -> None:
    detector = DisasterDetector(WAKO)
    run(detector, [official_post_event()])

    until = detector.planned[0][1]
    restored = DisasterDetector(WAKO, detector.to_state())

    assert until == ts(24 * 60 - 9 * 60 + 24 * 60 + 6 * 60)  # the 21st ends at midnight JST, plus six hours
    assert restored.planned == detector.planned
    assert restored._explained("和光市で断水らしい", ts(60)) and not restored._explained("和光市で断水らしい", until + 1)


# --- the correction's source in the playbook ----------------------------------------------


def test_the_official_post_is_the_correction_drafts_source_from_the_opening() -> None:
    url = "https://www.city.wako.lg.jp/news/water.html"  # CORRECTION's link
    play = Play(misinformation_opened(metrics={"posts": 12, "contradicts_official": True,
                                               "official_post_id": "x:wako:1001", "source_url": url}))

    opened = play.open()

    assert opened.state is not None and opened.state.source_url == url  # what the approval checks
    assert opened.incident is not None and opened.incident.metrics["source_url"] == url
    play.send(play.command("fact_check", 10, source_url=url))
    play.send(play.command("draft", 20, kind="correction", texts=CORRECTION))
    posted = play.send(play.command("approve", 30, who=OWNER, draft_id=play.draft_id(1)))
    assert ("post_statement", OFFICIAL) in effects(posted)
    assert all(e.payload["source_url"] == url for e in posted.effects)


def test_a_link_without_a_contradicted_announcement_waits_for_the_fact_check() -> None:
    play = Play(misinformation_opened(metrics={"posts": 12, "source_url": "https://example.jp/x"}))

    opened = play.open()

    assert opened.state is not None and opened.state.source_url is None



def test_quotes_of_the_announcement_that_contradict_it_are_a_rumour_and_quotes_that_retell_it_are_not() -> None:
    quoted = {"post_id": "x:wako:1001", "account": OFFICIAL}
    contradicting = [mention(90 + i * 0.5, f"quoter{i}", text, reply_to=None, quote_of=quoted)
                     for i, text in enumerate(("これ、実は1週間続くらしい。拡散して", "本当は復旧未定らしいよ") * 3)]
    retelling = [mention(60 + i * 0.3, f"sharer{i}", "明日9時から15時だって、水ためとこ", reply_to=None, quote_of=quoted)
                 for i in range(12)]

    calm = run(MisinformationDetector(WAKO), [official_post_event(), official_mention(), *retelling])
    found = run(MisinformationDetector(WAKO), [official_post_event(), official_mention(), *contradicting])

    assert calm == []
    assert [f.change for f in found][:1] == ["opened"] and found[0].metrics["official_post_id"] == "x:wako:1001"


def test_hearsay_after_a_verb_is_a_marker_too() -> None:
    """「来週まで続くって」: quotative って after a verb's plain form is hearsay, like 〜だって."""
    texts = ("川端の断水、来週まで続くって", "和光市川端の断水、1週間かかるって")

    found = run(MisinformationDetector(WAKO), [official_post_event(), *residents(texts, start=90, every=0.5, rounds=3)])

    assert [f.change for f in found][:1] == ["opened"] and found[0].metrics["source_url"] == POST_URL
