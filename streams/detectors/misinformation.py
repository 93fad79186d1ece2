"""デマ misinformation detection: a claim about the municipality spreading faster than it can be checked.

Pure and in event time. A post with a rumour marker (らしい, 拡散希望, 本当？, 隠蔽 …)
starts a claim unless it repeats one: near-duplicates and paraphrases join through
the claim index (`streams.detectors.cluster`), retellings that share only their
subject join the alarming rumour of the hour that has it (`_related`), reposts,
quotes and replies join by post id, and unmarked posts join the claims that could
ever alarm. Posts naming different places (上森図書館, 本松図書館) never join.

A claim is as alarming as its most alarming marked post (`post_points`), and it
opens one incident when enough distinct authors carry it within ten or thirty
minutes: two for the most alarming, eight for the mildest, none for chatter; in a
disaster one point more and longer windows. Most of a claim's texts must be
hedged, so shares of a news link or of the city's own posts, and everyday
chatter, stay quiet. Later growth updates the incident on doubling or a higher
severity. The state is bounded (quiet claims expire, the least recently active
are evicted) and rebuilds exactly from its JSON.
"""

from __future__ import annotations

import re
import zlib
from collections import deque
from dataclasses import dataclass
from typing import Any

from vocabulary.contract import AccountEvent, Event, Mention, Profile
from streams.detectors.cluster import (
    Features,
    NearDuplicateIndex,
    Thresholds,
    cleaned,
    content_of,
    keywords,
    names_conflict,
)
from streams.detectors.common import SEVERITIES, Context, Finding
from streams.detectors.text import fold_phrases, normalize

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
_CONCERN = re.compile("|".join(re.escape(w) for w in CONCERN_WORDS))

