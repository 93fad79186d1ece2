"""なりすまし detection: look-alikes of the city's accounts open one incident each; fans, residents,
shops and news sites that merely carry the city's name stay quiet unless they scam or are reported."""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

import orjson
import pytest

from vocabulary.contract import AccountEvent, Mention, event_from_dict, profile_from_dict
from streams.detectors.common import Context, Finding
from streams.detectors.impersonation import ImpersonationConfig, ImpersonationDetector
from streams.detectors.impersonation_text import fold_handle, fold_name, scam_markers
from streams.stage import STATE_WARN_BYTES
from tests.unit.builders import at

OFFICIAL = "wako_city_official"
OFFICIAL_PHASH = "c3a1e0f0b0d09878"
OFFICIAL_BIO = "和光市の魅力やイベント、市政情報をお届けします。"

PROFILE = {
    "municipality": {"id": "wako", "name": "和光市", "names": ["和光市", "和光", "わこう"]},
    "accounts": [
        {"platform": "x", "handle": OFFICIAL, "name": "和光市役所", "avatar_phash": OFFICIAL_PHASH,
         "bio": OFFICIAL_BIO},
        {"platform": "instagram", "handle": "wako_machi", "name": "和光市エコカレンダー"},
        {"platform": "youtube", "handle": "WakoPromotion", "name": "和光市シティプロモーション"},
        {"platform": "facebook", "handle": "wako_news_paper", "name": "和光市ニュースペーパー"},
    ],
}

CTX = Context()
_ids = itertools.count()


def detector(**config: Any) -> ImpersonationDetector:
    return ImpersonationDetector(profile_from_dict(PROFILE), config=ImpersonationConfig(**config))


def account(minute: float, handle: str, name: str = "", *, type_: str = "seen", bio: str = "",
            phash: str | None = None, followers: int = 500, created: str | None = "2019-04-01T00:00:00+09:00",
            platform: str = "x", note: str | None = None, verified: bool = False,
            **extra: Any) -> AccountEvent:
    event = event_from_dict({
        "kind": "account", "id": f"{platform}:acct:{next(_ids)}", "platform": platform, "ts": at(minute),
        "type": type_, "note": note, **extra,
        "account": {"id": f"{platform}:u:{handle}", "handle": handle, "name": name, "bio": bio,
                    "avatar_phash": phash, "followers": followers, "created_at": created,
                    "verified": verified},
    })
    assert isinstance(event, AccountEvent)
    return event


def post(minute: float, handle: str, name: str, text: str, *, followers: int = 500,
         platform: str = "x", urls: list[str] | None = None) -> Mention:
    event = event_from_dict({
        "kind": "mention", "id": f"{platform}:{next(_ids)}", "platform": platform, "ts": at(minute),
        "author": {"id": f"{platform}:u:{handle}", "handle": handle, "name": name, "followers": followers,
                   "created_at": "2019-04-01T00:00:00+09:00"},
        "text": text, "reply_to": None, "quote_of": None, "repost_of": None, "urls": urls or [],
    })
    assert isinstance(event, Mention)
    return event


def feed(d: ImpersonationDetector, events: list[Any]) -> list[Finding]:
    return [f for e in events for f in d.on_event(e, CTX)]


def flip_bits(phash: str, bits: int) -> str:
    return f"{int(phash, 16) ^ ((1 << bits) - 1):016x}"


GIFT_SCAM = "フォロワーの皆さまにAmazonギフトカードをプレゼント！受け取りはDMでご連絡ください"


# --- handles ------------------------------------------------------------------


@pytest.mark.parametrize("fake", [
    "wako_clty_official",     # l for i
    "wako_c1ty_official",     # 1 for i
    "wako_city_officiaI",     # capital I for l
    "wak0_city_official",     # zero for O
    "wako_city_0fficial",
    "wako_rnachi",            # rn for m (the instagram account)
    "vvako_city_official",    # vv for w
    "wako__city__official",   # doubled underscores
    "wakoc_ity.official",     # moved separators
    "wako_machi_official",    # added _official
    "wako_city_official_jp",  # added _jp
    "wako_macchi_jp",         # a typo and an added affix
    "wako_city_info",         # affix in place of official
    "wakomachi_info",
    "wako_macchi_info",
    "wako_city_official2",    # added digits
    "official_wako_machi",    # affix in front
])
def test_a_confusable_handle_that_claims_to_be_official_opens(fake: str) -> None:
    d = detector()

    [f] = d.on_event(account(0, fake, "お知らせ【公式】"), CTX)

    assert (f.change, f.target, f.seq) == ("opened", fake, 0)
    assert {"handle_lookalike", "official_claim"} <= set(f.metrics["matched"])
    assert f.opened_at == f.at == account(0, fake).ts


