"""What the board shows, as plain data: the Now list and its rows, timeline rows, and
the selections the other pages are drawn from. Pure functions of the state."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dashboards.state import BoardState, parse_time, visible
from vocabulary.records import Incident, TimelineEntry
from vocabulary.terms import ALL, SEVERITY_RANK, TERMINAL_STATES

#: A sign-in name → the name people know (the playbooks record sign-in names).
Names = Callable[[str], str]


def same(name: str) -> str:
    return name


#: An incident → who must take its next step now: (role, the people on call for it), or None.
Who = Callable[[Incident], "tuple[str, tuple[str, ...]] | None"]


def nobody(incident: Incident) -> None:
    return None


#: The steps only an approver takes (the playbooks' APPROVER_ROLES: 所属長, else 広報課長).
APPROVER_STEPS = frozenset({"approve", "override_warning"})


def who_acts(incident: Incident, roster: Any, now: float) -> tuple[str, tuple[str, ...]] | None:
    """Who must take `incident`'s next step (対応待ち) now, by the municipality's roster:
    受付 falls to whoever the escalation has reached (the level's reachable contacts, as the
    playbook notifies them); 承認 to the 所属長 (the 広報課長 where the roster has none); every
    other step (文案作成, 確認, 事実確認) to the 当番 at level 1."""
    from playbooks import policy

    step = incident.metrics.get("awaiting")
    if not isinstance(step, str) or incident.state in TERMINAL_STATES:
        return None
    if step in APPROVER_STEPS:
        people = roster.with_role("owner") or roster.with_role("pr_head")
        return ("owner" if roster.with_role("owner") or not people else "pr_head"), tuple(c.name for c in people)
    level = incident.metrics.get("level")
    level = level if step == "acknowledge" and level in policy.LEVEL_ROLES else policy.LEVEL_OPERATOR
    people = policy.recipients(roster, level, now, incident.severity, incident.metrics.get("disaster_mode") is True)
    role = people[0].role if people else policy.LEVEL_ROLES[level]
    return role, tuple(c.name for c in people)


class Rosters:
    """`Who` for the board: each municipality's roster read once from its profile, asked at the
    wall-clock time (quiet hours are people's, whatever clock a drill runs on)."""

    def __init__(self, profiles: Mapping[str, Any], clock: Callable[[], float]) -> None:
        from playbooks import policy

        self._clock = clock
        self._rosters: dict[str, Any] = {}
        for muni_id, profile in profiles.items():
            try:
                self._rosters[muni_id] = policy.roster_from_profile(getattr(profile, "raw", profile))
            except policy.RosterError:
                continue  # 当番 shows the error; the Now list just names the step

    def __call__(self, incident: Incident) -> tuple[str, tuple[str, ...]] | None:
        roster = self._rosters.get(incident.municipality)
        return None if roster is None else who_acts(incident, roster, self._clock())


def _opened(incident: Incident) -> float:
    ts = parse_time(incident.opened_at)
    return math.inf if ts is None else ts  # an unreadable time sorts last rather than hiding it


def now_list(incidents: Iterable[Incident]) -> list[Incident]:
    """Open incidents, most severe first, then the longest-waiting first (board.js sorts alike)."""
    return sorted(
        (i for i in incidents if i.state not in TERMINAL_STATES),
        key=lambda i: (-SEVERITY_RANK.get(i.severity, -1), _opened(i)),  # an unknown severity after "low"
    )


def subject(incident: Incident) -> str:
    """What an incident is about, as a person reads it: the claim of a デマ (its target is an internal
    id such as claim-2ac1d27da0ca), else the target (an account, a hashtag)."""
    claim = incident.metrics.get("claim")
    if incident.type == "misinformation" and isinstance(claim, str) and claim:
        return f"「{claim}」"
    return incident.target


def row(incident: Incident, volume: list[float], names: Names = same, who: Who = nobody) -> dict[str, Any]:
    """One incident as the Now page's script draws it (also /api/incidents)."""
    m = incident.metrics
    acting = who(incident)
    return {
        "incident_id": incident.incident_id,
        "municipality": incident.municipality,
        "type": incident.type,
        "target": subject(incident),
        "severity": incident.severity,
        "state": incident.state,
        "awaiting": m.get("awaiting") if isinstance(m.get("awaiting"), str) else None,
        "awaiting_role": acting[0] if acting else None,
        "awaiting_people": list(acting[1]) if acting else [],
        "opened_at": incident.opened_at,
        "updated_at": incident.updated_at,
        "ack_due": m.get("ack_due") if isinstance(m.get("ack_due"), str) else None,
        "acknowledged_by": names(m["acknowledged_by"]) if isinstance(m.get("acknowledged_by"), str) else None,
        "level": m.get("level") if isinstance(m.get("level"), int) else None,
        "hold": m.get("hold") is True,
        "disaster_mode": m.get("disaster_mode") is True,
        "drill": incident.drill,
        "summary": incident.summary,
        "version": incident.version,
        "volume": volume,
    }


def entry_row(entry: TimelineEntry) -> dict[str, Any]:
    """A timeline entry as the incident page's script appends it."""
    return {"entry_id": entry.entry_id, "incident_id": entry.incident_id, "at": entry.at,
            "actor": {k: str(v) for k, v in entry.actor.items()}, "action": entry.action,
            "command_id": entry.detail.get("command_id")}


def now_rows(state: BoardState, municipality: str, names: Names = same, who: Who = nobody) -> list[dict[str, Any]]:
    return [row(i, state.volume_series(i.incident_id), names, who)
            for i in now_list(visible(state.latest.values(), municipality))]


def disaster_active(incidents: Iterable[Incident]) -> list[Incident]:
    """Disaster incidents whose disaster mode is on: the banner on every page."""
    return [i for i in incidents if i.type == "disaster" and i.state not in TERMINAL_STATES
            and i.metrics.get("disaster_mode") is True]


@dataclass(frozen=True)
class Delivery:
    """Where a published draft went, as the responder's timeline tells it."""

    account: str  # platform:handle
    outcome: str  # posted | dry_run (posted nowhere) | failed | possibly_sent
    url: str | None = None

    @property
    def platform(self) -> str:
        return self.account.partition(":")[0]

    @property
    def handle(self) -> str:
        return self.account.partition(":")[2]


@dataclass(frozen=True)
class DraftRef:
    incident: Incident
    draft: dict[str, Any]
    deliveries: tuple[Delivery, ...] = ()


_DELIVERY_ACTIONS = {"delivered": "posted", "delivery_failed": "failed", "delivery_possibly_sent": "possibly_sent"}


def deliveries(entries: Iterable[TimelineEntry], draft_id: object) -> tuple[Delivery, ...]:
    """Each account a draft was posted on, by the latest word of the responder: posted (with its
    URL), posted nowhere by a dry-run channel (no credentials, or a drill), failed, possibly sent."""
    latest: dict[str, Delivery] = {}
    for entry in entries:
        d = entry.detail
        outcome = _DELIVERY_ACTIONS.get(entry.action)
        if outcome is None or d.get("draft_id") != draft_id or not isinstance(d.get("account"), str):
            continue
        receipt = d.get("receipt") if isinstance(d.get("receipt"), dict) else {}
        if outcome == "posted" and (receipt.get("dry_run") or str(entry.actor.get("name", "")).endswith(":dry-run")):
            outcome = "dry_run"
        urls = receipt.get("urls") if isinstance(receipt.get("urls"), list) else []
        url = next((u for u in urls if isinstance(u, str) and u.startswith("https://")), None)
        latest[d["account"]] = Delivery(d["account"], outcome, url if outcome == "posted" else None)
    return tuple(latest.values())


def drafts_with(incidents: Iterable[Incident], statuses: frozenset[str]) -> list[DraftRef]:
    out = [DraftRef(i, d) for i in incidents for d in i.metrics.get("drafts") or ()
           if isinstance(d, dict) and d.get("status") in statuses]
    return sorted(out, key=lambda r: str(r.draft.get("at") or ""))


def queued_until(state: BoardState, incident: Incident) -> str | None:
    """When a post queued for business hours goes out (from the playbook's `post_queued` entry)."""
    for entry in reversed(state.entries(incident.incident_id)):
        if entry.action == "post_queued" and isinstance(entry.detail.get("until"), str):
            return str(entry.detail["until"])
    return None


def command_outcome(entries: Iterable[TimelineEntry], command_id: str) -> TimelineEntry | None:
    """What the playbook made of a command: its refusal, or the first entry of what it did."""
    found = [e for e in entries if e.detail.get("command_id") == command_id]
    return next((e for e in found if e.action == "command_rejected"), found[0] if found else None)


# --- the desk pages ---------------------------------------------------------------------

@dataclass(frozen=True)
class Hold:
    incident: Incident
    handle: str
    platform: str
    reason: str
    at: str


@dataclass(frozen=True)
class Queued:
    incident: Incident
    draft: Mapping[str, Any]
    until: str | None


@dataclass(frozen=True)
class DisasterView:
    incident: Incident
    points: list[tuple[float, float]]
    rescues: list[dict[str, Any]]
    handled: Mapping[str, Mapping[str, Any]]
    may_handle: bool


@dataclass(frozen=True)
class ContactView:
    name: str
    role: str
    level: int
    channels: tuple[str, ...]
    quiet_hours: tuple[int, int] | None
    quiet_now: bool


@dataclass(frozen=True)
class RosterView:
    municipality: str
    name: str
    contacts: list[ContactView]
    normal_now: list[str]
    urgent_now: list[str]
    business_open: bool
    next_open: float | None
    error: str = ""
    acknowledged: list[Incident] = field(default_factory=list)



def outbound(state: BoardState, municipality: str) -> dict[str, Any]:
    """発信: drafts awaiting approval, held accounts, posts queued for business hours, recent posts."""
    mine = visible(state.latest.values(), municipality)
    live = [i for i in mine if i.state not in TERMINAL_STATES]
    holds = []
    for incident in live:
        data = state.detail(incident.incident_id)
        held = dict(data.holds) if data is not None else {}
        if incident.metrics.get("hold") is True and not held:
            held = {incident.target: {"handle": incident.target, "platform": "", "reason": "", "at": incident.opened_at}}
        holds += [Hold(incident, h["handle"], h["platform"], h["reason"], h["at"]) for h in held.values()]
    queued = []
    for incident in live:
        if incident.state.endswith("queued"):
            for draft in incident.metrics.get("drafts") or ():
                if isinstance(draft, dict) and draft.get("status") == "approved":
                    queued.append(Queued(incident, draft, queued_until(state, incident)))
    posted = sorted(drafts_with(mine, frozenset({"posted"})), key=lambda r: str(r.draft.get("posted_at") or ""),
                    reverse=True)[:10]
    posted = [DraftRef(r.incident, r.draft, deliveries(state.entries(r.incident.incident_id), r.draft.get("draft_id")))
              for r in posted]
    return {"waiting": drafts_with(live, frozenset({"needs_override", "ready"})),
            "holds": sorted(holds, key=lambda h: h.at), "queued": queued, "posted": posted}


def disasters(state: BoardState, municipality: str, may_handle: bool) -> list[Any]:
    """災害モード: the disaster incidents in disaster mode (else the latest few), with their rescue queues."""
    mine = [i for i in visible(state.latest.values(), municipality) if i.type == "disaster"]
    active = disaster_active(mine)
    shown = active or []
    out = []
    for incident in sorted(shown, key=lambda i: i.opened_at, reverse=True):
        data = state.detail(incident.incident_id)
        points = [(ts, v) for ts, v, _, _ in (data.points if data else ()) if v is not None]
        handled = dict(data.handled) if data else {}
        # Those still waiting first, the longest-waiting at the top; the handled ones below.
        rescues = sorted((data.rescues.values() if data else ()),
                         key=lambda r: (r["request_id"] in handled, str(r.get("at") or "")))
        out.append(DisasterView(incident=incident, points=points, rescues=list(rescues),
                                handled=handled, may_handle=may_handle))
    return out


def rosters(profiles: Mapping[str, Any], municipality: str, now: float, incidents: Iterable[Incident]) -> list[Any]:
    """当番: each visible municipality's roster, and who a notification would reach right now."""
    from playbooks import policy
    from playbooks.profile import ProfileFieldError, closure_days_from_profile

    open_incidents = [i for i in incidents if i.state not in TERMINAL_STATES and i.metrics.get("acknowledged_by")]
    out = []
    for muni_id, profile in sorted(profiles.items()):
        if municipality != ALL and muni_id != municipality:
            continue
        name = getattr(profile, "name", muni_id)
        try:
            roster = policy.roster_from_profile(profile.raw)
            closed = closure_days_from_profile(profile.raw)
        except (policy.RosterError, ProfileFieldError) as exc:
            out.append(RosterView(muni_id, name, [], [], [], False, None, error=str(exc)))
            continue
        contacts = [ContactView(c.name, c.role, c.level, tuple(c.channels), c.quiet_hours, c.is_quiet_at(now))
                    for c in roster.contacts]
        open_now = policy.in_business_hours(now, closed)
        out.append(RosterView(
            municipality=muni_id, name=name, contacts=contacts,
            normal_now=[c.name for c in policy.recipients(roster, 1, now, "medium", False)],
            urgent_now=[c.name for c in policy.recipients(roster, 1, now, "high", False)],
            business_open=open_now, next_open=None if open_now else policy.next_business_open(now, closed),
            acknowledged=[i for i in open_incidents if i.municipality == muni_id]))
    return out
