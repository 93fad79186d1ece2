"""デマ detection in event time: a spreading claim opens one incident; shares, news and chatter stay quiet."""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import Any

import orjson
import pytest

from vocabulary.contract import Event, Mention, event_from_dict, parse_event, profile_from_dict
from streams.detectors.cluster import NearDuplicateIndex, jaccard
from streams.detectors.common import Context, Finding
from streams.detectors.misinformation import MisinformationConfig, MisinformationDetector, claim_id
from tools.evaluation import load_labels, matches
from vocabulary.records import iso
from tests.unit.builders import DATA, OFFICIAL, SAMPLE, at, mention, ts

WAKO = profile_from_dict({
    "municipality": {"id": "wako", "name": "和光市", "names": ["和光市", "和光", "わこう"]},
    "accounts": [{"platform": "x", "handle": OFFICIAL, "name": "和光市役所"}],
    "watch_hashtags": ["和光市"],
    "disaster_hashtags": ["和光市災害"],
})
CALM = Context()
DISASTER = Context(disaster_active=True)

LUNCH = ("【拡散希望】和光市の小学校で食中毒が出たらしい", "和光市の給食で集団食中毒らしいよ、拡散して",
         "給食で食中毒出たって聞いた、和光市")
LION = ("【拡散希望】和光市の動物園からライオンが逃げたらしい", "動物園のライオン逃げたって本当？拡散して",
        "ライオン脱走の件、市役所が隠蔽してるらしい")


def post(minute: float, author: str, text: str, **extra: Any) -> Mention:
    return mention(minute, author, text, reply_to=None, **extra)


def repost(minute: float, author: str, of: Mention) -> Mention:
    return post(minute, author, "", repost_of={"post_id": of.id, "account": of.author.handle})


def spread(texts: tuple[str, ...], count: int, *, start: float = 0, every: float = 1.0,
           prefix: str = "u") -> list[Mention]:
    """`count` posts from `count` authors, `every` minutes apart, cycling through `texts`."""
    return [post(start + i * every, f"{prefix}{i}", texts[i % len(texts)]) for i in range(count)]


def feed(detector: MisinformationDetector, events: Iterable[Event], ctx: Context = CALM) -> list[Finding]:
    return [f for e in events for f in detector.on_event(e, ctx)]


def opened(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.change == "opened"]


def by_time(*streams: Iterable[Mention]) -> list[Mention]:
    return sorted((e for s in streams for e in s), key=lambda e: e.ts)


# --- the labelled sample ----------------------------------------------------------------


def test_the_sample_rumour_opens_one_incident_within_two_minutes_and_nothing_else_does() -> None:
    events = [parse_event(line) for line in SAMPLE.read_bytes().splitlines()]
    [label] = [lb for lb in load_labels(DATA / "wako-sample.labels.jsonl") if lb.type == "misinformation"]
    sample_profile = profile_from_dict(orjson.loads((DATA / "wako-sample.profile.json").read_bytes()))

    findings = feed(MisinformationDetector(sample_profile), events)

    [incident] = opened(findings)
    record = {"type": "misinformation", "target": incident.target, "opened_at": iso(incident.opened_at),
              "evidence_ids": incident.evidence_ids}
    assert matches(record, label)
    assert 0 <= incident.opened_at - label.start <= 120
    assert incident.evidence_ids[0] == "x:wako00051"
    assert set(incident.evidence_ids) <= label.event_ids
    assert incident.target == claim_id("x:wako00051")
    assert incident.summary.startswith("「和光市の小学校で食中毒")
    assert "という未確認情報が 2 件（2 人）拡散中" in incident.summary
    assert {f.target for f in findings} == {incident.target}


# --- one claim, however it is worded or shared ------------------------------------------


def test_paraphrases_of_one_rumour_join_one_claim() -> None:
    detector = MisinformationDetector(WAKO)
    posts = spread(LUNCH, 3, every=3)

    feed(detector, posts)

    claims = {detector.claim_of(p.id) for p in posts}
    assert len(claims) == 1 and None not in claims


def test_paraphrases_sharing_few_characters_are_near_duplicates_by_their_keywords() -> None:
    detector = MisinformationDetector(WAKO)
    origin = "【拡散希望】和光市の小学校で食中毒が出たらしい。給食止めた方がいい"  # the sample's
    first, *others = (detector.features(text) for text in (origin, *LUNCH[1:]))
    index = NearDuplicateIndex()
    index.add("first", first)

    for other in others:
        assert jaccard(first.shingles, other.shingles) < index.thresholds.jaccard
        assert index.best(other) == "first"


