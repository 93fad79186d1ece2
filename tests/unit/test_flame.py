"""炎上 detection in event time: one surge opens one incident, ordinary traffic opens none."""

from __future__ import annotations

from collections.abc import Iterable

import orjson
import pytest

from vocabulary.contract import Mention
from streams.detectors import DetectorSet
from streams.detectors.flame import FlameConfig, is_critical, severity_for
from streams.detectors.text import normalize
from vocabulary.records import Detection, incident_id_for, iso
from tests.unit.builders import (
    OFFICIAL,
    critical,
    mention,
    neutral,
    profile,
    surge,
)

HOUR = 60.0


def feed(detectors: DetectorSet, events: Iterable[Mention]) -> list[Detection]:
    return [d for e in events for d in detectors.feed(e)]


def by_time(*streams: Iterable[Mention]) -> list[Mention]:
    return sorted((e for s in streams for e in s), key=lambda e: e.ts)


def opened(detections: list[Detection]) -> list[Detection]:
    return [d for d in detections if d.change == "opened"]


# --- opening --------------------------------------------------------------


def test_a_burst_of_critical_replies_from_three_authors_opens_one_incident() -> None:
    detectors = DetectorSet(profile())
    events = surge(start=0, count=3)

    first_two = feed(detectors, events[:2])
    third = detectors.feed(events[2])

    assert first_two == []
    [d] = third
    assert (d.change, d.type, d.target, d.municipality) == ("opened", "flame", OFFICIAL, "wako")
    assert d.opened_at == d.at == iso(events[2].ts)
    assert d.evidence_ids == [e.id for e in events]
    assert d.metrics["critical"] == d.metrics["authors"] == 3


def test_a_flame_up_needs_three_distinct_authors() -> None:
    detectors = DetectorSet(profile())
    two_authors = [critical(i, f"critic{i % 2}") for i in range(8)]

    assert feed(detectors, two_authors) == []
    [d] = detectors.feed(critical(8.5, "critic_new"))
    assert d.change == "opened" and d.metrics["authors"] == 3


@pytest.mark.parametrize("how", ["reply", "quote", "at-mention"])
def test_replies_quotes_and_at_mentions_of_the_account_all_count(how: str) -> None:
    def reaction(i: int) -> Mention:
        if how == "reply":
            return critical(i, f"c{i}")
        if how == "quote":
            return critical(i, f"c{i}", reply_to=None,
                            quote_of={"post_id": "x:post:1", "account": OFFICIAL})
        return mention(i, f"c{i}", f"@{OFFICIAL.upper()} 税金の無駄。謝罪しろ", reply_to=None)

    detections = feed(DetectorSet(profile()), [reaction(i) for i in range(5)])

    assert [d.change for d in detections] == ["opened"]


def test_criticism_not_addressed_to_an_official_account_opens_nothing() -> None:
    detectors = DetectorSet(profile())
    elsewhere = [critical(i, f"c{i}", reply_to="some_celebrity") for i in range(30)]

    assert feed(detectors, elsewhere) == []


def test_later_critical_replies_only_update_the_incident_and_never_open_a_second() -> None:
    detectors = DetectorSet(profile())

    detections = feed(detectors, surge(start=0, count=80))

    assert [d.change for d in detections[:1]] == ["opened"]
    updates = detections[1:]
    assert updates and {d.change for d in updates} == {"updated"}
    assert {d.incident_id for d in detections} == {detections[0].incident_id}
    assert {d.opened_at for d in detections} == {detections[0].opened_at}
    assert [d.metrics["critical"] for d in detections] == sorted(d.metrics["critical"] for d in detections)
    assert updates[-1].severity == severity_for(updates[-1].metrics["critical"], updates[-1].metrics["reach"])


# --- what must not open -------------------------------------------------------


def test_one_angry_author_posting_thirty_times_opens_nothing() -> None:
    detectors = DetectorSet(profile())
    rants = [critical(i * 0.5, "angry_one") for i in range(30)]

    assert feed(detectors, rants) == []


