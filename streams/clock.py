"""The clock, with no Faust in it: which scheduled deadlines are due, each delivered once.

The worker's timer asks every second. Reading the pending deadlines of every stored incident
each time would parse the whole playbook table every second, so the clock keeps an index: per
incident, the stored bytes it last read (a table entry is replaced, never changed in place, so
the same object means the same entry), its pending deadlines and the earliest due time not yet
delivered. Only an entry that changed since the last tick is read again. A delivered deadline
is remembered until the incident's entry no longer holds it (the playbook consumed or cancelled
it, or the incident ended), so the memory of what was delivered stays as small as the table.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import structlog

from playbooks.runner import due
from vocabulary.contract import parse_ts
from vocabulary.records import Deadline

log = structlog.get_logger(__name__)


@dataclass
class _Entry:
    raw: bytes | None  # the stored bytes this entry was read from
    pending: list[tuple[float, Deadline]]  # oldest first
    delivered: set[str] = field(default_factory=set)  # deadline ids already sent
    next_due: float = math.inf  # of the pending deadlines not delivered

    def recompute(self) -> None:
        self.next_due = min((t for t, d in self.pending if d.deadline_id not in self.delivered), default=math.inf)


class DeadlineClock:
    def __init__(self, read: Callable[[bytes | None, float], list[Deadline]] = due) -> None:
        self.read = read  # a stored entry's deadlines due by a time (`playbooks.runner.due`)
        self._index: dict[str, _Entry] = {}

    def due(self, stored: Iterable[tuple[str, bytes | None]], now: float) -> list[tuple[str, Deadline]]:
        """(incident id, deadline) for every deadline of `stored` (the playbook table's items) whose
        time has come and that was not delivered yet: incidents in table order, each oldest first."""
        out: list[tuple[str, Deadline]] = []
        present: set[str] = set()
        for incident_id, raw in stored:
            present.add(incident_id)
            entry = self._read(incident_id, raw)
            if entry.next_due <= now:
                out += [(incident_id, d) for t, d in entry.pending
                         if t <= now and d.deadline_id not in entry.delivered]
        for gone in self._index.keys() - present:
            del self._index[gone]
        return out

    def delivered(self, incident_id: str, deadline: Deadline) -> None:
        """`deadline` was sent: never again while its incident's entry still holds it."""
        entry = self._index.get(incident_id)
        if entry is not None:
            entry.delivered.add(deadline.deadline_id)
            entry.recompute()

    def remembered(self) -> int:
        """Delivered deadlines still remembered (for tests: bounded by the pending ones)."""
        return sum(len(entry.delivered) for entry in self._index.values())

    def _read(self, incident_id: str, raw: bytes | None) -> _Entry:
        entry = self._index.get(incident_id)
        if entry is not None and entry.raw is raw:
            return entry
        try:
            pending = [(parse_ts(d.due_at, "due_at"), d) for d in self.read(raw, math.inf)]
        except Exception:  # noqa: BLE001 - one unreadable entry must not stop every deadline
            log.exception("deadlines_not_read", incident_id=incident_id)
            pending = []
        held = {d.deadline_id for _, d in pending}
        fresh = _Entry(raw, pending, entry.delivered & held if entry is not None else set())
        fresh.recompute()
        self._index[incident_id] = fresh
        return fresh