def test_retellings_that_share_only_their_subject_join_one_claim() -> None:
    # 「動物園のライオンが逃げた」 and 「ライオン脱走…隠蔽」 share one word; the rumour is one story.
    detector = MisinformationDetector(WAKO)
    posts = spread(LION, 3, every=4)

    feed(detector, posts)

    assert len({detector.claim_of(p.id) for p in posts}) == 1


def test_reposts_with_empty_text_and_quotes_join_the_claim_of_their_origin() -> None:
    detector = MisinformationDetector(WAKO)
    origin = post(0, "src", LUNCH[0])
    shares = [repost(1, "rt1", origin), repost(2, "rt2", origin),
              post(3, "q3", "これ本当？", quote_of={"post_id": origin.id, "account": "src"})]

    findings = feed(detector, [origin, *shares])

    first, update = findings
    assert (first.change, update.change, update.seq) == ("opened", "updated", 1)
    assert first.target == update.target == claim_id(origin.id)
    assert update.evidence_ids == [origin.id, shares[2].id, shares[0].id, shares[1].id]  # originals first
    assert {detector.claim_of(s.id) for s in shares} == {first.target}


def test_unrelated_everyday_posts_stay_in_separate_claims() -> None:
    detector = MisinformationDetector(WAKO)
    library, parking = "和光市の図書館、週末も開いてて助かる", "和光市役所の駐車場いつも混んでるなあ"
    index = NearDuplicateIndex()
    index.add("library", detector.features(library))
    assert index.best(detector.features(parking)) is None

    posts = [post(0, "a", library + "らしい"), post(1, "b", parking + "らしい")]
    feed(detector, posts)
    assert detector.claim_of(posts[0].id) != detector.claim_of(posts[1].id)


@pytest.mark.parametrize("texts", [
    ("和光市の上森図書館が閉鎖らしい", "和光市の本松図書館が閉鎖らしい"),  # one kind of place, two names
    ("和光市のプールで事故があったらしい", "和光市の駅前で事故があったって本当？"),  # one event, two places
], ids=["two-libraries", "two-accidents"])
def test_the_same_news_about_different_places_stays_in_separate_claims(texts: tuple[str, str]) -> None:
    detector = MisinformationDetector(WAKO)
    posts = [post(0, "a", texts[0]), post(1, "b", texts[1])]

    feed(detector, posts)

    assert None not in {detector.claim_of(p.id) for p in posts}
    assert detector.claim_of(posts[0].id) != detector.claim_of(posts[1].id)


# --- what must stay quiet ------------------------------------------------------------------


ANNOUNCEMENT = "【和光市】断水のお知らせ：明日9時から12時まで本町地区で断水します"
ECHO = "【拡散希望】和光市 断水のお知らせ：明日9時から12時まで本町地区で断水します"


def test_shares_of_an_official_announcement_stay_quiet() -> None:
    announced = event_from_dict({
        "kind": "account", "id": "x:acct:post9", "platform": "x", "ts": at(0), "type": "official_post",
        "account": {"id": "x:official", "handle": OFFICIAL, "name": "和光市役所"},
        "post": {"id": "x:post9", "text": ANNOUNCEMENT, "url": "https://x.com/wako_city_official/9"}})
    ref = {"post_id": "x:post9", "account": OFFICIAL}
    shares = [*(post(1 + i * 0.2, f"rt{i}", "", repost_of=ref) for i in range(10)),
              *(post(2 + i * 0.5, f"q{i}", "【拡散希望】明日断水だって", quote_of=ref) for i in range(5))]
    echoes = spread((ECHO,), 8, start=3)

    assert feed(MisinformationDetector(WAKO), [announced, *shares, *echoes]) == []
    # The same echoes without the city's post are an alarming claim spreading.
    assert len(opened(feed(MisinformationDetector(WAKO), echoes))) == 1


NEWS = "和光市の小学校で食中毒か、保健所が調査 https://news.example.jp/a/1002"