def test_a_viral_post_with_praise_replies_opens_nothing() -> None:
    detectors = DetectorSet(profile())
    praise = ["ありがとう！素晴らしい企画です", "素敵な動画、感動しました", "批判もあるけど素晴らしい取り組み、応援してます",
              "残念ながら行けないけど楽しみにしてます", "最高！ありがとう"]
    replies = [mention(i * 0.1, f"fan{i}", praise[i % len(praise)]) for i in range(200)]

    assert feed(detectors, replies) == []


def test_an_everyday_trickle_of_complaints_opens_nothing() -> None:
    detectors = DetectorSet(profile())
    one_every_twenty_minutes = [critical(i * 20, f"resident{i}") for i in range(24 * 3)]

    assert feed(detectors, one_every_twenty_minutes) == []


def test_replies_from_the_official_account_itself_are_ignored() -> None:
    # Two residents plus the account apologising in its own thread would be three authors.
    residents = surge(start=0, count=2)
    own_replies = [mention(2.5, OFFICIAL, "不適切な表現がありました。謝罪を申し上げます"),
                   mention(3, OFFICIAL.upper(), "不適切な動画を削除と致しました")]

    detections = feed(DetectorSet(profile()), by_time(residents, own_replies))

    assert detections == []


def test_an_account_used_to_criticism_needs_a_bigger_surge_than_a_quiet_one() -> None:
    day = 24 * HOUR
    # A day of history: a quiet account vs. one that gets a complaint every 20 minutes.
    quiet_history = [neutral(h * HOUR + 30, f"resident{h}") for h in range(24)]
    busy_history = [critical(m, f"regular{m % 40}") for m in range(0, int(day) + 20, 20)]
    same_surge = surge(start=day + 2, count=5)
    bigger_surge = surge(start=day + 2, count=25, every=0.25, prefix="many")

    quiet = feed(DetectorSet(profile()), by_time(quiet_history, same_surge))
    busy = feed(DetectorSet(profile()), by_time(busy_history, same_surge))
    busy_bigger = feed(DetectorSet(profile()), by_time(busy_history, bigger_surge))

    assert [d.change for d in opened(quiet)] == ["opened"]
    assert opened(busy) == []
    assert [d.change for d in opened(busy_bigger)] == ["opened"]
    assert (busy_bigger[0].metrics["baseline_critical_per_window"]
            > quiet[0].metrics["baseline_critical_per_window"])


def test_a_flood_of_questions_does_not_mask_a_flame_up() -> None:
    """A disaster fills the account with enquiries; clear criticism still opens (more strictly)."""
    questions = [mention(i * 0.5, f"worried{i}", "避難所はどこですか？") for i in range(240)]
    anger = surge(start=100, count=8, every=0.5, prefix="angry")
    assert opened(feed(DetectorSet(profile()), by_time(questions, anger)))


# --- idempotency, severity, episodes -------------------------------------------


def test_an_event_fed_twice_counts_once() -> None:
    detectors = DetectorSet(profile())
    same_reply = critical(0, "critic0")

    assert feed(detectors, [same_reply] * 10 + [critical(1, "critic1")]) == []
    [d] = detectors.feed(critical(2, "critic2"))
    assert d.change == "opened" and d.metrics["critical"] == 3  # not 12


def test_a_whole_surge_delivered_again_changes_nothing() -> None:
    detectors = DetectorSet(profile())
    events = surge(start=0, count=30)
    first = feed(detectors, events)
    state = orjson.dumps(detectors.to_state())

    again = feed(detectors, events)

    assert first and again == []
    assert orjson.dumps(detectors.to_state()) == state


@pytest.mark.parametrize(("count", "reach", "expected"), [
    (5, 0, "low"), (14, 9_999, "low"),
    (15, 0, "medium"), (5, 10_000, "medium"),
    (50, 0, "high"), (5, 100_000, "high"),
    (200, 0, "critical"), (5, 1_000_000, "critical"),
])
def test_severity_rises_with_volume_and_reach(count: int, reach: int, expected: str) -> None:
    assert severity_for(count, reach) == expected


def test_a_surge_among_many_followers_opens_at_a_higher_severity() -> None:
    small = feed(DetectorSet(profile()), surge(start=0, count=3, followers=100))
    famous = feed(DetectorSet(profile()), surge(start=0, count=3, followers=40_000))

    assert small[0].severity == "low"
    assert famous[0].severity == "high"
    assert famous[0].metrics["reach"] == 120_000


