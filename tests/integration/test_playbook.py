"""A flame-up's playbook in a real worker, killed with SIGKILL halfway and restarted."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from playbooks.policy import may_post_now
from vocabulary.contract import parse_ts
from vocabulary.records import BoardCommand, Deadline, Detection, Effect, Incident, iso

from .conftest import produce, read_until, sample_lines, shifted_to_now

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


def command(n: int, incident_id: str, action: str, actor: dict, at: float, **payload) -> tuple:
    cmd = BoardCommand(command_id=f"cmd-{n}", incident_id=incident_id, municipality="wako",
                       action=action, actor=actor, at=iso(at), payload=payload)
    return ("noroshi.commands", incident_id.encode(), cmd.to_json())


def in_state(incident_id: str, state: str):
    return lambda rs: any(i.incident_id == incident_id and i.state == state for i in incidents_of(rs))


async def test_a_flame_up_playbook_survives_a_sigkill_without_repeating_an_effect(broker, names, spawn):
    flame_part, _ = shifted_to_now([line for line in sample_lines() if b"T09:" in line or b"T10:" in line])
    worker = spawn("worker")
    await produce(broker.servers, [(names.mentions if b'"mention"' in line else names.accounts,
                                    b"wako", line) for line in flame_part])
    records = await read_until(broker.servers, [names.incidents],
                               lambda rs: any(i.type == "flame" for i in incidents_of(rs)))
    incident_id = next(i.incident_id for i in incidents_of(records) if i.type == "flame")

    now = time.time()
    await produce(broker.servers, [command(1, incident_id, "acknowledge", OPERATOR, now)])
    before = await read_until(broker.servers, [names.incidents, names.effects],
                              in_state(incident_id, "drafting"))
    worker.kill()  # acknowledged, no statement yet: the middle of the playbook

    spawn("worker")
    await produce(broker.servers, [
        command(1, incident_id, "acknowledge", OPERATOR, now),  # the board sent it again
        command(2, incident_id, "draft", OPERATOR, now + 60, kind="statement", texts=STATEMENT),
        command(3, incident_id, "approve", OWNER, now + 120, draft_id=f"{incident_id}:draft:1"),
    ])
    # The statement goes out now in business hours, else it waits for them (原則就業時間内).
    posted_now = may_post_now(now + 120, incident_type="flame", severity="medium", disaster=False)
    final = "monitoring" if posted_now else "queued"
    after = await read_until(broker.servers, [names.incidents, names.effects], in_state(incident_id, final))

    effects = [e for e in effects_of(after) if e.incident_id == incident_id]
    kinds = Counter(e.kind for e in {e.effect_id: e for e in effects}.values())
    assert kinds["hold_replies"] == 1, "replies were held twice"
    assert kinds["post_statement"] == (1 if posted_now else 0), "the statement was posted twice"
    # An effect repeated by the restart keeps its id and content: responders do it once.
    by_id: dict[str, Effect] = {}
    for effect in effects:
        assert by_id.setdefault(effect.effect_id, effect) == effect, f"{effect.effect_id} changed"
    first_run = {e.effect_id for e in effects_of(before) if e.incident_id == incident_id}
    assert first_run <= set(by_id), "an effect of the first run was lost"
    for post in (e for e in by_id.values() if e.kind == "post_statement"):
        assert post.payload["texts"]["ja"] == STATEMENT["ja"]
    states = [i.state for i in incidents_of(after) if i.incident_id == incident_id]
    assert states.index("drafting") < states.index("awaiting_approval") < states.index(final)


async def test_the_timer_delivers_a_missed_acknowledgement_deadline_and_the_playbook_escalates(
        broker, names, spawn):
    """An incident nobody acknowledged in time: the worker's clock escalates it to level 2."""
    opened = time.time() - 3 * 3600  # severity high: 30 minutes to acknowledge, long gone
    detection = Detection(
        incident_id="wako-flame-overdue", municipality="wako", type="flame",
        target="wako_city_official", change="opened", opened_at=iso(opened), at=iso(opened),
        severity="high", evidence_ids=["x:1"], summary="批判が急増")
    spawn("worker")
    await produce(broker.servers, [(names.detections, detection.incident_id.encode(), detection.to_json())])
    records = await read_until(
        broker.servers, [names.deadlines, names.incidents],
        lambda rs: any(i.metrics.get("level") == 2 for i in incidents_of(rs)))
    [ack] = [Deadline.from_json(r.value) for r in records
             if r.topic == names.deadlines and Deadline.from_json(r.value).name == "ack"]
    assert ack.incident_id == detection.incident_id
    assert parse_ts(ack.due_at) <= time.time()
