"""What an account's handle, name and posts show, for なりすまし detection: the folding that
makes look-alike handles and names compare equal, the words that claim or disclaim 公式, scam
markers, and the distances between handles, names and avatars.
"""

from __future__ import annotations

import re
from functools import lru_cache

from streams.detectors.confusables import TO_ASCII
from streams.detectors.text import canonical, char_class

# --- folding ----------------------------------------------------------------

_NO_SEPARATORS = str.maketrans({"_": None, ".": None, "-": None})
#: One pass that drops separators (moved or doubled _ . - compare equal) and folds confusables.
_ASCII_HANDLE_FOLD = bytes.maketrans(b"1i|!05", b"llllos")
_HANDLE_FOLD = str.maketrans({"_": None, ".": None, "-": None, "1": "l", "i": "l", "|": "l", "!": "l",
                              "0": "o", "5": "s"})
#: Affixes that impersonators add to an official handle (compared after folding).
_HANDLE_AFFIXES_RAW = ("official", "offical", "offcial", "koushiki", "koshiki", "japan", "jp",
                       "info", "pr", "kouhou", "kohou", "koho", "staff", "city", "shi", "town",
                       "office", "gov", "real", "the", "true", "new", "of", "account", "acct")
_EDGE_DIGITS = re.compile(r"^[0-9]+|[0-9]+$")
MIN_VARIANT = 6  # shorter stripped forms ("wako") only count as naming the city


#: The look-alikes in the BMP as one class (a bitmap: searched fast); the few beyond it are
#: looked for only in a text that has a character there at all.
#: (with the full-width letters and digits NFKC makes ASCII, in a raw name)
_LOOKALIKE = re.compile(char_class([*(cp for cp in TO_ASCII if cp <= 0xFFFF), *range(0xFF10, 0xFF1A),
                                    *range(0xFF21, 0xFF3B), *range(0xFF41, 0xFF5B)]))
_ASTRAL = frozenset(chr(cp) for cp in TO_ASCII if cp > 0xFFFF) | frozenset(map(chr, range(0x1D400, 0x1D800)))


def has_latin_lookalike(text: str) -> bool:
    """Whether `fold_latin` may turn a character of `text` into ASCII (in a raw or a
    `canonical` text): a name without one is no disguised Latin name."""
    if _LOOKALIKE.search(text) is not None:
        return True
    return max(text, default="") > "\uffff" and not _ASTRAL.isdisjoint(text)


@lru_cache(maxsize=1024)  # a look-alike's name, bio and claims come back with its posts
def fold_latin(text: str) -> str:
    """`canonical`, then every Latin look-alike of Unicode's confusables as its ASCII letter
    (ᴡᴀᴋᴏ, ԝаκо, 𝚠𝚊𝚔𝚘 → wako; ı → i, ĸ → k); Japanese is left as `canonical` wrote it."""
    text = canonical(text)
    return text.translate(TO_ASCII) if has_latin_lookalike(text) else text


def fold_handle(handle: str) -> str:
    """Lower-case, drop separators and fold confusables: `Wak0_Clty`, `ᴡᴀᴋ0_ᴄʟᴛʏ` → `wakoclty`."""
    h = (handle if handle.isascii() else fold_latin(handle)).lower()
    if "@" in h:  # mastodon user@instance
        h = h.lstrip("@").split("@", 1)[0]
    if h.endswith(".bsky.social"):
        h = h[: -len(".bsky.social")]
    if h.isascii():
        h = h.encode().translate(_ASCII_HANDLE_FOLD, b"_.-").decode()
    else:  # what no look-alike table knows stays as it is
        h = h.translate(_HANDLE_FOLD)
    if "rn" in h:
        h = h.replace("rn", "m")
    if "vv" in h:
        h = h.replace("vv", "w")
    return h


_HANDLE_AFFIXES = frozenset(fold_handle(a) for a in _HANDLE_AFFIXES_RAW)
_PREFIXES_BY_FIRST = {c: tuple(a for a in _HANDLE_AFFIXES if a[0] == c) for c in {a[0] for a in _HANDLE_AFFIXES}}
_SUFFIXES_BY_LAST = {c: tuple(a for a in _HANDLE_AFFIXES if a[-1] == c) for c in {a[-1] for a in _HANDLE_AFFIXES}}


def handle_variants(handle: str) -> set[str]:
    """The folded handle and every form left after stripping affixes and edge digits."""
    lowered = handle.lower()
    todo = [fold_handle(lowered), fold_handle(_EDGE_DIGITS.sub("", lowered.translate(_NO_SEPARATORS)))]
    seen: set[str] = set()
    while todo and len(seen) < 40:
        v = todo.pop()
        if not v or v in seen:
            continue
        seen.add(v)
        for affix in _PREFIXES_BY_FIRST.get(v[0], ()):
            if len(v) > len(affix) and v.startswith(affix):
                todo.append(v[len(affix):])
        for affix in _SUFFIXES_BY_LAST.get(v[-1], ()):
            if len(v) > len(affix) and v.endswith(affix):
                todo.append(v[: -len(affix)])
    return seen


LOOKALIKES = {"力": "カ", "口": "ロ", "囗": "ロ", "工": "エ", "一": "ー", "-": "ー", "‐": "ー",
               "‑": "ー", "–": "ー", "—": "ー", "―": "ー", "−": "ー", "ｰ": "ー", "二": "ニ",
               "卜": "ト", "夕": "タ", "八": "ハ", "巿": "市", "帀": "市",
               "塲": "場"}
