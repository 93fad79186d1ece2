"""Japanese-first text normalisation shared by every detector.

NFKC folds full/half width; URLs and @handles are removed so that two posts
differing only in a link or an addressee compare equal; katakana is folded to
hiragana so kana variants of the same word match.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_URL = re.compile(r"https?://\S+")
_HANDLE = re.compile(r"@[A-Za-z0-9_.\-]+")
_SPACE = re.compile(r"\s+")
KATA_TO_HIRA = {cp: cp - 0x60 for cp in range(0x30A1, 0x30F7)}


@lru_cache(maxsize=8192)  # several detectors normalise the same post; reposts repeat texts
def normalize(text: str) -> str:
    """NFKC, URLs and @handles out, katakana as hiragana, lower case, spaces folded.

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
    text = unicodedata.normalize("NFKC", text)
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
