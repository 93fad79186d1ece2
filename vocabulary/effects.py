"""The effects a playbook asks the responders to carry out, one frozen dataclass per kind.

On the `effects` topic each travels as an `Effect` record (`kind` and a `payload` dict); these
classes are that payload with typed fields, in the order the playbooks have always written them,
so `typed.to_effect(...)` gives the same bytes and `effect_from(effect)` reads old messages. A field
the playbooks sometimes leave out is `ABSENT` unless given; a payload without a required field is a
`MalformedPayload` naming it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, TypeAlias

from vocabulary.records import Effect
from vocabulary.typed import ABSENT, Absent, MalformedPayload, Payload, UnknownKind, json_copy, on_wire, readable

__all__ = [
    "ABSENT", "EFFECT_TYPES", "AnyEffect", "DisasterMode", "HoldReplies", "MalformedPayload", "Notify",
    "NotifyPress", "PostStatement", "PublishNotice", "QueueRescue", "ReleaseHold", "RequestTakedown",
    "TypedEffect", "UnknownKind", "effect_from", "effect_payload",
]

JsonObject: TypeAlias = Mapping[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class TypedEffect(Payload):
    """An effect's payload; `kind` is the `Effect.kind` it travels as."""

    kind: ClassVar[str]

    @classmethod
    def wire_kind(cls) -> str:
        return cls.kind

    def to_effect(self, *, effect_id: str, incident_id: str, municipality: str, at: str,
                  drill: bool = False, retry_of: str | None = None) -> Effect:
        """The record for the effects topic; a retry names the effect it repeats last."""
        payload = json_copy(self.to_payload())
        if retry_of is not None:
            payload["retry_of"] = retry_of
        return Effect(effect_id=effect_id, incident_id=incident_id, municipality=municipality,
                      kind=self.kind, at=at, payload=payload, drill=drill)


@dataclass(frozen=True, slots=True, kw_only=True)
class Notify(TypedEffect):
    """Tell one person (all their channels) why they are needed; the extras say what failed."""

    kind: ClassVar[str] = "notify"
    to: JsonObject  # the contact: name, role, level, channels ("email:…", "slack:…")
    level: int | None = None
    reason: str  # opened, reported, escalated, approval_requested, channel_failed, …
    severity: str = "high"
    message_ja: str = readable("text")  # first line: the title
    message_en: str = readable("text")
    ack_due: str | None = None
    draft_id: str | Absent = ABSENT
    failed_effect: str | Absent = ABSENT
    failed_kind: str | Absent = ABSENT
    unreached: str | Absent = ABSENT
    channel: str | None | Absent = ABSENT
    error: str | None | Absent = ABSENT
    possibly_sent_to: str | None | Absent = ABSENT


@dataclass(frozen=True, slots=True, kw_only=True)
class HoldReplies(TypedEffect):
    """返信の保留: no routine reply leaves the account while the incident holds it."""

    kind: ClassVar[str] = "hold_replies"
    account: JsonObject  # platform, handle
    reason: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ReleaseHold(TypedEffect):
    kind: ClassVar[str] = "release_hold"
    account: JsonObject


@dataclass(frozen=True, slots=True, kw_only=True)
class DisasterMode(TypedEffect):
    """災害モード on (with what it allows) or off."""

    kind: ClassVar[str] = "disaster_mode"
    on: bool
    hashtag: str | None = None
    allow_out_of_hours: bool | Absent = ABSENT
    queue_rescues: bool | Absent = ABSENT
    tighten_misinformation: bool | Absent = ABSENT

    @classmethod
    def entered(cls, *, hashtag: str) -> DisasterMode:
        return cls(on=True, hashtag=hashtag, allow_out_of_hours=True, queue_rescues=True,
                   tighten_misinformation=True)

    @classmethod
    def left(cls, *, hashtag: str) -> DisasterMode:
        return cls(on=False, hashtag=hashtag)


@dataclass(frozen=True, slots=True, kw_only=True)
class PostStatement(TypedEffect):
    """Post an approved draft (説明・訂正・「確認中」) on one official account."""

    kind: ClassVar[str] = "post_statement"
    draft_id: str | None = None
    draft_kind: str | None = on_wire("kind", default=None)  # statement, holding, correction
    texts: JsonObject = readable("texts")  # lang → text; "ja" is posted
    drafter: JsonObject | None = None
    approval: JsonObject | None = None  # approver, approver_role, draft_hash, at, category
    account: JsonObject
    source_url: str | None | Absent = ABSENT  # デマ: the official page the correction cites


@dataclass(frozen=True, slots=True, kw_only=True)
class PublishNotice(TypedEffect):
    """A notice on the city website (なりすましへの注意喚起)."""

    kind: ClassVar[str] = "publish_notice"
    draft_id: str | None = None
    draft_kind: str | None = on_wire("kind", default=None)  # "warning" → impersonation_warning
    texts: JsonObject = readable("texts")
    drafter: JsonObject | None = None
    approval: JsonObject | None = None
    where: str | None = None
    fake: JsonObject | None = None  # the impersonating account: platform, handle
    incident: JsonObject | None = None  # type, target, severity, opened_at, summary
    source_url: str | None | Absent = ABSENT


@dataclass(frozen=True, slots=True, kw_only=True)
class NotifyPress(TypedEffect):
    """報道提供: the approved release mailed to the press list."""

    kind: ClassVar[str] = "notify_press"
    draft_id: str | None = None
    draft_kind: str | None = on_wire("kind", default=None)
    texts: JsonObject = readable("texts")
    drafter: JsonObject | None = None
    approval: JsonObject | None = None
    source_url: str | None | Absent = ABSENT
    incident: JsonObject
    reason: str | Absent = ABSENT  # デマ: "disaster" or "severity", why the press hears of it


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestTakedown(TypedEffect):
    """削除依頼: the report a person files with the platform (no platform offers an API)."""

    kind: ClassVar[str] = "request_takedown"
    platform: str | None = None
    handle: str
    report_url: str | None = None
    report_text_ja: str = readable("text")
    resembles: str | None = None  # the official account it imitates


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueRescue(TypedEffect):
    """救助要請: one request put on the board's queue for a person to pass on."""

    kind: ClassVar[str] = "queue_rescue"
    request_id: str
    hashtag: str | None = None
    at: str | None = None
    place: str | None = None
    text: str | None = None
    rescue_kind: str | None = on_wire("kind", default=None)
    copies: int | None = None


AnyEffect: TypeAlias = (Notify | HoldReplies | ReleaseHold | DisasterMode | PostStatement | PublishNotice
                        | NotifyPress | RequestTakedown | QueueRescue)

#: Every effect kind the playbooks emit → its class.
EFFECT_TYPES: Mapping[str, type[TypedEffect]] = {
    cls.kind: cls for cls in (Notify, HoldReplies, ReleaseHold, DisasterMode, PostStatement, PublishNotice,
                              NotifyPress, RequestTakedown, QueueRescue)
}


def effect_payload(kind: str, payload: Mapping[str, Any]) -> TypedEffect:
    """The typed effect of `kind` (a playbook's stored record of what it sent, say)."""
    cls = EFFECT_TYPES.get(kind)
    if cls is None:
        raise UnknownKind("effect kind", kind)
    return cls.from_payload(payload)


def effect_from(effect: Effect) -> TypedEffect:
    """The typed payload of an effect read from the topic."""
    return effect_payload(effect.kind, effect.payload)
