"""炎上 flame-up detection: criticism surging at an official account.

Pure and in event time. Per official account it keeps the reactions of the
last window, an hourly history for the account's own baseline, and the
current episode, so one episode opens one incident and later evidence only
updates it. This is the foundation's first cut; the detectors issue deepens
the lexicon, acceleration and severity.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass
from typing import Any

import re

from streams.contract import Event, Mention, Profile
from streams.detectors.common import Context, Finding
from streams.detectors.text import contains_any, fold_phrases, normalize

# Criticism phrases and negative words seen in Japanese flame-ups (批判表現).
CRITICAL_PHRASES = fold_phrases((
    "謝罪しろ", "謝罪を", "謝れ", "不適切", "税金の無駄", "税金で", "誰が承認", "承認した",
    "不謹慎", "時代錯誤", "差別", "削除しろ", "削除と", "削除を", "説明を求め", "説明しろ",
    "がっかり", "失望", "呆れ", "あきれ", "疑います", "疑う", "ありえない", "あり得ない",
    "許せない", "最低", "ひどい", "酷い", "ふざけ", "恥ずかし", "撤回", "抗議", "責任を",
    "問題では", "問題だ", "おかしい", "配慮が", "配慮に欠け", "不快", "炎上", "言いたいの",
    "センスない", "意味不明", "残念", "批判", "辞職",
))
PRAISE_PHRASES = fold_phrases((
    "ありがとう", "素晴らしい", "すばらしい", "最高", "楽しみ", "感動", "応援", "素敵",
    "いいね", "助かる", "便利", "かわいい", "可愛い", "感謝", "good", "great",
))


_HANDLE = re.compile(r"@([A-Za-z0-9_.]+)")


@dataclass(frozen=True)
class FlameConfig:
    window_s: int = 600
    min_critical: int = 5
    min_authors: int = 5
    min_share: float = 0.4
    baseline_factor: float = 3.0
    history_hours: int = 168
    quiet_close_s: int = 2 * 3600
    update_every: int = 20
    evidence_cap: int = 50
    # Bounds that keep a municipality's state snapshot small (it is one Kafka
    # message, ≤ 1 MB) however long and loud an episode gets.
    window_cap: int = 1000
    authors_cap: int = 1000


def is_critical(text: str) -> bool:
    norm = normalize(text)
    return contains_any(norm, CRITICAL_PHRASES) and not contains_any(norm, PRAISE_PHRASES)


def severity_for(count: int, reach: int) -> str:
    if count >= 200 or reach >= 1_000_000:
        return "critical"
    if count >= 50 or reach >= 100_000:
        return "high"
    if count >= 15 or reach >= 10_000:
        return "medium"
    return "low"


class _Target:
    """One official account's window, hourly history and current episode.

    The window is a deque pruned from the left with running counts, so each
    reaction costs O(1) however busy the account is.
    """

    __slots__ = ("recent", "hours", "episode", "critical", "critical_authors")

    def __init__(self, state: dict[str, Any] | None = None) -> None:
        state = state or {}
        self.recent: deque[list[Any]] = deque(state.get("recent", ()))
        self.hours: dict[int, int] = {int(h): c for h, c in state.get("hours", {}).items()}
        self.episode: dict[str, Any] | None = state.get("episode")
        self.critical = 0
        self.critical_authors: Counter[str] = Counter()
        for r in self.recent:
            if r[2]:
                self.critical += 1
                self.critical_authors[r[1]] += 1

    def to_state(self) -> dict[str, Any]:
        return {"recent": list(self.recent), "hours": {str(h): c for h, c in self.hours.items()},
                "episode": self.episode}

    def add(self, reaction: list[Any], window_s: int, history_hours: int, cap: int) -> None:
        now = reaction[0]
        hour = int(now // 3600)
        if hour not in self.hours:
            for old in [h for h in self.hours if h < hour - history_hours]:
                del self.hours[old]
        self.hours[hour] = self.hours.get(hour, 0) + 1
        self.recent.append(reaction)
        if reaction[2]:
            self.critical += 1
            self.critical_authors[reaction[1]] += 1
        while self.recent and (now - self.recent[0][0] > window_s or len(self.recent) > cap):
            gone = self.recent.popleft()
            if gone[2]:
                self.critical -= 1
                self.critical_authors[gone[1]] -= 1
                if not self.critical_authors[gone[1]]:
                    del self.critical_authors[gone[1]]

    def window_count(self, now: float, window_s: int, cap: int) -> float:
        """Reactions in the window; once the cap cut the deque short, estimated from its span."""
        if len(self.recent) < cap:
            return float(len(self.recent))
        span = max(now - self.recent[0][0], 1.0)
        return len(self.recent) * max(window_s / span, 1.0)

    def baseline(self, now: float, window_s: int) -> float:
        """Expected reactions per window from the account's own past hours."""
        current = int(now // 3600)
        past = [c for h, c in self.hours.items() if h < current]
        if not past:
            return 0.0
        span_hours = max(1, current - min(self.hours))
        return sum(past) / span_hours * window_s / 3600


class FlameDetector:
    kind = "flame"

    def __init__(self, profile: Profile, state: dict[str, Any] | None = None,
                 config: FlameConfig | None = None) -> None:
        self.official = profile.official_handles
        self.config = config or FlameConfig()
        self.targets: dict[str, _Target] = {
            name: _Target(t) for name, t in (state or {}).get("targets", {}).items()}

    def to_state(self) -> dict[str, Any]:
        return {"targets": {name: t.to_state() for name, t in self.targets.items()}}

    def _target_of(self, m: Mention) -> str | None:
        for ref in (m.reply_to, m.quote_of):
            if ref is not None and ref.account.lower() in self.official:
                return ref.account.lower()
        if m.repost_of is None and "@" in m.text:
            for handle in _HANDLE.findall(m.text):
                if handle.lower() in self.official:
                    return handle.lower()
        return None

    def on_event(self, event: Event, ctx: Context) -> list[Finding]:
        if not isinstance(event, Mention):
            return []
        return self.on_mention(event)

    def on_mention(self, m: Mention) -> list[Finding]:
        target = self._target_of(m)
        if target is None or m.author.handle.lower() in self.official:
            return []
        cfg = self.config
        st = self.targets.get(target)
        if st is None:
            st = self.targets[target] = _Target()
        now = m.ts
        if st.episode is not None and now - st.episode["last_critical"] > cfg.quiet_close_s:
            st.episode = None
        critical = is_critical(m.text)
        st.add([now, m.author.id, int(critical), m.author.followers, m.id],
               cfg.window_s, cfg.history_hours, cfg.window_cap)
        if st.episode is not None:
            return self._grow(target, st, m, critical)
        return self._maybe_open(target, st, now)

    def _maybe_open(self, target: str, st: _Target, now: float) -> list[Finding]:
        cfg = self.config
        if st.critical < cfg.min_critical or len(st.critical_authors) < cfg.min_authors:
            return []
        if st.critical / len(st.recent) < cfg.min_share:
            return []
        baseline = st.baseline(now, cfg.window_s)
        if st.window_count(now, cfg.window_s, cfg.window_cap) < cfg.baseline_factor * baseline + cfg.min_critical:
            return []
        crit = [r for r in st.recent if r[2]]
        reach = sum(r[3] for r in crit)
        st.episode = {
            "opened_at": now,
            "last_critical": now,
            "count": len(crit),
            "total": len(st.recent),
            "reach": reach,
            "authors": sorted(st.critical_authors),
            "evidence": [r[4] for r in crit][: cfg.evidence_cap],
            "severity": severity_for(len(crit), reach),
            "reported_count": len(crit),
            "reports": 0,
            "baseline": round(baseline, 2),
        }
        return [self._finding(target, st.episode, "opened", now)]

    def _grow(self, target: str, st: _Target, m: Mention, critical: bool) -> list[Finding]:
        episode = st.episode
        assert episode is not None
        episode["total"] += 1
        if not critical:
            return []
        cfg = self.config
        episode["last_critical"] = m.ts
        episode["count"] += 1
        episode["reach"] += m.author.followers
        if len(episode["authors"]) < cfg.authors_cap and m.author.id not in episode["authors"]:
            episode["authors"].append(m.author.id)
        if len(episode["evidence"]) < cfg.evidence_cap:
            episode["evidence"].append(m.id)
        severity = severity_for(episode["count"], episode["reach"])
        grew = episode["count"] - episode["reported_count"] >= cfg.update_every
        if severity == episode["severity"] and not grew:
            return []
        episode["severity"] = severity
        episode["reported_count"] = episode["count"]
        episode["reports"] += 1
        return [self._finding(target, episode, "updated", m.ts)]

    def _finding(self, target: str, episode: dict[str, Any], change: str, now: float) -> Finding:
        count, authors = episode["count"], len(episode["authors"])
        return Finding(
            target=target,
            change=change,
            opened_at=episode["opened_at"],
            at=now,
            severity=episode["severity"],
            evidence_ids=list(episode["evidence"]),
            summary=(f"@{target} への批判的な返信・引用・言及が {count} 件"
                     f"（{authors} 人）。通常は10分あたり約 {episode['baseline']} 件。"),
            metrics={"critical": count, "total": episode["total"], "authors": authors,
                     "reach": episode["reach"], "baseline_per_window": episode["baseline"]},
            seq=episode["reports"],
        )