def test_the_incident_is_updated_as_its_severity_rises() -> None:
    detections = feed(DetectorSet(profile()), surge(start=0, count=60))

    severities = [d.severity for d in detections]

    assert severities[0] == "low"
    assert "medium" in severities and severities[-1] == "high"
    first_medium = next(d for d in detections if d.severity == "medium")
    assert first_medium.change == "updated" and first_medium.metrics["critical"] == 15


def test_after_two_quiet_hours_criticism_of_another_post_opens_a_new_incident() -> None:
    detectors = DetectorSet(profile())
    first = surge(start=0, count=8)
    last_critical = 3.5
    # Uncritical replies keep coming; only criticism keeps an episode alive.
    chatter = [neutral(m, f"resident{m}") for m in range(10, 180, 10)]
    second = surge(start=last_critical + 2 * HOUR + 5, count=15, prefix="later", post_id="x:post:2")

    detections = feed(detectors, by_time(first, chatter, second))

    starts = opened(detections)
    assert len(starts) == 2
    assert starts[0].incident_id != starts[1].incident_id
    assert starts[0].opened_at == iso(first[2].ts)
    assert starts[1].opened_at in {iso(e.ts) for e in second}


def test_a_surge_within_two_hours_of_the_last_criticism_belongs_to_the_same_incident() -> None:
    detectors = DetectorSet(profile())
    first = surge(start=0, count=8)
    second = surge(start=3.5 + 2 * HOUR - 5, count=8, prefix="later")

    detections = feed(detectors, by_time(first, second))

    assert len(opened(detections)) == 1
    assert {d.incident_id for d in detections} == {detections[0].incident_id}


def test_incident_ids_are_deterministic() -> None:
    events = surge(start=0, count=3)

    [a] = feed(DetectorSet(profile()), events)
    [b] = feed(DetectorSet(profile()), events)

    assert a.incident_id == b.incident_id == incident_id_for("wako", "flame", OFFICIAL, events[2].ts)
    assert a.incident_id.startswith("wako-flame-")
    assert incident_id_for("wako", "flame", OFFICIAL, events[2].ts + 60) != a.incident_id
    assert incident_id_for("toda", "flame", OFFICIAL, events[2].ts) != a.incident_id
    assert incident_id_for("wako", "flame", "other_account", events[2].ts) != a.incident_id


# --- state ------------------------------------------------------------------


def test_a_detector_set_rebuilt_from_its_json_state_continues_exactly_like_the_original() -> None:
    history = [neutral(h * HOUR + 30, f"resident{h}") for h in range(5)]
    before = by_time(history, surge(start=5 * HOUR, count=12))
    after = by_time(
        before[-4:],  # redelivered: must be recognised as seen after the restart too
        surge(start=5 * HOUR + 6, count=40, prefix="more"),
        surge(start=8 * HOUR, count=15, prefix="next_episode", post_id="x:post:2"),
    )
    original = DetectorSet(profile())
    assert opened(feed(original, before))

    rebuilt = DetectorSet(profile(), orjson.loads(orjson.dumps(original.to_state())))

    from_original = feed(original, after)
    from_rebuilt = feed(rebuilt, after)
    assert len(opened(from_original)) == 1 and any(d.change == "updated" for d in from_original)
    assert from_rebuilt == from_original
    assert orjson.dumps(rebuilt.to_state()) == orjson.dumps(original.to_state())


# --- Japanese text ------------------------------------------------------------


def test_normalize_folds_full_width_to_half_width_and_lower_case() -> None:
    assert normalize("ＷＡＫＯ　１２３！") == "wako 123!"


def test_normalize_folds_katakana_to_hiragana() -> None:
    assert normalize("フザケルナ") == "ふざけるな"
    assert normalize("ﾌｻﾞｹﾙﾅ") == "ふざけるな"


def test_normalize_strips_urls_and_handles() -> None:
    assert normalize("@wako_city_official 見て https://example.com/a?b=1 です") == "見て です"


def test_criticism_in_katakana_or_full_width_is_still_critical() -> None:
    assert is_critical("フザケタ動画")
    assert is_critical("ﾋﾄﾞｲ対応だな")


def test_words_inside_urls_and_handles_do_not_decide_the_tone() -> None:
    assert not is_critical("動画はこちら https://example.com/不適切")
    assert is_critical("@great_fan この動画は不適切")


