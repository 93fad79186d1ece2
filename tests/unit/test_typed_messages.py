"""Typed effects and commands: every kind has a class, a handler or a form, and meets the wire
byte for byte — the samples in tests/data/wire-*.jsonl are what the playbooks, the board and the
responders wrote before the types existed (one per payload shape the unit tests produce)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import orjson
import pytest

from dashboards import actions
from playbooks.machines import COMMANDS, RESPONDER_COMMANDS
from responders.responder import HANDLERS, Channels, Responder
from vocabulary.commands import (
    COMMAND_TYPES, Approve, ChannelFailed, DeliveryPossiblySent, EditDraft, Escalate, NewDraft, command_from,
    command_payload,
)
from vocabulary.effects import (
    EFFECT_TYPES, DisasterMode, Notify, PostStatement, RequestTakedown, effect_from, effect_payload,
)
from vocabulary.records import BoardCommand, Effect
from vocabulary.typed import ABSENT, MalformedPayload, UnknownKind, admits

DATA = Path(__file__).resolve().parent.parent / "data"
EFFECT_WIRE = (DATA / "wire" / "effects.jsonl").read_bytes().splitlines()
COMMAND_WIRE = (DATA / "wire" / "commands.jsonl").read_bytes().splitlines()
DRILL = "【訓練】"


def _kind(line: bytes) -> str:
    record = orjson.loads(line)
    return str(record.get("kind") or record.get("action"))


# --- every kind has a type, and every type a handler or a form ---------------------------------

def test_every_effect_type_has_a_handler_in_the_responders_table() -> None:
    assert set(HANDLERS) == set(EFFECT_TYPES.values())
    assert {_kind(line) for line in EFFECT_WIRE} == set(EFFECT_TYPES)  # the samples cover every kind


def test_every_command_the_playbooks_know_has_a_type() -> None:
    assert set(COMMAND_TYPES) == set(COMMANDS)
    assert {_kind(line) for line in COMMAND_WIRE} == set(COMMANDS)


def test_every_board_action_maps_to_a_command_type_with_a_form_and_a_responder_report_to_none() -> None:
    board_actions = set().union(*actions.ROLE_ACTIONS.values())
    assert board_actions and board_actions <= set(COMMAND_TYPES)
    assert {COMMAND_TYPES[a] for a in board_actions} == set(actions.FORMS)
    assert not {COMMAND_TYPES[a] for a in RESPONDER_COMMANDS} & set(actions.FORMS)
    with pytest.raises(actions.FormError, match="action"):
        actions.command_for("channel_failed", {"effect_id": "x", "channel": "email", "error": "down"})


# --- the wire, byte for byte ---------------------------------------------------------------------

@pytest.mark.parametrize("line", EFFECT_WIRE, ids=[f"{_kind(x)}-{n}" for n, x in enumerate(EFFECT_WIRE)])
def test_an_effect_read_and_written_again_is_the_same_bytes(line: bytes) -> None:
    record = Effect.from_json(line)
    typed = effect_from(record)
    assert type(typed).kind == record.kind
    again = typed.to_effect(effect_id=record.effect_id, incident_id=record.incident_id,
                            municipality=record.municipality, at=record.at, drill=record.drill,
                            retry_of=record.payload.get("retry_of"))
    assert again.to_json() == line
    assert effect_from(again) == typed


@pytest.mark.parametrize("line", COMMAND_WIRE, ids=[f"{_kind(x)}-{n}" for n, x in enumerate(COMMAND_WIRE)])
def test_a_command_read_and_written_again_is_the_same_bytes(line: bytes) -> None:
    record = BoardCommand.from_json(line)
    typed = command_from(record)
    assert type(typed).action == record.action
    again = typed.to_command(command_id=record.command_id, incident_id=record.incident_id,
                             municipality=record.municipality, actor=record.actor, at=record.at)
    assert again.to_json() == line
    assert command_from(again) == typed


def test_the_board_builds_the_typed_command_and_the_same_payload_as_before() -> None:
    boards = [orjson.loads(line) for line in COMMAND_WIRE if orjson.loads(line)["command_id"].startswith("board-")]
    assert actions.command_for("approve", {"draft_id": "d1", "draft_hash": "h1"}) == Approve(draft_id="d1",
                                                                                           draft_hash="h1")
    assert actions.command_for("escalate", {}) == Escalate()
    assert actions.command_for("edit_draft", {"draft_id": "d1", "text_ja": "直しました"}) == EditDraft(
        draft_id="d1", texts={"ja": "直しました"})
    drafted = actions.command_for("draft", {"kind": "statement", "text_ja": "説明します", "category": ""})
    assert drafted == NewDraft(draft_kind="statement", texts={"ja": "説明します"}, category=None)
    assert {"approve", "draft", "edit_draft", "escalate"} <= {b["action"] for b in boards}


def test_the_responders_reports_are_typed_commands_with_the_same_payload() -> None:
    failed = ChannelFailed(effect_id="e:notify:1", channel="email", error="down")
    assert failed.to_payload() == {"effect_id": "e:notify:1", "channel": "email", "error": "down"}
    cut = DeliveryPossiblySent(effect_id="e", channel="slack", key="k", to="", started_at="t")
    assert list(cut.to_payload()) == ["effect_id", "channel", "key", "to", "started_at"]


def test_a_key_left_out_stays_out_and_null_stays_null() -> None:
    assert "draft_hash" not in Approve(draft_id="d").to_payload()
    assert "category" not in EditDraft(draft_id="d", texts={"ja": "x"}).to_payload()
    assert EditDraft(draft_id="d", texts={"ja": "x"}, category=None).to_payload()["category"] is None
    assert command_payload("edit_draft", {"draft_id": "d", "texts": {"ja": "x"}}).category is ABSENT  # type: ignore[attr-defined]
    assert DisasterMode.left(hashtag="#h").to_payload() == {"on": False, "hashtag": "#h"}
    assert list(DisasterMode.entered(hashtag="#h").to_payload()) == [
        "on", "hashtag", "allow_out_of_hours", "queue_rescues", "tighten_misinformation"]


def test_keyword_order_does_not_matter_the_class_fixes_the_wire_order() -> None:
    line = next(x for x in EFFECT_WIRE if b'"unreached"' in x and b'"retry_of"' not in x)
    payload = orjson.loads(line)["payload"]
    shuffled = Notify(**{("draft_kind" if k == "kind" else k): payload[k] for k in reversed(list(payload))})
    assert orjson.dumps(shuffled.to_payload()) == orjson.dumps(payload)


# --- a drill's texts --------------------------------------------------------------------------------

def test_a_drill_labels_every_text_a_person_reads_and_nothing_else() -> None:
    notify = effect_from(Effect.from_json(next(x for x in EFFECT_WIRE if _kind(x) == "notify")))
    assert isinstance(notify, Notify)
    drill = notify.labelled(DRILL)
    assert drill.message_ja == DRILL + notify.message_ja and drill.message_en == DRILL + notify.message_en
    assert drill.to == notify.to and drill.reason == notify.reason
    post = effect_from(Effect.from_json(next(x for x in EFFECT_WIRE if _kind(x) == "post_statement")))
    assert isinstance(post, PostStatement)
    assert post.labelled(DRILL).texts == {lang: DRILL + text for lang, text in post.texts.items()}
    takedown = RequestTakedown(handle="wako_clty", report_text_ja="削除をお願いします")
    assert takedown.labelled(DRILL).report_text_ja == DRILL + "削除をお願いします"


def test_the_drill_samples_are_their_labelled_kind() -> None:
    for line in EFFECT_WIRE:
        record = Effect.from_json(line)
        if record.drill and record.kind == "notify":
            assert str(record.payload["message_ja"]).startswith(DRILL)


# --- a missing field is an error that names it --------------------------------------------------------

def _required_cases() -> list[tuple[str, str, dict[str, Any], str]]:
    cases, seen = [], set()
    for line in [*EFFECT_WIRE, *COMMAND_WIRE]:
        record = orjson.loads(line)
        topic, name = ("effect", record["kind"]) if "kind" in record else ("command", record["action"])
        cls = EFFECT_TYPES.get(name) if topic == "effect" else COMMAND_TYPES.get(name)
        assert cls is not None
        for key in cls.required_fields():
            if (name, key) not in seen:
                seen.add((name, key))
                cases.append((topic, name, {k: v for k, v in record["payload"].items() if k != key}, key))
    return cases


@pytest.mark.parametrize(("topic", "name", "payload", "missing"), _required_cases(),
                         ids=[f"{c[1]}-{c[3]}" for c in _required_cases()])
def test_a_payload_without_a_required_field_is_an_error_naming_it(
        topic: str, name: str, payload: dict[str, Any], missing: str) -> None:
    parse = effect_payload if topic == "effect" else command_payload
    with pytest.raises(MalformedPayload, match=f"'{missing}'") as raised:
        parse(name, payload)
    assert raised.value.field == missing and name in str(raised.value)


def test_every_field_of_every_type_has_a_json_check() -> None:
    for cls in [*EFFECT_TYPES.values(), *COMMAND_TYPES.values()]:
        for f in dataclasses.fields(cls):
            admits(str(f.type))  # raises for an annotation it cannot check


@pytest.mark.parametrize(("name", "payload", "field"), [
    ("notify", {"to": "山田", "reason": "opened", "message_ja": "a", "message_en": "b"}, "to"),
    ("disaster_mode", {"on": "yes", "hashtag": "#h"}, "on"),
    ("hold_replies", {"account": {"handle": "x"}, "reason": 3}, "reason"),
    ("post_statement", {"texts": {"ja": "x"}, "account": {}, "source_url": ["u"]}, "source_url"),
])
def test_a_field_of_the_wrong_type_is_an_error_naming_it(name: str, payload: dict[str, Any], field: str) -> None:
    with pytest.raises(MalformedPayload, match=f"'{field}' is ") as raised:
        effect_payload(name, payload)
    assert raised.value.field == field


def test_a_command_field_of_the_wrong_type_is_an_error_naming_it() -> None:
    with pytest.raises(MalformedPayload, match="'codes'"):
        command_payload("override_warning", {"draft_id": "d", "codes": "rumour"})
    with pytest.raises(MalformedPayload, match="'draft_id'"):
        command_payload("approve", {"draft_id": None})


def test_an_unknown_kind_is_an_error_naming_it() -> None:
    with pytest.raises(UnknownKind, match="unknown effect kind 'carrier_pigeon'"):
        effect_payload("carrier_pigeon", {})
    with pytest.raises(UnknownKind, match="unknown command 'launch_rockets'"):
        command_payload("launch_rockets", {})


def test_a_payload_that_is_not_an_object_is_an_error() -> None:
    with pytest.raises(MalformedPayload, match="payload"):
        effect_payload("notify", ["to"])  # type: ignore[arg-type]


async def test_the_responder_reports_a_malformed_effect_naming_the_field_never_a_silent_default() -> None:
    effect = Effect(effect_id="wako-flame-1:hold_replies:1", incident_id="wako-flame-1", municipality="wako",
                    kind="hold_replies", at="2026-11-22T10:00:00+09:00", payload={"reason": "炎上対応中"})
    result = await Responder(Channels(), profiles={}, board_url="https://board.example").carry_out(effect)
    assert result.failed
    (command,) = result.commands
    assert command.action == "channel_failed" and "'account'" in command.payload["error"]
    assert command_from(command) == ChannelFailed(effect_id=effect.effect_id, channel="responder",
                                                  error=command.payload["error"])
