"""The municipality's official accounts, folded once: how closely a handle or a display name
resembles one of them, or names the city (see `streams.detectors.impersonation`).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import NamedTuple

from vocabulary.contract import Profile
from streams.detectors.impersonation_text import (
    CLAIM_WORDS,
    LOOKALIKES,
    MIN_VARIANT,
    NAME_FOLD,
    NOT_A_NAME_CHAR,
    edit_distance,
    fold_handle,
    fold_latin,
    fold_name,
    fold_text,
    handle_allowance,
    handle_variants,
    has_latin_lookalike,
    name_allowance,
)

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
            for folded in set(unicodedata.normalize("NFKC", c).lower().translate(NAME_FOLD)):
                sources.setdefault(folded, set()).add(c)
    return {k: frozenset(v) for k, v in sources.items()}


@functools.lru_cache(maxsize=64)
def _chars_folding_into(targets: frozenset[str]) -> frozenset[str]:
    """Every character that `fold_name` may turn into one of `targets`: a raw-name pre-screen."""
    found = set(targets) | {c for c in LOOKALIKES if LOOKALIKES[c] in targets}
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


class Officials:
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
            kept = [v for v in variants if v == full or len(v) >= MIN_VARIANT]
            bare = min(variants, key=len, default="")
            cores.update(v for v in variants if len(v) >= 4)
            bio = extra.get("bio") if isinstance(extra.get("bio"), str) else ""
            accounts.append(_Official(
                handle=acct.handle,
                variants=tuple(self._variant(v, v != bare) for v in sorted(kept, key=len, reverse=True)),
                name=fold_name(acct.name),
                phash=acct.avatar_phash,
                bio=fold_text(bio) if bio else "",
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
        return _Variant(form, frozenset(form), handle_allowance(len(form) + 3), contained_counts)

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
            if v.contained_counts and form_len >= MIN_VARIANT and form in folded:
                sim = form_len / len(folded)
                if match is None or sim > best:
                    best, match = sim, official
            for c, c_len, c_chars in candidates:
                n = c_len if c_len > form_len else form_len
                allowed = handle_allowance(n)
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
        if not name.isascii() and has_latin_lookalike(name):
            latin = fold_latin(name)
            if latin.isascii():
                name = latin  # ᴡᴀᴋᴏ ᴄɪᴛʏ is read as Wako City
        if name.isascii():  # "Wako City Official" is compared like a handle
            if len(name) < MIN_VARIANT or not self.may_look_alike(fold_handle(name)):
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
            folded = NOT_A_NAME_CHAR.sub("", CLAIM_WORDS.sub("", name.lower()))
            if len(folded) >= MIN_VARIANT:
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
            allowed = name_allowance(n)
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

