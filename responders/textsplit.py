"""How long a post is on X, Bluesky and Mastodon, Bluesky's link facets, and splitting into a thread.

Pure functions: text in, numbers or parts out. Each platform counts differently — X weighs code
points (a Japanese character 2, ASCII 1) and counts every link as 23; Bluesky counts grapheme
clusters (and at most 3000 UTF-8 bytes) and makes links clickable only through facets; Mastodon
counts characters with every link as 23 — so a statement is measured and split by the rules of
the platform it goes to, and a part that fits here fits there.
"""

from __future__ import annotations

import sys
import unicodedata
from dataclasses import dataclass
from typing import Any, Literal

import regex

Platform = Literal["x", "bluesky", "mastodon"]
PLATFORMS: tuple[Platform, ...] = ("x", "bluesky", "mastodon")

X_MAX_WEIGHT = 280  # twitter-text v3 maxWeightedTweetLength / scale: 140 Japanese characters
BLUESKY_MAX_GRAPHEMES = 300
BLUESKY_MAX_BYTES = 3000  # app.bsky.feed.post text maxLength, in UTF-8 bytes
MASTODON_MAX_CHARACTERS = 500  # the default; instances may allow more
LINK_LENGTH = 23  # X's transformedURLLength and Mastodon's characters_reserved_per_url
DEFAULT_LIMITS: dict[Platform, int] = {
    "x": X_MAX_WEIGHT,
    "bluesky": BLUESKY_MAX_GRAPHEMES,
    "mastodon": MASTODON_MAX_CHARACTERS,
}
MIN_LIMIT = 20  # a part must hold its numbering and some text
NUMBERING = "（{index}/{total}）"  # appended to every part of a thread, and counted

# twitter-text v3: code points in these ranges weigh 100, all others 200 (scale 100).
_X_LIGHT = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))
_EMOJI = regex.compile(r"\p{Extended_Pictographic}|\p{Regional_Indicator}|\u20e3")
_GRAPHEME = regex.compile(r"\X")

_URL_CHARS = r"A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%"
_URL = regex.compile(rf"https?://[A-Za-z0-9][{_URL_CHARS}]*", regex.IGNORECASE)
# A bare domain such as city.example.lg.jp: X links it too (and counts it 23), so it is never cut.
_DOMAIN = regex.compile(
    rf"(?<![A-Za-z0-9@._/\-])(?:[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?\.)+[A-Za-z]{{2,63}}"
    rf"(?![A-Za-z0-9\-@])(?:/[{_URL_CHARS}]*)?"
)
_URL_TRAILING = ".,:;!?'*"  # punctuation after a link ends the sentence, not the link

_TERMINATORS = frozenset("。！？｡")
_ASCII_TERMINATORS = frozenset(".!?")
_CLOSERS = frozenset("」』）)］]】〕〉》〙〗〟’”\"'")
_CLAUSE_MARKS = frozenset("、，､")
_ASCII_CLAUSE_MARKS = frozenset(",;")
_NEWLINES = frozenset(("\n", "\r\n", "\r"))
_ASCII_WORD = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789@._/-:~%#?=&+")
# 禁則処理: no part starts with these, none ends with the openers.
_NO_START = frozenset(
    "、。，．,.・：；:;？！?!）)］]｝}〕〉》」』】〙〗〟’”ヽヾーァィゥェォッャュョヮヵヶ"
    "ぁぃぅぇぉっゃゅょゎゕゖ々〻‐゠–〜～…‥"
)
_NO_END = frozenset("（(［[｛{〔〈《「『【〘〖〝‘“")


@dataclass(frozen=True, slots=True)
class _Atom:
    """What splitting never cuts: one grapheme cluster, or a whole link."""

    text: str
    link: Literal["url", "domain"] | None = None

    @property
    def space(self) -> bool:
        return self.link is None and self.text.isspace()


def urls(text: str) -> list[str]:
    """The http(s) links in `text`, in order, as a reader (and a linkifier) would delimit them."""
    return [text[start:end] for start, end, kind in _links(text) if kind == "url"]


def length(text: str, platform: Platform) -> int:
    """What `platform` counts: X's weighted length, Bluesky's graphemes, Mastodon's characters."""
    return _measure(_atoms(_normalized(text, platform)), platform)[0]


def fits(text: str, platform: Platform, limit: int | None = None) -> bool:
    """Whether `text` can be one post on `platform` (Bluesky: also within 3000 bytes)."""
    units, size = _measure(_atoms(_normalized(text, platform)), platform)
    cap, byte_cap = _caps(platform, limit)
    return units <= cap and size <= byte_cap