# --- review fixes ---------------------------------------------------------


def test_an_at_mention_counts_for_the_account_named_not_one_sharing_its_prefix() -> None:
    detectors = DetectorSet(profile(handles=("wako", OFFICIAL)))
    texts = [mention(i * 0.5, f"critic{i}", f"@{OFFICIAL} 謝罪しろ", reply_to=None) for i in range(8)]
    [first] = opened(feed(detectors, texts))
    assert first.target == OFFICIAL


def test_a_very_busy_account_still_opens_when_the_window_is_capped() -> None:
    """Above the window cap the count in the window is estimated from the deque's span."""
    config = FlameConfig(window_cap=200)
    detectors = DetectorSet(profile(), flame=config)
    # Two hours of steady traffic at 60 neutral replies a minute (baseline 600 per window) ...
    steady = [neutral(i / 60, f"resident{i % 3000}") for i in range(2 * 60 * 60)]
    assert not opened(feed(detectors, steady))
    # ... then a surge at five times that rate, mostly critical.
    burst = [critical(120 + i / 300, f"angry{i}") for i in range(3000)]
    assert opened(feed(detectors, burst))


# --- three windows, disaster context, strong and weak criticism -------------


def test_a_slow_small_town_flame_up_opens_on_the_half_hour_window() -> None:
    """Critical replies every eight minutes from seven people: never three in ten minutes,
    four in half an hour at the fourth (24 minutes in, not 32 as with the hour alone)."""
    detectors = DetectorSet(profile())
    slow = [critical(i * 8, f"townsfolk{i % 7}") for i in range(9)]
    assert all(b.ts - a.ts == 8 * 60 for a, b in zip(slow, slow[1:]))  # ≤ 2 in any ten minutes
    [d] = opened(feed(detectors, slow))
    assert d.metrics["window_minutes"] == 30
    assert d.opened_at == iso(slow[3].ts)


def test_a_slower_flame_up_opens_on_the_hour_window() -> None:
    """Every twelve minutes: never four in half an hour, five in the hour at the fifth."""
    detectors = DetectorSet(profile())
    slower = [critical(i * 12, f"townsfolk{i}") for i in range(7)]
    [d] = opened(feed(detectors, slower))
    assert d.metrics["window_minutes"] == 60
    assert d.opened_at == iso(slower[4].ts)


WORRY = ("怖い…", "もう無理", "寒いし困ります", "雨がひどい", "こわい、嫌だ", "なにこれ、悲しい")


def test_in_a_disaster_worried_replies_are_not_criticism() -> None:
    """In a disaster the account is flooded with worry said in the weak words (怖い, もう無理):
    a burst of it opens nothing, where the same words at a quiet time are a surge of criticism."""
    from streams.detectors.common import Context
    from streams.detectors.flame import FlameDetector

    worried = [mention(i * 0.5, f"resident{i}", WORRY[i % len(WORRY)]) for i in range(12)]
    in_disaster = FlameDetector(profile())
    assert not [f for e in worried for f in in_disaster.on_event(e, Context(disaster_active=True))]
    calm = FlameDetector(profile())
    assert [f.change for e in worried for f in calm.on_event(e, Context())] == ["opened"]


def test_in_a_disaster_clear_criticism_opens_within_minutes() -> None:
    """A tone-deaf post during a typhoon: clear criticism amid a flood of questions opens at the
    third critic as at a quiet time, not half an hour later as when every bar was doubled; the
    setting `disaster_extra_critics` asks for more people."""
    from streams.detectors.common import Context
    from streams.detectors.flame import FlameDetector

    questions = [mention(i * 0.25, f"asker{i}", "避難所は開いていますか？") for i in range(40)]
    # Six clear critical replies from four people in three and a half minutes, then a lull.
    critics = [critical(m, f"critic{n}") for m, n in ((0, 0), (0.8, 0), (1.6, 1), (2.3, 1), (2.7, 2), (3.4, 3))]
    events = by_time(questions, critics)

    detector = FlameDetector(profile())
    found = [f for e in events for f in detector.on_event(e, Context(disaster_active=True))]
    assert [f.change for f in found] == ["opened"]
    assert found[0].opened_at == critics[4].ts and found[0].metrics["authors"] == 3
    stricter = FlameDetector(profile(), config=FlameConfig(disaster_extra_critics=1))
    [first] = [f for e in events for f in stricter.on_event(e, Context(disaster_active=True))]
    assert first.opened_at == critics[5].ts and first.metrics["authors"] == 4