# Marker categories and claim flags, one bit each (kept in the state as one int).
SPREAD, HEARSAY, DOUBT, COVERUP, ENQUIRY = 1, 2, 4, 8, 16
OFFICIAL = 1 << 8  # the claim is the city's own post, or echoes it
NAMED = 1 << 9  # a post of the claim names the municipality, one of its areas or watched hashtags
#: Intensity points of each marker category: asking to spread, alleging a cover-up or
#: asking the city weigh more than hearsay or doubt.
_MARKER_POINTS = ((SPREAD, 2), (HEARSAY, 1), (DOUBT, 1), (COVERUP, 2), (ENQUIRY, 2))
#: The most a post of mere chatter can count, and below every `authors_needed` row.
CHATTER_POINTS = 3
_MARKER_CATEGORY = {
    **dict.fromkeys(SPREAD_PHRASES, SPREAD), **dict.fromkeys(HEARSAY_PHRASES, HEARSAY),
    **dict.fromkeys(DOUBT_PHRASES, DOUBT), **dict.fromkeys(COVERUP_PHRASES, COVERUP),
    "らしい": HEARSAY, "みたい": HEARSAY, "たって": HEARSAY, "だって": HEARSAY,
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

_URL = re.compile(r"https?://\S+")
_HANDLE = re.compile(r"@([A-Za-z0-9_.]+)")
_REP_NOISE = re.compile(r"https?://\S+|@[A-Za-z0-9_.\-]+")
_SPACE = re.compile(r"\s+")
_SNIPPET_NOISE = re.compile(r"[#＃]\S+|【[^】]*】|\[[^\]]*\]")
_KANJI = "[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff々〆]"


def _alternation(phrases: tuple[str, ...]) -> str:
    return "|".join(re.escape(p) for p in sorted(set(phrases), key=lambda p: (-len(p), p)))


#: A cheap stand-in for `normalize` on the raw text, for the first look at every post:
#: katakana to hiragana, full-width latin and ？！ to ASCII, lower case.
_QUICK_FOLD = {
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
_FAMILY_OF_BIT = tuple((_FACILITY_BIT[w], 1 << i) for i, family in enumerate(FACILITY_FAMILIES) for w in family)

_PLACES_AND_ALARMS = re.compile(_alternation(FACILITY_WORDS + ALARM_WORDS))
#: A facility with the kanji that name it (上森 in 上森図書館, 白鷺 in 市立白鷺動物園).
#: Besides facilities, words that name a place after its own name (上森交差点, 本町商店街).
PLACE_WORDS = fold_phrases(("交差点", "商店街", "通り", "地区", "会館", "センター", "ホール", "神社", "寺"))
_NAMED_PLACE = re.compile(f"({_KANJI}{{1,4}})({_alternation(FACILITY_WORDS + PLACE_WORDS)})")
_FAMILY_OF_WORD = {w: i for i, family in enumerate(FACILITY_FAMILIES) for w in family}


def place_names(clean: str) -> frozenset[str]:
    """The places a post names, as "family:name" (see `names_conflict`)."""
    if not _NAMED_PLACE.search(clean):
        return frozenset()
    return frozenset(f"{_FAMILY_OF_WORD.get(place, place)}:{name}"
                     for name, place in _NAMED_PLACE.findall(clean))


def _masks(norm: str) -> tuple[int, int]:
    fac = alarm = 0
    for found in _PLACES_AND_ALARMS.findall(norm):
        f, a = _PLACE_AND_ALARM[found]
        fac |= f
        alarm |= a
    return fac, alarm


def _rep_text(text: str) -> str:
    """What a claim keeps of a post: the text without links and handles, at most 100 characters."""
    return _SPACE.sub(" ", _REP_NOISE.sub(" ", text)).strip()[:100]


def _snippet(rep: str, length: int = 16) -> str:
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


def _tier(value: int, steps: tuple[int, ...]) -> int:
    return sum(value >= s for s in steps)


def claim_id(key: str) -> str:
    """The incident target: a stable id derived from the claim's first post id."""
    data = key.encode()
    return f"claim-{zlib.crc32(data):08x}{zlib.crc32(data[::-1]) & 0xFFFF:04x}"


@dataclass(frozen=True)
class MisinformationConfig:
    """The thresholds of デマ detection; the defaults are the tuned ones."""

    #: Distinct authors needed in a window, by the claim's intensity points (`post_points`:
    #: alarm word 2, facility 1, names the city 1, markers as `_MARKER_POINTS`): in ten
    #: minutes a claim at 7+ opens on its second author, one at 4 needs eight, below 4 never;
    #: in thirty minutes a few more are needed, except by the most alarming claims.
    window_s: int = 600
    authors_needed: tuple[tuple[int, int], ...] = ((7, 2), (6, 3), (5, 5), (4, 8))
    long_window_s: int = 1800
    long_authors_needed: tuple[tuple[int, int], ...] = ((7, 2), (6, 4), (5, 7), (4, 11))
    disaster_window_s: int = 1200
    disaster_long_window_s: int = 2700
    #: In a disaster rumours spread fast (熊本のライオン): every claim counts one point more.
    disaster_points: int = 1
    min_marked_share: float = 0.5  # of the claim's own texts (or of the posts sharing its link)
    disaster_min_marked_share: float = 0.34
    acceleration: float = 1.5  # posts in the window vs the window before
    disaster_acceleration: float = 1.0
    similarity: Thresholds = Thresholds()  # when two posts say the same (`streams.detectors.cluster`)
    quiet_s: int = 6 * 3600
    open_quiet_s: int = 24 * 3600
    sweep_every_s: int = 600
    related_within_s: int = 3600  # an alarming rumour this recent absorbs marked posts sharing its subject
    related_max_holders: int = 2  # … if at most this many such rumours have the shared word
    # Bounds that keep the state a small part of one Kafka message, however long the traffic.
    max_claims: int = 1000
    max_urls: int = 300
    evidence_cap: int = 50
    repost_evidence: int = 10
    authors_cap: int = 64
    recent_cap: int = 32
    refs_cap: int = 8
    extra_tokens_cap: int = 16
    places_cap: int = 8


def _count_author(claim: _Claim, author: int, cap: int) -> bool:
    """Count an author towards a claim's spread; true when not seen before. The first
    `cap` are kept by id, the rest only counted, to keep the state bounded."""
    if author in claim.author_set:
        return False
    if len(claim.authors) < cap:
        claim.authors.append(author)
        claim.author_set.add(author)
    else:
        claim.more_authors += 1
    return True


class _Claim:
    """One cluster of posts carrying the same claim, with its spread and its incident."""

    __slots__ = ("key", "rep", "t0", "last", "n", "nt", "nm", "ne", "bits", "fac", "alarm", "peak",
                 "reach", "authors", "author_set", "more_authors", "recent", "orig", "reposts",
                 "refs", "url", "extra", "places", "inc")

    def __init__(self, key: str, rep: str, t0: float, recent_cap: int) -> None:
        self.key, self.rep, self.t0, self.last = key, rep, t0, t0
        self.n = 0  # every post: texts, reposts, quotes and replies
        self.nt = 0  # texts that joined by content (the claim stated again)
        self.nm = 0  # … of which carry a rumour marker
        self.ne = 0  # enquiries to an official account
        self.bits = self.fac = self.alarm = 0  # unions over the posts: what the claim is about
        self.peak = 0  # the intensity of its most alarming marked post (`post_points`)
        self.reach = 0
        self.authors: list[int] = []
        self.author_set: set[int] = set()
        self.more_authors = 0  # authors past the cap (approximate: counted per post)
        self.recent: deque[tuple[int, int]] = deque(maxlen=recent_cap)  # (seconds after t0, author)
        self.orig: list[str] = []
        self.reposts: list[str] = []
        self.refs: list[str] = []  # ids of unseen posts that point here (quoted, replied to)
        self.url = 0
        self.extra: list[str] = []  # keywords learnt from members
        self.places: list[str] = []  # … and the places they name (`place_names`)
        self.inc: list[Any] | None = None  # [opened_at, seq, posts reported, severity index]

    def to_state(self) -> list[Any]:
        """A flat list in the order of `__slots__` (`recent` flattened, `orig` without the key it
        always starts with): a thousand claims take about 150 kB."""
        recent = [x for pair in self.recent for x in pair]
        return [self.key, self.rep, self.t0, self.last, self.n, self.nt, self.nm, self.ne,
                self.bits, self.fac, self.alarm, self.peak, self.reach, self.authors, self.more_authors,
                recent, self.orig[1:], self.reposts, self.refs, self.url, self.extra, self.places, self.inc]

    @classmethod
    def from_state(cls, s: list[Any], recent_cap: int) -> _Claim:
        c = cls(s[0], s[1], s[2], recent_cap)
        (c.last, c.n, c.nt, c.nm, c.ne, c.bits, c.fac, c.alarm, c.peak, c.reach) = s[3:13]
        c.authors, c.more_authors = list(s[13]), s[14]
        c.author_set = set(c.authors)
        flat = s[15]
        c.recent.extend(zip(flat[::2], flat[1::2]))
        c.orig, c.reposts, c.refs, c.url, c.extra, c.places, c.inc = (
            [c.key, *s[16]], list(s[17]), list(s[18]), s[19], list(s[20]), list(s[21]), s[22])
        return c

    @property
    def distinct_authors(self) -> int:
        return len(self.authors) + self.more_authors

    def evidence(self, cap: int, reposts: int) -> list[str]:
        """The claim's posts, originals first, with a few reposts."""
        shown = self.reposts[:reposts]
        return self.orig[:cap - len(shown)] + shown


class MisinformationDetector:
    """デマ: one incident per claim that spreads faster than it can be checked."""

    kind = "misinformation"

    def __init__(self, profile: Profile, state: dict[str, Any] | None = None,
                 config: MisinformationConfig | None = None) -> None:
        self.config = cfg = config or MisinformationConfig()
        self.official = profile.official_handles
        self.municipality = profile.name
        names = list(profile.names or (profile.name,))
        names += [n[:-1] for n in names if len(n) >= 3 and n[-1] in "市町村区"]
        self.names = fold_phrases(tuple(names))
        self.areas = fold_phrases(profile.areas)
        self.watch_tags = frozenset(normalize(t) for t in profile.watch_hashtags + profile.disaster_hashtags)
        markers = SPREAD_PHRASES + HEARSAY_PHRASES + DOUBT_PHRASES + COVERUP_PHRASES
        # らしい after 素晴, 秋, 和光市 … is an adjective (素晴らしい, 秋らしい), not hearsay.
        not_after = "".join(f"(?<!{re.escape(p)}らしい)" for p in RASHII_NOT_AFTER + self.names)
        self._markers = re.compile(f"{_alternation(markers)}|らしい{not_after}|{MITAI}|{TATTE}")
        self._enquiry = re.compile(_alternation(ENQUIRY_PHRASES))
        # One literal scan of the quickly folded raw text finds every post that may carry
        # a marker; most posts carry none and, unless they share a watched claim's words,
        # stop there.
        self._worth_a_look = re.compile(_alternation(
            markers + ENQUIRY_PHRASES + ("らしい", "みたい", "たって", "だって")))
        # The city's full names go from the content; a short one (和光) only where it is
        # the city, not part of a place named after it (和光駅, 和光小学校).
        full = tuple(n for n in self.names if n[-1] in "市町村区")
        short = tuple(n for n in self.names if n not in full) + self.areas
        self._strip = re.compile("|".join(filter(None, (
            _alternation(markers + ENQUIRY_PHRASES + ("らしい", "みたい") + full),
            f"(?:{_alternation(short)})(?!{_KANJI})" if short else "",
        ))))
        self.index = NearDuplicateIndex(cfg.similarity)
        self.claims: dict[str, _Claim] = {}  # least recently active first
        self.ids: dict[str, str] = {}  # post id → claim key
        self.urls: dict[int, list[Any]] = {}  # crc32 of a link → [posts, last seen]
        state = state or {}
        self.swept: float = state.get("swept", 0.0)
        for h, count, last in state.get("urls", ()):
            self.urls[h] = [count, last]
        for s in state.get("claims", ()):
            self._install(_Claim.from_state(s, cfg.recent_cap))

    def shrink(self) -> None:
        """Forget the least recently active half of the claims (those without an incident
        first) and of the links. Only for a snapshot that would not fit in one message
        (`streams.stage`)."""
        drop = len(self.claims) - len(self.claims) // 2 if len(self.claims) > 1 else len(self.claims)
        victims = [k for k, c in self.claims.items() if c.inc is None][:drop]
        if len(victims) < drop:
            chosen = set(victims)
            victims += [k for k in self.claims if k not in chosen][: drop - len(victims)]
        for key in victims:
            self._drop(key)
        for h in list(self.urls)[: len(self.urls) - len(self.urls) // 2]:
            del self.urls[h]

    def to_state(self) -> dict[str, Any]:
        return {"claims": [c.to_state() for c in self.claims.values()],
                "urls": [[h, count, last] for h, (count, last) in self.urls.items()],
                "swept": self.swept}

    # --- events -----------------------------------------------------------------

    def on_event(self, event: Event, ctx: Context) -> list[Finding]:
        if isinstance(event, Mention):
            return self.on_mention(event, ctx)
        if isinstance(event, AccountEvent) and event.type == "official_post" and event.post:
            text = event.post.get("text")
            if event.ts - self.swept >= self.config.sweep_every_s:
                self._sweep(event.ts)
            self._official(str(event.post["id"]), text if isinstance(text, str) else "", event.ts)
        return []

    def on_mention(self, m: Mention, ctx: Context) -> list[Finding]:
        now = m.ts
        late = self.ids.get(m.id)
        if late is not None:
            c = self.claims[late]
            if m.id not in c.refs:
                return []  # seen already (the detector set drops repeats; this keeps a claim's posts unique)
            # The post that a claim's quotes or replies pointed to arrives after them: count it there.
            c.refs.remove(m.id)
            del self.ids[m.id]
            return self._amplify(late, m, 0, now, ctx, repost=False)
        if now - self.swept >= self.config.sweep_every_s:
            self._sweep(now)
        raw = m.text
        url = self._count_links(m, now) if (m.urls or "http" in raw) else 0
        if m.author.handle.lower() in self.official:
            if raw and m.repost_of is None:
                self._official(m.id, raw, now)
            return []
        shared = m.repost_of or m.quote_of
        if shared is not None and shared.account.lower() in self.official:
            return []  # a share of the city's own post
        if m.repost_of is not None:
            key = self.ids.get(m.repost_of.post_id)
            if key is not None:
                return self._amplify(key, m, 0, now, ctx, repost=True)
        addressed = self._addressed(m)
        refs = [r.post_id for r in (m.quote_of, None if addressed else m.reply_to) if r is not None]
        key = next((self.ids[r] for r in refs if r in self.ids), None)
        if not raw:
            return [] if key is None else self._amplify(key, m, 0, now, ctx, repost=False)
        flagged = self._worth_a_look.search(raw.translate(_QUICK_FOLD)) is not None
        if key is None and not flagged and not self.index.touches(raw):
            return []  # everyday chatter: no marker and no word of a watched claim
        text = _rep_text(raw)
        norm = normalize(text)
        cats = self._categories(norm, addressed) if flagged else 0
        if key is not None:
            return self._amplify(key, m, cats, now, ctx, repost=False)
        clean = cleaned(norm, self._strip)
        tokens = keywords(clean, text)
        fac, alarm = _masks(norm)
        # Only a post that may start a claim needs its LSH bands (a claim's are those of its text).
        feats = Features.of(content_of(clean), tokens, lsh=cats != 0, names=place_names(clean))
        if feats.empty:
            return []
        candidates = self.index.candidates(feats, watched_only=not cats)
        key = self.index.best(feats, candidates) if candidates else None
        learn = True
        if key is None and cats:
            key = self._related(feats, fac, now, exclude=None, alarming=alarm != 0)
            learn = alarm != 0  # a retelling that says what happened teaches the claim its words
        if key is None:
            if not cats:
                return []
            key = self._create(m.id, text, now, feats)
            for ref in refs:
                self._refer(self.claims[key], ref)
        c = self.claims[key]
        if c.url == 0:
            c.url = url
        c.nt += 1
        c.nm += cats != 0
        c.ne += (cats & ENQUIRY) != 0
        named = self._named(norm, m)
        c.bits |= cats | named
        c.fac |= fac
        c.alarm |= alarm
        if cats:
            c.peak = max(c.peak, post_points(alarm, fac, named, cats))
        # Chatter that shares the claim's words (花火大会、混むらしい beside 花火大会、中止らしい)
        # dilutes it but does not spread it, nor teach it words: only alarming or strongly
        # marked texts do, or hedged worry about an alarming claim (ごみ処理場がやばいって).
        carries = (alarm != 0 or (cats & (SPREAD | COVERUP | ENQUIRY)) != 0
                   or (cats != 0 and c.alarm != 0 and _CONCERN.search(norm) is not None))
        if learn and carries and key != m.id:
            self._learn(c, feats.tokens, feats.names)
        self._watch(c)
        self._record(c, m, now, original=True, carries=carries)
        return self._evaluate(c, now, ctx)

    # --- joining -------------------------------------------------------------------

    def _addressed(self, m: Mention) -> bool:
        if m.reply_to is not None and m.reply_to.account.lower() in self.official:
            return True
        return "@" in m.text and any(h.lower() in self.official for h in _HANDLE.findall(m.text))

    def _categories(self, norm: str, addressed: bool) -> int:
        bits = 0
        for found in self._markers.findall(norm):
            bits |= _MARKER_CATEGORY[found]
        if addressed and self._enquiry.search(norm):
            bits |= ENQUIRY
        return bits

    def _named(self, norm: str, m: Mention) -> int:
        if any(n in norm for n in self.names) or any(a in norm for a in self.areas):
            return NAMED
        if self.watch_tags and any(normalize(t) in self.watch_tags for t in m.hashtags):
            return NAMED
        return 0

    def _amplify(self, key: str, m: Mention, cats: int, now: float, ctx: Context, *,
                 repost: bool) -> list[Finding]:
        """A repost, quote or reply of a post of the claim: spread, not a new statement."""
        c = self.claims[key]
        c.bits |= cats
        c.ne += (cats & ENQUIRY) != 0
        if cats:  # a marked quote or reply of the claim says its words again
            c.peak = max(c.peak, post_points(c.alarm, c.fac, c.bits & NAMED, cats))
        self._record(c, m, now, original=not repost)
        return self._evaluate(c, now, ctx)

    def _record(self, c: _Claim, m: Mention, now: float, *, original: bool, carries: bool = True) -> None:
        """Count a post in its claim; only posts that carry the claim (`carries`) count as its spread."""
        cfg = self.config
        c.n += 1
        c.last = max(c.last, now)
        author = zlib.crc32(m.author.id.encode())
        if _count_author(c, author, cfg.authors_cap):
            c.reach += m.author.followers
        if carries:
            c.recent.append((round(now - c.t0), author))
        if original:
            if len(c.orig) < cfg.evidence_cap and m.id not in self.ids:
                c.orig.append(m.id)
                self.ids[m.id] = c.key
        elif len(c.reposts) < cfg.repost_evidence:
            c.reposts.append(m.id)
        self.claims[c.key] = self.claims.pop(c.key)  # most recently active last

    def _learn(self, c: _Claim, tokens: frozenset[str], names: frozenset[str]) -> None:
        """Teach a claim the words and places of a post that retells it (both capped)."""
        cfg = self.config
        room = cfg.extra_tokens_cap - len(c.extra)
        if room > 0:
            vocab = self.index.vocabulary(c.key)
            new = sorted(t for t in tokens if t not in vocab)[:room]
            c.extra.extend(new)
            self.index.extend(c.key, new)
        room = cfg.places_cap - len(c.places)
        if room > 0 and names:
            known = self.index.names(c.key)
            new = sorted(n for n in names if n not in known)[:room]
            c.places.extend(new)
            self.index.add_names(c.key, new)

    def _refer(self, c: _Claim, post_id: str) -> None:
        if post_id not in self.ids and len(c.refs) < self.config.refs_cap:
            c.refs.append(post_id)
            self.ids[post_id] = c.key

    def _watch(self, c: _Claim) -> None:
        """Watch a claim that could ever alarm, so that unmarked posts repeating it are counted."""
        if not c.bits & OFFICIAL and (c.alarm or c.bits & (SPREAD | COVERUP | ENQUIRY) or c.inc is not None):
            self.index.watch(c.key)

    def _related(self, feats: Features, fac: int, now: float, exclude: str | None,
                 alarming: bool = True) -> str | None:
        """The alarming rumour of the last hour that shares the most specific words with `tokens`.

        Rumours retell a story in few, varied words (「浄水場で薬品が漏れたらしい」,
        「水道が汚染されてるって本当？」; 「ライオン脱走の件…」, 「動物園のライオンが逃げた」):
        a marked post that is no near-duplicate of any claim still belongs to the
        alarming rumour it shares a subject with, if there is one this hour. A word
        counts only if at most `related_max_holders` such rumours have it: バス or 桜川
        in every other rumour says nothing about which one a post retells. A post with
        no alarm word of its own must share two words, or a katakana noun (ダム, ライオン),
        so that 「駅前のカフェ、混んでるらしい」 does not join 「駅前で刃物男がいるらしい」;
        and sharing words is not enough when each names places the other
        does not (「プールで事故」, 「駅前で事故」, 「公園で火事」, 「商店街で火事」), nor when they
        name different places of one kind (「上森図書館が閉鎖」, 「本松図書館が閉鎖」).
        """
        tokens = feats.tokens
        shared: dict[str, list[str]] = {}
        for token in tokens:
            if token in GENERIC_TOKENS:
                continue
            holders = self.index.holders(token)
            if len(holders) > self.index.thresholds.max_posting:
                continue  # in so many claims it says nothing about which one
            holders = [k for k in holders if k != exclude and self._rumour(k, now)]
            if 0 < len(holders) <= self.config.related_max_holders:
                for key in holders:
                    shared.setdefault(key, []).append(token)
        places = self._places(fac, feats.names)
        best: tuple[int, float, str] | None = None
        for key, words in shared.items():
            if not alarming and len(words) < 2 and not is_kana_word(words[0]):
                continue
            claim = self.claims[key]
            # Where the claim's first post is: retellings add venues (会場, ホール, 公園) freely.
            theirs = self._places(claim.fac, self.index.names(key).difference(claim.places))
            if places and theirs and not places & theirs and not any(is_kana_word(w) for w in words):
                continue  # each names places, none the other does, and no thing (ライオン) in common
            if names_conflict(feats.names, self.index.names(key)):
                continue
            rank = (len(words), self.claims[key].last, key)
            if best is None or rank > best:
                best = rank
        return best[2] if best else None

    @staticmethod
    def _places(fac: int, names: frozenset[str]) -> set[str]:
        """Where a post or claim is: the kinds of facility and of named place it mentions."""
        found = {f"f{family}" for bit, family in _FAMILY_OF_BIT if fac & bit}
        found.update(f"n{name.partition(':')[0]}" for name in names)
        return found

    def _rumour(self, key: str, now: float) -> bool:
        c = self.claims[key]
        return bool(c.alarm and c.nm and not c.bits & OFFICIAL and now - c.last <= self.config.related_within_s)

    # --- lifecycle -----------------------------------------------------------------

    def features(self, text: str) -> Features:
        """How the claim index sees a post's text (markers and the municipality's names left out)."""
        rep = _rep_text(text)
        clean = cleaned(normalize(rep), self._strip)
        return Features.of(content_of(clean), keywords(clean, rep), names=place_names(clean))

    def claim_of(self, post_id: str) -> str | None:
        """The claim id (an incident's target) that a post was counted in, if it still is."""
        key = self.ids.get(post_id)
        if key is None:
            key = next((k for k, c in self.claims.items() if post_id in c.reposts), None)
        return None if key is None or self.claims[key].bits & OFFICIAL else claim_id(key)

    def _install(self, c: _Claim) -> None:
        self.claims[c.key] = c
        self.index.add(c.key, self.features(c.rep))
        self.index.extend(c.key, c.extra)
        self.index.add_names(c.key, c.places)
        for post_id in c.orig + c.refs:
            self.ids[post_id] = c.key
        self._watch(c)

    def _create(self, key: str, text: str, now: float, feats: Features) -> str:
        cfg = self.config
        while len(self.claims) >= cfg.max_claims:
            victim = next((k for k, c in self.claims.items() if c.inc is None), None)
            self._drop(victim if victim is not None else next(iter(self.claims)))
        self.claims[key] = _Claim(key, text, now, cfg.recent_cap)
        self.index.add(key, feats)
        return key

    def _official(self, post_id: str, text: str, now: float) -> None:
        """The city's own post: a claim that never alarms, so its echoes stay quiet."""
        if post_id in self.ids:
            return
        rep = _rep_text(text)
        c = self.claims[self._create(post_id, rep, now, self.features(rep))]
        c.bits |= OFFICIAL
        c.orig.append(post_id)
        self.ids[post_id] = post_id

    def _drop(self, key: str) -> None:
        c = self.claims.pop(key)
        self.index.remove(key)
        for post_id in c.orig + c.refs:
            if self.ids.get(post_id) == key:
                del self.ids[post_id]

    def _sweep(self, now: float) -> None:
        cfg = self.config
        self.swept = now
        expired = [k for k, c in self.claims.items()
                   if now - c.last > (cfg.open_quiet_s if c.inc is not None else cfg.quiet_s)]
        for key in expired:
            self._drop(key)
        for h in [h for h, (_, last) in self.urls.items() if now - last > cfg.quiet_s]:
            del self.urls[h]

    def _count_links(self, m: Mention, now: float) -> int:
        links = m.urls or tuple(_URL.findall(m.text))
        if not links:
            return 0
        h = zlib.crc32(links[0].lower().rstrip("/").encode())
        entry = self.urls.pop(h, None)
        self.urls[h] = [entry[0] + 1 if entry else 1, now]
        if len(self.urls) > self.config.max_urls:
            del self.urls[next(iter(self.urls))]
        return h

    def _merge(self, src: _Claim, dst: _Claim) -> None:
        """Fold a claim found to be another wording of the same story into `dst`."""
        cfg = self.config
        self._drop(src.key)
        dst.n += src.n
        dst.nt += src.nt
        dst.nm += src.nm
        dst.ne += src.ne
        dst.bits |= src.bits
        dst.fac |= src.fac
        dst.alarm |= src.alarm
        dst.peak = max(dst.peak, src.peak)
        dst.reach += src.reach
        dst.more_authors += src.more_authors
        for author in src.authors:
            _count_author(dst, author, cfg.authors_cap)
        shift = round(src.t0 - dst.t0)
        merged = sorted([*dst.recent, *((dt + shift, a) for dt, a in src.recent)])
        dst.recent = deque(merged[-cfg.recent_cap:], maxlen=cfg.recent_cap)
        for post_id in src.orig:
            if len(dst.orig) < cfg.evidence_cap:
                dst.orig.append(post_id)
                self.ids[post_id] = dst.key
        dst.reposts.extend(src.reposts[:cfg.repost_evidence - len(dst.reposts)])
        for post_id in src.refs:
            self._refer(dst, post_id)
        dst.url = dst.url or src.url
        learnt = self.features(src.rep)
        self._learn(dst, learnt.tokens, learnt.names)
        dst.last = max(dst.last, src.last)
        self._watch(dst)

    # --- judging ---------------------------------------------------------------------

    def intensity(self, c: _Claim, ctx: Context) -> int:
        """The claim's most alarming marked post, one point more in a disaster.

        Taken per post, not over the claim's words together, so that a post asking
        to spread a new café menu and one saying a road had an accident, joined by
        the place they share, do not add up to an alarming rumour.
        """
        if c.peak <= CHATTER_POINTS:
            return c.peak  # chatter stays chatter in a disaster too
        return c.peak + (self.config.disaster_points if ctx.disaster_active else 0)

    @staticmethod
    def authors_needed(points: int, table: tuple[tuple[int, int], ...]) -> int | None:
        for at_least, authors in table:
            if points >= at_least:
                return authors
        return None

    def _window(self, c: _Claim, now: float, window_s: int) -> tuple[int, int, int]:
        """Distinct authors and posts in the window, and posts in the window before it."""
        edge = now - c.t0 - window_s
        authors = set()
        posts = before = 0
        for dt, author in c.recent:
            if dt >= edge:
                posts += 1
                authors.add(author)
            elif dt >= edge - window_s:
                before += 1
        return len(authors), posts, before

    def _qualifies(self, c: _Claim, now: float, ctx: Context) -> dict[str, Any] | None:
        """The signals that open an incident for this claim now, or None."""
        cfg = self.config
        disaster = ctx.disaster_active
        if c.nm == 0:
            return None
        links = self.urls[c.url][0] if c.url in self.urls else 0
        share = c.nm / max(c.nt, links, 1)
        if share < (cfg.disaster_min_marked_share if disaster else cfg.min_marked_share):
            return None
        points = self.intensity(c, ctx)
        acceleration = cfg.disaster_acceleration if disaster else cfg.acceleration
        windows = ((cfg.disaster_window_s if disaster else cfg.window_s, cfg.authors_needed),
                   (cfg.disaster_long_window_s if disaster else cfg.long_window_s, cfg.long_authors_needed))
        for window, table in windows:
            needed = self.authors_needed(points, table)
            if needed is None:
                continue
            authors, posts, before = self._window(c, now, window)
            if authors >= needed and posts >= acceleration * before:
                return {"intensity": points, "window_s": window, "authors_needed": needed,
                        "window_authors": authors, "window_posts": posts,
                        "previous_window_posts": before, "marked_share": round(share, 2)}
        return None

    def severity(self, c: _Claim, ctx: Context) -> int:
        spread = max(_tier(c.distinct_authors, (10, 30, 100)), _tier(c.reach, (10_000, 100_000, 1_000_000)))
        strong = c.peak >= self.config.authors_needed[0][0]
        return min(spread + strong + ctx.disaster_active, len(SEVERITIES) - 1)

    def _evaluate(self, c: _Claim, now: float, ctx: Context) -> list[Finding]:
        if c.bits & OFFICIAL:
            return []
        if c.inc is not None:
            return self._update(c, now, ctx)
        signals = self._qualifies(c, now, ctx)
        if signals is None:
            return []
        own = self.features(c.rep)
        own.tokens = frozenset(self.index.vocabulary(c.key))
        target = self._related(own, c.fac, now, exclude=c.key)
        if target is not None:
            # One story, one incident: fold into the open claim, or else the stronger (then older) one.
            other = self.claims[target]
            keep_other = other.inc is not None or (-other.peak, other.t0, other.key) < (-c.peak, c.t0, c.key)
            src, dst = (c, other) if keep_other else (other, c)
            self._merge(src, dst)
            return self._evaluate(dst, now, ctx)
        c.inc = [now, 0, c.n, self.severity(c, ctx)]
        return [self._finding(c, "opened", now, ctx, signals)]

    def _update(self, c: _Claim, now: float, ctx: Context) -> list[Finding]:
        inc = c.inc
        assert inc is not None
        severity = max(inc[3], self.severity(c, ctx))
        if c.n < 2 * inc[2] and severity == inc[3]:
            return []
        inc[1] += 1
        inc[2] = c.n
        inc[3] = severity
        return [self._finding(c, "updated", now, ctx, {})]

    def _finding(self, c: _Claim, change: str, now: float, ctx: Context,
                 signals: dict[str, Any]) -> Finding:
        assert c.inc is not None
        authors = c.distinct_authors
        summary = f"「{_snippet(c.rep)}」という未確認情報が {c.n} 件（{authors} 人）拡散中"
        if c.ne:
            summary += f"。{self.municipality}への問い合わせ {c.ne} 件"
        if ctx.disaster_active:
            summary += "。災害時のため早めの訂正を"
        return Finding(
            target=claim_id(c.key),
            change=change,
            opened_at=c.inc[0],
            at=now,
            severity=SEVERITIES[c.inc[3]],
            evidence_ids=c.evidence(self.config.evidence_cap, self.config.repost_evidence),
            summary=summary,
            metrics={"posts": c.n, "texts": c.nt, "marked": c.nm, "enquiries": c.ne,
                     "authors": authors, "reach": c.reach, "disaster": ctx.disaster_active, **signals},
            seq=c.inc[1],
        )