@pytest.mark.parametrize("fake", ["wako_clty_official", "wako_rnachi", "wako_city_info"])
def test_a_confusable_handle_alone_is_not_enough(fake: str) -> None:
    assert detector().on_event(account(0, fake, "お知らせ"), CTX) == []


def test_folding_makes_confusable_handles_equal() -> None:
    assert fold_handle("Wak0_C1ty__OfficiaI") == fold_handle("wako_city_official")
    assert fold_handle("vvako_rnachi") == fold_handle("wako.machi")
    assert fold_handle("Ｗａｋｏ＿Ｃ１ｔｙ") == fold_handle("wako_city")  # full-width
    assert fold_handle("wаkо_сity") == fold_handle("wako_city")  # Cyrillic а, о, с


# --- display names -------------------------------------------------------------


@pytest.mark.parametrize("fake_name", [
    "和光市エコ力レンダー【公式】",        # 力 for カ
    "和光市シティプ口モーション【公式】",  # 口 for ロ
    "和光市工コカレンダー【公式】",        # 工 for エ
    "和光市エコカレンダ一【公式】",        # 一 for ー
    "和光市二ュースペーパー（公式）",      # 二 for ニ
    "和光市ニュースぺーパー official",     # ぺ for ペ
    "【公式】和光市役所",
])
def test_a_look_alike_display_name_that_claims_to_be_official_opens(fake_name: str) -> None:
    [f] = detector().on_event(account(0, "city_news_desk", fake_name), CTX)

    assert f.change == "opened"
    assert {"name_lookalike", "official_claim"} <= set(f.metrics["matched"])
    assert f.metrics["name_similarity"] == 1.0  # equal once folded, not merely one edit away


def test_folding_strips_claims_and_look_alike_characters() -> None:
    assert fold_name("【公式】和光市エコ力レンダ一") == fold_name("和光市エコカレンダー")
    assert fold_name("和光市（非公式）") == fold_name("和光市")
    assert fold_name("和光巿\u200b役所") == fold_name("和光市役所")  # 巿 for 市, a zero-width space
    assert fold_name("雪森町役塲") == fold_name("雪森町役場")


# --- bio and avatar --------------------------------------------------------------


def test_a_copied_bio_with_an_official_claim_opens_and_is_named() -> None:
    near_copy = "和光市の魅力やイベント、市政情報をお届けします！"

    [f] = detector().on_event(account(0, "koho_desk", "広報デスク【公式】", bio=near_copy), CTX)

    assert "bio_copied" in f.metrics["matched"]
    assert f.metrics["bio_similarity"] >= 0.8
    assert "プロフィール文の複製" in f.summary


@pytest.mark.parametrize("bits", [0, 4, 10])
def test_an_avatar_within_hamming_distance_ten_with_an_official_claim_opens(bits: int) -> None:
    [f] = detector().on_event(account(0, "koho_desk", "広報デスク【公式】",
                                      phash=flip_bits(OFFICIAL_PHASH, bits)), CTX)

    assert "avatar_match" in f.metrics["matched"]
    assert f.metrics["avatar_distance"] == bits
    assert f.metrics["resembles"] == OFFICIAL
    assert f"公式アカウント @{OFFICIAL} になりすましている疑い" in f.summary
    assert "アイコン一致" in f.summary


def test_an_avatar_eleven_bits_away_is_not_a_match() -> None:
    event = account(0, "koho_desk", "広報デスク【公式】", phash=flip_bits(OFFICIAL_PHASH, 11))

    assert detector().on_event(event, CTX) == []


def test_a_copied_avatar_and_bio_open_without_any_claim() -> None:
    [f] = detector().on_event(account(0, "koho_desk", "広報デスク", bio=OFFICIAL_BIO,
                                      phash=OFFICIAL_PHASH), CTX)

    assert {"avatar_match", "bio_copied"} <= set(f.metrics["matched"])
    assert "official_claim" not in f.metrics["matched"]


