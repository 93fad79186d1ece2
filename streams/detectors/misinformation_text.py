"""What a post says, for デマ detection: the rumour lexicon (markers, facilities, alarm words)
and the features read from one text (its places, marker categories, intensity points).

Everything is folded like the posts (NFKC, katakana → hiragana); `streams.detectors.misinformation`
uses these to start, join and judge claims.
"""

from __future__ import annotations

import re

from streams.detectors.text import INVISIBLE, fold_phrases

# --- lexicon (語彙): everything is folded like the posts (NFKC, katakana → hiragana) ---------

SPREAD_PHRASES = fold_phrases((
    "拡散希望", "拡散して", "拡散お願い", "拡散願", "拡散よろしく", "拡散を", "拡散下さい", "拡散ください",
    "拡散します", "RT希望", "RTお願い", "リツイート希望", "シェア希望", "シェアお願い", "シェアして", "広めて",
))
HEARSAY_PHRASES = fold_phrases((
    "と聞いた", "って聞いた", "と聞きました", "って聞きました", "友達の", "友人の", "知り合いの", "知人の",
    "噂", "うわさ", "って話", "という話", "って言ってた", "と言ってた", "回ってきた", "っぽい",
    "友達が", "友達から", "知り合いが", "知り合いから",
))
DOUBT_PHRASES = fold_phrases((
    "本当？", "本当なの", "本当なん", "本当に？", "本当かな", "本当なら", "ほんと？", "ほんとう？",
    "マジ？", "マジで？", "マジか？", "ガチ？", "ガチで？", "ガチなら", "デマ？", "事実なら", "真偽",
    "本当ですか", "事実ですか", "デマですか", "本当でしょうか", "事実でしょうか",
    "ソースは", "ソースある", "ソース求む", "情報源", "情報求む", "発表まだ", "発表は？",
))
COVERUP_PHRASES = fold_phrases((
    "隠蔽", "隠して", "隠され", "報道されない", "報道されてない", "報道しない", "報じない",
    "ニュースにならない", "ニュースになってない", "もみ消", "揉み消", "発表を遅らせ", "発表しない", "口止め",
))
#: Asked of an official account, these are enquiries (問い合わせ) whether a claim is true.
ENQUIRY_PHRASES = fold_phrases((
    "本当ですか", "事実ですか", "デマですか", "確認してください", "確認して下さい", "本当でしょうか",
    "事実でしょうか", "本当なんですか", "発表はまだですか",
))
#: らしい is hearsay after a verb or a noun (出たらしい, 中止らしい) but not inside
#: 素晴らしい, めずらしい, 秋らしい …: the characters before it that make it an adjective.
RASHII_NOT_AFTER = fold_phrases((
    "素晴", "すば", "めず", "珍", "あた", "可愛", "かわい", "わざと", "いや", "ばか", "馬鹿", "憎", "にく",
    "汚", "もっとも", "春", "夏", "秋", "冬", "男", "女", "子供", "子ども", "自分", "君", "彼", "人間",
    "私", "僕", "俺", "ひと", "人",
))
#: みたい is hearsay (逃げたみたい) but not "want to try" (行ってみたい) or "like" (夢みたいな).
MITAI = "(?<![てで])みたい(?!な)"
#: A clause ending in quotative って after た/だ is hearsay (事故あったって, 中止だって),
#: unlike concessive たって inside a sentence (言ったって無駄).
TATTE = "[ただ]って(?![\u3041-\u3096\u30a1-\u30fa\u3400-\u9fff])"
#: … and after a verb's plain form (一週間続くって, 来週までかかるって), at the end of a clause.
RUTTE_ENDINGS = tuple(f"{kana}って" for kana in "うくすつぬむるぐぶ")
RUTTE = "[うくすつぬむるぐぶ]って(?![\u3041-\u3096\u30a1-\u30fa\u3400-\u9fff])"

#: Places and services a rumour is usually about, generic for any municipality (施設).
FACILITY_WORDS = fold_phrases((
    "小学校", "中学校", "高校", "学校", "保育園", "保育所", "幼稚園", "給食", "浄水場", "水道", "下水",
    "病院", "診療所", "保健所", "市役所", "役所", "役場", "動物園", "公園", "図書館", "体育館", "公民館",
    "避難所", "ダム", "堤防", "河川", "川", "橋", "駅", "清掃工場", "ごみ処理", "処理場", "焼却場", "消防",
    "警察", "交番", "発電所", "団地", "プール",
))
#: What makes a claim alarming (危険・被害): rumours worth a correction nearly always say one.
ALARM_WORDS = fold_phrases((
    "食中毒", "中毒", "事故", "火事", "火災", "爆発", "汚染", "断水", "停電", "逃げ", "脱走", "逃走", "死亡",
    "死者", "死んだ", "亡くな", "倒壊", "決壊", "崩落", "浸水", "氾濫", "感染", "毒", "不審者", "事件",
    "殺人", "強盗", "略奪", "暴動", "放射", "漏れ", "流出", "異臭", "閉鎖", "休校", "中止", "危険",
    "被害", "飲めない", "使えない", "通行止め", "避難指示", "倒産", "破綻", "横領", "汚職", "逮捕",
    "盗難", "ない方がいい", "ないほうがいい", "救急車", "運ばれ", "刃物", "通り魔", "猛獣", "崩れ", "ひび",
    "有毒", "薬品", "放たれ",
))