@pytest.mark.parametrize("text, in_disaster, expected", [
    ("怖い…", True, False), ("怖い…", False, True),
    ("もう無理", True, False),
    ("こんな時に不謹慎です。謝罪しろ", True, True),  # clear criticism is criticism in a disaster too
    ("この投稿を誰が承認したの", True, True),
])
def test_in_a_disaster_only_clear_criticism_counts(text: str, in_disaster: bool, expected: bool) -> None:
    from streams.detectors.flame import CRITICAL, classify

    assert (classify(text, in_disaster) == CRITICAL) is expected


@pytest.mark.parametrize("text, expected", [
    ("雨がひどいですが、避難所は開いていますか？", False),  # an enquiry, not criticism
    ("このPR動画にいくら使ったんですか？", True),  # a rhetorical question of cost
    ("誰も止めなかったんですか？", True),
    ("申請の締切はいつですか？", False),
    ("ひどい動画", True),
    ("ひどい！でも応援してます", False),  # praise vetoes a weak word
    ("素晴らしい税金の無駄遣いですね", True),  # sarcasm: strong criticism wins over praise
    ("説明責任を果たしてください", True),
    ("上から目線の投稿、何様のつもり？", True),
    ("今日の花火大会たのしかった！", False),
])
def test_strong_criticism_stands_alone_and_weak_criticism_yields_to_praise_or_enquiry(
        text: str, expected: bool) -> None:
    assert is_critical(text) is expected


@pytest.mark.parametrize("text", [
    "危機管理の意識がゼロ",  # a quality the organisation lacks
    "デリカシーが欠如してる",
    "担当部署の神経を疑う",  # doubting its judgement
    "自治体がやっていいことじゃないでしょ",
    "こんな投稿、叩かれて当然",
    "もう二度とこの町には行かない",  # quitting in protest
    "完全にアウトでしょ",
    "素敵な企画ですね（棒）",  # ironic praise
    "誰得なのこの動画",
    "会議で誰か反対しなかったの？",
    "苦情を送りました",
])
def test_criticism_said_with_a_pattern_rather_than_a_listed_word_is_critical(text: str) -> None:
    assert is_critical(text)


@pytest.mark.parametrize("text", [
    "公共交通機関をご利用ください",  # ください hides ダサい
    "引っ越してきたばかりです",  # ばかり hides バカ
    "昨日の揺れ、やばかった",  # やばかった hides バカ
    "アウトドア用品の貸し出しはありますか",  # アウトドア is not アウト
    "昭和レトロな商店街、素敵でした",
])
def test_everyday_words_that_contain_a_criticism_word_are_not_critical(text: str) -> None:
    assert not is_critical(text)


def test_a_fast_flame_up_is_high_from_its_rate_alone() -> None:
    assert severity_for(12, 1000, per_minute=12) == "high"
    assert severity_for(12, 1000, per_minute=4) == "medium"


def test_an_episode_opened_by_drill_events_is_a_drill() -> None:
    drill = [mention(i * 0.5, f"drill{i}", "謝罪しろ", drill=True) for i in range(3)]
    real = surge(start=0, count=3, prefix="real")
    assert [d.drill for d in opened(feed(DetectorSet(profile()), drill))] == [True]
    assert [d.drill for d in opened(feed(DetectorSet(profile()), real))] == [False]


# --- one episode, one incident: waves over days, 再燃, the quiet period ---------------

DAY = 24 * HOUR


def evening_waves(days: int, first: int = 40, decay: float = 0.6) -> list[Mention]:
    """A 炎上 that comes back every evening at 20:00 (minute 0 is midnight), smaller each day,
    against the same post, with quiet nights and an uncritical question now and then."""
    events: list[Mention] = []
    for day in range(days):
        count = max(6, round(first * decay ** day))
        events += surge(start=day * DAY + 20 * HOUR, count=count, every=1.0, prefix=f"d{day}_")
        events += [neutral(day * DAY + h * HOUR + 7, f"resident{day}_{h}") for h in (9, 13, 17)]
    return by_time(events)