def test_a_bio_that_calls_itself_the_citys_official_account_opens() -> None:
    [f] = detector().on_event(account(0, "info_2026", "お知らせ", bio="和光市の公式アカウントです"), CTX)

    assert {"bio_claims_city", "official_claim"} <= set(f.metrics["matched"])


# --- the sample fake, end to end -------------------------------------------------


def test_the_sample_fake_opens_when_seen_and_its_scam_post_updates_it() -> None:
    d = detector()
    seen = account(0, "wako_clty_official", "和光市役所【公式】", bio="和光市の公式アカウントです",
                   phash="c3a1e0f0b0d09879", followers=2, created=at(-120))
    scam = post(5, "wako_clty_official", "和光市役所【公式】",
                "【和光市公式】フォロー＆リポストで商品券が当たるキャンペーン実施中！", followers=2)

    [opened] = d.on_event(seen, CTX)
    [updated] = d.on_event(scam, CTX)

    assert opened.change == "opened" and opened.severity == "high"
    assert set(opened.metrics["matched"]) >= {"handle_lookalike", "name_lookalike", "avatar_match",
                                              "official_claim", "bio_claims_city", "new_account",
                                              "low_followers"}
    assert opened.metrics["scores"]["avatar_match"] == 40
    assert opened.metrics["score"] == sum(opened.metrics["scores"].values())
    assert opened.summary.startswith(f"@wako_clty_official が公式アカウント @{OFFICIAL} になりすましている疑い（")
    assert (updated.change, updated.seq, updated.opened_at) == ("updated", 1, opened.opened_at)
    assert "scam_markers" in updated.metrics["matched"]
    assert updated.evidence_ids == [seen.id, scam.id]


# --- never flagged ---------------------------------------------------------------


@pytest.mark.parametrize(("handle", "platform"), [
    (OFFICIAL, "x"), ("WAKO_City_Official", "x"), ("wako_machi", "instagram"), ("wakopromotion", "youtube"),
    ("wako_machi", "x"),  # another platform's registered handle is the city's too
])
def test_a_registered_official_account_is_never_flagged_even_when_reported(handle: str, platform: str) -> None:
    d = detector()
    events = [
        account(0, handle, "和光市役所【公式】", bio="和光市の公式アカウントです", phash=OFFICIAL_PHASH,
                followers=3, created=at(-10), platform=platform, verified=True),
        account(1, handle, "和光市役所【公式】", type_="reported", note="なりすましでは？", platform=platform),
        account(2, handle, "和光市役所", type_="profile_changed", bio=GIFT_SCAM, platform=platform),
        post(3, handle, "和光市役所【公式】", GIFT_SCAM, platform=platform),
    ]

    assert feed(d, events) == []
    assert d.to_state() == {"accounts": {}}


def test_official_posts_and_security_events_never_open_an_impersonation() -> None:
    d = detector()
    events = [
        account(0, "wako_clty_official", "和光市役所【公式】", type_="official_post",
                post={"id": "x:p:1", "text": GIFT_SCAM, "url": "https://x.com/p/1"}),
        account(1, "wako_clty_official", "和光市役所【公式】", type_="security", note="パスワード変更"),
    ]

    assert feed(d, events) == []


# --- name similarity alone stays quiet ---------------------------------------------

QUIET = {
    "fan": ("wako_love_fan", "和光市ファン（非公式）", "和光市が大好きな個人のアカウントです。非公式です。"),
    "fan_named_like_the_office": ("wakocity_fan", "和光市役所（非公式）", "ファンによる非公式アカウント"),
    "resident": ("taro_wako", "和光 太郎", "和光市在住。子育て中です"),
    "shop": ("wako_bakery", "和光ベーカリー【公式】", "和光ベーカリーの公式アカウントです"),
    "news_site": ("wako_news", "和光新聞", "和光のニュースをお届けします"),
    "citizens_group": ("wako_shimin", "和光市民の会", "和光市民の有志です"),
}


@pytest.mark.parametrize("who", QUIET)
def test_fans_residents_shops_and_news_sites_stay_quiet_on_name_similarity_alone(who: str) -> None:
    handle, name, bio = QUIET[who]
    d = detector()
    events = [
        account(0, handle, name, bio=bio, followers=3, created=at(-60)),
        post(1, handle, name, "今日の和光市はいい天気 #和光市", followers=3),
        post(2, handle, name, "市役所の窓口は何時までですか？", followers=3),
    ]

    assert feed(d, events) == []


