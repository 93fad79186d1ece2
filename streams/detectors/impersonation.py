"""なりすまし impersonation detection: unregistered accounts that pose as one of the city's own.

It owns the named features an account is scored on and one small record per
suspicious account, so that one fake account opens one incident and later
evidence (a report, scam posts) updates it. The folding that makes look-alike
handles and names compare equal (l/1/I, O/0, rn/m, カ/力, ロ/口 …) and the scam
markers are in `impersonation_text`; the city's own accounts, folded once, in
`impersonation_officials`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Any, NamedTuple

from vocabulary.contract import AccountEvent, ContractError, Event, Mention, Profile, parse_ts
from vocabulary.terms import SEVERITIES
from streams.detectors.common import Context, Finding
from streams.detectors.impersonation_officials import Officials
from streams.detectors.impersonation_text import (
    HANDLE_DISCLAIMER,
    NAME_FOLD,
    REPORT_SAYS_FAKE,
    claims_official,
    disclaims_official,
    fold_handle,
    fold_latin,
    fold_text,
    phash_distance,
    scam_markers,
)
from streams.detectors.text import canonical

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
    return SEVERITIES[level]


class ImpersonationDetector:
    """なりすまし: one incident per fake account, opened on the event that makes it convincing."""

    kind = "impersonation"

    def __init__(self, profile: Profile, state: dict[str, Any] | None = None,
                 config: ImpersonationConfig | None = None) -> None:
        self.config = config or ImpersonationConfig()
        self.officials = Officials(profile)
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
            HANDLE_DISCLAIMER.search(handle_lower))
        self._add_profile(snap, acct.bio, acct.avatar_phash)
        self._add_context(snap, acct.followers, acct.created_at, e.ts)
        if e.type == "reported":
            snap.features.add("reported")
            if e.note and REPORT_SAYS_FAKE.search(canonical(e.note).lower()):
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
                    HANDLE_DISCLAIMER.search(handle_lower))
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
            folded = fold_text(bio)
            if officials.bio_claim is not None and officials.bio_claim.search(
                    fold_latin(bio).lower().translate(NAME_FOLD).replace(" ", "")):
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
