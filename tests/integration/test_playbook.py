"""A flame-up's playbook in a real worker, killed with SIGKILL halfway and restarted."""

from __future__ import annotations

from collections import Counter

import pytest

from streams.records import BoardCommand, Deadline, Effect, Incident

from .conftest import produce, read_until, sample_lines

pytestmark = pytest.mark.integration

OPERATOR = {"kind": "person", "name": "当番 佐藤", "role": "operator"}
OWNER = {"kind": "person", "name": "広報課長 田中", "role": "owner"}
STATEMENT = {"ja": "PR動画について、ご意見を真摯に受け止め、公開を停止しました。",
             "easy_ja": "PRどうがを とめました。ごいけんを ありがとう ございます。",
             "en": "We have taken the PR video down and take your comments seriously."}


def incidents_of(records) -> list[Incident]:
    return [Incident.from_json(r.value) for r in records if r.topic == "noroshi.incidents"]


def effects_of(records) -> list[Effect]:
    return [Effect.from_json(r.value) for r in records if r.topic == "noroshi.effects"]


def command(n: int, incident_id: str, action: str, actor: dict, minute: int, **payload) -> tuple:
    cmd = BoardCommand(command_id=f"cmd-{n}", incident_id=incident_id, municipality="wako",
                       action=action, actor=actor, at=f"2026-11-20T10:{minute:02d}:00+09:00",
                       payload=payload)
    return ("noroshi.commands", incident_id.encode(), cmd.to_json())


def in_state(incident_id: str, state: str):
    return lambda rs: any(i.incident_id == incident_id and i.state == state for i in incidents_of(rs))


async def test_a_flame_up_playbook_survives_a_sigkill_without_repeating_an_effect(broker, names, spawn):
    flame_part = [line for line in sample_lines() if b'T09:' in line or b'T10:' in line]
    worker = spawn("worker")
    await produce(broker.servers, [(names.mentions if b'"mention"' in line else names.accounts,
                                    b"wako", line) for line in flame_part])
    records = await read_until(broker.servers, [names.incidents],
                               lambda rs: any(i.type == "flame" for i in incidents_of(rs)))
    incident_id = next(i.incident_id for i in incidents_of(records) if i.type == "flame")

    await produce(broker.servers, [command(1, incident_id, "acknowledge", OPERATOR, 40)])
    before = await read_until(broker.servers, [names.incidents, names.effects],
                              in_state(incident_id, "drafting"))
    worker.kill()  # acknowledged, no statement yet: the middle of the playbook

    spawn("worker")
    await produce(broker.servers, [
        command(1, incident_id, "acknowledge", OPERATOR, 40),  # the board sent it again
        command(2, incident_id, "draft", OPERATOR, 45, kind="statement", texts=STATEMENT),
        command(3, incident_id, "approve", OWNER, 50, draft_id=f"{incident_id}:draft:1"),
    ])
    after = await read_until(broker.servers, [names.incidents, names.effects],
                             in_state(incident_id, "monitoring"))

    effects = [e for e in effects_of(after) if e.incident_id == incident_id]
    kinds = Counter(e.kind for e in {e.effect_id: e for e in effects}.values())
    assert kinds["hold_replies"] == 1, "replies were held twice"
    assert kinds["post_statement"] == 1, "the statement was posted twice"
    # An effect repeated by the restart keeps its id and content: responders do it once.
    by_id: dict[str, Effect] = {}
    for effect in effects:
        assert by_id.setdefault(effect.effect_id, effect) == effect, f"{effect.effect_id} changed"
    first_run = {e.effect_id for e in effects_of(before) if e.incident_id == incident_id}
    assert first_run <= set(by_id), "an effect of the first run was lost"
    [post] = [e for e in by_id.values() if e.kind == "post_statement"]
    assert post.payload["texts"]["ja"] == STATEMENT["ja"]
    # The clock: the acknowledgement deadline (already past in wall time for these
    # two-day-old events) was delivered by the worker's timer as a deadline event.
    delivered = await read_until(broker.servers, [names.deadlines],
                                 lambda rs: any(Deadline.from_json(r.value).name == "ack" for r in rs))
    assert all(Deadline.from_json(r.value).incident_id == incident_id for r in delivered)
    states = [i.state for i in incidents_of(after) if i.incident_id == incident_id]
    assert states.index("drafting") < states.index("awaiting_approval") < states.index("monitoring")