def bluesky_facets(text: str) -> list[dict[str, Any]]:
    """`app.bsky.richtext.facet` entries that make every http(s) link in `text` clickable.

    Bluesky shows links only where a facet says so; facet ranges are UTF-8 *byte* offsets,
    so a link after Japanese text (3 bytes a character) starts far beyond its character index.
    """
    facets: list[dict[str, Any]] = []
    for start, end, kind in _links(text):
        if kind != "url":
            continue
        byte_start = len(text[:start].encode("utf-8"))
        facets.append(
            {
                "index": {
                    "byteStart": byte_start,
                    "byteEnd": byte_start + len(text[start:end].encode("utf-8")),
                },
                "features": [{"$type": "app.bsky.richtext.facet#link", "uri": text[start:end]}],
            }
        )
    return facets


def split_thread(text: str, platform: Platform, limit: int | None = None) -> list[str]:
    """`text` as the parts of a thread on `platform`, each within `limit` (the platform's own unit).

    A text that fits is one part. Otherwise parts end at a sentence (。！？!? or a line break),
    else at 、 or a space, else between any two characters that 禁則 allows; links and
    grapheme clusters are never cut. Every part ends with a counted `（i/n）`. A link longer
    than a whole part stays whole in a part of its own, over the limit: only Bluesky counts
    links as written, so only there can that happen, and `fits` tells.
    For X the parts are NFC-normalised, as X counts them.
    """
    caps = _caps(platform, limit)
    text = _normalized(text, platform).strip()
    if not text:
        raise ValueError("nothing to post: the text is blank")
    atoms = _atoms(text)
    units, size = _measure(atoms, platform)
    if units <= caps[0] and size <= caps[1]:
        return [text]
    costs = [_cost(atom, platform) for atom in atoms]
    digits = 1
    while True:
        widest = NUMBERING.format(index="9" * digits, total="9" * digits)
        spans = _fill(atoms, costs, caps, _measure(_atoms(widest), platform), platform)
        if len(spans) < 10**digits:
            break
        digits += 1
    total = len(spans)
    return [_numbered(atoms, span, index, total) for index, span in enumerate(spans, 1)]


def _normalized(text: str, platform: Platform) -> str:
    return unicodedata.normalize("NFC", text) if platform == "x" else text


def _caps(platform: Platform, limit: int | None) -> tuple[int, int]:
    if platform not in DEFAULT_LIMITS:
        raise ValueError(f"unknown platform {platform!r}: expected one of {', '.join(PLATFORMS)}")
    cap = DEFAULT_LIMITS[platform] if limit is None else limit
    if cap < MIN_LIMIT:
        raise ValueError(f"limit {cap} is too small: a part must hold at least {MIN_LIMIT}")
    return cap, BLUESKY_MAX_BYTES if platform == "bluesky" else sys.maxsize


def _links(text: str) -> list[tuple[int, int, Literal["url", "domain"]]]:
    found: list[tuple[int, int, Literal["url", "domain"]]] = []
    for match in _URL.finditer(text):
        found.append((match.start(), match.start() + len(_trim(match.group())), "url"))
    gap_starts = [0] + [end for _, end, _ in found]
    gap_ends = [start for start, _, _ in found] + [len(text)]
    for gap_start, gap_end in zip(gap_starts, gap_ends):
        for match in _DOMAIN.finditer(text, gap_start, gap_end):
            found.append((match.start(), match.start() + len(_trim(match.group())), "domain"))
    return sorted(found)


def _trim(link: str) -> str:
    while True:
        if link[-1] in _URL_TRAILING:
            link = link[:-1]
        elif link[-1] == ")" and link.count(")") > link.count("("):
            link = link[:-1]
        elif link[-1] == "]" and link.count("]") > link.count("["):
            link = link[:-1]
        else:
            return link


def _atoms(text: str) -> list[_Atom]:
    atoms: list[_Atom] = []
    position = 0
    for start, end, kind in _links(text):
        atoms.extend(_Atom(g) for g in _GRAPHEME.findall(text, position, start))
        atoms.append(_Atom(text[start:end], kind))
        position = end
    atoms.extend(_Atom(g) for g in _GRAPHEME.findall(text, position))
    return atoms


def _x_weight(code_point: str) -> int:
    value = ord(code_point)
    return 1 if any(low <= value <= high for low, high in _X_LIGHT) else 2


def _cost(atom: _Atom, platform: Platform) -> tuple[int, int]:
    """(units the platform counts, UTF-8 bytes where the platform also limits those)."""
    if platform == "x":
        if atom.link == "url":
            return LINK_LENGTH, 0
        weight = sum(map(_x_weight, atom.text))
        if atom.link == "domain":
            # X may or may not link a bare domain (it depends on its TLD list): count the longer.
            return max(weight, LINK_LENGTH), 0
        # An emoji sequence counts 2. © and ® are pictographic too: 2 here where X may say 1.
        return (2 if _EMOJI.search(atom.text) else weight), 0
    if platform == "mastodon":
        return (LINK_LENGTH if atom.link == "url" else len(atom.text) if atom.link else 1), 0
    return (len(atom.text) if atom.link else 1), len(atom.text.encode("utf-8"))


