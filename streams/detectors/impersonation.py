"""なりすまし impersonation detection: unregistered accounts that pose as one of the city's own.

It owns the folding that makes look-alike handles and names compare equal
(l/1/I, O/0, rn/m, カ/力, ロ/口 …), the named features an account is scored on,
and one small record per suspicious account, so that one fake account opens
one incident and later evidence (a report, scam posts) updates it.
"""

from __future__ import annotations

import copy
import functools
import re
import unicodedata
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Any, NamedTuple

from vocabulary.contract import AccountEvent, ContractError, Event, Mention, Profile, parse_ts
from streams.detectors.common import Context, Finding

#: Points per named feature; an account opens an incident at `threshold` points
#: when one of the guards (`poses_as_official`, `harms_residents`) also holds.
WEIGHTS: dict[str, int] = {
    "handle_lookalike": 30,
    "name_lookalike": 30,
    "avatar_match": 40,
    "bio_copied": 35,
    "bio_claims_city": 30,
    "official_claim": 20,
    "mentions_city": 10,
    "scam_markers": 45,
    "reported": 45,
    "report_says_impersonation": 10,
    "new_account": 10,
    "low_followers": 5,
}

#: Operator-facing words for each feature, in the order they are listed.
LABELS: dict[str, str] = {
    "handle_lookalike": "ハンドル類似",
    "name_lookalike": "表示名類似",
    "official_claim": "公式を名乗る",
    "avatar_match": "アイコン一致",
    "bio_copied": "プロフィール文の複製",
    "bio_claims_city": "市の公式と称するプロフィール",
    "mentions_city": "市名を含む",
    "scam_markers": "詐欺的な投稿",
    "reported": "通報あり",
    "report_says_impersonation": "なりすましとの通報",
    "new_account": "新規アカウント",
    "low_followers": "フォロワー少数",
}

#: Features that make an account *look like* an official one (as opposed to
#: merely naming the city, claiming 公式 for itself, or behaving badly).
RESEMBLANCE = frozenset({"handle_lookalike", "name_lookalike", "avatar_match", "bio_copied",
                         "bio_claims_city"})
COPIED = frozenset({"avatar_match", "bio_copied"})
#: Features about the account's age and reach: they add to the score but are
#: never news on their own once an incident is open.
CONTEXT = frozenset({"new_account", "low_followers"})


@dataclass(frozen=True)
class ImpersonationConfig:
    threshold: int = 50
    avatar_max_distance: int = 10  # Hamming distance of 64-bit perceptual hashes
    bio_min_similarity: float = 0.8
    new_account_days: float = 30.0
    low_followers: int = 100
    evidence_cap: int = 50
    evidence_cap_before_open: int = 10  # keeps the many never-convincing look-alikes small
    # Suspicious accounts remembered; the oldest not-open go first. 1000 keeps the worst
    # case near 230 KB, inside the one Kafka message all detectors of a municipality share.
    tracked_cap: int = 1000
    verdict_cache: int = 5000  # per-author screening results, not saved in the state


# --- folding ----------------------------------------------------------------

_NO_SEPARATORS = str.maketrans({"_": None, ".": None, "-": None})
#: One pass that drops separators (moved or doubled _ . - compare equal) and folds confusables.
_ASCII_HANDLE_FOLD = bytes.maketrans(b"1i|!05", b"llllos")
_HANDLE_FOLD = str.maketrans({"_": None, ".": None, "-": None, "1": "l", "i": "l", "|": "l", "!": "l",
                              "0": "o", "5": "s"})
#: Cyrillic and Greek letters that pass for Latin ones in a handle.
_HOMOGLYPHS = str.maketrans("аеосрхуіјӏѕοαν", "aeocpxyljlsoav")
#: Affixes that impersonators add to an official handle (compared after folding).
_HANDLE_AFFIXES_RAW = ("official", "offical", "offcial", "koushiki", "koshiki", "japan", "jp",
                       "info", "pr", "kouhou", "kohou", "koho", "staff", "city", "shi", "town",
                       "office", "gov", "real", "the", "true", "new", "of", "account", "acct")
_EDGE_DIGITS = re.compile(r"^[0-9]+|[0-9]+$")
_MIN_VARIANT = 6  # shorter stripped forms ("wako") only count as naming the city


