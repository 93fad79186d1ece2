"""The pre-post check: links, personal data, banned words, rumour wording and length."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from playbooks.checks import (
    DISCRIMINATORY_TERMS,
    URL_SHORTENERS,
    CheckFinding,
    blocking,
    prepost_check,
)
from playbooks.profile import official_contacts_from_profile, trusted_links_from_profile

SAMPLE_PROFILE = Path(__file__).parents[1] / "data" / "wako-sample.profile.json"
CITY_PHONE, CITY_MAIL, CITY_ADDRESS = "048-424-1111", "koho@city.wako.lg.jp", "埼玉県和光市広沢1番5号"
OFFICIAL = (CITY_PHONE, CITY_MAIL, CITY_ADDRESS)


def codes(text: str, **kwargs) -> list[tuple[str, str, str]]:
    return [(f.code, f.level, f.excerpt) for f in prepost_check(text, **kwargs)]


def test_a_draft_in_easy_japanese_with_a_link_to_the_city_site_passes_cleanly() -> None:
    draft = ("きょう　よる　７じから　あめが　つよく　ふります。かわが　あふれる　かもしれません。"
             "あたらしい　ひなんじょは　https://www.city.wako.lg.jp/bousai/hinan.html を　みて　ください。"
             "こまったら　048-424-1111 に　でんわを　して　ください。")

    assert prepost_check(draft, official_contacts=OFFICIAL) == ()


def test_every_finding_speaks_japanese_first_and_english_beside_it() -> None:
    draft = ("山田さん（090-1234-5678、taro@example.com、本町2丁目3番4号）によると中止になるらしい。"
             "https://bit.ly/x https://example.com/a 気違い 殺せ")

    findings = prepost_check(draft)

    assert {f.code for f in findings} == {"personal_phone", "personal_email", "personal_address", "rumour_wording",
                                          "url_shortener", "untrusted_link", "discriminatory_word", "prohibited_word"}
    for f in findings:
        assert any("\u3040" <= c <= "\u9fff" for c in f.message_ja), f
        assert f.message_en[:1].isascii() and f.message_en[:1].isupper(), f
        assert f.excerpt and f.level in ("block", "warn")


def test_findings_come_in_the_order_they_appear_in_the_draft() -> None:
    findings = prepost_check("中止になるらしい。090-1234-5678 https://bit.ly/x")

    assert [f.code for f in findings] == ["rumour_wording", "personal_phone", "url_shortener"]


def test_blocking_is_true_only_when_a_finding_blocks() -> None:
    warn = CheckFinding("untrusted_link", "warn", "…", "…", "https://example.com/a")
    block = CheckFinding("url_shortener", "block", "…", "…", "https://bit.ly/x")

    assert not blocking(())
    assert not blocking([warn])
    assert blocking([warn, block])
    assert blocking(f for f in [block])


# --- links -------------------------------------------------------------------------


@pytest.mark.parametrize("host", sorted(URL_SHORTENERS))
def test_url_shorteners_are_blocked(host: str) -> None:
    assert codes(f"詳しくは https://{host}/3abcDEF をご覧ください") == [
        ("url_shortener", "block", f"https://{host}/3abcDEF")]


@pytest.mark.parametrize("written", ["bit.ly/3abc", "http://t.co/Ab12", "ｂｉｔ．ｌｙ／３ａｂｃ", "https://www.tinyurl.com/y2k"])
def test_a_short_link_written_by_hand_or_in_full_width_is_still_blocked(written: str) -> None:
    [(code, level, _)] = codes(f"詳しくは{written}へ")

    assert (code, level) == ("url_shortener", "block")


def test_the_url_shortener_message_says_why() -> None:
    [finding] = prepost_check("https://bit.ly/x")

    assert finding.message_ja.startswith("短縮URLは使えません（URL短縮サービスは禁止）")


@pytest.mark.parametrize("url", [
    "https://www.city.wako.lg.jp/bousai/",
    "https://www.pref.saitama.lg.jp/a0001/",
    "https://www.jma.go.jp/bosai/warning/",
    "https://www.city.fuji.shizuoka.jp/kurashi/",
    "https://x.com/wako_city_official/status/1790000000000000001",
])
def test_links_to_government_sites_and_the_citys_own_pass(url: str) -> None:
    trusted = ("city.fuji.shizuoka.jp", "https://x.com/wako_city_official")

    assert codes(f"詳しくは {url} をご覧ください。", trusted_domains=trusted) == []


@pytest.mark.parametrize("url", [
    "https://example.com/post/1",
    "https://city.wako.lg.jp.example.com/bousai",  # lookalike: lg.jp is not the registered domain
    "https://evil-lg.jp/x",
    "https://x.com/someone/status/1",
    "https://x.com/wako_city_official_fan",  # a handle that only starts like the city's
    "https://lin.ee/abcd123",  # LINE's own short links are not a shortener, but not trusted unless listed
    "http://203.0.113.7/page",
])
def test_links_to_untrusted_sites_are_warned_about(url: str) -> None:
    assert codes(f"詳しくは {url} をご覧ください。", trusted_domains=("x.com/wako_city_official",)) == [
        ("untrusted_link", "warn", url)]


def test_the_citys_own_line_link_passes_when_the_city_lists_it() -> None:
    assert codes("友だち登録は https://lin.ee/abcd123 から", trusted_domains=("lin.ee/abcd123",)) == []


def test_a_link_in_full_width_brackets_ends_at_the_bracket() -> None:
    assert codes("募集中（https://example.com/form）。") == [("untrusted_link", "warn", "https://example.com/form")]


def test_a_name_with_a_dot_in_running_text_is_not_a_link() -> None:
    assert codes("Node.jsやver.2、example.jpの話です。") == []


@pytest.mark.parametrize("url", ["https://www.pornhub.com/view", "https://example.xxx/"])
def test_links_to_obscene_sites_are_blocked(url: str) -> None:
    assert codes(f"{url} です") == [("prohibited_link", "block", url)]


# --- personal data -------------------------------------------------------------------------


@pytest.mark.parametrize("number", [
    "03-1234-5678", "0465-12-3456", "090-1234-5678", "08012345678", "070 1234 5678", "03(1234)5678",
    "０９０－１２３４－５６７８", "090ー1234ー5678", "０３−１２３４−５６７８", "+81-90-1234-5678", "+81 3 1234 5678",
])
def test_phone_numbers_of_people_are_blocked_in_any_common_writing(number: str) -> None:
    [(code, level, _)] = codes(f"連絡は{number}（山田）まで")

    assert (code, level) == ("personal_phone", "block")


@pytest.mark.parametrize("written", ["048-424-1111", "０４８－４２４－１１１１", "048(424)1111", "+81-48-424-1111"])
def test_the_citys_own_phone_number_passes_however_it_is_written(written: str) -> None:
    assert codes(f"問い合わせは{written}まで", official_contacts=OFFICIAL) == []


@pytest.mark.parametrize("text", [
    "〒351-0192", "2026-11-22", "令和8年11月22日10:15", "1,234,567円", "#7119", "119番", "定員は0120人",
    "受付番号 123-4567-8901",
])
def test_numbers_that_are_not_phone_numbers_pass(text: str) -> None:
    assert codes(text) == []


def test_a_free_dial_number_not_on_the_citys_list_is_for_a_person_to_confirm() -> None:
    assert codes("相談は0120-279-338へ") == [("unlisted_phone", "warn", "0120-279-338")]


def test_a_phone_number_inside_a_city_link_is_part_of_the_link() -> None:
    assert codes("https://www.city.wako.lg.jp/tel/0312345678") == []


@pytest.mark.parametrize("address", ["taro.yamada@gmail.com", "ｔａｒｏ＠ｅｘａｍｐｌｅ．ｃｏｍ", "hanako+sns@city.wako.lg.jp"])
def test_e_mail_addresses_of_people_are_blocked(address: str) -> None:
    [(code, level, _)] = codes(f"連絡先 {address} まで", official_contacts=OFFICIAL)

    assert (code, level) == ("personal_email", "block")


@pytest.mark.parametrize("written", ["koho@city.wako.lg.jp", "KOHO@City.Wako.lg.jp", "ｋｏｈｏ＠ｃｉｔｙ．ｗａｋｏ．ｌｇ．ｊｐ"])
def test_the_citys_own_e_mail_address_passes(written: str) -> None:
    assert codes(f"ご意見は {written} へ", official_contacts=OFFICIAL) == []


def test_a_social_media_handle_is_not_an_e_mail_address() -> None:
    assert codes("@wako_city_official をフォロー") == []


@pytest.mark.parametrize(("text", "excerpt"), [
    ("本町2丁目3番4号の山田さん", "本町2丁目3番4号"),
    ("中央一丁目二番三号", "中央一丁目二番三号"),
    ("白子３丁目１５番地の２", "白子3丁目15番地の2"),
    ("新倉12番地", "新倉12番地"),
    ("下新倉5丁目1-2", "下新倉5丁目1-2"),
    ("南1-2-3に住む", "南1-2-3"),
])
def test_street_addresses_down_to_the_lot_are_warned_about(text: str, excerpt: str) -> None:
    assert codes(text, official_contacts=OFFICIAL) == [("personal_address", "warn", excerpt)]


@pytest.mark.parametrize("text", ["市役所（和光市広沢1番5号）", "広沢1番5号の市役所", "本町3丁目で火災", "2番線", "3番目の議題"])
def test_the_citys_own_address_and_places_without_a_lot_number_pass(text: str) -> None:
    assert codes(text, official_contacts=OFFICIAL) == []


def test_the_same_lot_number_elsewhere_is_not_the_citys_address() -> None:
    assert codes("白子1番5号", official_contacts=OFFICIAL) == [("personal_address", "warn", "白子1番5号")]


# --- words -----------------------------------------------------------------------------------


@pytest.mark.parametrize("word", [
    "気違い", "キチガイ", "めくら", "つんぼ", "びっこ", "かたわ", "知恵遅れ", "精神分裂病", "痴呆", "らい病",
    "特殊部落", "支那", "土人", "毛唐", "三国人", "乞食", "オカマ",
])
def test_discriminatory_and_broadcast_banned_words_are_blocked(word: str) -> None:
    assert codes(f"これは{word}です") == [("discriminatory_word", "block", word)]


@pytest.mark.parametrize(("word", "instead"), [("精神分裂病", "統合失調症"), ("痴呆", "認知症"), ("らい病", "ハンセン病")])
def test_a_renamed_term_is_answered_with_the_name_in_use(word: str, instead: str) -> None:
    [finding] = prepost_check(f"{word}について")

    assert f"「{instead}」" in finding.message_ja and instead in finding.message_en


def test_every_discriminatory_term_is_in_one_tuple_with_its_category() -> None:
    assert all(len(entry) == 4 and entry[1] and entry[2] for entry in DISCRIMINATORY_TERMS)


@pytest.mark.parametrize("text", [
    "ちびっこ広場", "公園のかたわらに", "ページをめくらないでください", "ページをめくらせる", "朝鮮人参",
    "1時間ぐらい病院で待ちました", "郷土人形の展示", "ホモ・サピエンス", "レズビアン", "東シナ海",
])
def test_everyday_words_that_contain_a_banned_word_pass(text: str) -> None:
    assert codes(text) == []


@pytest.mark.parametrize("text", ["アダルトサイトはこちら", "無修正動画", "あいつを殺せ", "死ね", "駅を爆破しろ", "ぶっ殺す"])
def test_prohibited_content_markers_are_blocked(text: str) -> None:
    [(code, level, _)] = codes(text)

    assert (code, level) == ("prohibited_word", "block")


@pytest.mark.parametrize("text", [
    "燃やせるごみは月曜日です", "殺せない", "爆破予告があったため休館します", "闇バイトに注意してください", "死ねば",
])
def test_warnings_about_crime_and_everyday_words_are_not_prohibited_markers(text: str) -> None:
    assert codes(text) == []


@pytest.mark.parametrize(("text", "excerpt"), [
    ("明日のイベントは中止になるらしい", "らしい"),
    ("駅前で火事があったらしいです", "らしい"),
    ("水が危ないらしい", "らしい"),
    ("給水車が来ると聞いた", "と聞いた"),
    ("中止って聞いた", "って聞いた"),
    ("停電すると聞いています", "と聞いています"),
    ("ていでんすると　ききました", "と ききました"),  # excerpts are NFKC: the ideographic space is a space
    ("避難所が閉鎖されるという噂があります", "という噂"),
    ("噂によると断水です", "噂によると"),
    ("橋が落ちたかもしれません", "たかもしれません"),
    ("けが人が　いた　かもしれない", "た かもしれない"),
    ("未確認ですが、道路が通行止めです", "未確認ですが"),
    ("真偽は不明ですが", "真偽は不明"),
])
def test_rumour_wording_in_the_citys_own_voice_is_warned_about(text: str, excerpt: str) -> None:
    assert codes(text) == [("rumour_wording", "warn", excerpt)]


@pytest.mark.parametrize("text", [
    "あたらしいルールです", "すばらしい天気です", "めずらしい鳥", "春らしい陽気", "かわいらしい花",
    "あなたらしく", "大雨で川があふれるかもしれません。早めに避難してください",
    "「給水が止まるらしい」という投稿がありますが、事実ではありません", "そのときいた人",
])
def test_ordinary_japanese_and_a_quoted_rumour_being_denied_pass(text: str) -> None:
    assert codes(text) == []


# --- from the profile ------------------------------------------------------------------------


def test_the_profile_gives_the_citys_site_and_its_own_account_pages_as_trusted_links() -> None:
    raw = json.loads(SAMPLE_PROFILE.read_text(encoding="utf-8"))
    raw["municipality"]["website"] = "https://www.city.wako.saitama.jp/"
    raw["municipality"]["domains"] = ["wako-city.example.jp"]

    trusted = trusted_links_from_profile(raw)

    assert trusted == ("https://www.city.wako.saitama.jp/", "wako-city.example.jp", "https://x.com/wako_city_official")
    assert codes("https://www.city.wako.saitama.jp/a https://x.com/wako_city_official", trusted_domains=trusted) == []
    assert codes("https://x.com/other", trusted_domains=trusted) == [("untrusted_link", "warn", "https://x.com/other")]


def test_the_profile_gives_the_citys_official_contacts() -> None:
    raw = {"municipality": {"id": "wako", "name": "和光市", "official_contacts": list(OFFICIAL)}}

    assert official_contacts_from_profile(raw) == OFFICIAL
    assert official_contacts_from_profile({"municipality": {"id": "wako"}}) == ()


def test_a_malformed_profile_field_is_named() -> None:
    with pytest.raises(ValueError, match=r"municipality\.official_contacts"):
        official_contacts_from_profile({"municipality": {"official_contacts": [3]}})
    with pytest.raises(ValueError, match=r"municipality\.domains"):
        trusted_links_from_profile({"municipality": {"domains": {"a": 1}}})
