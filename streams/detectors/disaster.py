"""災害 disaster monitoring: a surge on the municipality's disaster hashtag (or of local
posts in disaster words) opens one disaster incident, and 救助要請 rescue requests
are picked out, deduplicated and carried on it as priority items for the board.

Pure and in event time. Two channels keep a five-minute window and their own
hourly baseline: posts carrying a disaster hashtag, and, with a higher bar,
posts naming the municipality in disaster vocabulary. A matching 気象庁 warning
lowers both bars for a while and also reads each channel over a long window (an
hour), so that a slow rain or snow disaster opens when a few people have reported
it, not when five minutes finally get loud; an emergency (特別警報) opens an
episode by itself. A report of a small quake (震度4 or less) is not a warning: it
raises the bars for a while, since everyone who felt it says so. The episode
is quiet (no longer `active`) after `quiet_close_s` not busy; a surge on the same hashtags within
`episode_end_s` of the last busy moment (aftershocks, the next band of rain) is a 再燃 of the same
episode, not a new incident; after that the episode ends and a later surge opens a new one.
A planned outage the city announced (工事のため…断水します, `announcements.planned_outage`) is
no disaster: until the day it names is over, posts naming the city whose only disaster words
are that outage's (「和光市の川端、明日断水だって」) do not count in the names channel.

What a post says (vocabulary, rescue requests, places) is read in `disaster_posts`,
how strong an alert is in `disaster_alerts`; each channel's windows are `disaster_window`.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from dataclasses import dataclass
from typing import Any

from vocabulary.contract import AccountEvent, Alert, Event, Mention, Profile
from vocabulary.terms import SEVERITIES
from streams.detectors.announcements import planned_outage
from streams.detectors.common import Context, Finding
from streams.detectors.disaster_alerts import (
    DAMAGING_INTENSITY,
    EMERGENCY,
    WARNING,
    alert_level,
    seismic_intensity,
)
from streams.detectors.disaster_posts import (
    NOT_A_REPORT_FOLDED,
    STRONG_VOCABULARY_FOLDED,
    VOCABULARY_FOLDED,
    may_concern_a_disaster,
    place_from_geo,
    rescue_in,
    rescue_key,
)
from streams.detectors.disaster_window import Channel
from streams.detectors.text import canonical, contains_any, fold_phrases, normalize

# --- severity ---------------------------------------------------------------


def severity_for(posts: int, authors: int, rescues: int, alert: int) -> str:
    """Volume and distinct authors set the level; any rescue request or an emergency makes it high."""
    level = 0
    if posts >= 15 or authors >= 10 or alert >= WARNING:
        level = 1
    if posts >= 50 or authors >= 30 or rescues >= 1 or alert >= EMERGENCY:
        level = 2
    if posts >= 200 or authors >= 100 or rescues >= 5:
        level = 3
    return SEVERITIES[level]


@dataclass(frozen=True)
class DisasterConfig:
    window_s: int = 300
    # A dormant disaster hashtag: score ≥ 4 from ≥ 4 authors in five minutes, where a
    # first-hand report (揺れ・停電・浸水…) scores 1, a bare hashtag post 0.5, a repost
    # or a copy 0.5 without author credit and a rescue request 2. So 4 reports, or
    # 8 bare posts from 6 authors, open; the sample's surge opens at +90 s.
    tag_min_score: float = 4.0
    tag_min_authors: int = 4
    # Local name + disaster word without the hashtag: a higher bar (停電 is everyday).
    names_min_score: float = 8.0
    names_min_authors: int = 6
    # While a matching warning (警報) is in effect.
    warned_tag_min_score: float = 2.0
    warned_tag_min_authors: int = 2
    warned_names_min_score: float = 4.0
    warned_names_min_authors: int = 3
    # While a matching warning is in effect each channel is also read over a long window,
    # so that a slow build (rain, snow: a report every few minutes, never five in five
    # minutes) opens within the hour. Distinct first-hand authors still decide (reposts
    # and copies give none): three people with score ≥ 3 within the hour, e.g. three
    # reports, or two reports and two bare posts; one or two people never open it.
    long_window_s: int = 3600
    warned_long_tag_min_score: float = 3.0
    warned_long_tag_min_authors: int = 3
    warned_long_names_min_score: float = 6.0
    warned_long_names_min_authors: int = 5
    # The window must also beat the channel's own baseline: min + factor × baseline
    # (the baseline scaled to the window's length).
    baseline_factor: float = 3.0
    history_hours: int = 168
    # Still busy while the window holds ≥ max(2, 2 × baseline); closes after 6 h not busy.
    busy_min_score: float = 2.0
    quiet_close_s: int = 6 * 3600
    episode_end_s: int = 48 * 3600  # back at baseline this long: the episode has ended
    alert_ttl_s: int = 6 * 3600
    # After a small quake is reported for the area (震度4 or less), every bar is doubled for
    # an hour: 「揺れた」「震度3か」 from everyone who felt it is not a disaster.
    felt_quake_s: int = 3600
    felt_quake_bar_factor: float = 2.0
    rescue_lookback_s: int = 3600  # requests seen shortly before the surge join the episode
    # Bounds that keep the state snapshot (one Kafka message) small however long and loud.
    window_cap: int = 500  # per channel; far above any bar, so opening is unaffected
    long_window_cap: int = 200  # the rest of the long window; loud channels open on the short one
    evidence_cap: int = 50
    evidence_head: int = 20  # the posts that opened the episode stay; the rest roll
    rescue_cap: int = 50  # rescue requests carried on the episode, newest last
    recent_rescue_cap: int = 20  # requests kept for an episode that may open within the hour
    alerts_cap: int = 10
    dedupe_cap: int = 2000  # distinct rescue requests remembered for deduplication
    authors_cap: int = 500  # distinct authors listed per episode (severity needs ≤ 100)
    text_cap: int = 140
    # The city's announcements of planned outages (工事のため断水します) explain the residents
    # who retell them (和光市、明日断水だって): kept until six hours after the last day it names
    # (or `planned_keep_s` when it names none), at most `planned_cap`.
    planned_keep_s: int = 2 * 86400
    planned_cap: int = 10


_TAG, _NAMES = "tag", "names"
_REPORT, _BARE, _ECHO, _RESCUE = 1.0, 0.5, 0.5, 2.0


class DisasterDetector:
    """災害 monitoring of one municipality; `active` is true while an episode is open."""

    kind = "disaster"

    def __init__(self, profile: Profile, state: dict[str, Any] | None = None,
                 config: DisasterConfig | None = None) -> None:
        state = state or {}
        self.config = config or DisasterConfig()
        self.official = profile.official_handles
        self.tags = tuple(profile.disaster_hashtags) or (f"{profile.name}災害",)
        self._tag_index = {self._fold_tag(t): i for i, t in reversed(list(enumerate(self.tags)))}
        self._tag_cache: dict[str, int] = {}
        self.names = fold_phrases(tuple(dict.fromkeys((profile.name, *profile.names))))
        self.areas = frozenset(canonical(a) for a in profile.areas)
        self.municipality_name = canonical(profile.name)
        self.channels = {name: Channel(state.get("channels", {}).get(name)) for name in (_TAG, _NAMES)}
        self.first_hour: int | None = state.get("first_hour")
        self.episode: dict[str, Any] | None = state.get("episode")
        self.alert: dict[str, Any] | None = state.get("alert")
        # A small felt quake reported for the area (震度3): bars are raised until "until".
        self.felt: dict[str, Any] | None = state.get("felt")
        # Known rescue requests, oldest first: text key → request id, and back for reposts.
        self.rescue_keys: dict[str, str] = {k: i for k, i in state.get("rescue_keys", ())}
        self.rescue_ids: dict[str, str] = {i: k for k, i in self.rescue_keys.items()}
        self.recent_rescues: deque[dict[str, Any]] = deque(
            state.get("recent_rescues", ()), maxlen=self.config.recent_rescue_cap)
        # Planned outages the city announced: [post id, until (ts), the outage words (断水)].
        self.planned: list[list[Any]] = [list(p) for p in state.get("planned", ())]

    # --- the detector shape ---------------------------------------------

    @property
    def active(self) -> bool:
        """A disaster episode is busy (as of the last event seen); other detectors calm down.
        An episode that has gone quiet and waits for aftershocks is not."""
        return self.episode is not None and not self.episode.get("calm")

    def to_state(self) -> dict[str, Any]:
        return {
            "first_hour": self.first_hour,
            "channels": {name: ch.to_state() for name, ch in self.channels.items()},
            "episode": self.episode,
            "alert": self.alert,
            "felt": self.felt,
            "rescue_keys": [[k, i] for k, i in self.rescue_keys.items()],
            "recent_rescues": list(self.recent_rescues),
            "planned": [list(p) for p in self.planned],
        }

    def shrink(self) -> None:
        """Forget the older half of the windows, the rescue keys and the episode's lists.

        Only for a snapshot that would not fit in one message (`streams.stage`).
        """
        for name, channel in list(self.channels.items()):
            state = channel.to_state()
            entries = [*state["earlier"], *state["recent"]]
            drop = len(entries) - len(entries) // 2 if len(entries) > 1 else len(entries)
            state["earlier"], state["recent"] = (state["earlier"][drop:],
                                                 state["recent"][max(0, drop - len(state["earlier"])):])
            self.channels[name] = Channel(state)
        keys = list(self.rescue_keys.items())
        keys = keys[len(keys) - len(keys) // 2:] if len(keys) > 1 else []
        self.rescue_keys = dict(keys)
        self.rescue_ids = {i: k for k, i in keys}
        if self.episode is not None:
            for name in ("authors", "evidence_tail"):
                self.episode[name] = self.episode[name][: len(self.episode[name]) // 2]
            self.episode["rescues"] = self.episode["rescues"][len(self.episode["rescues"]) // 2:]

    def on_event(self, event: Event, ctx: Context) -> list[Finding]:
        now = event.ts
        episode = self.episode
        if episode is not None and now - episode["last_busy"] >= self.config.quiet_close_s:
            if now - episode["last_busy"] >= self.config.episode_end_s:
                self.episode = None
            else:
                episode["calm"] = True  # quiet: waits for a comeback (余震) until episode_end_s
        if self.first_hour is None:
            self.first_hour = int(now // 3600)
        if isinstance(event, Mention):
            return self.on_mention(event)
        if isinstance(event, Alert):
            return self.on_alert(event)
        if isinstance(event, AccountEvent) and event.type == "official_post" and event.post:
            text = event.post.get("text")
            self._remember_planned(str(event.post.get("id")), text if isinstance(text, str) else "", now)
        return []

    # --- mentions ---------------------------------------------------------

    @staticmethod
    def _fold_tag(tag: str) -> str:
        return canonical(tag).lstrip("#").lower()

    def _disaster_tag(self, tags: tuple[str, ...]) -> int:
        cache = self._tag_cache
        for tag in tags:
            index = cache.get(tag)
            if index is None:
                if len(cache) >= 4096:
                    cache.clear()
                index = cache[tag] = self._tag_index.get(self._fold_tag(tag), -1)
            if index >= 0:
                return index
        return -1

    def on_mention(self, m: Mention) -> list[Finding]:
        tag = self._disaster_tag(m.hashtags) if m.hashtags else -1
        text = m.text
        if tag < 0 and (not text or not may_concern_a_disaster(text)):
            repost = m.repost_of
            if repost is None or repost.post_id not in self.rescue_ids:
                return []  # the common path: nothing about a disaster here
        if m.author.handle.lower() in self.official:
            self._remember_planned(m.id, text, m.ts)
            return []  # the city's own posts (drill notices, 災害情報) are not a surge
        norm = normalize(text) if text else ""
        if norm and contains_any(norm, NOT_A_REPORT_FOLDED):
            return []
        rescue, copy = self._rescue(m, norm)
        echo = m.repost_of is not None or copy
        if tag >= 0:
            channel: str | None = _TAG
            weight = _weight(echo, rescue, norm, VOCABULARY_FOLDED)
        elif norm and contains_any(norm, self.names) and (
                rescue is not None or contains_any(norm, VOCABULARY_FOLDED)) and (
                rescue is not None or not self._explained(norm, m.ts)):
            channel = _NAMES
            weight = _weight(echo, rescue, norm, STRONG_VOCABULARY_FOLDED)
        else:
            channel = None
        findings: list[Finding] = []
        if channel is not None:
            entry = [m.ts, weight, "" if echo else m.author.id, m.id, tag]
            self.channels[channel].add(entry, self.config, into_baseline=self.episode is None)
            if self.episode is None or self.episode.get("calm"):
                findings = self._maybe_open(channel, m.ts)
            else:
                findings = self._grow(channel, m, rescue)
        elif rescue is not None and self.episode is not None:
            findings = self._grow(None, m, rescue)
        return findings

    def _remember_planned(self, post_id: str, text: str, now: float) -> None:
        """Keep the city's announcement of a planned outage (工事のため…断水します)."""
        found = planned_outage(text, now) if text else None
        if found is None or any(p[0] == post_id for p in self.planned):
            return
        words, until = found
        self.planned.append([post_id, max(until, now + 3600) if until else now + self.config.planned_keep_s,
                             sorted(words)])
        del self.planned[: max(0, len(self.planned) - self.config.planned_cap)]

    def _explained(self, norm: str, now: float) -> bool:
        """A post whose only disaster words are those of a planned outage the city announced
        (「和光市の川端、明日断水だって」) retells it: no report of a disaster."""
        if not self.planned:
            return False
        self.planned = [p for p in self.planned if now <= p[1]]
        words = {w for p in self.planned for w in p[2]}
        return bool(words) and all(w in words for w in VOCABULARY_FOLDED if w in norm)

    def _rescue(self, m: Mention, norm: str) -> tuple[dict[str, Any] | None, bool]:
        """A new rescue request as a board item, and whether the post copies a known one."""
        cfg = self.config
        if m.repost_of is not None and m.repost_of.post_id in self.rescue_ids:
            self._count_copy(m.repost_of.post_id)
            return None, True
        if not norm:
            return None, False
        found = rescue_in(norm, m.text)
        if found is None:
            return None, False
        key = rescue_key(m.text)
        if key in self.rescue_keys:
            self._count_copy(self.rescue_keys[key])
            return None, True
        if m.repost_of is not None:
            return None, False  # a repost of a post we never saw: its author asked, not this one
        self.rescue_keys[key] = m.id
        self.rescue_ids[m.id] = key
        while len(self.rescue_keys) > cfg.dedupe_cap:
            del self.rescue_ids[self.rescue_keys.pop(next(iter(self.rescue_keys)))]
        while self.recent_rescues and m.ts - self.recent_rescues[0]["ts"] > cfg.rescue_lookback_s:
            self.recent_rescues.popleft()
        item = {"id": m.id, "at": m.ts_text, "ts": m.ts,
                "place": (found.place or place_from_geo(getattr(m, "geo", None)) or "")[:cfg.text_cap] or None,
                "text": m.text[:cfg.text_cap], "kind": found.kind, "phrase": found.phrase,
                "copies": 0}
        self.recent_rescues.append(item)
        if self.episode is not None:
            _append_capped(self.episode["rescues"], dict(item), cfg.rescue_cap)
            self.episode["rescue_count"] += 1
        return item, False

    def _count_copy(self, request_id: str) -> None:
        lists = [self.recent_rescues] + ([self.episode["rescues"]] if self.episode else [])
        for items in lists:
            for item in items:
                if item["id"] == request_id:
                    item["copies"] += 1

    # --- alerts -----------------------------------------------------------

    def _covers_us(self, alert: Alert) -> bool:
        for area in alert.areas:
            area = canonical(area)
            if area in self.areas or self.municipality_name in area:
                return True
        return False

    def on_alert(self, alert: Alert) -> list[Finding]:
        if not self._covers_us(alert):
            return []
        title = canonical(alert.title)
        if "解除" in title:
            self.alert = None
            return []
        now = alert.ts
        intensity = seismic_intensity(alert)
        if intensity is not None:
            if intensity < DAMAGING_INTENSITY:
                # A felt quake (震度3): the chatter that follows is explained, so the bars
                # rise for a while; it lowers nothing and opens nothing.
                self.felt = {"until": now + self.config.felt_quake_s, "id": alert.id}
            else:
                self.felt = None  # a damaging quake after a small one: nothing is explained
        level = alert_level(alert)
        if not level:
            return []
        if self.alert is not None and now < self.alert["until"]:
            level = max(level, self.alert["level"])
        self.alert = {"level": level, "until": now + self.config.alert_ttl_s, "id": alert.id}
        episode = self.episode
        if episode is not None:
            _append_capped(episode["alerts"], alert.id, self.config.alerts_cap)
            episode["alert_level"] = max(episode["alert_level"], level)
            episode["last_busy"] = max(episode["last_busy"], now)
            if episode.get("calm"):  # a new warning for a quiet episode: it is back
                return self._resurge(now, [], [])
            return self._report_if_material(now, new_rescue=False)
        if level < EMERGENCY:
            return []  # a warning alone lowers the bar, it does not open
        episode = self._open_episode(self.tags[0], now, source="alert", evidence=[alert.id],
                                     posts=0, authors=[], baseline=0.0, alert_level=level)
        episode["alerts"].append(alert.id)
        episode["title"] = alert.title[: self.config.text_cap]  # the contract sets no limit on a title
        return [self._finding("opened", now)]

    def _alert_level_at(self, now: float) -> int:
        if self.alert is None or now >= self.alert["until"]:
            return 0
        return int(self.alert["level"])

    # --- episodes ---------------------------------------------------------

    def _baseline(self, channel: str, now: float, *, long: bool = False) -> float:
        cfg = self.config
        first = self.first_hour if self.first_hour is not None else int(now // 3600)
        if long:
            return self.channels[channel].baseline(now, first, cfg, cfg.long_window_s,
                                                   before_window=True)
        return self.channels[channel].baseline(now, first, cfg, cfg.window_s)

    def _felt_at(self, now: float) -> bool:
        return self.felt is not None and now < self.felt["until"]

    def _bar(self, channel: str, now: float, *, long: bool = False) -> tuple[float, int]:
        """The (score, distinct authors) a window must reach; `long` only counts under a warning."""
        cfg = self.config
        warned = self._alert_level_at(now) >= WARNING
        if long:
            bar = ((cfg.warned_long_tag_min_score, cfg.warned_long_tag_min_authors)
                   if channel == _TAG else
                   (cfg.warned_long_names_min_score, cfg.warned_long_names_min_authors))
        elif channel == _TAG:
            bar = ((cfg.warned_tag_min_score, cfg.warned_tag_min_authors) if warned
                   else (cfg.tag_min_score, cfg.tag_min_authors))
        else:
            bar = ((cfg.warned_names_min_score, cfg.warned_names_min_authors) if warned
                   else (cfg.names_min_score, cfg.names_min_authors))
        if self._felt_at(now):  # a small felt quake explains some chatter
            factor = cfg.felt_quake_bar_factor
            return bar[0] * factor, math.ceil(bar[1] * factor)
        return bar

    def _surge(self, channel: str, now: float) -> tuple[list[list[Any]], Counter[str], float, int] | None:
        """The window that passes its bar: (entries, authors, baseline, window_s), or None.

        The five-minute window first; while a warning is in effect, then the long one,
        so that a slow build (a report every few minutes) opens within the hour.
        """
        cfg = self.config
        ch = self.channels[channel]
        min_score, min_authors = self._bar(channel, now)
        if ch.score >= min_score and len(ch.authors) >= min_authors:
            baseline = self._baseline(channel, now)
            if ch.score >= min_score + cfg.baseline_factor * baseline:
                return list(ch.recent), ch.authors, baseline, cfg.window_s
        if self._alert_level_at(now) < WARNING:
            return None
        min_score, min_authors = self._bar(channel, now, long=True)
        if ch.long_score < min_score or len(ch.long_authors) < min_authors:
            return None
        baseline = self._baseline(channel, now, long=True)
        if ch.long_score < min_score + cfg.baseline_factor * baseline:
            return None
        return ch.long_entries(), ch.long_authors, baseline, cfg.long_window_s

    def _maybe_open(self, channel: str, now: float) -> list[Finding]:
        surge = self._surge(channel, now)
        if surge is None:
            return []
        entries, authors, baseline, window_s = surge
        if self.episode is not None:  # quiet, not ended: the same disaster again (余震)
            return self._resurge(now, entries, list(authors))
        cfg = self.config
        if channel == _TAG:
            used = Counter(e[4] for e in entries if e[4] >= 0)
            target = self.tags[used.most_common(1)[0][0]] if used else self.tags[0]
        else:
            target = self.tags[0]
        evidence = [e[3] for e in entries][-cfg.evidence_head:]
        episode = self._open_episode(
            target, now, source="hashtag" if channel == _TAG else "names", evidence=evidence,
            posts=len(entries), authors=list(authors)[: cfg.authors_cap],
            baseline=baseline, alert_level=self._alert_level_at(now))
        episode["window_s"] = window_s
        if self.alert is not None and self._alert_level_at(now):
            episode["alerts"].append(self.alert["id"])
        for item in self.recent_rescues:
            if now - item["ts"] <= cfg.rescue_lookback_s:
                _append_capped(episode["rescues"], dict(item), cfg.rescue_cap)
                episode["rescue_count"] += 1
                if item["id"] not in evidence:
                    _append_capped(episode["evidence_tail"], item["id"],
                                   cfg.evidence_cap - cfg.evidence_head)
        episode["severity"] = self._severity()
        return [self._finding("opened", now)]

    def _resurge(self, now: float, entries: list[list[Any]], authors: list[str]) -> list[Finding]:
        """再燃: a quiet episode surges again (aftershocks, another band of rain). It stays one
        incident: the surge's posts and people join it and the people on it hear of it."""
        ep = self.episode
        assert ep is not None
        cfg = self.config
        ep["calm"] = False
        ep["last_busy"] = now
        ep["waves"] = ep.get("waves", 1) + 1
        ep["posts"] += len(entries)
        for author in authors:
            if author and author not in ep["authors"]:
                ep["author_count"] += 1
                if len(ep["authors"]) < cfg.authors_cap:
                    ep["authors"].append(author)
        for entry in entries:
            if entry[3] not in ep["evidence_head"]:
                _append_capped(ep["evidence_tail"], entry[3], cfg.evidence_cap - cfg.evidence_head)
        severity = self._severity()
        if SEVERITIES.index(severity) > SEVERITIES.index(ep["severity"]):
            ep["severity"] = severity
        ep["seq"] += 1
        return [self._finding("updated", now, resurgence=True)]

    def _open_episode(self, target: str, now: float, *, source: str, evidence: list[str],
                     posts: int, authors: list[str], baseline: float,
                     alert_level: int) -> dict[str, Any]:
        episode = {
            "target": target, "opened_at": now, "last_busy": now, "source": source,
            "posts": posts, "authors": authors, "author_count": len(authors),
            "evidence_head": evidence, "evidence_tail": [], "rescues": [], "rescue_count": 0,
            "alerts": [], "alert_level": alert_level, "baseline": round(baseline, 2),
            "seq": 0, "next_volume": max(2 * posts, 2), "severity": "low",
        }
        self.episode = episode
        episode["severity"] = self._severity()
        return episode

    def _severity(self) -> str:
        ep = self.episode
        assert ep is not None
        return severity_for(ep["posts"], ep["author_count"], ep["rescue_count"], ep["alert_level"])

    def _grow(self, channel: str | None, m: Mention, rescue: dict[str, Any] | None) -> list[Finding]:
        ep = self.episode
        assert ep is not None
        cfg = self.config
        now = m.ts
        if channel is not None:
            ep["posts"] += 1
            ch = self.channels[channel]
            busy_floor = max(cfg.busy_min_score, 2 * self._baseline(channel, now))
            if ch.score >= busy_floor:
                ep["last_busy"] = max(ep["last_busy"], now)
        author = m.author.id
        if m.repost_of is None and author not in ep["authors"]:
            ep["author_count"] += 1
            if len(ep["authors"]) < cfg.authors_cap:
                ep["authors"].append(author)
        if rescue is not None:
            ep["last_busy"] = max(ep["last_busy"], now)
        if rescue is not None or (channel is not None and m.repost_of is None):
            if m.id not in ep["evidence_head"]:
                _append_capped(ep["evidence_tail"], m.id, cfg.evidence_cap - cfg.evidence_head)
        return self._report_if_material(now, new_rescue=rescue is not None)

    def _report_if_material(self, now: float, *, new_rescue: bool) -> list[Finding]:
        """Update only on a new rescue request, a higher severity, or a doubling of volume."""
        ep = self.episode
        assert ep is not None
        severity = self._severity()
        raised = SEVERITIES.index(severity) > SEVERITIES.index(ep["severity"])
        doubled = ep["posts"] >= ep["next_volume"]
        while ep["posts"] >= ep["next_volume"]:
            ep["next_volume"] *= 2
        if not (new_rescue or raised or doubled):
            return []
        if raised:
            ep["severity"] = severity
        ep["seq"] += 1
        return [self._finding("updated", now)]

    def _finding(self, change: str, now: float, *, resurgence: bool = False) -> Finding:
        ep = self.episode
        assert ep is not None
        rescues = [{k: r[k] for k in ("id", "at", "place", "text", "kind", "copies")}
                   for r in ep["rescues"]]
        if ep["source"] == "alert" and not ep["posts"]:
            summary = (f"{ep.get('title') or '特別警報'}が発表されました。"
                       f"#{ep['target']} の投稿と救助要請を監視しています。")
        else:
            summary = (f"#{ep['target']} などに災害関連の投稿が {ep['posts']} 件"
                       f"（{ep['author_count']} 人）。")
            if ep["rescue_count"]:
                places = [r["place"] for r in rescues if r["place"]][-3:]
                summary += f"救助要請 {ep['rescue_count']} 件" + (
                    f"（{'、'.join(places)} など）。" if places else "。")
            if ep["alert_level"] >= EMERGENCY:
                summary += "特別警報・緊急の警報が出ています。"
            elif ep["alert_level"] >= WARNING:
                summary += "警報が出ています。"
        waves = ep.get("waves", 1)
        if resurgence:
            summary = f"再燃（第{waves}波）: " + summary
        elif waves > 1:
            summary += f"これまで {waves} 回の波。"
        return Finding(
            target=ep["target"],
            change=change,
            opened_at=ep["opened_at"],
            at=now,
            severity=ep["severity"],
            evidence_ids=[*ep["evidence_head"], *ep["evidence_tail"]][: self.config.evidence_cap],
            summary=summary,
            metrics={"posts": ep["posts"], "authors": ep["author_count"],
                     "rescue_requests": rescues, "rescue_request_count": ep["rescue_count"],
                     "alerts": list(ep["alerts"]), "source": ep["source"],
                     "baseline_per_window": ep["baseline"],
                     "window_s": ep.get("window_s", None if ep["source"] == "alert"
                                         else self.config.window_s),
                     "wave": waves, **({"resurgence": True} if resurgence else {})},
            seq=ep["seq"],
        )


def _weight(echo: bool, rescue: dict[str, Any] | None, norm: str, vocabulary: tuple[str, ...]) -> float:
    """How much a post says that a disaster is happening here (see DisasterConfig)."""
    if echo:
        return _ECHO
    if rescue is not None:
        return _RESCUE
    return _REPORT if contains_any(norm, vocabulary) else _BARE


def _append_capped(items: list[Any], item: Any, cap: int) -> None:
    items.append(item)
    if len(items) > cap:
        del items[: len(items) - cap]