def test_a_fan_account_that_starts_posting_gift_card_scams_with_dms_opens() -> None:
    handle, name, bio = QUIET["fan"]
    d = detector()
    assert feed(d, [account(0, handle, name, bio=bio), post(1, handle, name, "和光市の紅葉がきれい")]) == []

    scam = post(2, handle, name, GIFT_SCAM)
    [f] = d.on_event(scam, CTX)

    assert (f.change, f.target) == ("opened", handle)
    assert "scam_markers" in f.metrics["matched"]
    assert f.severity in ("high", "critical")
    assert scam.id in f.evidence_ids


def test_a_resident_warning_others_about_a_gift_card_scam_is_not_a_scammer() -> None:
    warning = "和光市を名乗るアカウントが「ギフトカードをプレゼント、DMでご連絡を」と。詐欺に注意！"

    assert detector().on_event(post(0, "taro_wako", "和光 太郎", warning), CTX) == []


@pytest.mark.parametrize("text", [
    "給付金の口座登録ってどうやるの？",
    "抽選でプレゼントが当選しました！うれしい",
    "キャンペーンのポスターを見ました",
    "イベントの詳細はDMでお問い合わせください",
])
def test_a_lure_or_an_ask_alone_is_not_a_scam(text: str) -> None:
    assert scam_markers(text) == ()


@pytest.mark.parametrize("text", [
    GIFT_SCAM,
    "給付金の受け取りはこちら https://bit.ly/xyz",
    "当選者の方は口座番号と暗証番号をDMにて送ってください",
    "フォロー&リポストでキャンペーン参加！",
])
def test_lures_with_a_request_to_make_contact_are_scam_markers(text: str) -> None:
    assert scam_markers(text) != ()


# --- reports ----------------------------------------------------------------------


def test_a_report_of_a_look_alike_opens_it() -> None:
    d = detector()
    assert d.on_event(account(0, "wako_clty", "わこうくらし"), CTX) == []

    report = account(30, "wako_clty", "わこうくらし", type_="reported",
                     note="市を名乗るDMが届いたと市民から連絡")
    [f] = d.on_event(report, CTX)

    assert f.change == "opened" and f.severity in ("high", "critical")
    assert {"handle_lookalike", "reported"} <= set(f.metrics["matched"])
    assert report.id in f.evidence_ids and "通報あり" in f.summary


def test_a_report_raises_an_open_incident_to_critical_when_it_also_scams() -> None:
    d = detector()
    feed(d, [account(0, "wako_clty_official", "和光市役所【公式】"),
             post(1, "wako_clty_official", "和光市役所【公式】", GIFT_SCAM)])

    [f] = d.on_event(account(2, "wako_clty_official", "和光市役所【公式】", type_="reported",
                             note="なりすましアカウントです"), CTX)

    assert (f.change, f.severity) == ("updated", "critical")
    assert f.metrics["reports"] == 1


def test_a_new_account_with_few_followers_scores_higher() -> None:
    old = detector().on_event(account(0, "wako_clty_official", "お知らせ【公式】"), CTX)[0]
    new = detector().on_event(account(0, "wako_clty_official", "お知らせ【公式】", followers=3,
                                      created=at(-30)), CTX)[0]

    assert new.metrics["score"] == old.metrics["score"] + 15
    assert {"new_account", "low_followers"} <= set(new.metrics["matched"])


def test_a_verified_badge_does_not_make_an_account_official() -> None:
    [f] = detector().on_event(account(0, "wako_clty_official", "和光市役所【公式】", verified=True), CTX)

    assert f.change == "opened"


# --- one incident per fake account --------------------------------------------------


def test_one_fake_account_opens_one_incident_and_is_updated_only_when_something_material_changes() -> None:
    d = detector()
    fake, name = "wak0_city_official", "和光市役所【公式】"
    seen = account(0, fake, name, followers=5)
    chatter = [post(1 + i, fake, name, f"今日のお知らせ {i}", followers=5) for i in range(30)]
    same_profile = account(40, fake, name, type_="profile_changed", followers=6)
    scams = [post(50 + i, fake, name, GIFT_SCAM, followers=6) for i in range(5)]
    reports = [account(60 + i, fake, name, type_="reported", note="なりすまし") for i in range(3)]

    findings = feed(d, [seen, *chatter, same_profile, *scams, *reports])

    assert [(f.change, f.seq) for f in findings] == [("opened", 0), ("updated", 1), ("updated", 2)]
    assert {f.target for f in findings} == {fake}
    assert {f.opened_at for f in findings} == {seen.ts}
    assert "scam_markers" in findings[1].metrics["matched"] and "reported" in findings[2].metrics["matched"]
    assert findings[-1].evidence_ids == [seen.id, same_profile.id, *(s.id for s in scams), reports[0].id]
    assert all(c.id not in findings[-1].evidence_ids for c in chatter)