#: Hiragana → katakana (so ぺ/ペ and へ/ヘ fold too) plus the kanji/kana look-alikes.
NAME_FOLD = str.maketrans({**{chr(c): chr(c + 0x60) for c in range(0x3041, 0x3097)}, **LOOKALIKES})
_DISCLAIMER_WORDS = re.compile(r"非公式|非公認|unofficial|non-?official")
CLAIM_WORDS = re.compile(r"公式|official|オフィシャル")
NOT_A_NAME_CHAR = re.compile(r"[\W_]+")


def fold_name(name: str) -> str:
    """`fold_latin`, look-alike folding, claims (【公式】, official …) and punctuation removed."""
    s = fold_latin(name).lower()
    s = _DISCLAIMER_WORDS.sub("", s)
    s = CLAIM_WORDS.sub("", s)
    return NOT_A_NAME_CHAR.sub("", s.translate(NAME_FOLD))


def fold_text(text: str) -> str:
    s = fold_latin(text).lower().translate(NAME_FOLD)
    return NOT_A_NAME_CHAR.sub("", s)


_CLAIM = re.compile(r"(?<!非)公式|(?<!un)(?<!non)(?<!non-)official|オフィシャル")
_DISCLAIMER = re.compile(
    r"非公式|非公認|unofficial|non-?official|not official|ファン|(?<![a-z])fans?(?![a-z])"
    r"|パロディ|parody|なりきり|個人(?:の|で|運営|アカ)|関係ありません|無関係|ではありません")
HANDLE_DISCLAIMER = re.compile(r"(?:^|[_.\-])fans?(?:$|[_.\-])|fans?$|^fans?|fanclub|unofficial"
                                r"|parody|hikou?shiki")


def claims_official(text: str) -> bool:
    return bool(_CLAIM.search(fold_latin(text).lower()))


def disclaims_official(text: str) -> bool:
    return bool(_DISCLAIMER.search(fold_latin(text).lower()))


# --- scam markers -------------------------------------------------------------

_LURE = re.compile(r"ギフトカード|ギフト券|amazonギフト|アマゾンギフト|アマギフ|商品券|プレゼント"
                   r"|給付金|当選|キャンペーン|現金|賞金|還元")
_CONTACT = re.compile(r"dm(?:で|にて|へ|を|から|まで|に|ください|下さい)"
                      r"|フォロー(?:&|と|and|\+|・)?(?:リポスト|rt|リツイート)|line(?:で|を|に)?(?:追加|登録)")
_SHORTENER = re.compile(r"bit\.ly|tinyurl|is\.gd|ow\.ly|cutt\.ly|shorturl")
_SECRET = re.compile(r"暗証番号|カード番号|パスワード|セキュリティコード")
_PERSONAL = re.compile(r"口座|マイナンバー")
#: Residents warning each other about a scam quote its words; they are not the scam.
_WARNING = re.compile(r"詐欺|注意|偽|なりすまし|成りすまし|騙|だまさ|怪し|あやし|気をつけ|気を付け"
                      r"|スパム|通報|不審")


#: Every scam asks for something: contact, a click on a short link, or a secret.
_ASKS = re.compile("|".join(rx.pattern for rx in (_CONTACT, _SHORTENER, _SECRET)))
_MARKERS = (("lure", _LURE), ("contact", _CONTACT), ("shortener", _SHORTENER), ("secret", _SECRET),
            ("personal", _PERSONAL))


def scam_markers(text: str, urls: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The scam marker kinds in a post, or () when it is not a scam (one lure word is not).

    A scam pairs an ask (DM us, follow & repost, a short link, a PIN) with a lure
    (gift cards, 給付金, 当選 …) or a request for personal data, or asks twice.
    """
    t = canonical(text).lower()
    if urls:
        t = t + " " + " ".join(urls).lower()
    if not _ASKS.search(t) or _WARNING.search(t):
        return ()  # the common path: nothing asked of the reader
    found = tuple(kind for kind, rx in _MARKERS if rx.search(t))
    kinds = set(found)
    asks = kinds & {"contact", "shortener", "secret"}
    return found if asks and len(kinds) >= 2 else ()

REPORT_SAYS_FAKE = re.compile(r"なりすまし|成りすまし|偽|ニセ|にせ|fake|impersonat|公式を名乗|詐欺")

# --- distances -----------------------------------------------------------------


def edit_distance(a: str, b: str, limit: int) -> int:
    """Optimal-string-alignment distance (adjacent swaps cost 1), or `limit + 1` once above it."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    if a == b:
        return 0
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    last_a = ""
    for i, ca in enumerate(a, 1):
        cur = [i]
        left = i
        last_b = ""
        for j, cb in enumerate(b, 1):
            d = prev[j - 1] if ca == cb else prev[j - 1] + 1
            if prev[j] + 1 < d:
                d = prev[j] + 1
            if left + 1 < d:
                d = left + 1
            if ca == last_b and cb == last_a and prev2[j - 2] + 1 < d:
                d = prev2[j - 2] + 1
            cur.append(d)
            left = d
            last_b = cb
        if min(cur) > limit:
            return limit + 1
        prev2, prev, last_a = prev, cur, ca
    return min(prev[-1], limit + 1)


def handle_allowance(length: int) -> int:
    return 0 if length <= 5 else 1 if length <= 9 else 2 if length <= 14 else 3


def name_allowance(length: int) -> int:
    return 0 if length <= 4 else 1 if length <= 8 else 2 if length <= 12 else 3


def phash_distance(a: str, b: str) -> int | None:
    """Hamming distance of two 64-bit perceptual hashes in hex, None if either is unreadable."""
    try:
        return (int(a, 16) ^ int(b, 16)).bit_count()
    except ValueError:
        return None