#: Worry about a story already told (やばい, もうだめ, 逃げて): no claim is alarming for these
#: alone (ラーメンやばい), but a hedged post saying one carries an alarming claim it joins.
CONCERN_WORDS = fold_phrases((
    "やばい", "ヤバい", "危ない", "怖い", "こわい", "大変", "まずい", "もうだめ", "持たない", "気をつけ",
    "逃げて", "出ないで", "飲まないで", "近づかないで", "通らないで",
))
CONCERN = re.compile("|".join(re.escape(w) for w in CONCERN_WORDS))

# Marker categories and claim flags, one bit each (kept in the state as one int).
SPREAD, HEARSAY, DOUBT, COVERUP, ENQUIRY = 1, 2, 4, 8, 16
OFFICIAL = 1 << 8  # the claim is the city's own post, or echoes it
NAMED = 1 << 9  # a post of the claim names the municipality, one of its areas or watched hashtags
#: Intensity points of each marker category: asking to spread, alleging a cover-up or
#: asking the city weigh more than hearsay or doubt.
_MARKER_POINTS = ((SPREAD, 2), (HEARSAY, 1), (DOUBT, 1), (COVERUP, 2), (ENQUIRY, 2))
#: The most a post of mere chatter can count, and below every `authors_needed` row.
CHATTER_POINTS = 3
MARKER_CATEGORY = {
    **dict.fromkeys(SPREAD_PHRASES, SPREAD), **dict.fromkeys(HEARSAY_PHRASES, HEARSAY),
    **dict.fromkeys(DOUBT_PHRASES, DOUBT), **dict.fromkeys(COVERUP_PHRASES, COVERUP),
    "らしい": HEARSAY, "みたい": HEARSAY, "たって": HEARSAY, "だって": HEARSAY,
    **dict.fromkeys(RUTTE_ENDINGS, HEARSAY),
}


def _bits_of(words: tuple[str, ...]) -> dict[str, int]:
    return {w: 1 << i for i, w in enumerate(words)}


_FACILITY_BIT = _bits_of(FACILITY_WORDS)
_ALARM_BIT = _bits_of(ALARM_WORDS)
#: Each lexicon word → (facility bits, alarm bits) of every word inside it, so one
#: regex scan (which reports 小学校 but not the 学校 in it) still sets them all.
_PLACE_AND_ALARM = {
    found: (sum(b for w, b in _FACILITY_BIT.items() if w in found),
            sum(b for w, b in _ALARM_BIT.items() if w in found))
    for found in FACILITY_WORDS + ALARM_WORDS
}
#: Keywords too common in rumours to say which rumour a post is (who is accused, who told,
#: what is happening anyway): two rumours sharing only these are not one story.
GENERIC_TOKENS = frozenset({
    "市役", "役所", "役場", "区役", "町役", "村役", "消防", "警察", "情報", "発表", "公式", "市内", "近所",
    "地震", "災害", "大雨", "台風", "全部", "何人", "今朝", "今夜", "子供", "家族", "親戚", "学校",
})

LINK = re.compile(r"https?://\S+")
HANDLE_MENTION = re.compile(r"@([A-Za-z0-9_.]+)")
_REP_NOISE = re.compile(r"https?://\S+|@[A-Za-z0-9_.\-]+")
_SPACE = re.compile(r"\s+")
_SNIPPET_NOISE = re.compile(r"[#＃]\S+|【[^】]*】|\[[^\]]*\]")
KANJI = "[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff々〆]"


def alternation(phrases: tuple[str, ...]) -> str:
    return "|".join(re.escape(p) for p in sorted(set(phrases), key=lambda p: (-len(p), p)))


