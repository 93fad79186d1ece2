"""What Noroshi itself publishes: detections, incidents, timeline entries,
board commands and dead letters, as frozen dataclasses with one JSON form.

These are plain JSON on the wire (no Faust metadata), so the board, tests,
`replay` and any other Kafka client read them with orjson alone. The incident
record is the contract's incident line plus the lifecycle fields.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from typing import Any, TypeVar

import orjson

from vocabulary.terms import JST as JST  # municipal time; re-exported for the modules that read it here

T = TypeVar("T")


def iso(ts: float, tz: timezone = JST) -> str:
    """POSIX seconds → RFC 3339 with offset (municipal time by default)."""
    return datetime.fromtimestamp(ts, tz).isoformat(timespec="seconds")


def incident_id_for(municipality: str, type_: str, target: str, opened_at: float) -> str:
    """Deterministic id: the same episode found again after a restart keeps its id."""
    digest = hashlib.blake2b(
        f"{municipality}|{type_}|{target}|{opened_at:.0f}".encode(), digest_size=6
    ).hexdigest()
    return f"{municipality}-{type_}-{digest}"


class _Json:
    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]

    def to_json(self) -> bytes:
        return orjson.dumps(self.to_dict())

    @classmethod
    def from_dict(cls: type[T], obj: dict[str, Any]) -> T:
        names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        return cls(**{k: v for k, v in obj.items() if k in names})

    @classmethod
    def from_json(cls: type[T], raw: bytes | str) -> T:
        return cls.from_dict(orjson.loads(raw))  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Detection(_Json):
    """A detector's finding: an episode opened, or new evidence for it."""

    incident_id: str
    municipality: str
    type: str
    target: str
    change: str  # "opened" | "updated"
    opened_at: str
    at: str  # event time of the evidence that produced this detection
    severity: str
    evidence_ids: list[str]
    summary: str
    metrics: dict[str, Any] = field(default_factory=dict)
    drill: bool = False
    #: The detector's report number within the episode (0 is the opening): it
    #: tells a redelivered or stale detection from a newer one.
    seq: int = 0
    #: Set when the episode came back after its incident was resolved or closed: the playbook
    #: opens a new incident (this detection, re-keyed) linked to the earlier one.
    previous_incident_id: str | None = None


@dataclass(frozen=True, slots=True)
class Incident(_Json):
    """One lifecycle change of an incident; the latest one per id is its state."""

    incident_id: str
    municipality: str
    type: str
    target: str
    opened_at: str
    severity: str
    evidence_ids: list[str]
    summary: str
    state: str  # "open" | "resolved" (the playbooks add their own states)
    change: str  # what this record changed: "opened", "updated", ...
    updated_at: str
    version: int
    metrics: dict[str, Any] = field(default_factory=dict)
    drill: bool = False
    detection_seq: int = 0  # the last detection applied
    #: The same episode's earlier incident, resolved or closed before it came back (再燃) …
    previous_incident_id: str | None = None
    #: … and, on that earlier one, the incident its comeback opened.
    next_incident_id: str | None = None

    def contract_line(self) -> dict[str, Any]:
        """The incident as the contract's output line (for `replay --out`); the link to an earlier
        incident of the same episode is an extra field, only when there is one."""
        line: dict[str, Any] = {
            "incident_id": self.incident_id,
            "type": self.type,
            "target": self.target,
            "opened_at": self.opened_at,
            "severity": self.severity,
            "evidence_ids": list(self.evidence_ids),
            "summary": self.summary,
        }
        if self.previous_incident_id:
            line["previous_incident_id"] = self.previous_incident_id
        return line


@dataclass(frozen=True, slots=True)
class Actor(_Json):
    kind: str  # "detector" | "person" | "clock" | "system"
    name: str


@dataclass(frozen=True, slots=True)
class TimelineEntry(_Json):
    """Every decision and side effect, with who made it (監査記録)."""

    entry_id: str
    incident_id: str
    municipality: str
    at: str
    actor: dict[str, str]
    action: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class BoardCommand(_Json):
    """An action a person took on the board (or a responder's report), for the playbooks to carry
    out: the envelope; `vocabulary.commands` types the payload of each action."""

    command_id: str
    incident_id: str
    municipality: str
    action: str
    actor: dict[str, str]
    at: str
    payload: dict[str, Any] = field(default_factory=dict)


