"""Disguise: look-alike letters in handles and names (Unicode's confusables), and criticism or
rumours written with spaces, zero-width characters, stretched vowels or mixed widths inside
their words, are read as what they pass for; ordinary Japanese text is left as it was."""

from __future__ import annotations

import unicodedata
from typing import Any

import pytest

from vocabulary.contract import profile_from_dict
from streams.detectors import DetectorSet
from streams.detectors.common import Context
from streams.detectors.confusables import TO_ASCII
from streams.detectors.flame import CRITICAL, classify
from streams.detectors.impersonation import ImpersonationDetector
from streams.detectors.impersonation_text import fold_handle, fold_latin, fold_name
from streams.detectors.misinformation import MisinformationDetector
from streams.detectors.text import canonical, normalize
from tools import confusables
from tests.unit.builders import OFFICIAL, mention, profile
from tests.unit.test_impersonation import PROFILE, account, post

CTX = Context()

# --- look-alike letters (Unicode's confusables) ------------------------------------------

#: One handle per kind of disguise, each reading `wako_city_official` at a glance.
DISGUISED_HANDLES = {
    "small capitals": "ᴡᴀᴋᴏ_ᴄɪᴛʏ_ᴏꜰꜰɪᴄɪᴀʟ",
    "Cyrillic ԝ and օ": "ԝakօ_city_official",
    "Greek ι": "wako_cιty_official",
    "mathematical monospace": "𝚠𝚊𝚔𝚘_𝚌𝚒𝚝𝚢_𝚘𝚏𝚏𝚒𝚌𝚒𝚊𝚕",
    "dotless ı": "wako_cıty_official",
    "kra ĸ": "waĸo_city_official",
    "a zero-width space": "wako\u200b_city_official",
}


@pytest.mark.parametrize("fake", DISGUISED_HANDLES.values(), ids=DISGUISED_HANDLES.keys())
def test_each_kind_of_look_alike_letter_folds_to_the_official_handle(fake: str) -> None:
    assert fold_handle(fake) == fold_handle(OFFICIAL)


@pytest.mark.parametrize("fake", DISGUISED_HANDLES.values(), ids=DISGUISED_HANDLES.keys())
def test_a_handle_of_look_alike_letters_that_claims_to_be_official_opens(fake: str) -> None:
    detector = ImpersonationDetector(profile_from_dict(PROFILE))

    [f] = detector.on_event(account(0, fake, "お知らせ【公式】"), CTX)

    assert (f.change, f.target) == ("opened", fake)
    assert {"handle_lookalike", "official_claim"} <= set(f.metrics["matched"])
    assert f.metrics["handle_similarity"] == 1.0
    assert f.metrics["resembles"] == OFFICIAL


@pytest.mark.parametrize("fake_name", ["ᴡᴀᴋᴏ ᴄɪᴛʏ ᴏꜰꜰɪᴄɪᴀʟ", "𝚆𝚊𝚔𝚘 𝙲𝚒𝚝𝚢 𝙾𝚏𝚏𝚒𝚌𝚒𝚊𝚕", "Waĸo Cιty Оfficıal"])
def test_a_display_name_of_look_alike_letters_is_read_as_the_latin_name_and_its_claim(fake_name: str) -> None:
    detector = ImpersonationDetector(profile_from_dict(PROFILE))

    [f] = detector.on_event(account(0, "city_news_desk", fake_name), CTX)

    assert {"name_lookalike", "official_claim"} <= set(f.metrics["matched"])
    assert f.metrics["resembles"] == OFFICIAL


def test_a_resident_whose_handle_is_written_in_small_capitals_stays_quiet() -> None:
    detector = ImpersonationDetector(profile_from_dict(PROFILE))

    found = [f for e in (account(0, "ᴡᴀᴋᴏ_ᴛᴀʀᴏ", "和光 太郎"),
                         post(5, "ᴡᴀᴋᴏ_ᴛᴀʀᴏ", "和光 太郎", "和光市の花火大会、今年も楽しみ"))
             for f in detector.on_event(e, CTX)]

    assert found == []
    assert fold_handle("ᴡᴀᴋᴏ_ᴛᴀʀᴏ") == fold_handle("wako_taro")


def _data_letter(g: dict[str, set[str]], char: str) -> str | None:
    """What the data says `char` passes for, after the NFKC every fold starts with."""
    seen_as = unicodedata.normalize("NFKC", char)
    if len(seen_as) != 1:
        return None
    if seen_as.isascii():
        return seen_as.lower() if seen_as.isalnum() else None
    return confusables.ascii_letter(g, seen_as)


def test_the_committed_table_is_what_the_generator_makes_from_unicodes_confusables() -> None:
    table = confusables.build(confusables.load_data())

    assert {ord(k): v for k, v in table.items()} == TO_ASCII, "run: python -m tools.confusables"


def test_every_latin_look_alike_in_unicodes_confusables_folds_to_its_letter() -> None:
    data = confusables.load_data()
    g = confusables.graph(data)
    checked = 0
    for char in sorted(g):
        if char.isascii() or confusables.in_japanese_block(char):
            continue
        letter = _data_letter(g, char)
        if letter is None:
            continue
        assert fold_latin(char).lower() == letter, (char, f"U+{ord(char):04X}", unicodedata.name(char, ""))
        checked += 1
    assert checked > 1500  # the data's Latin look-alikes, not a handful
    for char, letter in confusables.small_capitals().items():  # ꜰ, ɴ, ꞯ are not in the data
        assert fold_latin(char) == letter


