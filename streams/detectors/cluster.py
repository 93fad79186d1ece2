"""Near-duplicate clustering of short Japanese posts: the claim index behind デマ detection.

A post is seen through two views of its *content* (the normalised text without
hashtags, 【…】 brackets, punctuation, emoji, rumour markers and the
municipality's own names): a set of character bigrams, found through MinHash
with LSH banding and confirmed by Jaccard similarity, and a set of content
keywords (kanji bigrams, katakana words, latin words), found through an
inverted index and confirmed by containment, which joins paraphrases that share
few characters but the same key words (給食, 食中毒). Everything is hand-written
on the standard library with deterministic integer hashing, so a rebuilt index
gives the same candidates in any process.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

# Posts are short; a long one is judged by its beginning, which also bounds the work.
MAX_CONTENT_CHARS = 80
MAX_TOKENS = 32

_DROP = re.compile(r"#\S+|【[^】]*】|\[[^\]]*\]")
_NON_CONTENT = re.compile(
    "[^0-9a-z\u3041-\u3096\u309d\u309e\u30a1-\u30fa\u30fc\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff々〆]+")
_KANJI_RUN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff々〆]{2,}")
_LATIN_RUN = re.compile("[0-9a-z]{2,}")
_KATAKANA_RUN = re.compile("[\u30a1-\u30fa][\u30a1-\u30fa\u30fc]+")
_KATA_TO_HIRA = {cp: cp - 0x60 for cp in range(0x30A1, 0x30F7)}

#: Keywords too common in any post to say what it is about (katakana ones as folded).
STOP_TOKENS = frozenset({
    "今日", "明日", "昨日", "今年", "来年", "去年", "今週", "来週", "先週", "毎日", "今回", "本当",
    "拡散", "情報", "友達", "自分", "場合", "時間", "大丈", "丈夫", "一応", "全然", "丁目", "付近",
    "でま", "まじ", "ほんと", "がち", "そーす", "にゅーす", "しぇあ", "りついーと",
})

# One-permutation MinHash: one multiply-xorshift per bigram, its top bits pick
# one of SIGNATURE_BINS bins, the rest is the value kept if smallest.
SIGNATURE_BINS = 16
ROWS_PER_BAND = 2
_BIN_SHIFT = 64 - 4  # log2(SIGNATURE_BINS) == 4
_MASK64 = (1 << 64) - 1
_VALUE_MASK = (1 << _BIN_SHIFT) - 1
_MIX = 0x9E3779B97F4A7C15
_EMPTY = -1


def cleaned(normalized: str, strip: re.Pattern[str] | None) -> str:
    """`normalize`d text less tags, brackets and (by `strip`) markers and names; gaps left as spaces."""
    text = _DROP.sub(" ", normalized)
    return strip.sub(" ", text) if strip is not None else text


def content_of(clean: str) -> str:
    """The characters that carry the claim, without symbols, emoji or spaces."""
    return _NON_CONTENT.sub("", clean)[:MAX_CONTENT_CHARS]


def kanji_bigrams(text: str) -> list[str]:
    found: list[str] = []
    for run in _KANJI_RUN.findall(text):
        found.extend([run[i:i + 2] for i in range(len(run) - 1)])
    return found


def keywords(clean: str, raw: str = "") -> frozenset[str]:
    """Content keywords: bigrams of kanji runs, latin words, and katakana words of the raw text.

    Runs are taken where the text leaves them (punctuation and removed words
    split them), so no keyword straddles two phrases. Katakana is folded into
    hiragana by `normalize`, where it can no longer be told from particles, so
    katakana words are read from the raw text.
    """
    found = kanji_bigrams(clean)
    found.extend(_LATIN_RUN.findall(clean))
    if raw:
        found.extend(katakana_words(raw))
    tokens = [t for t in dict.fromkeys(found) if t not in STOP_TOKENS]
    return frozenset(tokens[:MAX_TOKENS])


def katakana_words(raw: str) -> list[str]:
    return [w.translate(_KATA_TO_HIRA) for w in _KATAKANA_RUN.findall(raw)]


def shingles(content: str) -> frozenset[int]:
    """Character bigrams as exact integers (two 21-bit code points): no hashing, no collisions."""
    codes = [ord(c) for c in content]
    return frozenset([(a << 21) | b for a, b in zip(codes, codes[1:])])


def signature(bigrams: Iterable[int]) -> list[int]:
    sig = [_EMPTY] * SIGNATURE_BINS
    for x in bigrams:
        g = (x * _MIX) & _MASK64
        g ^= g >> 29
        b = g >> _BIN_SHIFT
        v = g & _VALUE_MASK
        if sig[b] == _EMPTY or v < sig[b]:
            sig[b] = v
    return sig


def band_keys(sig: list[int]) -> tuple[tuple[int, int, int], ...]:
    """LSH bands of ROWS_PER_BAND bins each; a band with an empty bin gives no key."""
    keys = []
    for band in range(0, SIGNATURE_BINS, ROWS_PER_BAND):
        rows = sig[band:band + ROWS_PER_BAND]
        if _EMPTY not in rows:
            keys.append((band, rows[0], rows[1]))
    return tuple(keys)


def names_conflict(ours: frozenset[str], theirs: frozenset[str]) -> bool:
    """Do two posts name different places of one kind (上森図書館, 本松図書館)?

    Names are "kind:name" (see the detector's `place_names`); 市立白鷺 and 白鷺 before
    the same 動物園 are one place, since one ends with the other.
    """
    if not ours or not theirs:
        return False
    for mine in ours:
        kind, _, name = mine.partition(":")
        others = [t.partition(":")[2] for t in theirs if t.startswith(kind + ":")]
        if others and not any(name.endswith(o) or o.endswith(name) for o in others):
            return True
    return False


@dataclass(slots=True)
class Features:
    """Both views of one post's content (and the places it names); `bands` only when the post
    is looked up by LSH."""

    content: str
    tokens: frozenset[str]
    shingles: frozenset[int]
    bands: tuple[tuple[int, int, int], ...]
    names: frozenset[str] = frozenset()

    @classmethod
    def of(cls, content: str, tokens: frozenset[str], *, lsh: bool = True,
           names: frozenset[str] = frozenset()) -> Features:
        sh = shingles(content)
        return cls(content, tokens, sh, band_keys(signature(sh)) if sh and lsh else (), names)

    @property
    def empty(self) -> bool:
        return not self.shingles and not self.tokens


def jaccard(a: frozenset[int], b: frozenset[int]) -> float:
    if not a or not b:
        return 0.0
    shared = len(a & b)
    return shared / (len(a) + len(b) - shared)


@dataclass(frozen=True)
class Thresholds:
    jaccard: float = 0.5  # bigram Jaccard with the cluster's representative: a near-duplicate
    containment: float = 0.6  # share of the post's keywords that the cluster already has
    min_shared: int = 2  # … and at least this many of them, so two words can't chain claims
    max_posting: int = 32  # an index entry shared by more clusters is too common to suggest any


class NearDuplicateIndex:
    """Clusters by key: representative bigrams and keywords, LSH buckets and keyword postings.

    Its size follows the clusters it holds: at most SIGNATURE_BINS / ROWS_PER_BAND
    buckets and MAX_TOKENS plus the learnt keywords per cluster, so capping the
    clusters (the detector does) caps the index.

    Buckets and postings are sets, and a candidate's order never matters
    (the best is chosen by score, then key), so the index rebuilt from the
    same clusters answers exactly as the one built live. Clusters can be
    *watched*: those alone are offered to posts that `touches` lets through,
    so that the many posts that could only join harmless clusters cost little.
    """

    __slots__ = ("thresholds", "_shingles", "_bands", "_tokens", "_names", "_buckets", "_postings",
                 "_watched", "_watch_postings")

    def __init__(self, thresholds: Thresholds | None = None) -> None:
        self.thresholds = thresholds or Thresholds()
        self._shingles: dict[str, frozenset[int]] = {}
        self._bands: dict[str, tuple[tuple[int, int, int], ...]] = {}
        self._tokens: dict[str, set[str]] = {}
        self._names: dict[str, frozenset[str]] = {}
        self._buckets: dict[tuple[int, int, int], set[str]] = {}
        self._postings: dict[str, set[str]] = {}
        self._watched: set[str] = set()
        self._watch_postings: dict[str, set[str]] = {}

    def __len__(self) -> int:
        return len(self._tokens)

    def __contains__(self, key: object) -> bool:
        return key in self._tokens

    def add(self, key: str, feats: Features) -> None:
        if key in self._tokens:
            self.remove(key)
        self._shingles[key] = feats.shingles
        self._names[key] = feats.names
        self._bands[key] = feats.bands
        for band in feats.bands:
            self._buckets.setdefault(band, set()).add(key)
        self._tokens[key] = set()
        self.extend(key, feats.tokens)

    def extend(self, key: str, tokens: Iterable[str]) -> None:
        """Teach a cluster words of its members (paraphrases widen what it recognises)."""
        vocab = self._tokens[key]
        watched = key in self._watched
        for token in tokens:
            if token not in vocab:
                vocab.add(token)
                self._postings.setdefault(token, set()).add(key)
                if watched:
                    self._watch_postings.setdefault(token, set()).add(key)

    def watch(self, key: str) -> None:
        if key not in self._watched:
            self._watched.add(key)
            for token in self._tokens[key]:
                self._watch_postings.setdefault(token, set()).add(key)

    def vocabulary(self, key: str) -> set[str]:
        return self._tokens[key]

    def names(self, key: str) -> frozenset[str]:
        return self._names[key]

    def add_names(self, key: str, names: Iterable[str]) -> None:
        self._names[key] = self._names[key].union(names)

    def holders(self, token: str) -> set[str] | frozenset[str]:
        """The clusters whose vocabulary has `token`."""
        return self._postings.get(token, _NONE)

    def remove(self, key: str) -> None:
        for band in self._bands.pop(key, ()):
            _discard(self._buckets, band, key)
        watched = key in self._watched
        self._watched.discard(key)
        for token in self._tokens.pop(key, ()):
            _discard(self._postings, token, key)
            if watched:
                _discard(self._watch_postings, token, key)
        self._shingles.pop(key, None)
        self._names.pop(key, None)

    def touches(self, raw: str) -> bool:
        """Cheap test before the full match: do watched clusters know `min_shared` words of `raw`?

        Read straight from the raw text, whose kanji bigrams and katakana words
        include every keyword its cleaned form can have (names and markers only
        split runs), so no post that shares enough keywords with a watched cluster
        is turned away; a post that could only be a near-duplicate by characters
        with one keyword or none is (unmarked posts only dilute and spread claims).
        """
        postings = self._watch_postings
        if not postings:
            return False
        limit = self.thresholds.max_posting  # as in `candidates`: words that common suggest nothing
        needed = self.thresholds.min_shared
        hits: set[str] = set()
        for run in _KANJI_RUN.findall(raw):
            for i in range(len(run) - 1):
                token = run[i:i + 2]
                members = postings.get(token)
                if members and len(members) <= limit:
                    hits.add(token)
                    if len(hits) >= needed:
                        return True
        for word in _KATAKANA_RUN.findall(raw):
            token = word.translate(_KATA_TO_HIRA)
            members = postings.get(token)
            if members and len(members) <= limit:
                hits.add(token)
                if len(hits) >= needed:
                    return True
        return False

    def candidates(self, feats: Features, *, watched_only: bool = False) -> set[str]:
        limit = self.thresholds.max_posting
        found: set[str] = set()
        for band in feats.bands:
            members = self._buckets.get(band)
            if members and len(members) <= limit:
                found |= members
        postings = self._watch_postings if watched_only else self._postings
        for token in feats.tokens:
            members = postings.get(token)
            if members and len(members) <= limit:
                found |= members
        if watched_only and feats.bands:
            found &= self._watched
        return found

    def similarity(self, key: str, feats: Features) -> float:
        """Bigram Jaccard, or keyword containment when enough keywords are shared; 0 if neither
        holds or if the two name different places of one kind."""
        th = self.thresholds
        score = jaccard(feats.shingles, self._shingles[key])
        if score < th.jaccard:
            score = 0.0
        if feats.tokens:
            shared = len(feats.tokens & self._tokens[key])
            if shared >= th.min_shared:
                contained = shared / len(feats.tokens)
                if contained >= th.containment and contained > score:
                    score = contained
        if score and feats.names and names_conflict(feats.names, self._names[key]):
            return 0.0
        return score

    def best(self, feats: Features, among: Iterable[str] | None = None) -> str | None:
        """The most similar cluster above the thresholds (ties: the smaller key), or None."""
        best_key, best_score = None, 0.0
        for key in self.candidates(feats) if among is None else among:
            score = self.similarity(key, feats)
            if score > best_score or (score == best_score and score > 0 and best_key is not None
                                      and key < best_key):
                best_key, best_score = key, score
        return best_key


_NONE: frozenset[str] = frozenset()


def _discard(index: dict[Any, set[str]], entry: Any, key: str) -> None:
    members = index.get(entry)
    if members is not None:
        members.discard(key)
        if not members:
            del index[entry]
