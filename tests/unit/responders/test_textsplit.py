"""Length rules of X, Bluesky and Mastodon, Bluesky link facets, and thread splitting (pure)."""

from __future__ import annotations

import random
import re
import unicodedata

import pytest
import regex

from responders.textsplit import (
    BLUESKY_MAX_BYTES,
    DEFAULT_LIMITS,
    Platform,
    bluesky_facets,
    fits,
    length,
    split_thread,
    urls,
)

PLATFORMS: tuple[Platform, ...] = ("x", "bluesky", "mastodon")
NUMBERING = re.compile(r"(?: ?)（(\d+)/(\d+)）$")
LONG_URL = "https://www.city.example.lg.jp/kurashi/suido/dansui/2024/oshirase-kyusui-basho-ichiran.html"
STATEMENT = (
    "市内の一部地域で断水が発生しています。復旧作業を進めており、本日18時ごろの復旧を見込んでいます。"
    "給水所は市役所本庁舎前、中央公民館、第一小学校の3か所です。飲料水を入れる容器をお持ちください。"
    f"最新情報は {LONG_URL} をご覧ください。"
    "ご不便をおかけし、申し訳ありません。\n"
    "Water supply is cut in parts of the city. Bring containers to the water stations. "
    "Details: https://www.city.example.lg.jp/en/water.html\n"
    "SNS上で「全域で断水」という情報が広がっていますが、事実ではありません。🙏"
)


def graphemes(text: str) -> list[str]:
    return regex.findall(r"\X", text)


def body_of(part: str) -> str:
    return NUMBERING.sub("", part)


# --- lengths --------------------------------------------------------------------------------


def test_x_counts_japanese_as_two_and_ascii_as_one() -> None:
    assert length("こんにちは", "x") == 10
    assert length("Hello", "x") == 5
    assert length("避難所 open", "x") == 3 * 2 + 5
    assert length("（）「」。、", "x") == 12  # full-width punctuation is heavy too


def test_x_weight_ranges_follow_twitter_text_v3() -> None:
    assert length("\u2010\u2014\u2018\u201d", "x") == 4  # 8208–8223: hyphen, dashes, quotes weigh 1
    assert length("\u2032\u2037", "x") == 2  # 8242–8247: primes weigh 1
    assert length("\u2026", "x") == 2  # … (8230) is outside every light range
    assert length("\u10ff", "x") == 1  # 4351 is the last light code point of the first range
    assert length("\u1100", "x") == 2  # 4352 (Hangul jamo) the first heavy one
    assert length("\u2030", "x") == 2  # ‰ (8240) sits between the ranges


def test_x_counts_every_url_as_23_whatever_its_length() -> None:
    assert length(LONG_URL, "x") == 23
    assert length("https://a.jp", "x") == 23
    assert length(f"詳細は{LONG_URL}をご覧ください", "x") == 3 * 2 + 23 + 7 * 2


def test_x_counts_a_bare_domain_at_least_as_a_link() -> None:
    assert length("city.example.lg.jp", "x") == 23
    assert length("www.city.very-long-municipality-name.lg.jp", "x") == 42
    assert length("info@city.example.jp", "x") == 20  # X links no domain right after an @
    assert length("Ver.2 No.1 3.5", "x") == 14  # not domains


def test_x_counts_an_emoji_sequence_as_two() -> None:
    assert length("😀", "x") == 2
    assert length("👨‍👩‍👧‍👦", "x") == 2  # seven code points, one sequence
    assert length("🇯🇵", "x") == 2
    assert length("👍🏽", "x") == 2
    assert length("1️⃣", "x") == 2


def test_x_normalises_to_nfc_before_counting() -> None:
    decomposed = "か\u3099"  # か + combining dakuten: NFC makes one が
    assert length(decomposed, "x") == 2
    assert split_thread(decomposed, "x") == [unicodedata.normalize("NFC", decomposed)]


def test_x_allows_140_japanese_characters() -> None:
    assert fits("あ" * 140, "x")
    assert not fits("あ" * 141, "x")
    assert fits("a" * 280, "x") and not fits("a" * 281, "x")
    assert fits("あ" * 128 + " " + LONG_URL, "x")  # 256 + 1 + 23


def test_bluesky_counts_graphemes_and_links_as_written() -> None:
    assert length("👨‍👩‍👧‍👦🇯🇵が", "bluesky") == 3
    assert length(LONG_URL, "bluesky") == len(LONG_URL)
    assert fits("あ" * 300, "bluesky") and not fits("あ" * 301, "bluesky")


