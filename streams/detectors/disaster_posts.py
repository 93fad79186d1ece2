"""What a post says in a disaster: the 被害・災害 vocabulary, 救助要請 rescue requests (with
their kind and a key that deduplicates copies) and the place a post names.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from streams.detectors.text import canonical, contains_any, fold_phrases, normalize

# --- lexicon ----------------------------------------------------------------

#: Words of a disaster as it happens (被害・災害語彙). A local name plus one of
#: these makes a post count in the names channel; on the hashtag a post with
#: one of these is a first-hand report and weighs more than a bare hashtag.
VOCABULARY = (
    "地震", "揺れ", "震度", "停電", "断水", "冠水", "浸水", "洪水", "氾濫", "越水", "水位",
    "土砂崩れ", "土砂災害", "がけ崩れ", "崖崩れ", "崩落", "陥没", "液状化", "避難", "火事",
    "火災", "延焼", "倒壊", "津波", "台風", "大雨", "豪雨", "暴風", "竜巻", "突風", "大雪",
    "決壊", "孤立", "通行止め", "救助", "救急車", "消防車", "被害", "被災", "閉じ込め",
    "下敷き", "取り残され", "ガス漏れ", "噴火",
)
#: Words that ordinary days use too (「日陰に避難」「台風みたいな人混み」): in the names
#: channel a post with only these weighs half.
EVERYDAY_VOCABULARY = (
    "避難", "大雨", "台風", "暴風", "突風", "大雪", "通行止め", "孤立", "救助", "救急車",
    "消防車", "被害",
)

#: Phrases that make a post a rescue request by themselves, with its kind:
#: trapped (閉じ込め・下敷き), flooding (浸水から逃げている), stranded (取り残され・孤立),
#: help (救助を求める一般の要請).
RESCUE_STRONG = {
    "閉じ込められ": "trapped", "閉じこめられ": "trapped", "とじこめられ": "trapped",
    "下敷き": "trapped", "生き埋め": "trapped",
    "取り残され": "stranded", "とり残され": "stranded", "孤立しています": "stranded",
    "孤立している": "stranded",
    "屋根の上": "flooding", "水が来て": "flooding", "水が入ってき": "flooding",
    "2階に避難": "flooding", "二階に避難": "flooding",
    "救助を": "help", "救助して": "help", "救助お願い": "help", "救助要請": "help",
    "救助求む": "help", "救助待ち": "help", "救助が必要": "help", "#救助": "help", "sos": "help",
}
#: Phrases that are a rescue request only with disaster context around them
#: (「助けて」 alone is everyday speech: 「宿題終わらない、助けて」).
RESCUE_WEAK = {  # the most specific first: its kind wins
    "挟まれて": "trapped", "逃げられない": "trapped", "出られない": "trapped",
    "流されて": "flooding",
    "動けない": "injured", "身動きが取れ": "injured", "身動きがとれ": "injured",
    "助けてください": "help", "助けて下さい": "help", "助けて": "help", "たすけて": "help",
    "誰か来て": "help",
}
RESCUE_CONTEXT = VOCABULARY + (
    "災害", "崩れ", "瓦礫", "がれき", "水が", "濁流", "家が", "壁が", "天井", "119",
)
#: Thanks, news and hypotheticals that use the same words (「救助隊が来てくれた」,
#: 「助けてくれてありがとう」, 「〜で救助された」, 「閉じ込められたら」, drills).
NOT_RESCUE = (
    "救助隊が来てくれ", "来てくれた", "助けてくれて", "助けてくれた", "助けていただ",
    "助けてもらっ", "助けられ", "てくれてありがとう", "ありがとうございました", "救助された",
    "救助されました", "救出された", "救出されました", "無事救助", "無事に救助", "救助に向か", "救助活動", "救助を行", "救助を開始",
    "相次", "模様", "とのこと", "によると", "速報", "ニュース", "報道", "訓練", "られたら",
    "時のため", "ときのため", "場合に備え",
)
#: Drills and announcements that use the disaster hashtag in peacetime (防災訓練のお知らせ).
NOT_A_REPORT = (
    "訓練", "防災の日", "防災週間", "防災フェア", "防災講座", "防災イベント", "お知らせ",
    "参加者募集", "開催", "ハザードマップ", "備蓄", "備えよう", "備えましょう",
)

VOCABULARY_FOLDED = fold_phrases(VOCABULARY)
STRONG_VOCABULARY_FOLDED = tuple(p for p in VOCABULARY_FOLDED if p not in fold_phrases(EVERYDAY_VOCABULARY))
_STRONG = tuple((p, k) for raw, k in RESCUE_STRONG.items() for p in fold_phrases((raw,)))
_WEAK = tuple((p, k) for raw, k in RESCUE_WEAK.items() for p in fold_phrases((raw,)))
_CONTEXT = fold_phrases(RESCUE_CONTEXT)
_NOT_RESCUE = fold_phrases(NOT_RESCUE)
NOT_A_REPORT_FOLDED = fold_phrases(NOT_A_REPORT)

#: One search over the raw text decides the common path: a post without any of
#: these can neither count in the names channel nor be a rescue request.
_SCREEN_WORDS = sorted({p for p in (*VOCABULARY, *RESCUE_STRONG, *RESCUE_WEAK, "SOS", "ＳＯＳ", *VOCABULARY_FOLDED,
                                    *(p for p, _ in _STRONG), *(p for p, _ in _WEAK))}, key=len, reverse=True)
PREFILTER = re.compile("|".join(map(re.escape, _SCREEN_WORDS)))
#: `PREFILTER` that also sees its words written apart (助 け て, 救 + a zero-width space + 助):
#: spaces and invisible characters allowed between their characters, in one search as fast.
_GAP = "[\\s\u00ad\u200b-\u200f\u2060-\u206f\ufeff]*"
_SCREEN = re.compile("|".join(_GAP.join(map(re.escape, word)) for word in _SCREEN_WORDS))


def may_concern_a_disaster(text: str) -> bool:
    """The screen on the raw text: a word of the disaster vocabulary, even written apart."""
    return _SCREEN.search(text) is not None

# --- places -----------------------------------------------------------------

_K = "\u3005\u3006\u4e00-\u9fff\u30a1-\u30fa\u30fc"  # kanji, 々, katakana: a place name's run
_NUM = "0-9一二三四五六七八九十"
_DASH = "\\-‐‑–—−ー"
_CHOME = re.compile(
    rf"([{_K}]{{0,10}})([{_NUM}]+丁目(?:\s?[0-9]{{1,4}}(?:番地?|[{_DASH}])(?:[0-9]{{1,4}}号?)?)?)")
_BANCHI = re.compile(  # 123番地, 3番5号, 3-5(-7); not 2-3人, 090-…
    rf"([{_K}]{{1,10}})([1-9][0-9]{{0,3}}(?:番地|番[0-9]{{1,4}}号|"
    rf"[{_DASH}][0-9]{{1,4}}(?:[{_DASH}][0-9]{{1,4}})?))(?![0-9人名時分階台件回歳日月年])")
_LANDMARK = re.compile(
    rf"([{_K}]{{1,12}})(小学校|中学校|高等学校|高校|公園|駅|病院|公民館|体育館|市民センター|"
    rf"保育園|幼稚園|団地|神社|交差点|橋|川)(付近|近く|周辺|の近く|沿い|前)?")
_MUNICIPAL_SUFFIX = "都道府県市区郡"
_URL_OR_HANDLE = re.compile(r"https?://\S+|@[A-Za-z0-9_.\-]+")
_HASHTAG = re.compile(r"#\S+")
_NOT_WORD = re.compile(r"[\W_]+")


@dataclass(frozen=True, slots=True)
class RescueRequest:
    """A 救助要請 spotted in a post: what kind, where (if it says), and the phrase that told."""

    kind: str  # trapped | stranded | flooding | injured | help
    place: str | None
    phrase: str


def _without_municipality(town: str) -> str:
    """「和光市新倉」→「新倉」: the town is what a rescuer needs; a 1-char head is a town name."""
    for i in range(len(town) - 2, 0, -1):
        if town[i] in _MUNICIPAL_SUFFIX:
            return town[i + 1:]
    return town


def place_in(text: str) -> str | None:
    """The most precise place a post names: 丁目, then 番地, then a landmark."""
    text = _URL_OR_HANDLE.sub(" ", canonical(text))
    m = _CHOME.search(text)
    if m:
        return _without_municipality(m.group(1)) + m.group(2).replace(" ", "")
    m = _BANCHI.search(text)
    if m:
        return _without_municipality(m.group(1)) + m.group(2)
    for m in _LANDMARK.finditer(text):
        name, kind, near = m.group(1), m.group(2), m.group(3)
        if kind in ("川", "橋", "駅") and len(name) < 2 and not near:
            continue  # 河川, 鉄橋: a word, not a place
        return name + kind + (near or "")
    return None


def place_from_geo(geo: Any) -> str | None:
    """The contract's optional `geo`: `{"place"}` or `{"lat", "lon"}`."""
    if not isinstance(geo, dict):
        return None
    if isinstance(geo.get("place"), str) and geo["place"]:
        return geo["place"]
    lat, lon = geo.get("lat"), geo.get("lon")
    if isinstance(lat, int | float) and isinstance(lon, int | float):
        return f"{lat:.5f},{lon:.5f}"
    return None


