"""The domain's small words, each defined once: severities and their order, incident types,
the states where an incident is over, the municipalities' time zone, the drill labels and
the municipality wildcard.

Every package imports these from here; `tests/unit/test_terms.py` fails when a copy of
one of them reappears elsewhere in the product.
"""

from __future__ import annotations

from datetime import timedelta, timezone
from typing import Literal, get_args

Severity = Literal["low", "medium", "high", "critical"]

#: How bad an incident is, from least to most severe: the one order everyone uses.
SEVERITIES: tuple[Severity, ...] = get_args(Severity)

#: A severity's place in `SEVERITIES` (low 0 … critical 3): compare with it, sort by it
#: (most severe first: `key=lambda s: -SEVERITY_RANK[s]`).
SEVERITY_RANK: dict[str, int] = {severity: rank for rank, severity in enumerate(SEVERITIES)}

IncidentType = Literal["flame", "impersonation", "misinformation", "disaster"]

#: The kinds of incident, in the order reports and evaluations list them:
#: 炎上 (flame-up), なりすまし (impersonation), デマ (misinformation), 災害 (disaster).
INCIDENT_TYPES: tuple[IncidentType, ...] = get_args(IncidentType)

#: The lifecycle states in which an incident is over (it leaves the Now page and its
#: clocks stop); every playbook ends in one of them.
RESOLVED = "resolved"
CLOSED = "closed"
TERMINAL_STATES: tuple[str, ...] = (RESOLVED, CLOSED)

#: Japan Standard Time (UTC+9, no daylight saving): the municipalities' clock, in which
#: office hours, month boundaries of reports and every time a person reads are given.
JST = timezone(timedelta(hours=9), "JST")

#: 訓練 (a drill): the word, and its English for the board.
DRILL_WORDS: dict[str, str] = {"ja": "訓練", "en": "Drill"}

#: 【訓練】: what starts every text of a drill that a person could read (subjects, titles,
#: statements, notices), so that no one takes a drill for a real incident.
DRILL_LABEL = f"【{DRILL_WORDS['ja']}】"

#: The municipality wildcard: a user who sees every municipality, or a notice for everyone.
ALL = "*"

__all__ = [
    "ALL", "CLOSED", "DRILL_LABEL", "DRILL_WORDS", "INCIDENT_TYPES", "JST", "RESOLVED",
    "SEVERITIES", "SEVERITY_RANK", "TERMINAL_STATES", "IncidentType", "Severity",
]
