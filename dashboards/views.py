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


def row(incident: Incident, volume: list[float], names: Names = same) -> dict[str, Any]:
    """One incident as the Now page's script draws it (also /api/incidents)."""
    m = incident.metrics
    return {
        "incident_id": incident.incident_id,
        "municipality": incident.municipality,
        "type": incident.type,
        "target": subject(incident),
        "severity": incident.severity,
        "state": incident.state,
        "awaiting": m.get("awaiting") if isinstance(m.get("awaiting"), str) else None,
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


def now_rows(state: BoardState, municipality: str, names: Names = same) -> list[dict[str, Any]]:
    return [row(i, state.volume_series(i.incident_id), names) for i in now_list(visible(state.latest.values(), municipality))]


def disaster_active(incidents: Iterable[Incident]) -> list[Incident]:
    """Disaster incidents whose disaster mode is on: the banner on every page."""
    return [i for i in incidents if i.type == "disaster" and i.state not in TERMINAL_STATES
            and i.metrics.get("disaster_mode") is True]


@dataclass(frozen=True)
class DraftRef:
    incident: Incident
    draft: dict[str, Any]


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
