"""The commands the playbooks take: a person's action on the board, or a responder's report
back, one frozen dataclass per action.

On the `commands` topic each travels as a `BoardCommand` record (`action` and a `payload` dict);
these classes are that payload with typed fields, in the order the board and the responders have
always written them, so `typed.to_command(...)` gives the same bytes and `command_from(record)` reads
old messages. A field that may be left out is `ABSENT` when it was (the playbook gives its absence a
meaning: `Approve` without `draft_hash` approves the draft as it is now); a payload without a
required field is a `MalformedPayload` naming it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypeAlias

from vocabulary.records import BoardCommand
from vocabulary.typed import ABSENT, Absent, MalformedPayload, Payload, UnknownKind, json_copy, on_wire

__all__ = [
    "ABSENT", "COMMAND_TYPES", "AccountGone", "Acknowledge", "AnyCommand", "Approve", "ChannelFailed",
    "DeliveryPossiblySent", "DisasterModeOff", "EditDraft", "Escalate", "FactCheck",
    "MalformedPayload", "MarkFalsePositive", "NewDraft", "OverrideWarning", "Reject", "Reopen", "RescueHandled",
    "Resolve", "TypedCommand", "UnknownKind", "Verify", "command_from", "command_payload",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class TypedCommand(Payload):
    """A command's payload; `action` is the `BoardCommand.action` it travels as."""

    action: ClassVar[str]

    @classmethod
    def wire_kind(cls) -> str:
        return cls.action

    def to_command(self, *, command_id: str, incident_id: str, municipality: str,
                   actor: Mapping[str, str], at: str) -> BoardCommand:
        """The record for the commands topic (keyed by incident id)."""
        return BoardCommand(command_id=command_id, incident_id=incident_id, municipality=municipality,
                            action=self.action, actor=dict(actor), at=at, payload=json_copy(self.to_payload()))


# --- a person's actions without a payload, or with a note only ---------------------------------

@dataclass(frozen=True, slots=True, kw_only=True)
class Acknowledge(TypedCommand):
    action: ClassVar[str] = "acknowledge"


@dataclass(frozen=True, slots=True, kw_only=True)
class Verify(TypedCommand):
    """なりすまし確認: the account is not the municipality's."""

    action: ClassVar[str] = "verify"


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountGone(TypedCommand):
    action: ClassVar[str] = "account_gone"


@dataclass(frozen=True, slots=True, kw_only=True)
class Escalate(TypedCommand):
    action: ClassVar[str] = "escalate"
    reason: str | Absent = ABSENT  # the board sends one only when the person wrote one


@dataclass(frozen=True, slots=True, kw_only=True)
class MarkFalsePositive(TypedCommand):
    action: ClassVar[str] = "mark_false_positive"
    reason: str | Absent = ABSENT


@dataclass(frozen=True, slots=True, kw_only=True)
class Resolve(TypedCommand):
    action: ClassVar[str] = "resolve"
    reason: str | Absent = ABSENT


@dataclass(frozen=True, slots=True, kw_only=True)
class Reopen(TypedCommand):
    action: ClassVar[str] = "reopen"
    reason: str | Absent = ABSENT


@dataclass(frozen=True, slots=True, kw_only=True)
class DisasterModeOff(TypedCommand):
    action: ClassVar[str] = "disaster_mode_off"
    reason: str | Absent = ABSENT


# --- drafts and their approval ------------------------------------------------------------------

@dataclass(frozen=True, slots=True, kw_only=True)
class NewDraft(TypedCommand):
    """A new draft of the kind the current step accepts (statement, correction, warning, press, …)."""

    action: ClassVar[str] = "draft"
    draft_kind: str = on_wire("kind")
    texts: Mapping[str, str]  # lang → text; "ja" is required by the playbook
    category: str | None = None  # 事前承認の範囲 (published, established_fact, legal_procedure, faq)


@dataclass(frozen=True, slots=True, kw_only=True)
class EditDraft(TypedCommand):
    """New texts for a draft; its approval, if any, lapses."""

    action: ClassVar[str] = "edit_draft"
    draft_id: str
    texts: Mapping[str, str]
    category: str | None | Absent = ABSENT  # absent: the draft keeps its category
    draft_kind: str | Absent = on_wire("kind", default=ABSENT)  # if sent, must be the draft's own


@dataclass(frozen=True, slots=True, kw_only=True)
class OverrideWarning(TypedCommand):
    """The person read the pre-post check's warnings (`codes`) and posts anyway."""

    action: ClassVar[str] = "override_warning"
    draft_id: str
    codes: Sequence[str]


@dataclass(frozen=True, slots=True, kw_only=True)
class Approve(TypedCommand):
    """所属長の承認 of one draft as the approver saw it (`draft_hash`)."""

    action: ClassVar[str] = "approve"
    draft_id: str
    draft_hash: str | Absent = ABSENT  # absent: the draft as it is now


@dataclass(frozen=True, slots=True, kw_only=True)
class Reject(TypedCommand):
    """差し戻し, with the reason the drafter reads."""

    action: ClassVar[str] = "reject"
    draft_id: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class FactCheck(TypedCommand):
    """事実確認: the official page that states the facts."""

    action: ClassVar[str] = "fact_check"
    source_url: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RescueHandled(TypedCommand):
    action: ClassVar[str] = "rescue_handled"
    request_id: str
    note: str = ""


# --- a responder's reports -----------------------------------------------------------------------

@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelFailed(TypedCommand):
    """An effect could not be carried out: the playbook retries once, then tells a person."""

    action: ClassVar[str] = "channel_failed"
    effect_id: str
    channel: str
    error: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryPossiblySent(TypedCommand):
    """送信済みの可能性: a send cut off by a crash through a channel that cannot tell a repeat."""

    action: ClassVar[str] = "delivery_possibly_sent"
    effect_id: str
    channel: str
    key: str
    to: str  # whom it was for ("" when the channel names nobody)
    started_at: str | Absent = ABSENT


AnyCommand: TypeAlias = (Acknowledge | Verify | AccountGone | Escalate | MarkFalsePositive | Resolve | Reopen
                         | DisasterModeOff | NewDraft | EditDraft | OverrideWarning | Approve | Reject | FactCheck
                         | RescueHandled | ChannelFailed | DeliveryPossiblySent)

#: Every action on the commands topic → its class.
COMMAND_TYPES: Mapping[str, type[TypedCommand]] = {
    cls.action: cls for cls in (Acknowledge, Verify, AccountGone, Escalate, MarkFalsePositive, Resolve, Reopen,
                                DisasterModeOff, NewDraft, EditDraft, OverrideWarning, Approve, Reject, FactCheck,
                                RescueHandled, ChannelFailed, DeliveryPossiblySent)
}


def command_payload(action: str, payload: Mapping[str, Any]) -> TypedCommand:
    """The typed command of `action`."""
    cls = COMMAND_TYPES.get(action)
    if cls is None:
        raise UnknownKind("command", action)
    return cls.from_payload(payload)


def command_from(record: BoardCommand) -> TypedCommand:
    """The typed payload of a command read from the topic."""
    return command_payload(record.action, record.payload)