def test_a_flame_up_that_comes_back_every_evening_for_four_days_is_one_incident() -> None:
    detections = feed(DetectorSet(profile()), evening_waves(4))

    assert len(opened(detections)) == 1
    assert {d.incident_id for d in detections} == {detections[0].incident_id}
    comebacks = [d for d in detections if d.metrics.get("resurgence")]
    assert [d.metrics["wave"] for d in comebacks] == [2, 3, 4]
    assert all(d.change == "updated" and d.summary.startswith("再燃（第") for d in comebacks)
    # The whole episode is counted: every wave's criticism, severity never going down.
    assert detections[-1].metrics["critical"] > 70  # the first wave had 40
    ranks = ["low", "medium", "high", "critical"]
    assert [ranks.index(d.severity) for d in detections] == sorted(ranks.index(d.severity) for d in detections)


def test_a_resurgence_that_grows_raises_the_severity() -> None:
    first = surge(start=0, count=10)
    bigger = surge(start=DAY, count=60, every=0.2, prefix="again")

    detections = feed(DetectorSet(profile()), by_time(first, bigger))

    [comeback] = [d for d in detections if d.metrics.get("resurgence")]
    assert detections[0].severity == "low"
    assert comeback.severity in {"low", "medium"}
    assert detections[-1].severity == "high"  # 70 criticisms in all, 5 a minute at the new peak
    assert len(opened(detections)) == 1


def test_the_episode_ends_after_48_hours_back_at_baseline_and_the_next_surge_opens_a_new_incident() -> None:
    detectors = DetectorSet(profile())
    first = surge(start=0, count=8)
    trickle = [critical(h * HOUR + 11, f"grumbler{h}") for h in range(3, 60, 6)]  # one now and then
    later = surge(start=50 * HOUR, count=8, prefix="later")

    detections = feed(detectors, by_time(first, trickle, later))

    [ended] = [d for d in detections if d.metrics.get("back_to_baseline")]
    assert ended.incident_id == detections[0].incident_id
    assert "48 時間" in ended.summary and ended.metrics["ended_at"] == first[-1].ts + 48 * 3600
    starts = opened(detections)
    assert len(starts) == 2 and starts[1].incident_id != starts[0].incident_id


def test_within_the_quiet_period_the_same_surge_is_a_resurgence_not_a_new_incident() -> None:
    first = surge(start=0, count=8)
    later = surge(start=47 * HOUR, count=8, prefix="later")

    detections = feed(DetectorSet(profile()), by_time(first, later))

    assert len(opened(detections)) == 1
    [comeback] = [d for d in detections if d.metrics.get("resurgence")]
    assert comeback.metrics["wave"] == 2 and comeback.incident_id == detections[0].incident_id


def test_the_quiet_period_is_a_detector_setting() -> None:
    first = surge(start=0, count=8)
    later = surge(start=13 * HOUR, count=8, prefix="later")

    detections = feed(DetectorSet(profile(), flame=FlameConfig(episode_end_s=12 * 3600)),
                      by_time(first, later))

    assert FlameConfig().episode_end_s == 48 * 3600
    assert len(opened(detections)) == 2


def test_criticism_of_the_citys_apology_posted_during_the_flame_up_is_the_same_episode() -> None:
    from vocabulary.contract import event_from_dict

    first = surge(start=0, count=8)
    apology = event_from_dict({
        "kind": "account", "id": "x:acct:apology", "platform": "x", "ts": iso(30 * 60 + first[0].ts),
        "type": "official_post",
        "account": {"id": "x:u:city", "handle": OFFICIAL, "name": "和光市役所", "bio": "", "url": "",
                    "avatar_phash": None, "followers": 5000, "created_at": None, "verified": False},
        "note": None, "post": {"id": "x:post:apology", "text": "お詫び", "url": "https://x.com/a"}})
    on_apology = surge(start=20 * HOUR, count=10, prefix="next_day", post_id="x:post:apology")
    detectors = DetectorSet(profile())

    detections = feed(detectors, first) + detectors.feed(apology) + feed(detectors, on_apology)

    assert len(opened(detections)) == 1
    assert [d.metrics["wave"] for d in detections if d.metrics.get("resurgence")] == [2]