def _measure(atoms: list[_Atom], platform: Platform) -> tuple[int, int]:
    units = size = 0
    for atom in atoms:
        unit, byte = _cost(atom, platform)
        units += unit
        size += byte
    return units, size


def _fill(
    atoms: list[_Atom],
    costs: list[tuple[int, int]],
    caps: tuple[int, int],
    reserve: tuple[int, int],
    platform: Platform,
) -> list[tuple[int, int]]:
    """Spans (start, stop) of atoms, one per part, each leaving `reserve` for the numbering."""
    room = (caps[0] - reserve[0], caps[1] - reserve[1])
    separator = _measure([_Atom(" ")], platform)  # between a link and the numbering
    spans: list[tuple[int, int]] = []
    start, count = 0, len(atoms)
    while True:
        while start < count and atoms[start].space:
            start += 1
        if start == count:
            return spans
        units = size = 0
        fit_end = start
        for end in range(start + 1, count + 1):
            units += costs[end - 1][0]
            size += costs[end - 1][1]
            if atoms[end - 1].space:
                continue
            extra = separator if atoms[end - 1].link else (0, 0)
            if units + extra[0] > room[0] or size + extra[1] > room[1]:
                break
            fit_end = end
        else:
            spans.append((start, fit_end))
            return spans
        cut = start + 1 if fit_end == start else _best_cut(atoms, costs, start, fit_end, room[0])
        stop = cut
        while atoms[stop - 1].space:
            stop -= 1
        spans.append((start, stop))
        start = cut


def _best_cut(atoms: list[_Atom], costs: list[tuple[int, int]], start: int, fit_end: int, room: int) -> int:
    """Where to end a part that may run to `fit_end`: a late sentence end, else a clause end, ..."""
    half = room // 2
    last: dict[str, int] = {}
    filled = 0
    for cut in range(start + 1, fit_end + 1):
        filled += costs[cut - 1][0]
        kind = _break_kind(atoms, cut)
        if kind is None:
            continue
        last[kind] = cut
        if filled >= half:
            last[kind + "_late"] = cut
    for choice in ("sentence_late", "clause_late"):
        if choice in last:
            return last[choice]
    soft = max(last.get("sentence", 0), last.get("clause", 0))
    return soft or last.get("hard", fit_end)


def _break_kind(atoms: list[_Atom], cut: int) -> str | None:
    """What kind of place it is between atoms[cut - 1] and atoms[cut], or None if no place at all."""
    before = atoms[cut - 1]
    after = atoms[cut] if cut < len(atoms) else _Atom(" ")
    if before.text in _NEWLINES:
        return "sentence"
    if after.text in _NO_START or before.text in _NO_END:
        return None
    if _ends_sentence(atoms, cut, after):
        return "sentence"
    if (
        before.space
        or after.space
        or before.text in _CLAUSE_MARKS
        or (before.text in _ASCII_CLAUSE_MARKS and not _ascii_alnum(after.text[0]))
    ):
        return "clause"
    if unicodedata.category(after.text[0]).startswith("M") or after.text[0] in "\u200d\ufe0f":
        return None  # a mark left over next to a link: it belongs to what precedes
    if before.text[-1] in _ASCII_WORD and after.text[0] in _ASCII_WORD:
        return None  # inside a word, a number or something like an address: cutting may make a link
    return "hard"


def _ends_sentence(atoms: list[_Atom], cut: int, after: _Atom) -> bool:
    if after.text in _CLOSERS or after.text in _TERMINATORS or after.text in _ASCII_TERMINATORS:
        return False  # the sentence ends after its closing bracket or its last !
    index = cut - 1
    while index >= 0 and atoms[index].text in _CLOSERS:
        index -= 1
    if index < 0 or atoms[index].link:
        return False
    mark = atoms[index].text
    if mark in _TERMINATORS:
        return True
    return mark in _ASCII_TERMINATORS and not _ascii_alnum(after.text[0])


def _ascii_alnum(char: str) -> bool:
    return char.isascii() and char.isalnum()


def _numbered(atoms: list[_Atom], span: tuple[int, int], index: int, total: int) -> str:
    start, stop = span
    body = "".join(atom.text for atom in atoms[start:stop])
    separator = " " if atoms[stop - 1].link else ""
    return body + separator + NUMBERING.format(index=index, total=total)