def rescue_in(norm: str, text: str) -> RescueRequest | None:
    if contains_any(norm, _NOT_RESCUE):
        return None
    for phrase, kind in _STRONG:
        if phrase in norm:
            return RescueRequest(kind, place_in(text), phrase)
    for phrase, kind in _WEAK:
        if phrase in norm:
            place = place_in(text)
            addressed = place is not None and ("丁目" in place or any(c.isdigit() for c in place))
            if addressed or contains_any(norm, _CONTEXT):
                return RescueRequest(kind, place, phrase)
            return None
    return None


def rescue_request(text: str) -> RescueRequest | None:
    """A rescue request (救助要請) in `text`, or None for thanks, news and everyday 「助けて」."""
    if not text or not may_concern_a_disaster(text):
        return None
    return rescue_in(normalize(text), text)


def rescue_key(text: str) -> str:
    """Near-identical copies (another link, addressee, hashtag, punctuation, 「RT」) share a key.

    A short digest of the folded text, so that two thousand of them stay small in the state.
    """
    norm = _HASHTAG.sub(" ", normalize(text))
    norm = re.sub(r"^(?:rt|qt)\b\s*:?", "", norm.strip())
    return hashlib.blake2b(_NOT_WORD.sub("", norm).encode(), digest_size=6).hexdigest()