def fold_handle(handle: str) -> str:
    """Lower-case, drop separators and fold confusables: `Wak0_Clty` → `wakoclty`."""
    h = handle.lower()
    if "@" in h:  # mastodon user@instance
        h = h.lstrip("@").split("@", 1)[0]
    if h.endswith(".bsky.social"):
        h = h[: -len(".bsky.social")]
    if h.isascii():
        h = h.encode().translate(_ASCII_HANDLE_FOLD, b"_.-").decode()
    else:  # full-width forms and Cyrillic/Greek look-alikes too
        h = unicodedata.normalize("NFKC", h).lower().translate(_HOMOGLYPHS).translate(_HANDLE_FOLD)
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


_LOOKALIKES = {"力": "カ", "口": "ロ", "囗": "ロ", "工": "エ", "一": "ー", "-": "ー", "‐": "ー",
               "‑": "ー", "–": "ー", "—": "ー", "―": "ー", "−": "ー", "ｰ": "ー", "二": "ニ",
               "卜": "ト", "夕": "タ", "八": "ハ", "巿": "市", "帀": "市",
               "塲": "場"}
#: Hiragana → katakana (so ぺ/ペ and へ/ヘ fold too) plus the kanji/kana look-alikes.
_NAME_FOLD = str.maketrans({**{chr(c): chr(c + 0x60) for c in range(0x3041, 0x3097)}, **_LOOKALIKES})
_DISCLAIMER_WORDS = re.compile(r"非公式|非公認|unofficial|non-?official")
_CLAIM_WORDS = re.compile(r"公式|official|オフィシャル")
_NOT_A_NAME_CHAR = re.compile(r"[\W_]+")


def fold_name(name: str) -> str:
    """NFKC, look-alike folding, claims (【公式】, official …) and punctuation removed."""
    s = unicodedata.normalize("NFKC", name).lower()
    s = _DISCLAIMER_WORDS.sub("", s)
    s = _CLAIM_WORDS.sub("", s)
    return _NOT_A_NAME_CHAR.sub("", s.translate(_NAME_FOLD))


def _fold_text(text: str) -> str:
    s = unicodedata.normalize("NFKC", text).lower().translate(_NAME_FOLD)
    return _NOT_A_NAME_CHAR.sub("", s)


_CLAIM = re.compile(r"(?<!非)公式|(?<!un)(?<!non)(?<!non-)official|オフィシャル")
_DISCLAIMER = re.compile(
    r"非公式|非公認|unofficial|non-?official|not official|ファン|(?<![a-z])fans?(?![a-z])"
    r"|パロディ|parody|なりきり|個人(?:の|で|運営|アカ)|関係ありません|無関係|ではありません")
_HANDLE_DISCLAIMER = re.compile(r"(?:^|[_.\-])fans?(?:$|[_.\-])|fans?$|^fans?|fanclub|unofficial"
                                r"|parody|hikou?shiki")


def claims_official(text: str) -> bool:
    return bool(_CLAIM.search(unicodedata.normalize("NFKC", text).lower()))


def disclaims_official(text: str) -> bool:
    return bool(_DISCLAIMER.search(unicodedata.normalize("NFKC", text).lower()))


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
    t = unicodedata.normalize("NFKC", text).lower()
    if urls:
        t = t + " " + " ".join(urls).lower()
    if not _ASKS.search(t) or _WARNING.search(t):
        return ()  # the common path: nothing asked of the reader
    found = tuple(kind for kind, rx in _MARKERS if rx.search(t))
    kinds = set(found)
    asks = kinds & {"contact", "shortener", "secret"}
    return found if asks and len(kinds) >= 2 else ()

_REPORT_SAYS_FAKE = re.compile(r"なりすまし|成りすまし|偽|ニセ|にせ|fake|impersonat|公式を名乗|詐欺")

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


def _handle_allowance(length: int) -> int:
    return 0 if length <= 5 else 1 if length <= 9 else 2 if length <= 14 else 3


def _name_allowance(length: int) -> int:
    return 0 if length <= 4 else 1 if length <= 8 else 2 if length <= 12 else 3


def phash_distance(a: str, b: str) -> int | None:
    """Hamming distance of two 64-bit perceptual hashes in hex, None if either is unreadable."""
    try:
        return (int(a, 16) ^ int(b, 16)).bit_count()
    except ValueError:
        return None


# --- the profile's official accounts, folded once ------------------------------

#: Blocks whose characters can fold (NFKC, kana, look-alikes) into a Japanese name.
_FOLDABLE_BLOCKS = ((0x3000, 0x9FFF), (0xF900, 0xFAFF), (0xFE30, 0xFE4F), (0xFF00, 0xFFEF))