def test_the_counts_the_pre_post_check_once_pinned_are_this_one_counts() -> None:
    """Moved from tests/unit/test_checks.py: playbooks.checks.post_length, which no production
    path reached, measured the same posts; this module is the one measure of a post."""
    assert length("あ" * 141, "x") == 282 and not fits("あ" * 141, "x")
    assert length("詳細 https://www.city.wako.lg.jp/" + "a" * 100, "x") == 2 * 2 + 1 + 23
    assert length("あ" * 301, "bluesky") == 301
    assert length("か\u3099", "bluesky") == 1


def test_bluesky_also_limits_utf8_bytes() -> None:
    family = "👨‍👩‍👧‍👦"  # 25 bytes, one grapheme
    text = family * 121
    assert length(text, "bluesky") == 121
    assert len(text.encode()) > BLUESKY_MAX_BYTES
    assert not fits(text, "bluesky")
    parts = split_thread(text, "bluesky")
    assert len(parts) == 2
    assert all(fits(part, "bluesky") for part in parts)


def test_mastodon_counts_characters_with_links_as_23() -> None:
    assert length("お知らせ", "mastodon") == 4
    assert length(LONG_URL, "mastodon") == 23
    assert length("👨‍👩‍👧‍👦", "mastodon") == 1
    assert fits("あ" * 500, "mastodon") and not fits("あ" * 501, "mastodon")
    assert fits("あ" * 1000, "mastodon", limit=1000)


def test_urls_end_where_a_reader_sees_them_end() -> None:
    text = (
        f"詳細は{LONG_URL}。また(https://a.example.jp/x)と https://b.example.jp/w_(1) "
        "も参照。https://c.example.jp/q?a=1&b=2, https://d.example.jp/."
    )
    assert urls(text) == [
        LONG_URL,
        "https://a.example.jp/x",
        "https://b.example.jp/w_(1)",
        "https://c.example.jp/q?a=1&b=2",
        "https://d.example.jp/",
    ]


# --- Bluesky facets -------------------------------------------------------------------------


def test_bluesky_facets_use_utf8_byte_offsets_after_japanese_text() -> None:
    text = f"最新情報は {LONG_URL} をご覧ください。"
    [facet] = bluesky_facets(text)
    start = len("最新情報は ".encode())
    assert start == 16  # five characters of 3 bytes and a space, not character index 6
    assert facet["index"] == {"byteStart": start, "byteEnd": start + len(LONG_URL)}
    assert facet["features"] == [{"$type": "app.bsky.richtext.facet#link", "uri": LONG_URL}]


def test_bluesky_facets_point_at_every_link_with_emoji_in_between() -> None:
    text = "🚰給水所→https://a.example.jp/kyusui、避難所👨‍👩‍👧→https://b.example.jp/hinan です"
    facets = bluesky_facets(text)
    data = text.encode()
    assert [data[f["index"]["byteStart"] : f["index"]["byteEnd"]].decode() for f in facets] == [
        "https://a.example.jp/kyusui",
        "https://b.example.jp/hinan",
    ]
    assert [f["features"][0]["uri"] for f in facets] == urls(text)


def test_no_facets_without_links() -> None:
    assert bluesky_facets("リンクのないお知らせです。") == []


# --- splitting ------------------------------------------------------------------------------


@pytest.mark.parametrize("platform", PLATFORMS)
def test_a_text_that_fits_is_one_part_without_numbering(platform: Platform) -> None:
    assert split_thread("  断水は復旧しました。\n", platform) == ["断水は復旧しました。"]


def test_a_blank_text_is_refused() -> None:
    with pytest.raises(ValueError, match="blank"):
        split_thread(" \n ", "x")


def test_a_long_statement_splits_at_sentence_ends() -> None:
    parts = split_thread(STATEMENT, "x")
    assert len(parts) > 1
    for part in parts:
        assert fits(part, "x")
        body = body_of(part)
        assert body[-1] in "。！？!?.🙏" or body.endswith(".html"), part


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("limit", [None, 100, 150])
def test_every_part_fits_with_its_numbering_counted(platform: Platform, limit: int | None) -> None:
    parts = split_thread(STATEMENT * 3, platform, limit)
    assert len(parts) > 1
    total = len(parts)
    for index, part in enumerate(parts, 1):
        assert fits(part, platform, limit), (length(part, platform), part)
        match = NUMBERING.search(part)
        assert match and (int(match[1]), int(match[2])) == (index, total)


def test_the_numbering_is_counted_in_the_limit() -> None:
    # 280 letters would fill a post alone; beside （1/2）, which weighs 7, only 273 fit.
    parts = split_thread("a" * 280 + "。" + "b" * 10, "x")
    assert parts == ["a" * 273 + "（1/2）", "a" * 7 + "。" + "b" * 10 + "（2/2）"]
    assert length(parts[0], "x") == 280


