"""What the board knows, built only from what the worker publishes: the incidents,
timeline and effects topics, and — for the evidence posts — the input posts the
incidents point at. Pure and bounded: records in, nothing out but reads.

Per incident it keeps the latest record, chart points (one per detector report),
the last timeline entries, rescue requests, held accounts and the evidence posts;
the detail of ended incidents is dropped first when there are too many. The
monthly report needs only a small summary per incident, kept much longer. From the
dead letters it keeps only the workers' notices to the operators (banners): the last of each
kind per municipality, e.g. "the broker lost its data" or "a detector state was cut down".
From the heartbeats topic it keeps the latest heartbeat per input partition (監視: 正常 · 12秒前).
For the システム状態 page it also keeps the newest `MAX_DEADLETTERS` dead letters, each with the start
of its content only.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections import OrderedDict, deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from streams import heartbeat as heartbeats
from vocabulary.effects import DisasterMode, HoldReplies, QueueRescue, ReleaseHold, effect_from
from vocabulary.records import BROKER_LOG_LOST, STATE_TOO_LARGE, Effect, Incident, TimelineEntry
# ALL: a notice for everyone (the broker is shared) has this municipality, as an admin's scope does.
from vocabulary.terms import ALL as ALL, TERMINAL_STATES

#: Incidents whose detail (timeline, chart, evidence) is kept; open ones are never dropped.
MAX_INCIDENTS = 2000
#: Report rows (a few hundred bytes each): years of a busy ward.
MAX_SUMMARIES = 100_000
TIMELINE_PER_INCIDENT = 300
POINTS_PER_INCIDENT = 240
#: Evidence posts kept per incident: every one a detector sends (their caps are 50), for the incident
#: page's pages (newest first).
EVIDENCE_PER_INCIDENT = 50
RESCUES_PER_INCIDENT = 500


def _pinned(incident: Incident) -> list[str]:
    """The evidence posts the board keeps for `incident`: the newest EVIDENCE_PER_INCIDENT."""
    return incident.evidence_ids[-EVIDENCE_PER_INCIDENT:]
#: Input posts kept while no incident points at them yet (evidence precedes the detection).
RECENT_POSTS = 5000
TEXT_LIMIT = 1000


def parse_time(rfc3339: object) -> float | None:
    if not isinstance(rfc3339, str):
        return None
    try:
        return datetime.fromisoformat(rfc3339).timestamp()
    except ValueError:
        return None


def is_newer(current: Incident | None, candidate: Incident) -> bool:
    """Redeliveries arrive twice or out of order: only a higher version is a change."""
    return current is None or candidate.version > current.version


@dataclass(frozen=True, slots=True)
class Post:
    """An input post (or account event) as evidence: who said what, when."""

    post_id: str
    kind: str  # "mention" | "account"
    platform: str
    at: str
    author: str  # handle, without @
    author_name: str
    text: str


def _clip(value: object, limit: int = TEXT_LIMIT) -> str:
    return value[:limit] if isinstance(value, str) else ""


def parse_post(raw: bytes | None) -> Post | None:
    """A contract `mention` or `account` line; anything else (or broken) is None."""
    if not raw:
        return None
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(obj, dict) or not isinstance(obj.get("id"), str):
        return None
    kind = obj.get("kind")
    if kind == "mention":
        author = obj.get("author") if isinstance(obj.get("author"), dict) else {}
        return Post(post_id=obj["id"], kind=kind, platform=_clip(obj.get("platform"), 20),
                    at=_clip(obj.get("ts"), 40), author=_clip(author.get("handle"), 100),
                    author_name=_clip(author.get("name"), 100), text=_clip(obj.get("text")))
    if kind == "account":
        account = obj.get("account") if isinstance(obj.get("account"), dict) else {}
        post = obj.get("post") if isinstance(obj.get("post"), dict) else {}
        text = " / ".join(t for t in (_clip(account.get("bio")), _clip(obj.get("note")),
                                      _clip(post.get("text"))) if t)
        return Post(post_id=obj["id"], kind=kind, platform=_clip(obj.get("platform"), 20),
                    at=_clip(obj.get("ts"), 40), author=_clip(account.get("handle"), 100),
                    author_name=_clip(account.get("name"), 100), text=text[:TEXT_LIMIT])
    return None


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def measure(incident: Incident) -> tuple[float | None, float | None]:
    """(volume, negativity) of one detector report: the episode's post count so far, and
    for a flame-up the share of those posts that are critical."""
    m = incident.metrics
    volume = next((v for v in (_number(m.get(k)) for k in ("total", "posts", "critical")) if v is not None),
                  float(len(incident.evidence_ids)))
    critical, total = _number(m.get("critical")), _number(m.get("total"))
    negativity = critical / total if critical is not None and total else None
    return volume, negativity


@dataclass(slots=True)
class Summary:
    """One incident for the monthly report (報告): when it opened, was acknowledged,
    first answered in public and ended."""

    incident_id: str
    municipality: str
    type: str
    target: str
    opened_at: str
    opened_ts: float
    severity: str
    drill: bool
    state: str
    acknowledged_ts: float | None = None
    first_post_ts: float | None = None
    ended_ts: float | None = None
    version: int = 0


@dataclass(slots=True)
class IncidentData:
    incident: Incident | None = None
    points: deque[tuple[float, float | None, float | None, int]] = field(
        default_factory=lambda: deque(maxlen=POINTS_PER_INCIDENT))  # (ts, volume, negativity, seq)
    timeline: OrderedDict[str, TimelineEntry] = field(default_factory=OrderedDict)
    trimmed: bool = False
    rescues: OrderedDict[str, dict[str, Any]] = field(default_factory=OrderedDict)
    handled: dict[str, dict[str, Any]] = field(default_factory=dict)  # request_id → {by, at}
    holds: dict[str, dict[str, Any]] = field(default_factory=dict)  # handle → {platform, reason, at}
    disaster_mode: bool | None = None  # from the disaster_mode effects
    evidence: dict[str, Post] = field(default_factory=dict)
    #: Bumped by every change to what the incident page shows: a page drawn at one revision
    #: learns from the stream that it is stale if the board moved on before it connected.
    rev: int = 0



@dataclass(frozen=True, slots=True)
class Notice:
    """A worker's notice to the operators, carried by a dead letter whose reason begins with
    a known word (`NOTICES`): shown as a banner on every page of those it concerns."""

    kind: str  # the reason's first word: broker_log_lost | state_too_large
    at: str  # when the worker found it (RFC 3339)
    municipality: str  # the one it concerns (the dead letter's key), or ALL: every user's
    topic: str  # where: for state_too_large the message processed when the state was cut
    partition: int
    offset: int
    reset: bool = False  # state_too_large: every detector's history was dropped, not only the oldest

    def concerns(self, municipality: str) -> bool:
        """Tenancy: a user sees the notices about their municipality and the system-wide
        ones; an admin with `*` sees all."""
        return municipality == ALL or self.municipality in (ALL, municipality)


#: The dead letters that are notices: the first word of the reason → whether it is about one
#: municipality (its key). Every other dead letter is passed over after 64 bytes.
NOTICES: dict[str, bool] = {BROKER_LOG_LOST: False, STATE_TOO_LARGE: True}
#: Notices kept (the latest of each kind per municipality); the oldest go first.
MAX_NOTICES = 200
_REASON_WORD = re.compile(rb'"reason"\s*:\s*"([a-z_]+):')
#: How the worker's state_too_large reason says it dropped everything (streams.stage._snapshot).
STATE_RESET = "every detector's history was dropped"


def parse_notice(raw: bytes | None) -> Notice | None:
    """The notice in a dead letter, or None for any other dead letter (read no further)."""
    found = _REASON_WORD.search(raw[:64]) if raw else None
    if found is None or found.group(1).decode() not in NOTICES:
        return None
    kind = found.group(1).decode()
    obj = orjson.loads(raw)  # type: ignore[arg-type]
    municipality = obj.get("key") if NOTICES[kind] else ALL
    notice = Notice(kind=kind, at=obj.get("failed_at"), municipality=municipality, topic=obj.get("topic"),
                    partition=obj.get("partition"), offset=obj.get("offset"),
                    reset=kind == STATE_TOO_LARGE and STATE_RESET in str(obj.get("reason")))
    if not (isinstance(notice.at, str) and isinstance(notice.municipality, str) and notice.municipality
            and isinstance(notice.topic, str) and type(notice.partition) is int and type(notice.offset) is int):
        raise ValueError(f"wrong types in a {kind} dead letter")
    if NOTICES[kind] and municipality == ALL:  # a key must not make a municipality's notice everyone's
        raise ValueError(f"a {kind} dead letter keyed {ALL!r}")
    return notice


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """The pipeline's heartbeat as it came out at the far end (streams/heartbeat.py): one input
    partition, the municipality whose key carried it there, and its three hop times."""

    partition: int
    municipality: str
    sent_at: str
    sent_ts: float
    detected_at: str = ""
    played_at: str = ""


def parse_heartbeat(raw: bytes | None) -> Heartbeat:
    beat = heartbeats.parse(raw)
    sent = parse_time(beat.get("sent_at")) if beat is not None else None
    if beat is None or sent is None:
        raise ValueError("not a heartbeat")
    return Heartbeat(partition=beat["partition"], municipality=beat["municipality"], sent_at=beat["sent_at"],
                     sent_ts=sent, detected_at=_clip(beat.get("detected_at"), 40),
                     played_at=_clip(beat.get("played_at"), 40))


#: Dead letters kept for the システム状態 page (the newest by the time they failed), and how many
#: characters of each one's content: enough to recognise it, bounded whatever the flood.
MAX_DEADLETTERS = 50
DEADLETTER_TEXT_CHARS = 2000
#: Base64 characters decoded for that much text (UTF-8 takes at most 4 bytes a character).
_RAW_B64_CHARS = (DEADLETTER_TEXT_CHARS * 4 + 2) // 3 * 4


@dataclass(frozen=True, slots=True)
class DeadLetterSeen:
    """A dead letter as the システム状態 page shows it: when and why it failed, where the message
    came from, whose it was (when known), how big, and the start of its content as text."""

    at: str  # failed_at, RFC 3339
    at_ts: float
    reason: str
    topic: str
    partition: int
    offset: int
    municipality: str  # the message's own `municipality`, else its key; "" when neither says
    size: int  # bytes of the original message
    raw: str  # its first DEADLETTER_TEXT_CHARS characters (UTF-8, undecodable bytes replaced)
    clipped: bool  # raw is not the whole message

    @property
    def key(self) -> tuple[str, int, int, str, str]:
        """The same dead letter read again (the feed re-reads from the beginning) is not a new one."""
        return self.topic, self.partition, self.offset, self.at, self.reason


def _int(value: object, default: int = -1) -> int:
    return value if type(value) is int else default


def parse_deadletter(raw: bytes | None) -> DeadLetterSeen:
    """A dead letter (`vocabulary.records.DeadLetter` as JSON) for the page; fields of the wrong type
    are shown as unknown rather than dropping the letter. Not a JSON object: ValueError."""
    obj = orjson.loads(raw or b"")
    if not isinstance(obj, dict):
        raise ValueError("a dead letter that is not a JSON object")
    b64 = obj.get("raw_b64") if isinstance(obj.get("raw_b64"), str) else ""
    try:
        data = base64.b64decode(b64[:_RAW_B64_CHARS])
    except (binascii.Error, ValueError):
        data = b""
    text = data.decode("utf-8", "replace")
    whole = len(b64) <= _RAW_B64_CHARS and not obj.get("truncated")
    municipality = ""
    if whole and data[:1] == b"{":
        try:
            content = orjson.loads(data)
        except orjson.JSONDecodeError:
            content = None
        if isinstance(content, dict) and isinstance(content.get("municipality"), str):
            municipality = content["municipality"]
    key = obj.get("key")
    if not municipality and isinstance(key, str) and ":" not in key:
        municipality = key  # the input topics are keyed by municipality
    at = _clip(obj.get("failed_at"), 64)
    return DeadLetterSeen(at=at, at_ts=parse_time(at) or 0.0, reason=_clip(obj.get("reason"), 2000),
                          topic=_clip(obj.get("topic"), 256), partition=_int(obj.get("partition")),
                          offset=_int(obj.get("offset")), municipality=municipality[:100],
                          size=_int(obj.get("size"), len(data)), raw=text[:DEADLETTER_TEXT_CHARS],
                          clipped=not whole or len(text) > DEADLETTER_TEXT_CHARS)


#: The board says the heartbeat is late (監視: 遅延, red) past this age, unless told otherwise
#: (NOROSHI_HEARTBEAT_LATE).
HEARTBEAT_LATE_S = 180.0


@dataclass(frozen=True, slots=True)
class Watch:
    """What the header's 監視 indicator says: `waiting` (no heartbeat yet), `ok` or `late`; the age
    of the oldest of the latest heartbeats per partition; the partitions that are late."""

    state: str
    age: float | None  # seconds
    late: tuple[tuple[int, str], ...] = ()  # (partition, municipality) whose heartbeat is late
    beats: tuple[Heartbeat, ...] = ()


def watch(beats: Mapping[int, Heartbeat], now: float, late_after: float = HEARTBEAT_LATE_S, *,
          expected: Mapping[int, str] | None = None, since: float | None = None) -> Watch:
    """The 監視 indicator at `now`. `expected`: the partitions in use (partition → municipality);
    one never heard from counts from `since` (when the board started reading)."""
    ages = {p: max(0.0, now - b.sent_ts) for p, b in beats.items()}
    names = {p: b.municipality for p, b in beats.items()}
    if since is not None:
        for p, muni in (expected or {}).items():
            if p not in ages:
                ages[p], names[p] = max(0.0, now - since), muni
    kept = tuple(beats[p] for p in sorted(beats))
    if not beats:
        if ages and max(ages.values()) > late_after:
            return Watch("late", None, tuple((p, names[p]) for p in sorted(ages)), kept)
        return Watch("waiting", None, (), kept)
    late = tuple((p, names[p]) for p in sorted(ages) if ages[p] > late_after)
    oldest = max(ages[p] for p in beats)
    return Watch("late" if late else "ok", oldest, late, kept)


#: The effects the board shows (the others it learns from the timeline).
SHOWN_EFFECTS = frozenset(cls.kind for cls in (QueueRescue, DisasterMode, HoldReplies, ReleaseHold))


class BoardState:
    """Everything the pages are drawn from; each `add_*` says whether anything changed."""

    def __init__(self, *, max_incidents: int = MAX_INCIDENTS, max_summaries: int = MAX_SUMMARIES,
                 recent_posts: int = RECENT_POSTS) -> None:
        self.max_incidents = max_incidents
        self.max_summaries = max_summaries
        self.recent_posts = recent_posts
        self.data: OrderedDict[str, IncidentData] = OrderedDict()  # least recently changed first
        self.latest: dict[str, Incident] = {}
        self.summaries: dict[str, Summary] = {}
        self._recent: OrderedDict[str, Post] = OrderedDict()
        self._wanted: dict[str, set[str]] = {}  # evidence post id → incident ids that show it
        #: The banners: the latest notice of each kind per municipality.
        self.notices: OrderedDict[tuple[str, str], Notice] = OrderedDict()
        #: The latest heartbeat per input partition (bounded by the partitions).
        self.heartbeats: dict[int, Heartbeat] = {}
        #: The newest dead letters (at most max_deadletters), by `DeadLetterSeen.key`.
        self.max_deadletters = MAX_DEADLETTERS
        self._deadletters: dict[tuple[str, int, int, str, str], DeadLetterSeen] = {}

    # -- bookkeeping -----------------------------------------------------------
    def _touch(self, incident_id: str) -> IncidentData:
        data = self.data.get(incident_id)
        if data is None:
            data = self.data[incident_id] = IncidentData()
        else:
            self.data.move_to_end(incident_id)
        return data

    def _evict(self) -> None:
        """Drop the detail of the least recently changed ended (or never opened) incidents."""
        if len(self.data) <= self.max_incidents:
            return
        target = self.max_incidents - max(1, self.max_incidents // 10)
        for incident_id in list(self.data):
            if len(self.data) <= target:
                break
            data = self.data[incident_id]
            if data.incident is None or data.incident.state in TERMINAL_STATES:
                self._forget(incident_id, data)

    def _forget(self, incident_id: str, data: IncidentData) -> None:
        del self.data[incident_id]
        self.latest.pop(incident_id, None)
        if data.incident is not None:
            self._unwant(incident_id, data.incident)

    def _unwant(self, incident_id: str, incident: Incident) -> None:
        for post_id in _pinned(incident):
            wanting = self._wanted.get(post_id)
            if wanting is not None:
                wanting.discard(incident_id)
                if not wanting:
                    del self._wanted[post_id]

    # -- incidents -------------------------------------------------------------
    def add_incident(self, incident: Incident) -> bool:
        current = self.latest.get(incident.incident_id)
        if not is_newer(current, incident):
            return False
        known = self.summaries.get(incident.incident_id)
        if current is None and known is not None and incident.version <= known.version:
            return False  # a late redelivery of an incident whose detail was already dropped
        data = self._touch(incident.incident_id)
        data.rev += 1
        previous = data.incident
        data.incident = incident
        self.latest[incident.incident_id] = incident
        last_seq = data.points[-1][3] if data.points else None
        if last_seq is None or incident.detection_seq > last_seq:
            ts = parse_time(incident.updated_at) or parse_time(incident.opened_at)
            if ts is not None:
                volume, negativity = measure(incident)
                data.points.append((ts, volume, negativity, incident.detection_seq))
        if previous is None or previous.evidence_ids != incident.evidence_ids:
            self._pin_evidence(incident, data, previous)
        self._summarise(incident)
        self._evict()
        return True

    def _pin_evidence(self, incident: Incident, data: IncidentData, previous: Incident | None) -> None:
        if previous is not None:
            self._unwant(incident.incident_id, previous)
        shown = _pinned(incident)
        for post_id in shown:
            self._wanted.setdefault(post_id, set()).add(incident.incident_id)
            post = self._recent.get(post_id)
            if post is not None:
                data.evidence[post_id] = post
        keep = set(shown)
        for post_id in [p for p in data.evidence if p not in keep]:
            del data.evidence[post_id]

    def _summarise(self, incident: Incident) -> None:
        opened = parse_time(incident.opened_at)
        if opened is None:
            return
        summary = self.summaries.get(incident.incident_id)
        if summary is None:
            summary = self.summaries[incident.incident_id] = Summary(
                incident_id=incident.incident_id, municipality=incident.municipality, type=incident.type,
                target=incident.target, opened_at=incident.opened_at, opened_ts=opened,
                severity=incident.severity, drill=incident.drill, state=incident.state)
            if len(self.summaries) > self.max_summaries:
                keep = self.max_summaries - max(1, self.max_summaries // 10)
                by_age = sorted(self.summaries.values(), key=lambda s: s.opened_ts)
                for old in by_age[:len(by_age) - keep]:
                    if old is not summary:
                        del self.summaries[old.incident_id]
        if incident.version < summary.version:
            return
        changed_at = parse_time(incident.updated_at)
        summary.version, summary.severity, summary.state = incident.version, incident.severity, incident.state
        if summary.acknowledged_ts is None and incident.metrics.get("acknowledged_by"):
            summary.acknowledged_ts = changed_at
        posted = [t for d in incident.metrics.get("drafts") or () if isinstance(d, dict)
                  and d.get("status") == "posted" and (t := parse_time(d.get("posted_at"))) is not None]
        if posted:
            summary.first_post_ts = min(posted + ([summary.first_post_ts] if summary.first_post_ts else []))
        summary.ended_ts = changed_at if incident.state in TERMINAL_STATES else None

    # -- timeline --------------------------------------------------------------
    def add_entry(self, entry: TimelineEntry) -> bool:
        data = self._touch(entry.incident_id)
        if entry.entry_id in data.timeline:
            return False
        data.timeline[entry.entry_id] = entry
        data.rev += 1
        while len(data.timeline) > TIMELINE_PER_INCIDENT:
            data.timeline.popitem(last=False)
            data.trimmed = True
        if entry.action == "rescue_handled":
            request_id = entry.detail.get("request_id")
            if isinstance(request_id, str):
                data.handled[request_id] = {"by": actor_name(entry.actor), "at": entry.at}
        self._evict()
        return True

    # -- effects ---------------------------------------------------------------
    def add_effect(self, effect: Effect) -> bool:
        """What the board shows of an effect: the rescue queue, disaster mode and held accounts.

        The payload is read as its typed class (`vocabulary.effects`); a malformed one raises
        `MalformedPayload` for the feed to log and skip, as any record it cannot read."""
        if effect.kind not in SHOWN_EFFECTS:
            return False
        typed = effect_from(effect)
        data = self._touch(effect.incident_id)
        if isinstance(typed, QueueRescue):
            if typed.request_id in data.rescues:
                return False
            data.rescues[typed.request_id] = {
                "request_id": typed.request_id, "hashtag": _clip(typed.hashtag, 100),
                "at": _clip(typed.at, 40), "place": _clip(typed.place, 200),
                "text": _clip(typed.text), "kind": _clip(typed.rescue_kind, 40),
                "copies": typed.copies or 0,
            }
            while len(data.rescues) > RESCUES_PER_INCIDENT:
                data.rescues.popitem(last=False)
        elif isinstance(typed, DisasterMode):
            data.disaster_mode = typed.on
        elif isinstance(typed, HoldReplies):
            handle = _clip(typed.account.get("handle"), 100)
            data.holds[handle] = {"handle": handle, "platform": _clip(typed.account.get("platform"), 20),
                                  "reason": _clip(typed.reason, 300), "at": effect.at}
        elif isinstance(typed, ReleaseHold):
            data.holds.pop(_clip(typed.account.get("handle"), 100), None)
        data.rev += 1
        self._evict()
        return True

    # -- notices ---------------------------------------------------------------
    def add_notice(self, notice: Notice) -> bool:
        """A worker's notice: the banner shows the latest of its kind for its municipality."""
        where = (notice.kind, notice.municipality)
        kept = self.notices.get(where)
        if kept is not None and kept.at >= notice.at:
            return False
        self.notices[where] = notice
        self.notices.move_to_end(where)
        while len(self.notices) > MAX_NOTICES:
            self.notices.popitem(last=False)
        return True

    def notices_for(self, municipality: str) -> list[Notice]:
        """The banners a user of `municipality` sees, system-wide first, then by time."""
        return sorted((n for n in self.notices.values() if n.concerns(municipality)),
                      key=lambda n: (n.municipality != ALL, n.at, n.municipality))

    # -- heartbeats --------------------------------------------------------------
    def add_heartbeat(self, beat: Heartbeat) -> bool:
        """Keep the latest heartbeat of its partition (by the time it was sent)."""
        kept = self.heartbeats.get(beat.partition)
        if kept is not None and kept.sent_ts >= beat.sent_ts:
            return False
        self.heartbeats[beat.partition] = beat
        return True

    # -- dead letters ------------------------------------------------------------
    def add_deadletter(self, letter: DeadLetterSeen) -> bool:
        """Keep `letter` if it is among the newest; a letter read again changes nothing."""
        kept = self._deadletters
        if letter.key in kept:
            return False
        if len(kept) >= self.max_deadletters:
            oldest = min(kept.values(), key=lambda d: d.at_ts)
            if letter.at_ts <= oldest.at_ts:
                return False
            del kept[oldest.key]
        kept[letter.key] = letter
        return True

    def deadletters(self) -> list[DeadLetterSeen]:
        """The kept dead letters, newest first."""
        return sorted(self._deadletters.values(), key=lambda d: d.at_ts, reverse=True)

    # -- evidence posts ----------------------------------------------------------
    def add_post(self, post: Post) -> bool:
        wanting = self._wanted.get(post.post_id)
        if wanting:
            for incident_id in wanting:
                data = self.data.get(incident_id)
                if data is not None:
                    data.evidence[post.post_id] = post
                    data.rev += 1
            return True
        self._recent[post.post_id] = post
        self._recent.move_to_end(post.post_id)
        while len(self._recent) > self.recent_posts:
            self._recent.popitem(last=False)
        return False

    # -- reads -----------------------------------------------------------------
    def incident(self, incident_id: str) -> Incident | None:
        return self.latest.get(incident_id)

    def detail(self, incident_id: str) -> IncidentData | None:
        return self.data.get(incident_id)

    def entries(self, incident_id: str) -> list[TimelineEntry]:
        data = self.data.get(incident_id)
        if data is None:
            return []
        return sorted(data.timeline.values(), key=lambda e: (parse_time(e.at) or 0.0))

    def all_entries(self) -> Iterator[TimelineEntry]:
        for data in list(self.data.values()):
            yield from list(data.timeline.values())

    def volume_series(self, incident_id: str, limit: int = 30) -> list[float]:
        data = self.data.get(incident_id)
        if data is None:
            return []
        return [v for (_, v, _, _) in list(data.points)[-limit:] if v is not None]

    def sizes(self) -> Mapping[str, int]:
        """How much is held, for /healthz and the tests of the bounds."""
        return {"incidents": len(self.latest), "details": len(self.data), "summaries": len(self.summaries),
                "recent_posts": len(self._recent), "wanted_posts": len(self._wanted),
                "timeline_entries": sum(len(d.timeline) for d in self.data.values()),
                "deadletters": len(self._deadletters)}


def actor_name(actor: Mapping[str, Any]) -> str:
    return str(actor.get("display_name") or actor.get("name") or actor.get("kind") or "?")


def visible(incidents: Iterable[Incident], municipality: str) -> list[Incident]:
    """The incidents a user of `municipality` ("*": every one) may see."""
    return [i for i in incidents if municipality == ALL or i.municipality == municipality]