@functools.lru_cache(maxsize=1)
def _fold_sources() -> dict[str, frozenset[str]]:
    """For each character, the characters of the foldable blocks that fold into it
    (built once per process; it does not depend on the profile)."""
    sources: dict[str, set[str]] = {}
    for lo, hi in _FOLDABLE_BLOCKS:
        for cp in range(lo, hi + 1):
            c = chr(cp)
            for folded in set(unicodedata.normalize("NFKC", c).lower().translate(_NAME_FOLD)):
                sources.setdefault(folded, set()).add(c)
    return {k: frozenset(v) for k, v in sources.items()}


@functools.lru_cache(maxsize=64)
def _chars_folding_into(targets: frozenset[str]) -> frozenset[str]:
    """Every character that `fold_name` may turn into one of `targets`: a raw-name pre-screen."""
    found = set(targets) | {c for c in _LOOKALIKES if _LOOKALIKES[c] in targets}
    sources = _fold_sources()
    for target in targets:
        found |= sources.get(target, frozenset())
    return frozenset(found)


class _Variant(NamedTuple):
    form: str
    chars: frozenset[str]
    slack: int  # at most this many of its letters may be missing from a look-alike
    #: Whether a handle that merely contains it looks alike: not for the bare city
    #: name left after stripping every affix (`yukimori_news` is not `yukimori_town`).
    contained_counts: bool


class _Official(NamedTuple):
    handle: str
    variants: tuple[_Variant, ...]
    name: str  # folded
    phash: str | None
    bio: str  # folded, "" when the profile does not have it


#: Words that, next to the city's name, make a display name pose as the city government.
_OFFICE_WORDS = tuple(fold_name(w) for w in ("市役所", "役所", "役場", "市庁", "広報", "市長", "防災",
                                              "危機管理"))
_OFFICE_SUFFIX = re.compile(r"(?:課|局|室)$")
#: Display names whose `name_match` is remembered per municipality (a few hundred KB at most).
_NAME_MATCHES_CAP = 4096