def test_a_popular_news_link_shared_widely_stays_quiet() -> None:
    link = {"urls": ["https://news.example.jp/a/1002"]}
    shares = [post(i * 0.5, f"reader{i}", NEWS, **link) for i in range(40)]
    doubts = [post(5 + i, f"doubter{i}", "本当？ " + NEWS, **link) for i in range(6)]

    assert feed(MisinformationDetector(WAKO), by_time(shares, doubts)) == []
    # Without the crowd sharing the article, the doubtful posts alone would alarm.
    assert len(opened(feed(MisinformationDetector(WAKO), doubts))) == 1


@pytest.mark.parametrize("ctx", [CALM, DISASTER], ids=["calm", "disaster"])
def test_everyday_chatter_that_repeats_stays_quiet(ctx: Context) -> None:
    chatter = ("和光市の市民まつり、今年も楽しみ！ #和光市", "和光市、明日は雨らしい",
               "和光市の花火大会、すごい人らしい", "和光市の図書館、来月から新しくなるらしい、本当？",
               "和光市の紅葉、秋らしい景色で素晴らしい")
    hearsay = post(0, "librarian", chatter[3])
    shared_widely = [repost(0.1 + i * 0.2, f"fan{i}", hearsay) for i in range(30)]

    assert feed(MisinformationDetector(WAKO), spread(chatter, 60, every=0.2), ctx) == []
    assert feed(MisinformationDetector(WAKO), [hearsay, *shared_widely], ctx) == []


def test_chatter_that_shares_a_claims_words_does_not_count_as_its_spread() -> None:
    detector = MisinformationDetector(WAKO)
    rumour = post(0, "one", "和光市の花火大会、中止らしい")
    crowd = spread(("和光市の花火大会、すごく混むらしい",), 30, start=0.5, every=0.2)

    assert feed(detector, [rumour, *crowd]) == []
    assert {detector.claim_of(p.id) for p in crowd} == {detector.claim_of(rumour.id)}  # joined, not spreading


@pytest.mark.parametrize(("retelling", "opens"), [
    ("知り合いの消防士がごみ処理場がやばいって", True),  # worry about the story spreads it
    ("知り合いの消防士がごみ処理場が混んでるって", False),  # small talk about the place does not
], ids=["worried", "small-talk"])
def test_a_worried_retelling_spreads_an_alarming_claim(retelling: str, opens: bool) -> None:
    detector = MisinformationDetector(WAKO)
    origin = post(0, "src", "【拡散希望】和光市のごみ処理場で爆発があって有毒ガスが出てるらしい")
    later = post(15, "friend", retelling)

    findings = feed(detector, [origin, later])

    assert detector.claim_of(later.id) == claim_id(origin.id)
    assert [f.change for f in findings] == (["opened"] if opens else [])


def test_a_slow_trickle_of_one_rumour_stays_quiet() -> None:
    trickle = spread(LUNCH, 24, every=60)

    assert feed(MisinformationDetector(WAKO), trickle) == []


def test_a_spike_that_would_open_in_minutes_is_caught_as_it_comes() -> None:
    # The same posts as the trickle, ten times faster: the window, not the count, decides.
    assert len(opened(feed(MisinformationDetector(WAKO), spread(LUNCH, 24, every=6)))) == 1


# --- disaster context ------------------------------------------------------------------------


def test_a_disaster_opens_a_smaller_spike_that_would_not_open_otherwise() -> None:
    lion = spread(("和光市の動物園からライオンが逃げたらしい",), 3, every=2)

    assert feed(MisinformationDetector(WAKO), lion, CALM) == []
    [incident] = feed(MisinformationDetector(WAKO), lion, DISASTER)
    assert incident.change == "opened" and incident.opened_at == lion[2].ts
    assert "災害時" in incident.summary
    assert incident.metrics["disaster"] is True


# --- incidents and their updates ----------------------------------------------------------


def test_later_posts_update_the_same_incident_and_never_open_a_second() -> None:
    origin = post(0, "src", LUNCH[0])
    events = by_time([origin], spread(LUNCH, 60, start=1, every=0.5),
                     [repost(1.25 + i, f"rt{i}", origin) for i in range(40)])

    findings = feed(MisinformationDetector(WAKO), events)

    assert [f.change for f in findings].count("opened") == 1
    assert len({f.target for f in findings}) == 1
    assert [f.seq for f in findings] == list(range(len(findings)))
    assert 3 <= len(findings) <= 10  # on doubling or a new severity, not on every post
    for before, after in zip(findings, findings[1:]):
        grew = after.metrics["posts"] >= 2 * before.metrics["posts"]
        assert grew or after.severity != before.severity
    assert findings[-1].severity in ("high", "critical") and findings[0].severity in ("low", "medium")
    assert len(findings[-1].evidence_ids) == 50