def test_the_same_handle_on_two_platforms_is_two_accounts() -> None:
    d = detector()

    findings = feed(d, [account(0, "wako_clty_official", "和光市役所【公式】", platform="x"),
                        account(1, "wako_clty_official", "和光市役所【公式】", platform="instagram")])

    assert [f.change for f in findings] == ["opened", "opened"]


def test_evidence_is_bounded_to_fifty_ids() -> None:
    d = detector()
    fake, name = "wako_clty_official", "和光市役所【公式】"
    events = [account(0, fake, name), *(post(1 + i, fake, name, GIFT_SCAM) for i in range(80))]
    feed(d, events)

    [f] = d.on_event(account(100, fake, name, type_="reported", note="偽物"), CTX)

    assert len(f.evidence_ids) == 50 and f.evidence_ids[0] == events[0].id


# --- mentions ------------------------------------------------------------------------


def test_an_account_first_seen_as_the_author_of_a_scam_post_opens() -> None:
    scam = post(0, "wako_c1ty_official", "和光市役所【公式】", GIFT_SCAM, followers=4)

    [f] = detector().on_event(scam, CTX)

    assert (f.change, f.target, f.evidence_ids) == ("opened", "wako_c1ty_official", [scam.id])
    assert {"handle_lookalike", "name_lookalike", "official_claim", "scam_markers"} <= set(f.metrics["matched"])
    assert f.opened_at == scam.ts


def test_an_official_looking_author_of_an_ordinary_post_counts_as_seen() -> None:
    first = post(0, "wako_c1ty_official", "和光市役所【公式】", "本日の市政情報です")

    [f] = detector().on_event(first, CTX)

    assert f.change == "opened" and f.evidence_ids == [first.id]


def test_a_fake_first_seen_without_resemblance_is_remembered_for_its_posts() -> None:
    d = detector()
    assert d.on_event(account(0, "help_desk_777", "サポート窓口", phash=OFFICIAL_PHASH), CTX) == []

    [f] = d.on_event(post(1, "help_desk_777", "サポート窓口", GIFT_SCAM), CTX)

    assert {"avatar_match", "scam_markers"} <= set(f.metrics["matched"])


def test_scam_posts_from_an_account_with_no_tie_to_the_city_are_not_impersonation() -> None:
    d = detector()

    assert d.on_event(post(0, "gift_bot_99", "プレゼント企画", GIFT_SCAM), CTX) == []
    assert d.to_state() == {"accounts": {}}


# --- state ----------------------------------------------------------------------------


def scenario() -> list[Any]:
    fake, name = "wako_clty_official", "和光市役所【公式】"
    return [
        account(0, fake, name, bio="和光市の公式アカウントです", phash=OFFICIAL_PHASH, followers=2),
        post(1, "taro_wako", "和光 太郎", "今日は和光市のお祭り"),
        account(2, "wako_clty", "わこうくらし"),
        post(3, fake, name, "本日のお知らせ"),
        post(4, fake, name, GIFT_SCAM),
        account(5, "wako_clty", "わこうくらし", type_="reported", note="市のなりすまし"),
        post(6, "wako_love_fan", "和光市ファン（非公式）", GIFT_SCAM),
        account(7, fake, name, type_="reported", note="偽アカウント"),
        post(8, fake, name, GIFT_SCAM),
    ]


@pytest.mark.parametrize("cut", [1, 3, 4, 6, 8])
def test_a_detector_rebuilt_from_its_json_state_continues_identically(cut: int) -> None:
    events = scenario()
    straight = detector()
    expected = feed(straight, events)

    first = detector()
    before = feed(first, events[:cut])
    state = orjson.loads(orjson.dumps(first.to_state()))
    resumed = ImpersonationDetector(profile_from_dict(PROFILE), state=state)
    after = feed(resumed, events[cut:])

    assert before + after == expected
    assert len(expected) >= 5
    assert orjson.dumps(resumed.to_state()) == orjson.dumps(straight.to_state())


