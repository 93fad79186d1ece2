"""What every detector shares: its finding, the context it is called with, its shape.

A detector is a class built from the municipality `Profile` and its own saved
state (plain JSON-able data, bounded in size), with two methods:

    on_event(event, ctx) -> list[Finding]   # pure, event time only (event.ts)
    to_state() -> dict                       # JSON-able; DetectorClass(profile, state=...) resumes
    shrink() -> None                         # forget the older half of what it keeps

`DetectorSet` (streams/detectors/__init__.py) routes each event to every
detector, turns findings into `Detection` records and keeps event-id
idempotency, so detectors need not deduplicate ids themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from vocabulary.contract import Event, Profile


@dataclass
class Finding:
    """An episode opened (`change="opened"`, seq 0) or grown (`"updated"`, seq 1, 2, …)."""

    target: str  # contract rule: flame → official handle; impersonation → fake handle;
    #              misinformation → a stable claim id; disaster → the hashtag without '#'
    change: str
    opened_at: float  # event time the episode opened (POSIX seconds)
    at: float  # event time of the evidence behind this finding
    severity: str  # low | medium | high | critical
    evidence_ids: list[str]  # bounded (≤ 50); for misinformation these identify the claim
    summary: str  # Japanese, for the operator
    metrics: dict[str, Any] = field(default_factory=dict)
    seq: int = 0


@dataclass(frozen=True)
class Context:
    """What the detector set knows across detectors when an event arrives."""

    disaster_active: bool = False  # a disaster episode is open: tighten misinformation, calm flame


class Detector(Protocol):
    def __init__(self, profile: Profile, state: dict[str, Any] | None = None) -> None: ...

    def on_event(self, event: Event, ctx: Context) -> list[Finding]: ...

    def to_state(self) -> dict[str, Any]: ...

    def shrink(self) -> None: ...  # forget the older half of what it keeps (a snapshot too big)