def test_enquiries_to_the_official_account_count_for_more_than_the_same_doubt_elsewhere() -> None:
    question = f"@{OFFICIAL} 給食で食中毒が出たって本当ですか？"
    asked = [mention(i, f"parent{i}", question) for i in range(3)]  # replies to the official account
    wondered = [post(i, f"parent{i}", question.split(" ", 1)[1]) for i in range(3)]

    [incident] = feed(MisinformationDetector(WAKO), asked)
    assert incident.metrics["enquiries"] == 3 and "和光市への問い合わせ 3 件" in incident.summary
    assert feed(MisinformationDetector(WAKO), wondered) == []


def test_two_different_rumours_open_two_incidents() -> None:
    lunch = spread(LUNCH, 6, every=1, prefix="parent")
    lion = spread(LION, 6, start=0.5, every=1, prefix="zoo")

    incidents = opened(feed(MisinformationDetector(WAKO), by_time(lunch, lion)))

    assert len(incidents) == 2 and incidents[0].target != incidents[1].target
    lunch_ids, lion_ids = {p.id for p in lunch}, {p.id for p in lion}
    which = sorted("lunch" if set(i.evidence_ids) <= lunch_ids else
                   "lion" if set(i.evidence_ids) <= lion_ids else "mixed" for i in incidents)
    assert which == ["lion", "lunch"]


# --- state ------------------------------------------------------------------------------------


WATER = ("【拡散希望】和光市の浄水場で薬品が漏れたらしい", "浄水場の事故で水道水が汚染されたらしい、拡散して",
         "水道水が汚染されてるって本当？拡散して")


def mixed_stream() -> list[Event]:
    """The sample, then a disaster-time rumour told three ways (the third joins by words the
    claim learnt from the second), reposts, and chatter."""
    sample = [parse_event(line) for line in SAMPLE.read_bytes().splitlines()]
    water = [post(600, "w0", WATER[0]), post(601, "w1", WATER[1]),
             *(post(602 + i, f"w{i + 2}", WATER[2]) for i in range(8))]
    later = by_time(water, spread(LION, 12, start=600, every=1.5, prefix="zoo"),
                    spread(LUNCH, 8, start=640, every=3, prefix="parent"),
                    [post(605 + i, f"chat{i}", "和光市の公園、紅葉がきれい") for i in range(20)],
                    [repost(700 + i, f"rt{i}", water[0]) for i in range(10)])
    return [*sample, *later]


@pytest.mark.parametrize("cut", [50, 53, 60, 76, 107, 109, 110, 112, 130, 150])
def test_a_detector_rebuilt_from_its_json_state_continues_exactly(cut: int) -> None:
    events = mixed_stream()
    profile = profile_from_dict(orjson.loads((DATA / "wako-sample.profile.json").read_bytes()))
    straight = MisinformationDetector(profile)
    halted = MisinformationDetector(profile)
    feed(straight, events[:cut], DISASTER)
    feed(halted, events[:cut], DISASTER)

    resumed = MisinformationDetector(profile, state=orjson.loads(orjson.dumps(halted.to_state())))

    assert feed(resumed, events[cut:], DISASTER) == feed(straight, events[cut:], DISASTER)
    assert [resumed.claim_of(e.id) for e in events] == [straight.claim_of(e.id) for e in events]
    assert resumed.to_state() == straight.to_state()


def test_claims_expire_after_quiet_hours_unless_their_incident_is_open() -> None:
    detector = MisinformationDetector(WAKO)
    idle = post(0, "a", "和光市の公園で不審者が出たらしい")
    spreading = spread(LUNCH, 3)
    feed(detector, [idle, *spreading])

    feed(detector, [post(7 * 60, "later", "和光市の駅前、今日は混んでた")])
    assert detector.claim_of(idle.id) is None
    assert detector.claim_of(spreading[0].id) is not None

    feed(detector, [post(32 * 60, "a_day_later", "和光市の駅前、今日も混んでた")])
    assert detector.claim_of(spreading[0].id) is not None  # kept for the quiet period (48 h)

    feed(detector, [post(50 * 60, "much_later", "和光市の駅前、今日も混んでた")])
    assert detector.claim_of(spreading[0].id) is None