def test_many_parts_get_two_digit_numbers_and_still_fit() -> None:
    parts = split_thread("お知らせです。" * 300, "x")
    assert len(parts) >= 10
    assert parts[9].endswith(f"（10/{len(parts)}）")
    assert all(fits(part, "x") for part in parts)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_splitting_never_cuts_a_link(platform: Platform) -> None:
    text = ("市からのお知らせ" + LONG_URL + "を確認") * 12 + " city.example.lg.jp/hinan" * 5
    parts = split_thread(text, platform, 60)
    joined = [url for part in parts for url in urls(part)]
    assert joined == urls(text)
    assert "".join(body_of(part) for part in parts).count("city.example.lg.jp/hinan") == 5


def test_a_link_longer_than_a_part_stays_whole_in_its_own_part() -> None:
    url = "https://www.city.example.lg.jp/" + "a" * 80
    parts = split_thread(f"詳細はこちらをご覧ください。{url} 以上です。", "bluesky", 50)
    assert any(url in part for part in parts)
    assert [fits(part, "bluesky", 50) for part in parts].count(False) == 1
    # X and Mastodon count it 23, so there it fits like any other link.
    assert all(fits(part, "x", 50) for part in split_thread(f"詳細はこちら。{url} 以上です。", "x", 50))


def test_a_part_ending_in_a_link_gets_a_space_before_its_number() -> None:
    parts = split_thread(f"詳細はこちら {LONG_URL} " + "あ" * 60, "mastodon", 60)
    first = parts[0]
    assert first.endswith(f"{LONG_URL} （1/{len(parts)}）")
    assert urls(first) == [LONG_URL]


@pytest.mark.parametrize("platform", PLATFORMS)
def test_splitting_never_breaks_a_grapheme(platform: Platform) -> None:
    text = "👨‍👩‍👧‍👦🇯🇵が\u3099" * 200
    parts = split_thread(text, platform, 40)
    rebuilt = "".join(body_of(part) for part in parts)
    assert graphemes(rebuilt) == graphemes(unicodedata.normalize("NFC", text) if platform == "x" else text)


def test_no_part_starts_with_what_kinsoku_forbids() -> None:
    text = "「臨時休館」のお知らせ、サーバーメンテナンスのため、ちょっとの間ホームページがご覧いただけません。" * 10
    for limit in (30, 41, 50, 77):
        parts = split_thread(text, "x", limit)
        assert all(part[0] not in "、。」ーょっ）" for part in parts)
        assert all(not body_of(part).endswith("「") for part in parts)


def test_parts_keep_every_character_in_order() -> None:
    parts = split_thread(STATEMENT * 2, "bluesky", 80)
    squeeze = re.compile(r"\s+")
    assert squeeze.sub("", "".join(body_of(part) for part in parts)) == squeeze.sub("", STATEMENT * 2)


def test_sentences_split_late_rather_than_into_scraps() -> None:
    text = "はい。" + "避難所を開設しました、" * 20
    parts = split_thread(text, "x")
    assert length(parts[0], "x") > 140  # not just "はい。"


@pytest.mark.parametrize("seed", range(40))
def test_random_texts_split_within_every_rule(seed: int) -> None:
    rng = random.Random(seed)
    pieces = [
        "お知らせ",
        "。",
        "、",
        " ",
        "\n",
        "避難所",
        "😀",
        "👨‍👩‍👧",
        "🇯🇵",
        "Water",
        "!",
        "?",
        "（",
        "）",
        "ー",
        LONG_URL,
        "https://a.jp/x",
        "city.example.lg.jp",
        "12,345",
        "か\u3099",
    ]
    text = "".join(rng.choice(pieces) for _ in range(rng.randint(50, 400))) + "終わり"
    for platform in PLATFORMS:
        limit = rng.choice([None, 40, 77, 150])
        parts = split_thread(text, platform, limit)
        source = unicodedata.normalize("NFC", text) if platform == "x" else text
        for part in parts:
            # Only a link longer than a whole part may overflow it, alone in its part.
            assert fits(part, platform, limit) or regex.fullmatch(r"[!-~]+", body_of(part)), part
        assert [u for part in parts for u in urls(part)] == urls(source)
        squeeze = re.compile(r"\s+")
        assert squeeze.sub("", "".join(body_of(p) for p in parts)) == squeeze.sub("", source)
        assert graphemes("".join(body_of(p) for p in parts).replace(" ", "").replace("\n", "")) == graphemes(
            source.replace(" ", "").replace("\n", "")
        )


@pytest.mark.parametrize("platform", PLATFORMS)
def test_default_limits_are_the_platforms_own(platform: Platform) -> None:
    assert DEFAULT_LIMITS == {"x": 280, "bluesky": 300, "mastodon": 500}
    with pytest.raises(ValueError, match="too small"):
        split_thread("あ" * 100, platform, 5)