class _Officials:
    """Everything about the registered accounts that each comparison needs, precomputed."""

    def __init__(self, profile: Profile) -> None:
        # Entries may carry fields the contract does not parse (an official `bio`).
        raw_accounts = (profile.raw.get("accounts") if isinstance(profile.raw, dict) else None) or []
        self.handles = frozenset(a.handle.lower() for a in profile.accounts)
        self.handles_cased = frozenset(a.handle for a in profile.accounts)
        accounts = []
        cores: set[str] = set()
        for i, acct in enumerate(profile.accounts):
            extra = raw_accounts[i] if i < len(raw_accounts) and isinstance(raw_accounts[i], dict) else {}
            variants = handle_variants(acct.handle)
            full = fold_handle(acct.handle)
            kept = [v for v in variants if v == full or len(v) >= _MIN_VARIANT]
            bare = min(variants, key=len, default="")
            cores.update(v for v in variants if len(v) >= 4)
            bio = extra.get("bio") if isinstance(extra.get("bio"), str) else ""
            accounts.append(_Official(
                handle=acct.handle,
                variants=tuple(self._variant(v, v != bare) for v in sorted(kept, key=len, reverse=True)),
                name=fold_name(acct.name),
                phash=acct.avatar_phash,
                bio=_fold_text(bio) if bio else "",
            ))
        self.accounts = tuple(accounts)
        # The shortest stripped handle of each account ("wako") stands for the city's name.
        self.handle_cores = tuple(sorted(c for c in cores if not any(o in c and o != c for o in cores)))
        muni = [profile.name, *profile.names]
        self.city_names = tuple(dict.fromkeys(n for n in map(fold_name, muni) if len(n) >= 2))
        self.display_name = profile.name
        targets = [a.name for a in self.accounts if len(a.name) >= 2] + list(self.city_names)
        self.name_targets = tuple(dict.fromkeys(targets))
        #: Official account names ("和光市役所"): containing one poses; containing a city name does not.
        self.account_names = frozenset(a.name for a in self.accounts if len(a.name) >= 2) - set(self.city_names)
        self.name_target_chars = tuple((t, frozenset(t)) for t in self.name_targets)
        self.name_chars = frozenset("".join(self.name_targets))
        self.name_screen = _chars_folding_into(self.name_chars)
        # One handle on several platforms gives the same variants once per account. A
        # repeated variant measures every handle exactly as its first occurrence did, and
        # `handle_match` keeps the first account on ties, so only the first is compared.
        first_with: dict[_Variant, str] = {}
        for a in self.accounts:
            for v in a.variants:
                first_with.setdefault(v, a.handle)
        self.variants = tuple((official, v) for v, official in first_with.items())
        self.variant_chars = frozenset().union(*(v.chars for _, v in self.variants))
        self.variant_need = min((len(v.chars) - v.slack for _, v in self.variants), default=0)
        names_rx = "|".join(re.escape(n) for n in sorted(set(self.name_targets), key=len, reverse=True))
        self.bio_claim = re.compile(
            rf"(?:{names_rx})(?:\w{{0,8}}?(?:役所|役場|市庁|広報|課|局|室))?[のノ]?(?:公式|オフィシャル|official)"
        ) if names_rx else None
        #: `name_match` of the display names that get past its character screens; many
        #: residents share a name ("ゆき@東湊"). Emptied when full: it only saves work.
        self._name_matches: dict[str, tuple[float, str | None, bool]] = {}

    @staticmethod
    def _variant(form: str, contained_counts: bool) -> _Variant:
        # Each letter of `form` that a candidate lacks costs at least one edit, and a
        # candidate within the allowance is at most 3 longer, so this screen never
        # drops a real look-alike.
        return _Variant(form, frozenset(form), _handle_allowance(len(form) + 3), contained_counts)

    def handle_match(self, handle: str, folded: str | None = None) -> tuple[float, str | None]:
        """Best similarity of a handle to an official one, and that account when it is a look-alike."""
        if folded is None:
            folded = fold_handle(handle)
        if not self.may_look_alike(folded):
            return 0.0, None  # the common path: too few letters of any official handle
        chars = frozenset(folded)
        near = [(h, v) for h, v in self.variants if len(v.chars - chars) <= v.slack]
        if not near:
            return 0.0, None  # the common path: an ordinary handle
        # Each candidate's length and letters once, not once per official variant.
        candidates = [(c, len(c), frozenset(c)) for c in handle_variants(handle)]
        best, match = 0.0, None
        for official, v in near:
            form, form_len, form_chars = v.form, len(v.form), v.chars
            if v.contained_counts and form_len >= _MIN_VARIANT and form in folded:
                sim = form_len / len(folded)
                if match is None or sim > best:
                    best, match = sim, official
            for c, c_len, c_chars in candidates:
                n = c_len if c_len > form_len else form_len
                allowed = _handle_allowance(n)
                if abs(c_len - form_len) > allowed or len(form_chars - c_chars) > allowed:
                    continue  # each letter only one side has costs an edit
                if len(c_chars - form_chars) > allowed:
                    continue
                d = edit_distance(c, form, allowed)
                if d <= allowed and (match is None or 1 - d / n > best):
                    best, match = 1 - d / n, official
        return best, match

    def may_look_alike(self, folded: str) -> bool:
        """False when a folded handle lacks too many letters to be near any official one."""
        return len(self.variant_chars.intersection(folded)) >= self.variant_need

    def names_city(self, folded_handle: str) -> bool:
        for core in self.handle_cores:
            if core in folded_handle:
                return True
        return False

    def name_match(self, name: str) -> tuple[float, str | None, bool]:
        """(similarity, official handle or city it resembles, whether it names the city)."""
        if name.isascii():  # "Wako City Official" is compared like a handle
            if len(name) < _MIN_VARIANT or not self.may_look_alike(fold_handle(name)):
                return 0.0, None, False
        elif self.name_screen.isdisjoint(name):
            return 0.0, None, False  # the common path: no character of any official name
        found = self._name_matches.get(name)
        if found is None:
            found = self._name_match(name)
            if len(self._name_matches) >= _NAME_MATCHES_CAP:
                self._name_matches.clear()
            self._name_matches[name] = found
        return found

    def _name_match(self, name: str) -> tuple[float, str | None, bool]:
        """`name_match` of a name that got past the character screens."""
        if name.isascii():
            folded = _NOT_A_NAME_CHAR.sub("", _CLAIM_WORDS.sub("", name.lower()))
            if len(folded) >= _MIN_VARIANT:
                sim, handle = self.handle_match(folded)
                return sim, handle, False
            return 0.0, None, False
        folded = fold_name(name)
        if not folded or self.name_chars.isdisjoint(folded):
            return 0.0, None, False
        mentions_city = any(c in folded for c in self.city_names)
        chars = frozenset(folded)
        best, match = 0.0, None
        for target, target_chars in self.name_target_chars:
            n = max(len(folded), len(target))
            allowed = _name_allowance(n)
            if abs(len(folded) - len(target)) > allowed or len(target_chars - chars) > allowed \
                    or len(chars - target_chars) > allowed:
                d = allowed + 1  # each character only one side has costs an edit
            else:
                d = edit_distance(folded, target, allowed)
            if d <= allowed and 1 - d / n >= best:
                best, match = 1 - d / n, target
            elif target in self.account_names and len(target) >= 4 and target in folded and best < 0.75:
                best, match = 0.75, target
        if match is None and mentions_city and (any(w in folded for w in _OFFICE_WORDS)
                                                or _OFFICE_SUFFIX.search(folded)):
            best, match = 0.75, next(c for c in self.city_names if c in folded)
        if match is not None:
            official = next((a.handle for a in self.accounts if a.name == match), None)
            return best, official or self.display_name, mentions_city
        return 0.0, None, mentions_city