def test_a_claim_that_resurfaces_the_next_day_is_a_resurgence_of_the_same_incident() -> None:
    detector = MisinformationDetector(WAKO)
    [first] = opened(feed(detector, spread(LUNCH, 6)))
    lone = feed(detector, [post(20 * 60, "once_more", LUNCH[1])])

    again = feed(detector, spread(LUNCH, 6, start=20 * 60 + 5, prefix="again"))

    assert lone == [] and opened(again) == []
    [comeback] = [f for f in again if f.metrics.get("resurgence")]
    assert (comeback.target, comeback.opened_at, comeback.change) == (first.target, first.opened_at, "updated")
    assert comeback.metrics["wave"] == 2 and comeback.summary.startswith("再燃（第2波）")
    assert comeback.seq > first.seq


def test_a_resurfaced_claim_that_does_not_spread_again_stays_quiet() -> None:
    detector = MisinformationDetector(WAKO)
    opened(feed(detector, spread(LUNCH, 6)))

    trickle = feed(detector, [post(20 * 60 + 40 * i, f"late{i}", LUNCH[i % 3]) for i in range(3)])

    assert trickle == []


NAME_KANJI = ("青赤白黒東西南北上下新本古大小中山川田野原森林谷沢池橋坂宮寺町台丘浜松竹梅桜菊藤花星月日光"
              "石岩井泉湖海島崎岬江浦港堀城里村郷園庭門戸口高低長短広狭平和春夏秋冬朝夕雪雲風雷")
SUFFIXES = ("駅", "公園", "小学校", "通り", "商店街", "図書館", "病院", "交差点", "団地", "プール")
SAID = ("楽しみ", "混んでた", "空いてた", "助かる", "きれい", "行ってきた", "最高", "便利", "工事中", "人気")
HEARD = ("新しくなるらしい", "混むらしい", "閉まるって聞いた", "本当？", "で事故らしい", "が閉鎖らしい",
         "で火事があったって", "【拡散希望】", "休みらしい", "値上げらしい")


def week_of_chatter(count: int, seed: int = 11) -> Iterable[Mention]:
    """A week of a big city's mentions: everyday posts about thousands of places, one in seven
    hearsay (some alarming), reposts and links."""
    rng = random.Random(seed)
    start = ts(0)
    for i in range(count):
        when = start + i * 2.016  # 300 000 posts in a week
        author = rng.randrange(200_000)
        place = rng.choice(NAME_KANJI) + rng.choice(NAME_KANJI) + rng.choice(SUFFIXES)
        obj: dict[str, Any] = {
            "kind": "mention", "id": f"x:w{i}", "platform": "x", "ts": iso(when),
            "author": {"id": f"x:u:{author}", "handle": f"u{author}", "followers": rng.randrange(5000)},
            "text": f"和光市の{place}、{rng.choice(HEARD if rng.random() < 0.15 else SAID)}"}
        if i and rng.random() < 0.1:
            obj["repost_of"] = {"post_id": f"x:w{rng.randrange(max(0, i - 500), i)}", "account": "u"}
            obj["text"] = ""
        elif rng.random() < 0.05:
            obj["urls"] = [f"https://news.example.jp/{rng.randrange(5000)}"]
        event = event_from_dict(obj)
        assert isinstance(event, Mention)
        yield event


def test_state_stays_bounded_after_a_week_of_varied_chatter() -> None:
    config = MisinformationConfig()
    detector = MisinformationDetector(WAKO, config=config)
    most = 0
    for i, event in enumerate(week_of_chatter(300_000)):
        detector.on_event(event, CALM)
        if i % 1000 == 0:
            most = max(most, len(detector.claims))

    size = len(orjson.dumps(detector.to_state()))
    assert most == config.max_claims  # the cap was reached, and held
    assert len(detector.claims) <= config.max_claims and len(detector.urls) <= config.max_urls
    assert size < 200_000, f"state grew to {size} bytes"
    # Evicting thousands of claims left the index sound: a real rumour still opens.
    after = ts(7 * 24 * 60 + 10)
    rumour = [post((after - ts(0)) / 60 + i, f"late{i}", LUNCH[i % 3]) for i in range(3)]
    assert len(opened(feed(detector, rumour))) == 1