def test_state_stays_empty_after_a_hundred_thousand_distinct_ordinary_authors() -> None:
    d = detector()
    template = post(0, "u0", "user0", "今日は和光市のお祭りでした #和光市")
    for i in range(100_000):  # one in ten carries the city's name in its handle or name
        author = dataclasses.replace(template.author, handle=f"wako_user{i}" if i % 20 == 0 else f"u{i}",
                                     name="和光 市民" if i % 20 == 10 else f"ユーザー{i}")
        d.on_event(dataclasses.replace(template, id=f"x:{i}", ts=template.ts + i, author=author), CTX)

    assert d.to_state() == {"accounts": {}}
    assert len(d._looks) + len(d._old_looks) <= d.config.verdict_cache


def test_tracked_accounts_are_capped_and_open_incidents_are_kept() -> None:
    d = detector(tracked_cap=50)
    opened = feed(d, [account(0, "wako_clty_official", "和光市役所【公式】")])
    for i in range(200):  # look-alikes that never become convincing
        d.on_event(account(1 + i, f"wako_clty_{i}", "お知らせ"), CTX)

    accounts = d.to_state()["accounts"]
    assert len(accounts) == 50
    assert "x:wako_clty_official" in accounts and opened
    assert "x:wako_clty_199" in accounts and "x:wako_clty_0" not in accounts


def test_a_full_list_of_tracked_look_alikes_still_fits_in_one_state_message() -> None:
    d = detector()
    for i in range(2500):
        d.on_event(account(i, f"wako_clty_{i}", "お知らせ", followers=3, created=at(-60)), CTX)

    state = d.to_state()
    assert len(state["accounts"]) == d.config.tracked_cap
    assert len(orjson.dumps(state)) < STATE_WARN_BYTES


def test_a_report_that_calls_an_account_a_fake_opens_even_without_a_resemblance() -> None:
    d = detector()

    [f] = d.on_event(account(0, "gift_bot_99", "プレゼント企画", type_="reported",
                             note="市のなりすましアカウントからDMが来た"), CTX)

    assert {"reported", "report_says_impersonation"} <= set(f.metrics["matched"])


def test_a_reported_spam_account_with_no_tie_to_the_city_is_not_impersonation() -> None:
    d = detector()
    events = [account(0, "gift_bot_99", "プレゼント企画", type_="reported", note="スパム投稿が多い"),
              post(1, "gift_bot_99", "プレゼント企画", GIFT_SCAM)]

    assert feed(d, events) == []


def test_a_stricter_threshold_holds_back_a_fake_that_only_just_passes() -> None:
    fake = account(0, "wako_clty_official", "お知らせ【公式】")

    assert detector().on_event(fake, CTX) != []
    assert detector(threshold=100).on_event(fake, CTX) == []


def test_the_summary_names_the_official_account_the_fake_resembles() -> None:
    [f] = detector().on_event(account(0, "wako_rnachi", "お知らせ【公式】", platform="instagram"), CTX)

    assert f.metrics["resembles"] == "wako_machi"
    assert f.summary.startswith("@wako_rnachi が公式アカウント @wako_machi になりすましている疑い（ハンドル類似")


def test_an_open_incident_is_not_updated_just_because_the_fake_looks_newer_or_smaller() -> None:
    d = detector()
    fake, name = "wako_clty_official", "和光市役所【公式】"
    [opened] = d.on_event(account(0, fake, name, followers=500), CTX)

    later = d.on_event(account(10, fake, name, type_="profile_changed", followers=20, created=at(-5)), CTX)

    assert opened.change == "opened" and later == []


def test_a_news_site_calling_itself_official_with_the_bare_town_name_in_its_handle_stays_quiet() -> None:
    d = ImpersonationDetector(profile_from_dict({
        "municipality": {"id": "yukimori", "name": "雪森町", "names": ["雪森町", "雪森", "ゆきもり"]},
        "accounts": [{"platform": "x", "handle": "yukimori_town", "name": "雪森町役場"},
                     {"platform": "bluesky", "handle": "yukimori.bsky.social", "name": "雪森町"}],
    }))
    news = account(0, "yukimori_news", "津軽ゆきもり新報【公式】", bio="雪森町の地域ニュースサイト",
                   followers=7858)
    fake = account(1, "yukimori_tovvn", "雪森町役場【公式】")

    assert d.on_event(news, CTX) == []
    assert [f.target for f in d.on_event(fake, CTX)] == ["yukimori_tovvn"]