# --- what one observation of an account shows ---------------------------------


@dataclass
class Snapshot:
    """The named features one event shows about an account, with the measures behind them."""

    features: set[str] = field(default_factory=set)
    disclaims: bool = False
    resembles: str | None = None
    handle_similarity: float = 0.0
    name_similarity: float = 0.0
    avatar_distance: int | None = None
    bio_similarity: float = 0.0
    scam: tuple[str, ...] = ()

    @property
    def poses_as_official(self) -> bool:
        """Looks like an official account and claims or copies enough to pass for one."""
        look = self.features & RESEMBLANCE
        if self.disclaims:  # a fan account's name similarity is explained by its disclaimer
            return "official_claim" in self.features and bool(self.features & COPIED)
        return bool(look) and ("official_claim" in self.features or len(look) >= 2)

    @property
    def linked_to_city(self) -> bool:
        return bool(self.features & RESEMBLANCE) or "mentions_city" in self.features


class _Look(NamedTuple):
    """Screening of an author's handle and name, cached per author."""

    handle_lower: str
    snapshot: Snapshot | None  # None: nothing official-looking and no tie to the city


#: One suspicious account's record. The saved state leaves out fields at these
#: defaults, so the many look-alikes that never convince stay a few hundred bytes.
_RECORD_DEFAULTS: dict[str, Any] = {
    "handle": "", "first_seen": 0.0, "matched": [], "posing": False, "linked": False, "disclaims": False,
    "resembles": None, "best": {"handle": 0.0, "name": 0.0, "avatar": None, "bio": 0.0},
    "followers": 0, "verified": False, "scam_posts": 0, "reports": 0, "notes": [], "evidence": [],
    "opened_at": None, "seq": 0, "told": None,
}


def _expand(stored: dict[str, Any]) -> dict[str, Any]:
    record = copy.deepcopy(_RECORD_DEFAULTS)
    for name, value in stored.items():
        if name == "best":
            record["best"].update(value)
        else:
            record[name] = copy.deepcopy(value)
    return record


def _compact(record: dict[str, Any]) -> dict[str, Any]:
    out = {name: list(value) if isinstance(value, list) else value for name, value in record.items()
           if value != _RECORD_DEFAULTS[name] or name == "handle"}
    if "best" in out:
        out["best"] = {k: v for k, v in out["best"].items() if v != _RECORD_DEFAULTS["best"][k]}
    return out


def _sorted_features(features: set[str] | list[str]) -> list[str]:
    return [f for f in WEIGHTS if f in features]


def severity_for(score: int, matched: list[str] | set[str], followers: int, verified: bool) -> str:
    """Severity from the score, the reach (followers) and whether residents are being harmed."""
    level = 2 if score >= 110 else 1 if score >= 80 else 0
    if followers >= 100_000:
        level = 3
    elif followers >= 10_000:
        level = max(level, 2)
    elif followers >= 1_000 or verified:
        level = max(level, 1)
    harmful = "scam_markers" in matched or "reported" in matched
    if harmful:
        level = max(level, 2)
        if ("scam_markers" in matched and "reported" in matched) or followers >= 10_000:
            level = 3
    return ("low", "medium", "high", "critical")[level]


