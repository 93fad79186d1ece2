"""Japanese-first text normalisation shared by every detector.

`canonical` is the one normalisation every detector compares text through: NFKC (full/half
width), invisible characters out (zero-width spaces and joiners, BOM, soft hyphen), and what
neologdn does for Japanese — spaces between Japanese characters dropped (謝 罪しろ), a wave
dash that stretches a kana out (ありえな〜い), runs of ー shortened — so a word cannot hide
behind a disguise. `normalize` builds on it for matching words: URLs and @handles are
removed so that two posts differing only in a link or an addressee compare equal, katakana
is folded to hiragana so kana variants of the same word match, and case is folded.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_URL = re.compile(r"https?://\S+")
_HANDLE = re.compile(r"@[A-Za-z0-9_.\-]+")
_SPACE = re.compile(r"\s+")
KATA_TO_HIRA = {cp: cp - 0x60 for cp in range(0x30A1, 0x30F7)}

#: Default-ignorable characters: they show nothing, so they can split a word unseen.
INVISIBLE = dict.fromkeys(
    [0x00AD, 0x034F, 0x061C, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x3164, 0xFEFF, 0xFFA0]
    + list(range(0x180B, 0x1810)) + list(range(0x200B, 0x2010)) + list(range(0x202A, 0x202F))
    + list(range(0x2060, 0x2070)) + list(range(0xFE00, 0xFE10)) + list(range(0x1BCA0, 0x1BCA4))
    + list(range(0xE0000, 0xE0080)))
_JA = "\u3001-\u303f\u3041-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
#: Whitespace between two Japanese characters (Japanese is written without spaces).
_JA_SPACE = re.compile(f"(?<=[{_JA}])\\s+(?=[{_JA}])")
#: A wave dash or tilde after kana stretches the word (ありえな〜い, すご〜); after a digit or a
#: kanji it is a range (9時〜15時) and stays.
_STRETCH = re.compile("(?<=[\u3041-\u3096\u30a1-\u30fa\u30fc])[~\u223c\u223e\u301c\u3030]+")
_LONG_RUN = re.compile("ー{2,}")


def char_class(codepoints: object) -> str:
    """A regex character class of `codepoints` in ranges (a long list of single characters,
    some beyond the BMP, is searched one by one)."""
    runs: list[list[int]] = []
    for cp in sorted(set(codepoints)):  # type: ignore[call-overload]
        if runs and cp == runs[-1][1] + 1:
            runs[-1][1] = cp
        else:
            runs.append([cp, cp])
    return "[" + "".join(re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}"
                         for a, b in runs) + "]"


#: Anything `canonical` changes after NFKC: one scan, so that most texts need no more. A class
#: of BMP characters is a bitmap; the few invisible ones beyond it get a class of their own.
_STRETCHERS = "~\u223c\u223e\u301c\u3030\uff5e"
_MAY_CHANGE = re.compile(char_class([c for c in INVISIBLE if c <= 0xFFFF] + list(map(ord, _STRETCHERS)))
                         + f"|ーー|[{_JA}]\\s|" + char_class([c for c in INVISIBLE if c > 0xFFFF]))


def canonical(text: str) -> str:
    """NFKC, invisible characters out, and Japanese written the usual way: no spaces between
    Japanese characters (but after a #hashtag), no stretching 〜, one ー for a run of them."""
    if text.isascii():
        return text  # nothing to fold: the common case of handles and links
    text = unicodedata.normalize("NFKC", text)  # keeps the invisible characters (or makes them)
    if _MAY_CHANGE.search(text) is None:
        return text
    text = _LONG_RUN.sub("ー", _STRETCH.sub("", text.translate(INVISIBLE)))
    return _JA_SPACE.sub(_join, text)


def _join(gap: re.Match[str]) -> str:
    """Drop a space between Japanese characters, unless it ends a hashtag (#豪雨 助けて)."""
    text, at = gap.string, gap.start()
    word_start = max(text.rfind(" ", 0, at), text.rfind("\n", 0, at), text.rfind("\u3000", 0, at))
    return gap.group(0) if text.rfind("#", word_start + 1, at) >= 0 else ""


#: ー after kana stretches a word (ありえなーい, すごーい); `unstretched` drops it for a second
#: look at wording (not in `normalize`: うーん and あーあ are not うん and ああ).
_KANA_LONG = re.compile("(?<=[\u3041-\u3096])ー")


def unstretched(normalized: str) -> str:
    """A `normalize`d text without the ー that stretches hiragana (ありえなーい → ありえない)."""
    return _KANA_LONG.sub("", normalized) if "ー" in normalized else normalized


@lru_cache(maxsize=8192)  # several detectors normalise the same post; reposts repeat texts
def normalize(text: str) -> str:
    """`canonical`, URLs and @handles out, katakana as hiragana, lower case, spaces folded.

    Several detectors normalise the same post as it passes: the last few answers
    are kept (a small bounded cache; the function is pure)."""
    found = _RECENT.get(text)
    if found is None:
        found = _normalize(text)
        if len(_RECENT) >= _RECENT_CAP:
            _RECENT.clear()
        _RECENT[text] = found
    return found


_RECENT: dict[str, str] = {}
_RECENT_CAP = 64


def _normalize(text: str) -> str:
    text = canonical(text)
    text = _URL.sub(" ", text)
    text = _HANDLE.sub(" ", text)
    text = text.translate(KATA_TO_HIRA).lower()
    return _SPACE.sub(" ", text).strip()


def contains_any(normalized: str, phrases: tuple[str, ...]) -> bool:
    return _alternation(phrases).search(normalized) is not None


@lru_cache(maxsize=256)
def _alternation(phrases: tuple[str, ...]) -> re.Pattern[str]:
    """One compiled pattern per phrase list: the search runs in C, not a Python loop."""
    longest_first = sorted(phrases, key=len, reverse=True)
    return re.compile("|".join(map(re.escape, longest_first)) or r"(?!)")


def fold_phrases(phrases: tuple[str, ...]) -> tuple[str, ...]:
    """Put lexicon entries through the same normalisation as the posts."""
    return tuple(dict.fromkeys(normalize(p) for p in phrases if normalize(p)))