def test_the_table_leaves_japanese_alone_so_names_and_posts_keep_their_kana_and_kanji() -> None:
    assert not any(confusables.in_japanese_block(chr(cp)) for cp in TO_ASCII)
    for text in ("和光市役所からのお知らせ", "〇〇町の花火大会", "ロ口カ力エ工ニ二ー一", "ペぺへヘ"):
        assert fold_latin(text) == canonical(text) == unicodedata.normalize("NFKC", text)
    # The hand-made kana and kanji look-alikes (not in Unicode's data) still fold in names.
    assert fold_name("和光市ニュースぺーパー") == fold_name("和光市ニュースペーパー")


# --- words written apart, stretched or in mixed widths ---------------------------------------

#: Criticism per kind of disguise, each missed by the wording checks before it was normalised.
DISGUISED_CRITICISM = {
    "a space inside a word": ("謝 罪しろ", "謝罪しろ"),
    "an ideographic space": ("税金の無\u3000駄遣い", "税金の無駄遣い"),
    "a zero-width space": ("謝\u200b罪しろ", "謝罪しろ"),
    "a zero-width joiner": ("不\u200d謹慎では？", "不謹慎では?"),
    "a stretching wave dash": ("ありえな〜い", "ありえない"),
    "a run of long vowels": ("ありえなーーーい", "ありえなーい"),
    "mixed widths": ("ﾌｻﾞ ｹﾙﾅ", "ふざけるな"),
}


@pytest.mark.parametrize(("disguised", "plain"), DISGUISED_CRITICISM.values(), ids=DISGUISED_CRITICISM.keys())
def test_each_kind_of_disguise_inside_a_word_normalises_to_the_plain_word(disguised: str, plain: str) -> None:
    assert normalize(disguised) == normalize(plain)


@pytest.mark.parametrize("text", ["ありえなーい", "ｱﾘｴﾅｰｲ", "ひどーい対応", "最 悪", "無 責 任", "ﾌｻﾞｹﾙﾅ", "説明してくだｻｲ"])
def test_stretched_spaced_and_half_width_criticism_is_criticism(text: str) -> None:
    assert classify(text) == CRITICAL


@pytest.mark.parametrize(("disguised", "_plain"), DISGUISED_CRITICISM.values(), ids=DISGUISED_CRITICISM.keys())
def test_a_surge_of_disguised_criticism_opens_a_flame_up(disguised: str, _plain: str) -> None:
    detectors = DetectorSet(profile())

    found = [d for i in range(6) for d in detectors.feed(mention(i * 0.5, f"critic{i}", disguised))]

    assert [d.change for d in found if d.type == "flame"][:1] == ["opened"]


WAKO = profile_from_dict({
    "municipality": {"id": "wako", "name": "和光市", "names": ["和光市", "和光", "わこう"]},
    "accounts": [{"platform": "x", "handle": OFFICIAL, "name": "和光市役所"}],
    "watch_hashtags": ["和光市"],
})
RUMOUR = ("【拡 散 希 望】和光市の小学校で食中毒が出たら\u200bしい", "和光市の給食で集団食中毒らし〜い、拡散\u200bして",
          "給食で食中毒出たって聞 い た、和光市")


def _rumour_posts(texts: tuple[str, ...], count: int) -> list[Any]:
    return [mention(i, f"u{i}", texts[i % len(texts)], reply_to=None) for i in range(count)]


def test_a_rumour_whose_markers_are_spaced_or_split_by_zero_width_characters_opens() -> None:
    detector = MisinformationDetector(WAKO)

    findings = [f for e in _rumour_posts(RUMOUR, 6) for f in detector.on_event(e, CTX)]

    assert [f.change for f in findings][:1] == ["opened"]


# --- ordinary Japanese is not changed into a match --------------------------------------------

ORDINARY = (
    "和光市 の 花火大会 楽しみ です！", "和光市役所 の 窓口 は 何時 から ですか", "今日は 雨 かな〜",
    "でーた 見ました、ふーん", "すごーい！ ありがとう ございます", "9時〜15時 は 混みます", "#和光市 花火 きれい",
)


def test_ordinary_posts_naming_the_city_keep_its_name_and_are_no_criticism() -> None:
    for text in ORDINARY:
        assert classify(text) != CRITICAL, text
        assert "和光市" in normalize(text) or "和光市" not in text
    assert normalize("9時〜15時 は 混みます") == "9時〜15時は混みます"  # a range is not a stretched vowel
    assert normalize("#和光市 花火 きれい") == "#和光市 花火きれい"  # a hashtag keeps its end
    assert normalize("うーん") != normalize("うん")  # a stretched interjection is not another word


def test_ordinary_posts_naming_the_city_open_nothing() -> None:
    detectors = DetectorSet(profile())
    events = [mention(i * 0.5, f"resident{i}", ORDINARY[i % len(ORDINARY)], reply_to=None if i % 2 else OFFICIAL)
              for i in range(40)]

    assert [d for e in events for d in detectors.feed(e)] == []


@pytest.mark.parametrize("text", ["家 に 閉 じ 込 め ら れ て い ま す 、本町3丁目", "浸\u200b水して動けません 救\u200b助を 本町2丁目"])
def test_a_rescue_request_written_apart_gets_past_the_disaster_screen_and_is_read(text: str) -> None:
    from streams.detectors.disaster_posts import PREFILTER, rescue_request

    assert PREFILTER.search(text) is None  # the raw text hides every word of the vocabulary

    request = rescue_request(text)

    assert request is not None and request.place in ("本町3丁目", "本町2丁目")