def test_four_days_of_waves_keep_the_state_small_and_without_the_old_posts() -> None:
    detectors = DetectorSet(profile())
    events = evening_waves(4, first=200, decay=0.7)

    feed(detectors, events)

    state = detectors.to_state()
    target = state["flame"]["targets"][OFFICIAL]
    assert len(orjson.dumps(state)) < 64 * 1024
    # Only the last hour of reactions is kept, however long the episode: not two days of posts.
    assert all(r[0] >= events[-1].ts - 3600 for r in target["recent"])
    assert len(target["episode"]["posts"]) <= FlameConfig().posts_cap


# --- baselines that forget incidents -------------------------------------------------


def test_the_hours_of_a_flame_up_are_left_out_of_the_accounts_baseline() -> None:
    detectors = DetectorSet(profile())
    ordinary = [neutral(h * HOUR + 20, f"resident{h}") for h in range(0, 12)]
    big = surge(start=12 * HOUR, count=300, every=0.2, prefix="big")
    # The next day, well after the big one's wave, a slower flame-up about another post.
    slow = surge(start=DAY + 14 * HOUR, count=20, every=1.0, prefix="slow", post_id="x:post:2")

    detections = feed(detectors, by_time(ordinary, big, slow))

    starts = opened(detections)
    assert len(starts) == 2
    second = starts[1]
    assert second.metrics["baseline_critical_per_window"] < 1  # not the 300 of yesterday
    assert second.opened_at == iso(slow[2].ts)  # three critics: it opens at once


def test_a_slow_flame_up_that_starts_near_the_end_of_an_hour_is_not_its_own_baseline() -> None:
    """A quiet account; a slow flame-up starts at 14:51, so its first two replies fall in the
    14:00 hour. Judged at 15:xx, the baseline must not hold them (it did: 2 critical an hour,
    the bar rose to seven critics and six never opened)."""
    detectors = DetectorSet(profile())
    quiet = [neutral(h * HOUR + 20, f"resident{h}") for h in range(5)]  # 09:20 … 13:20
    # 14:51: six people, one every seven minutes (never three in ten minutes).
    slow = [critical(5 * HOUR + 51 + 7 * i, f"townsfolk{i}") for i in range(6)]
    assert int(slow[1].ts // 3600) < int(slow[2].ts // 3600)  # two of them in the earlier hour

    [d] = opened(feed(detectors, by_time(quiet, slow)))

    assert d.opened_at == iso(slow[3].ts)  # the fourth critic in half an hour, 21 minutes in
    assert d.metrics["window_minutes"] == 30
    assert d.metrics["baseline_critical_per_window"] == 0


def test_the_baseline_reads_only_the_hours_before_the_longest_window() -> None:
    """Hour buckets the hour window reaches into are not the account's normal yet; older ones are."""
    from streams.detectors.flame import CRITICAL, FlameConfig, _Target

    target = _Target(FlameConfig())
    for h in range(4):  # 4 h of one critical reaction an hour
        target.add([h * 3600.0 + 60, f"u{h}", CRITICAL, 10, f"e{h}", ""], 168)
    target.add([4 * 3600.0 + 3000, "late", CRITICAL, 10, "e-late", ""], 168)  # 04:50
    target.add([4 * 3600.0 + 3300, "late2", CRITICAL, 10, "e-late2", ""], 168)

    _, critical_per_hour = target.baseline(5 * 3600.0 + 600, 3600)  # 05:10: hour 4 is in the window

    assert critical_per_hour == 1.0  # hours 0–3 only, not the two of 04:50
    assert target.baseline(6 * 3600.0 + 600, 3600)[1] == pytest.approx(6 / 5)  # an hour later, history


@pytest.mark.parametrize(("per_window", "said"), [
    (0.0, "普段はほとんどありません"),  # not "通常は10分あたり約 0.0 件"
    (0.01, "普段は1日に約1件"),
    (0.05, "普段は1日に約7件"),
    (0.5, "普段は1時間に約3件"),
    (6.7, "普段は10分に約7件"),
])
def test_the_usual_rate_is_said_as_a_person_would(per_window: float, said: str) -> None:
    from streams.detectors.flame import usual_rate

    assert usual_rate(per_window, 10) == said