#: A dead letter is one Kafka message, so it keeps at most this many of the raw
#: bytes (base64 makes them 4/3 larger): a whole contract event (≤ 256 KiB) fits.
DEAD_LETTER_RAW_BYTES = 256 * 1024
#: Its text fields are cut to these many characters.
DEAD_LETTER_REASON_CHARS = 2_000
DEAD_LETTER_NAME_CHARS = 256  # key and topic
#: What a dead letter's JSON can reach at most, far below any producer's limit
#: (Faust 1,000,000 bytes, aiokafka 1 MiB): sending one never fails for its size.
DEAD_LETTER_MAX_BYTES = 512 * 1024


def _cut(text: str, chars: int) -> str:
    return text if len(text) <= chars else text[: chars - 1] + "…"


#: Dead letters whose reason begins with one of these words are notices for people (the board
#: shows them on every page), not just rejected input.
BROKER_LOG_LOST = "broker_log_lost"  # the broker lost the log a worker had applied (everyone)
STATE_TOO_LARGE = "state_too_large"  # a municipality's detector state was cut to fit (that municipality)


@dataclass(frozen=True, slots=True)
class DeadLetter(_Json):
    """A message that could not be processed, with the reason and where it was.

    It always fits in one message: the raw bytes are kept whole up to
    `DEAD_LETTER_RAW_BYTES`; beyond, their start is kept, `truncated` is true,
    and `size` and `sha256` still identify the original message.
    """

    reason: str
    topic: str
    partition: int
    offset: int
    key: str | None
    raw_b64: str
    failed_at: str
    size: int = 0  # bytes of the original message
    sha256: str = ""  # hex digest of the original message's bytes
    truncated: bool = False  # raw_b64 holds only the first bytes of the message

    @classmethod
    def of(
        cls, *, reason: str, topic: str, partition: int, offset: int,
        key: bytes | str | None, raw: bytes | None, failed_at: str,
    ) -> DeadLetter:
        if isinstance(key, bytes):
            key = key.decode("utf-8", "replace")
        raw = raw or b""
        kept = raw[:DEAD_LETTER_RAW_BYTES]
        return cls(
            reason=_cut(reason, DEAD_LETTER_REASON_CHARS), topic=_cut(topic, DEAD_LETTER_NAME_CHARS),
            partition=partition, offset=offset,
            key=None if key is None else _cut(key, DEAD_LETTER_NAME_CHARS),
            raw_b64=base64.b64encode(kept).decode("ascii"), failed_at=_cut(failed_at, 64),
            size=len(raw), sha256=hashlib.sha256(raw).hexdigest(), truncated=len(kept) < len(raw),
        )

    @property
    def raw(self) -> bytes:
        """The message's bytes, or their first `DEAD_LETTER_RAW_BYTES` when `truncated`."""
        return base64.b64decode(self.raw_b64)


@dataclass(frozen=True, slots=True)
class Deadline(_Json):
    """A deadline an incident's playbook set, delivered by the timer when it passes."""

    deadline_id: str  # stable: f"{incident_id}:{name}:{n}"; a deadline fires once
    incident_id: str
    municipality: str
    name: str  # e.g. "ack", "statement", "approval_expiry", "week_open", "monitoring_end"
    due_at: str  # RFC 3339, event time
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Effect(_Json):
    """A side effect a playbook asks the responders to carry out (exactly once per effect_id): the
    envelope; `vocabulary.effects` types the payload of each kind."""

    effect_id: str  # stable idempotency key: f"{incident_id}:{kind}:{n}"
    incident_id: str
    municipality: str
    kind: str  # one of vocabulary.effects.EFFECT_TYPES: notify, hold_replies, post_statement, ...
    at: str
    payload: dict[str, Any] = field(default_factory=dict)
    drill: bool = False  # 訓練: responders route it to drill channels and label it