#: A cheap stand-in for `normalize` on the raw text, for the first look at every post:
#: katakana to hiragana, full-width latin and ？！ to ASCII, lower case; spaces, invisible
#: characters and wave dashes out, so 拡 散希望 or a zero-width space inside うわさ still get their look.
QUICK_FOLD = {
    **INVISIBLE,
    **dict.fromkeys(map(ord, " \u3000~\u223c\u223e\u301c\u3030\uff5e")),
    **{cp: cp - 0x60 for cp in range(0x30A1, 0x30F7)},
    **{cp: cp - 0xFEE0 for cp in (0xFF1F, 0xFF01)},
    **{cp: cp - 0xFEE0 + 0x20 for cp in range(0xFF21, 0xFF3B)},
    **{cp: cp - 0xFEE0 for cp in range(0xFF41, 0xFF5B)},
    **{cp: cp - 0xFEE0 for cp in range(0xFF10, 0xFF1A)},
    **{cp: cp + 0x20 for cp in range(0x41, 0x5B)},
}


#: Places a rumour is about, by family: 給食 happens at a 小学校, a ダム is on a 川. Offices
#: and services a rumour accuses or quotes (市役所, 消防, 警察) name no place of their own.
FACILITY_FAMILIES = tuple(fold_phrases(family) for family in (
    ("小学校", "中学校", "高校", "学校", "保育園", "保育所", "幼稚園", "給食"),
    ("浄水場", "水道", "下水"),
    ("病院", "診療所", "保健所"),
    ("ダム", "堤防", "河川", "川", "橋"),
    ("動物園", "公園", "プール", "体育館"),
    ("図書館", "公民館", "避難所"),
    ("清掃工場", "ごみ処理", "処理場", "焼却場"),
    ("駅",), ("発電所",), ("団地",),
))
FAMILY_OF_BIT = tuple((_FACILITY_BIT[w], 1 << i) for i, family in enumerate(FACILITY_FAMILIES) for w in family)

_PLACES_AND_ALARMS = re.compile(alternation(FACILITY_WORDS + ALARM_WORDS))
#: A facility with the kanji that name it (上森 in 上森図書館, 白鷺 in 市立白鷺動物園).
#: Besides facilities, words that name a place after its own name (上森交差点, 本町商店街).
PLACE_WORDS = fold_phrases(("交差点", "商店街", "通り", "地区", "会館", "センター", "ホール", "神社", "寺"))
_NAMED_PLACE = re.compile(f"({KANJI}{{1,4}})({alternation(FACILITY_WORDS + PLACE_WORDS)})")
_FAMILY_OF_WORD = {w: i for i, family in enumerate(FACILITY_FAMILIES) for w in family}


def place_names(clean: str) -> frozenset[str]:
    """The places a post names, as "family:name" (see `names_conflict`)."""
    if not _NAMED_PLACE.search(clean):
        return frozenset()
    return frozenset(f"{_FAMILY_OF_WORD.get(place, place)}:{name}"
                     for name, place in _NAMED_PLACE.findall(clean))


def place_and_alarm_masks(norm: str) -> tuple[int, int]:
    fac = alarm = 0
    for found in _PLACES_AND_ALARMS.findall(norm):
        f, a = _PLACE_AND_ALARM[found]
        fac |= f
        alarm |= a
    return fac, alarm


def rep_text(text: str) -> str:
    """What a claim keeps of a post: the text without links and handles, at most 100 characters."""
    return _SPACE.sub(" ", _REP_NOISE.sub(" ", text)).strip()[:100]


def snippet(rep: str, length: int = 16) -> str:
    """The claim's opening words for the summary, cut where a word ends (before okurigana) if possible."""
    text = _SPACE.sub("", _SNIPPET_NOISE.sub("", rep)).strip("、。,. ")
    if len(text) <= length:
        return text
    for cut in range(length, length // 2, -1):
        if _is_hiragana(text[cut]) and not _is_hiragana(text[cut - 1]):
            return text[:cut] + "…"
    return text[:length] + "…"


def _is_hiragana(char: str) -> bool:
    return "\u3041" <= char <= "\u309f"


def post_points(alarm: int, fac: int, named: int, cats: int) -> int:
    """How alarming and rumour-like one post reads: alarm word 2, facility 1, the city named 1, markers.

    Hearsay or doubt about nothing alarming (図書館が新しくなるらしい, 天井が落ちたって) is
    chatter however often it is repeated: without an alarm word or a strong marker
    (asking to spread, alleging a cover-up, asking the city) a post stays below
    `CHATTER_POINTS`, where no claim ever opens.
    """
    points = 2 * (alarm != 0) + (fac != 0) + (named != 0)
    points += sum(p for bit, p in _MARKER_POINTS if cats & bit)
    if not alarm and not cats & (SPREAD | COVERUP | ENQUIRY):
        return min(points, CHATTER_POINTS)
    return points


def is_kana_word(token: str) -> bool:
    """A keyword read from katakana (folded to hiragana): a noun such as ダム or ライオン."""
    return all("\u3041" <= ch <= "\u30fc" for ch in token)


def tier(value: int, steps: tuple[int, ...]) -> int:
    return sum(value >= s for s in steps)


