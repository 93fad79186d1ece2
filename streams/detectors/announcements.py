"""The city's own recent announcements, and whether a resident's post retells one or contradicts it.

Residents restate what the city announced in their own words, with hearsay markers
(「川端断水、9時から15時だって」 after 「12月8日9時から15時まで川端地区で断水します」): that is
公式発表の拡散, not a rumour. A post that says something else about the same thing
(「川端の断水は1週間続くらしい」) contradicts it, and the city's post is the source a correction
cites. Pure and in event time; the facts are read from the text itself, no model:

- **what** the post is about: the alarm words of the デマ lexicon (断水, 停電, 中止, 逃げ …);
- **where**: the profile's areas and named places (川端地区, 上森図書館);
- **when**: clock times (9時, 午後3時, 15:00, 9〜15時), dates (12月8日, 12/8, 8日(火), 今日,
  明日, あさって — read in Japan time from the post's own time), durations (6時間, 3日間,
  1週間, 数日, 復旧未定 …);
- **whether**: a denial (事実ではありません, デマです, 予定はありません) or a negated word
  (断水しない, 断水は中止).

`relation(post, announcement)` is UNRELATED when they share no alarm word or name different
places, or — for an announcement that asserts something — when the post adds alarm words it
does not imply (汚染 beside a 断水); CONTRADICTS when one denies what the other says, or a
time, date or duration of the post falls outside the announcement's; AGREES otherwise
(hearsay itself contradicts nothing). Measured on the generator's retellings and
contradictions (`tests/unit/test_announcements.py`), these facts tell a paraphrase from a
contradiction without a sentence-embedding model.

`Announcements` keeps the last `cap` announcements of `keep_s`, bounded, as JSON.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from vocabulary.records import JST
from streams.detectors.disaster_posts import VOCABULARY_FOLDED
from streams.detectors.misinformation_text import ALARM_WORDS, LINK, alternation, place_names
from streams.detectors.text import fold_phrases, normalize

UNRELATED, AGREES, CONTRADICTS = 0, 1, 2

#: Words a planned outage or closure implies (断水 → 水が出ない, 使えない): a retelling that
#: says them adds nothing the announcement did not say.
IMPLIED = {w: fold_phrases(ws) for w, ws in (
    ("断水", ("使えない", "飲めない", "水道")), ("停電", ("使えない",)),
    ("通行止め", ("使えない",)), ("閉鎖", ("使えない",)), ("休校", ("中止",)), ("中止", ("休校",)),
)}
_TOPICS = re.compile(alternation(ALARM_WORDS))
#: The city denies a claim it quotes (「…という情報がありますが、事実ではありません」).
_DENIAL = re.compile(alternation(fold_phrases((
    "事実ではありません", "事実はありません", "事実ではない", "事実じゃない", "デマです", "デマでした",
    "誤りです", "誤情報", "予定はありません", "計画はありません", "確認されていません", "確認されていない",
    "発生はありません", "デマ", "ガセ", "という情報", "との情報", "という噂", "といううわさ",
))))
#: A negated alarm word: 断水しない, 断水はありません, 断水は中止, 停電なし.
_NEGATED = re.compile(
    f"(?:{alternation(ALARM_WORDS)})(?:は|も|が|の予定は?|する予定は?|の話は?)?"
    "(?:し|され|する|実施し|実施され|起き|発生し|出)?(?:てい|て)?"
    "(?:ない|ません|ありません|なし|無し|中止|取りやめ|取り止め|なくなっ|なくな|延期)")
#: The whole municipality, where the announcement names one area (「市内全域で断水らしい」).
_EVERYWHERE = re.compile(alternation(fold_phrases(("全域", "市内全部", "町内全部", "全世帯", "市全体", "町全体"))))
#: Words of planned work: an announcement with them is a planned outage, not a disaster.
PLANNED = fold_phrases((
    "工事", "点検", "作業", "メンテナンス", "切り替え", "切替", "計画断水", "計画停電", "予定",
    "実施します", "のお知らせ", "お知らせ", "更新", "清掃",
))
_PLANNED = re.compile(alternation(PLANNED))

_NUM = r"(\d{1,2}|[一二三四五六七八九十]{1,2})"
_KANJI_DIGIT = {c: i for i, c in enumerate("〇一二三四五六七八九", 0)}
_CLOCK = re.compile(r"(午前|午後|朝|夕方|夜)?" + _NUM + r"(?:時(?!間)(半)?|:(\d{2}))")
_RANGE = re.compile(r"(午前|午後)?(\d{1,2})\s*(?:〜|~|-|ー|―|から)\s*(午前|午後)?(\d{1,2})時")
_DATE = re.compile(r"(\d{1,2})月(\d{1,2})日"  # 12月8日
                   r"|(?<![\d/])(\d{1,2})/(\d{1,2})(?![\d/])"  # 12/8
                   r"|(?<![\d月])(\d{1,2})日\s*(?:[(（][月火水木金土日]|から|に|まで|は|の)")  # 8日(火), 8日から
_RELATIVE = (("明後日", 2), ("あさって", 2), ("明日", 1), ("あした", 1), ("今日", 0), ("本日", 0))
_DURATION = re.compile(_NUM + r"\s*(時間|日間|週間|[かヵヶゖけケカ]月)"  # 6時間, 1週間, 1ヶ月
                       r"|" + _NUM + r"日(?:も|ほど|くらい|ぐらい)?(?:続|かか)")  # 3日続く
_UNIT_MIN = {"時間": 60, "日間": 1440, "週間": 10080}
OPEN_ENDED = 10 ** 7  # minutes: no end in sight
_OPEN = re.compile(alternation(fold_phrases((
    "しばらく", "長期", "未定", "見込みが立たない", "見込みなし", "見込みは立っていない",
    "めどが立たない", "目処が立たない", "めど立たない", "いつ復旧", "いつまで", "来週まで", "来月まで",
    "ずっと", "復旧しない",
))))


def _number(text: str) -> int:
    """1, 15, 一, 十五, 二十 → the number."""
    if text.isdigit():
        return int(text)
    tens, _, ones = text.rpartition("十")
    if "十" not in text:
        return _KANJI_DIGIT.get(text[-1], 0)
    return 10 * (_KANJI_DIGIT.get(tens, 0) if tens else 1) + (_KANJI_DIGIT.get(ones, 0) if ones else 0)


def _hour(half: str | None, hour: int) -> int:
    return hour + 12 if half in ("午後", "夕方", "夜") and hour < 12 else hour


@dataclass(frozen=True)
class Facts:
    """What one text says: its alarm words, places, times (minutes of the day), dates, duration."""

    topics: frozenset[str]
    places: frozenset[str]  # names of named places (川端 of 川端地区) and of the profile's areas
    times: frozenset[int]
    dates: frozenset[tuple[int, int]]
    span: int | None  # minutes, OPEN_ENDED when no end is in sight
    denies: bool  # a denial, or an alarm word negated
    norm: str = ""

    @property
    def checkable(self) -> bool:
        return bool(self.topics)


def read(text: str, ts: float, areas: Iterable[str] = (), about: frozenset[str] = frozenset()) -> Facts:
    """The facts of one text (`areas`: the profile's area names, folded like `normalize`); `about`:
    the alarm words of the post it quotes, for a text that names none (「これ、1週間続くらしい」)."""
    norm = normalize(text)
    topics = frozenset(_TOPICS.findall(norm)) or about
    if not topics:
        return Facts(frozenset(), frozenset(), frozenset(), frozenset(), None, False)
    places = {name.partition(":")[2] for name in place_names(norm)}
    places.update(a for a in areas if a and a in norm)
    times: set[int] = set()
    for first_half, a, second_half, b in _RANGE.findall(norm):
        times.add(_hour(first_half or second_half, int(a)) * 60)
        times.add(_hour(second_half or (first_half if int(b) > int(a) else ""), int(b)) * 60)
    for half, hour, thirty, minute in _CLOCK.findall(norm):
        h = _hour(half, _number(hour))
        if h <= 24:
            times.add(h * 60 + (30 if thirty else int(minute or 0)))
    day = datetime.fromtimestamp(ts, JST).date()
    dates: set[tuple[int, int]] = set()
    for m1, d1, m2, d2, d3 in _DATE.findall(LINK.sub(" ", norm)):
        if m1:
            dates.add((int(m1), int(d1)))
        elif m2:
            dates.add((int(m2), int(d2)))
        elif d3:
            dates.add((day.month if int(d3) >= day.day else (day.month % 12) + 1, int(d3)))
    for word, ahead in _RELATIVE:
        if word in norm:
            then = day + timedelta(days=ahead)
            dates.add((then.month, then.day))
    span: int | None = None
    for n1, unit, n2 in _DURATION.findall(norm):
        minutes = (_number(n1) * _UNIT_MIN.get(unit, 43200)) if n1 else _number(n2) * 1440
        span = max(span or 0, minutes)
    if "数日" in norm:
        span = max(span or 0, 3 * 1440)
    if _OPEN.search(norm):
        span = OPEN_ENDED
    denies = _DENIAL.search(norm) is not None or _NEGATED.search(norm) is not None
    return Facts(topics, frozenset(places), frozenset(times), frozenset(dates), span, denies, norm)


def _implied(topics: frozenset[str]) -> set[str]:
    out = set(topics)
    for t in topics:
        out.update(IMPLIED.get(t, ()))
    return out


def relation(post: Facts, ann: Facts) -> int:
    """Does a post retell an announcement (AGREES), contradict it, or speak of something else?"""
    shared = post.topics & ann.topics
    if not shared and not (post.topics & _implied(ann.topics) and ann.topics & _implied(post.topics)):
        return UNRELATED
    if post.places and not (any(p in ann.norm for p in post.places) or any(a in post.norm for a in ann.places)):
        return UNRELATED  # the post names places the announcement does not (本町, not 川端)
    if ann.denies:
        # The city denies the story it quotes: saying it happened contradicts it; a post
        # that also denies it (デマらしい) agrees.
        return AGREES if post.denies else CONTRADICTS
    if post.denies:
        return CONTRADICTS  # 「断水しないらしい」「断水は中止らしい」 against 「断水します」
    if not post.topics <= _implied(ann.topics):
        return UNRELATED  # a different story about the same thing (断水 and 汚染)
    if post.dates and ann.dates and not post.dates & ann.dates:
        return CONTRADICTS
    if ann.places and _EVERYWHERE.search(post.norm) and not _EVERYWHERE.search(ann.norm):
        return CONTRADICTS  # everywhere, where the city said 川端地区
    if post.times and ann.times and (min(post.times) < min(ann.times) or max(post.times) > max(ann.times)):
        return CONTRADICTS
    if post.span is not None:
        window = ann_span(ann)
        if window is not None and post.span > 2 * window + 60:
            return CONTRADICTS  # 「1週間続くらしい」 against 9時から15時
    return AGREES


def ann_span(ann: Facts) -> int | None:
    """How long the announced thing lasts, in minutes, if the announcement says."""
    if ann.span is not None:
        return ann.span
    if len(ann.times) >= 2:
        return (max(ann.times) - min(ann.times)) * max(1, len(ann.dates))
    return None


def planned(text: str) -> bool:
    """An announcement of planned work (工事・点検のため…断水します), not of a disaster."""
    norm = normalize(text)
    return _PLANNED.search(norm) is not None and _DENIAL.search(norm) is None


#: The disaster words an announcement of planned work can explain (the disaster lexicon's).
OUTAGE_WORDS = fold_phrases(("断水", "停電", "通行止め"))
#: … and words that make it the report of an emergency instead (地震の影響で断水, 緊急断水).
_EMERGENCY = fold_phrases(("災害", "破裂", "漏水", "事故", "緊急", "復旧作業", "復旧の見込み"))


def planned_outage(text: str, ts: float) -> tuple[frozenset[str], float | None] | None:
    """An announcement of a planned outage: its outage words (断水) and the end of the last day it
    names (Japan time, plus six hours), or None for anything else (a disaster, a denial)."""
    norm = normalize(text)
    words = frozenset(w for w in OUTAGE_WORDS if w in norm)
    if not words or not planned(text) or any(w in norm for w in _EMERGENCY):
        return None
    if any(w in norm for w in VOCABULARY_FOLDED if w not in OUTAGE_WORDS):
        return None  # 地震, 大雨, 被害 …: a disaster, whatever the work it mentions
    today = datetime.fromtimestamp(ts, JST)
    ends = []
    for month, day in read(text, ts, ()).dates:
        try:
            start = datetime(today.year + (month < today.month), month, day, tzinfo=JST)
        except ValueError:
            continue
        ends.append(start.timestamp() + 86400 + 6 * 3600)
    return words, max(ends) if ends else None


class Announcements:
    """The city's recent posts that say something checkable, oldest first: [post id, ts, url, text,
    retellings] — how many marked posts retold it (公式発表の拡散) instead of starting a claim."""

    def __init__(self, state: list[list[Any]] | None = None, *, areas: Iterable[str] = (),
                 keep_s: int = 7 * 86400, cap: int = 30) -> None:
        self.keep_s, self.cap = keep_s, cap
        self.areas = tuple(normalize(a) for a in areas)
        self.items: list[list[Any]] = []
        self._facts: dict[str, Facts] = {}
        for item in state or ():
            self._add([*item, 0][:5])

    def _add(self, item: list[Any]) -> None:
        facts = read(item[3], item[1], self.areas)
        if facts.checkable:
            self.items.append(item)
            self._facts[item[0]] = facts

    def remember(self, post_id: str, ts: float, text: str, url: str | None) -> bool:
        """Keep the city's post if it says something checkable. Its URL is the post's own (an
        `official_post` event gives it), else the first link of its text (a page with the details)."""
        for item in self.items:
            if item[0] == post_id:
                item[2] = url or item[2]
                return True
        before = len(self.items)
        self._add([post_id, ts, url or _first_link(text), text[:280], 0])
        if len(self.items) == before:
            return False
        self.forget(ts)
        while len(self.items) > self.cap:
            self._facts.pop(self.items.pop(0)[0], None)
        return True

    def forget(self, now: float) -> None:
        while self.items and now - self.items[0][1] > self.keep_s:
            self._facts.pop(self.items.pop(0)[0], None)

    def judge(self, text: str, ts: float, quoting: str | None = None) -> tuple[int, list[Any] | None]:
        """The post's relation to the most recent announcement it speaks of (a contradiction
        of any wins over an agreement), with that announcement; or, for a quote, to the quoted one."""
        if not self.items:
            return UNRELATED, None
        quoted = self._facts.get(quoting) if quoting is not None else None
        facts = read(text, ts, self.areas, quoted.topics if quoted is not None else frozenset())
        if not facts.checkable:
            return UNRELATED, None
        agreed = None
        for item in reversed(self.items):
            if quoted is not None and item[0] != quoting:
                continue
            if item[1] > ts:
                continue
            found = relation(facts, self._facts[item[0]])
            if found == CONTRADICTS:
                return CONTRADICTS, item
            if found == AGREES and agreed is None:
                agreed = item
        if agreed is None:
            return UNRELATED, None
        agreed[4] += 1
        return AGREES, agreed

    def to_state(self) -> list[list[Any]]:
        return [list(i) for i in self.items]


def _first_link(text: str) -> str | None:
    found = LINK.search(text)
    return found.group(0) if found else None
