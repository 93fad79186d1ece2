"""Japanese-first text normalisation shared by every detector.

NFKC folds full/half width; URLs and @handles are removed so that two posts
differing only in a link or an addressee compare equal; katakana is folded to
hiragana so kana variants of the same word match.
"""

from __future__ import annotations

import re
import unicodedata

_URL = re.compile(r"https?://\S+")
_HANDLE = re.compile(r"@[A-Za-z0-9_.\-]+")
_SPACE = re.compile(r"\s+")
_KATA_TO_HIRA = {cp: cp - 0x60 for cp in range(0x30A1, 0x30F7)}


def normalize(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    text = _URL.sub(" ", text)
    text = _HANDLE.sub(" ", text)
    text = text.translate(_KATA_TO_HIRA).lower()
    return _SPACE.sub(" ", text).strip()


def contains_any(normalized: str, phrases: tuple[str, ...]) -> bool:
    return any(p in normalized for p in phrases)


def fold_phrases(phrases: tuple[str, ...]) -> tuple[str, ...]:
    """Put lexicon entries through the same normalisation as the posts."""
    return tuple(dict.fromkeys(normalize(p) for p in phrases if normalize(p)))