class ImpersonationDetector:
    """なりすまし: one incident per fake account, opened on the event that makes it convincing."""

    kind = "impersonation"

    def __init__(self, profile: Profile, state: dict[str, Any] | None = None,
                 config: ImpersonationConfig | None = None) -> None:
        self.config = config or ImpersonationConfig()
        self.officials = _Officials(profile)
        self.city = profile.name
        self.default_official = profile.accounts[0].handle if profile.accounts else None
        # Records in least-recently-seen order, keyed "platform:handle" (lower case).
        self.accounts: dict[str, dict[str, Any]] = {
            key: _expand(record) for key, record in (state or {}).get("accounts", {}).items()
            if record["handle"].lower() not in self.officials.handles}
        #: How many tracked records (one per platform) each lower-case handle has.
        self._tracked: dict[str, int] = {}
        for record in self.accounts.values():
            self._track(record["handle"].lower(), +1)
        # Per-author screening in two generations: a lookup that hits the old one is
        # promoted, and the old one is dropped whole when the new one fills (O(1), bounded).
        self._looks: dict[tuple[str, str], _Look] = {}
        self._old_looks: dict[tuple[str, str], _Look] = {}

    def to_state(self) -> dict[str, Any]:
        return {"accounts": {key: _compact(record) for key, record in self.accounts.items()}}

    def shrink(self) -> None:
        """Forget the least recently seen half of the tracked accounts, those without an
        incident first. Only for a snapshot that would not fit in one message (`streams.stage`)."""
        drop = len(self.accounts) - len(self.accounts) // 2 if len(self.accounts) > 1 else len(self.accounts)
        victims = [k for k, r in self.accounts.items() if r["opened_at"] is None][:drop]
        if len(victims) < drop:
            chosen = set(victims)
            victims += [k for k in self.accounts if k not in chosen][: drop - len(victims)]
        for key in victims:
            self._track(self.accounts.pop(key)["handle"].lower(), -1)

    # --- routing --------------------------------------------------------------

    def on_event(self, event: Event, ctx: Context) -> list[Finding]:
        if isinstance(event, Mention):
            return self.on_mention(event)
        if isinstance(event, AccountEvent):
            return self.on_account(event)
        return []

    def on_mention(self, m: Mention) -> list[Finding]:
        author = m.author
        look = self._screen(author.handle, author.name)
        known = look.snapshot
        if known is None and look.handle_lower not in self._tracked:
            return []  # the common path: an ordinary resident
        if look.handle_lower in self.officials.handles:
            return []  # registered since it was tracked (the profile changed)
        key = f"{m.platform}:{look.handle_lower}"
        record = self.accounts.get(key)
        scam = scam_markers(m.text, m.urls)
        if record is None and (known is None or not scam and known.features.isdisjoint(RESEMBLANCE)):
            return []  # a resident who carries the city's name, posting as usual
        snap = self._copy(known) if known else Snapshot()
        self._add_context(snap, author.followers, author.created_at, m.ts)
        if scam:
            snap.scam = scam
            snap.features.add("scam_markers")
        if record is None and not self._worth_tracking(snap):
            return []
        contributed = record is None or bool(scam)  # its first sighting, or a scam post
        return self._observe(key, author.handle, snap, m.id if contributed else None,
                             m.ts, author.followers, verified=False)

    def on_account(self, e: AccountEvent) -> list[Finding]:
        if e.type in ("official_post", "security"):
            return []
        acct = e.account
        handle_lower = acct.handle.lower()
        if handle_lower in self.officials.handles:
            return []
        look = self._look(acct.handle, acct.name)
        snap = self._copy(look.snapshot) if look.snapshot else Snapshot()
        if acct.name and claims_official(acct.name):
            snap.features.add("official_claim")
        snap.disclaims = snap.disclaims or disclaims_official(acct.name) or bool(
            _HANDLE_DISCLAIMER.search(handle_lower))
        self._add_profile(snap, acct.bio, acct.avatar_phash)
        self._add_context(snap, acct.followers, acct.created_at, e.ts)
        if e.type == "reported":
            snap.features.add("reported")
            if e.note and _REPORT_SAYS_FAKE.search(unicodedata.normalize("NFKC", e.note).lower()):
                snap.features.add("report_says_impersonation")
        key = f"{e.platform}:{handle_lower}"
        if key not in self.accounts and not self._worth_tracking(snap):
            return []
        return self._observe(key, acct.handle, snap, e.id, e.ts, acct.followers,
                             verified=acct.verified, note=e.note if e.type == "reported" else None)

    # --- features ---------------------------------------------------------------

    def _look(self, handle: str, name: str) -> _Look:
        """Screen an author's handle and display name (the only profile a mention carries)."""
        handle_lower = handle.lower()
        officials = self.officials
        snap = None
        if handle_lower not in officials.handles:
            folded = fold_handle(handle)
            handle_sim, handle_like = officials.handle_match(handle, folded)
            name_sim, name_like, names_city = officials.name_match(name) if name else (0.0, None, False)
            names_city = names_city or officials.names_city(folded)
            if handle_like or name_like or names_city:
                snap = Snapshot(handle_similarity=handle_sim, name_similarity=name_sim)
                for feature, present in (("handle_lookalike", handle_like), ("name_lookalike", name_like),
                                         ("mentions_city", names_city)):
                    if present:
                        snap.features.add(feature)
                snap.resembles = handle_like or (name_like if name_like in officials.handles_cased else None)
                if name and claims_official(name):
                    snap.features.add("official_claim")
                snap.disclaims = bool(name and disclaims_official(name)) or bool(
                    _HANDLE_DISCLAIMER.search(handle_lower))
        return _Look(handle_lower, snap)

    def _track(self, handle_lower: str, delta: int) -> None:
        count = self._tracked.get(handle_lower, 0) + delta
        if count:
            self._tracked[handle_lower] = count
        else:
            del self._tracked[handle_lower]

    def _screen(self, handle: str, name: str) -> _Look:
        """`_look`, cached per author: the few official-looking authors and the many ordinary ones."""
        who = (handle, name)
        look = self._looks.get(who)
        if look is None:
            look = self._old_looks.get(who) or self._look(handle, name)
            self._looks[who] = look
            if len(self._looks) >= self.config.verdict_cache // 2:
                self._old_looks, self._looks = self._looks, {}
        return look

    @staticmethod
    def _copy(snap: Snapshot) -> Snapshot:
        return Snapshot(features=set(snap.features), disclaims=snap.disclaims, resembles=snap.resembles,
                        handle_similarity=snap.handle_similarity, name_similarity=snap.name_similarity)

    def _add_profile(self, snap: Snapshot, bio: str, phash: str | None) -> None:
        officials = self.officials
        if bio:
            if claims_official(bio):
                snap.features.add("official_claim")
            snap.disclaims = snap.disclaims or disclaims_official(bio)
            folded = _fold_text(bio)
            if officials.bio_claim is not None and officials.bio_claim.search(
                    unicodedata.normalize("NFKC", bio).lower().translate(_NAME_FOLD).replace(" ", "")):
                snap.features.add("bio_claims_city")
            for acct in officials.accounts:
                if not acct.bio or not folded:
                    continue
                sim = SequenceMatcher(None, folded[:300], acct.bio[:300], autojunk=False).ratio()
                if min(len(folded), len(acct.bio)) >= 10 and (acct.bio in folded or folded in acct.bio):
                    sim = max(sim, self.config.bio_min_similarity)  # copied into a longer bio
                if sim > snap.bio_similarity:
                    snap.bio_similarity = sim
                    if sim >= self.config.bio_min_similarity:
                        snap.features.add("bio_copied")
                        snap.resembles = snap.resembles or acct.handle
            scam = scam_markers(bio)
            if scam:
                snap.scam = scam
                snap.features.add("scam_markers")
        if phash:
            for acct in officials.accounts:
                if not acct.phash:
                    continue
                d = phash_distance(phash, acct.phash)
                if d is not None and (snap.avatar_distance is None or d < snap.avatar_distance):
                    snap.avatar_distance = d
                    if d <= self.config.avatar_max_distance:
                        snap.features.add("avatar_match")
                        snap.resembles = acct.handle if snap.resembles is None or d <= 4 else snap.resembles

    def _add_context(self, snap: Snapshot, followers: int, created_at: str | None, now: float) -> None:
        cfg = self.config
        if followers < cfg.low_followers:
            snap.features.add("low_followers")
        if created_at:
            try:
                age = now - parse_ts(created_at, "created_at")
            except ContractError:
                return
            if age < cfg.new_account_days * 86400:
                snap.features.add("new_account")

    @staticmethod
    def _worth_tracking(snap: Snapshot) -> bool:
        """Something beyond merely naming the city: a resemblance, a claim, harm or a report."""
        f = snap.features
        if f & RESEMBLANCE or "reported" in f:
            return True
        return "mentions_city" in f and bool(f & {"official_claim", "scam_markers"})

    # --- the record of one suspicious account --------------------------------

    def _observe(self, key: str, handle: str, snap: Snapshot, evidence_id: str | None,
                 now: float, followers: int, *, verified: bool, note: str | None = None) -> list[Finding]:
        cfg = self.config
        record = self.accounts.pop(key, None)
        if record is None:
            record = _expand({"handle": handle, "first_seen": now})
            self._track(handle.lower(), +1)
        self.accounts[key] = record  # most recently seen last
        record["matched"] = _sorted_features(set(record["matched"]) | snap.features)
        record["posing"] = record["posing"] or snap.poses_as_official
        record["linked"] = record["linked"] or snap.linked_to_city
        record["disclaims"] = record["disclaims"] or snap.disclaims
        if record["resembles"] is None and snap.resembles not in (None, self.default_official):
            record["resembles"] = snap.resembles  # None stands for the first account, kept out of the state
        best = record["best"]
        best["handle"] = max(best["handle"], round(snap.handle_similarity, 3))
        best["name"] = max(best["name"], round(snap.name_similarity, 3))
        best["bio"] = max(best["bio"], round(snap.bio_similarity, 3))
        if snap.avatar_distance is not None and (best["avatar"] is None or snap.avatar_distance < best["avatar"]):
            best["avatar"] = snap.avatar_distance
        record["followers"] = followers
        record["verified"] = record["verified"] or verified
        record["scam_posts"] += bool(snap.scam)
        if "reported" in snap.features:
            record["reports"] += 1
            if note and len(record["notes"]) < 3:
                record["notes"].append(note[:200])
        cap = cfg.evidence_cap if record["opened_at"] is not None else cfg.evidence_cap_before_open
        if evidence_id is not None and evidence_id not in record["evidence"] and len(record["evidence"]) < cap:
            record["evidence"].append(evidence_id)
        self._evict(keep=key)
        return self._decide(key, record, now)

    def _evict(self, keep: str) -> None:
        """Forget the least recently seen accounts that have no open incident, beyond the cap."""
        while len(self.accounts) > self.config.tracked_cap:
            victim = next((k for k, r in self.accounts.items() if r["opened_at"] is None and k != keep),
                          next(iter(self.accounts)))
            self._track(self.accounts.pop(victim)["handle"].lower(), -1)

    def score(self, record: dict[str, Any]) -> int:
        return sum(WEIGHTS[f] for f in record["matched"])

    @staticmethod
    def harms_residents(record: dict[str, Any]) -> bool:
        """Scam posts from an account tied to the city, or a report that says it is a fake."""
        matched = record["matched"]
        if "scam_markers" in matched and record["linked"]:
            return True
        return "reported" in matched and (record["linked"] or "report_says_impersonation" in matched)

    def _decide(self, key: str, record: dict[str, Any], now: float) -> list[Finding]:
        """Open once the account convinces; afterwards speak only when something material changed.

        The score is a sum over the matched features, so a new piece of evidence
        is also the only way its band can move; age and follower counts are not news.
        """
        score = self.score(record)
        severity = severity_for(score, record["matched"], record["followers"], record["verified"])
        told = record["told"]
        if told is None:
            if score < self.config.threshold or not (record["posing"] or self.harms_residents(record)):
                return []
            record["opened_at"] = now
            change = "opened"
        else:
            new_evidence = set(record["matched"]) - set(told["matched"]) - CONTEXT
            if not new_evidence and severity == told["severity"]:
                return []
            record["seq"] += 1
            change = "updated"
        record["told"] = {"severity": severity, "matched": list(record["matched"])}
        return [self._finding(record, change, now, score, severity, platform=key.split(":", 1)[0])]

    def _finding(self, record: dict[str, Any], change: str, now: float, score: int,
                 severity: str, *, platform: str) -> Finding:
        matched = record["matched"]
        official = record["resembles"] or self.default_official
        whom = f"公式アカウント @{official} " if official else f"{self.city}の公式アカウント"
        reasons = "・".join(LABELS[f] for f in LABELS if f in matched)
        best = record["best"]
        return Finding(
            target=record["handle"],
            change=change,
            opened_at=record["opened_at"],
            at=now,
            severity=severity,
            evidence_ids=list(record["evidence"]),
            summary=f"@{record['handle']} が{whom}になりすましている疑い（{reasons}）",
            metrics={
                "score": score,
                "threshold": self.config.threshold,
                "matched": list(matched),
                "scores": {f: WEIGHTS[f] for f in matched},
                "resembles": official,
                "platform": platform,
                "handle_similarity": best["handle"],
                "name_similarity": best["name"],
                "avatar_distance": best["avatar"],
                "bio_similarity": best["bio"],
                "followers": record["followers"],
                "scam_posts": record["scam_posts"],
                "reports": record["reports"],
                "disclaims_official": record["disclaims"],
            },
            seq=record["seq"],
        )
