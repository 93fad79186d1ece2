"""The deadline timer with the playbook agent through `test_context()`: a due deadline goes to the
playbook once, the playbook consumes it, and the clock then forgets it."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone

import pytest
from structlog.testing import capture_logs

from playbooks.runner import Stored
from streams import app as worker
from streams.app import Pipeline
from tests.agents.fakes import FakeSend
from tests.agents.test_agents import opening
from vocabulary.records import Deadline, Detection, Incident

INCIDENT = "wako-flame-7"


def opened_days_ago(days: int) -> Detection:
    """An opening whose acknowledgement deadline has passed on the wall clock, and whose week has not."""
    when = (datetime.now(timezone.utc) - timedelta(days=days)).astimezone(timezone(timedelta(hours=9)))
    stamp = when.isoformat(timespec="seconds")
    return dataclasses.replace(opening(INCIDENT), opened_at=stamp, at=stamp)


def deadlines_sent(p: Pipeline) -> list[Deadline]:
    return [Deadline.from_json(raw) for _, raw in p.deadlines.send.sent]


async def test_a_due_deadline_is_sent_to_the_playbook_once_and_forgotten_once_the_playbook_consumed_it(
        pipeline: Pipeline) -> None:
    async with pipeline.playbook.test_context() as agent:
        await agent.put(opened_days_ago(3).to_json(), key=INCIDENT)
        pending = Stored.load(pipeline.playbook_state[INCIDENT]).pending
        assert {d["name"] for d in pending.values()} >= {"ack", "week_open"}

        await worker.deliver_deadlines(pipeline.shell)
        await worker.deliver_deadlines(pipeline.shell)  # the next second: nothing new

        [ack] = deadlines_sent(pipeline)
        assert ack.name == "ack" and ack.incident_id == INCIDENT
        assert pipeline.deadlines.send.sent[0][0] == INCIDENT  # keyed by incident id
        assert pipeline.shell.clock.remembered() == 1

        await agent.put(ack.to_json(), key=INCIDENT)  # the playbook takes it (and reminds again later)
        await worker.deliver_deadlines(pipeline.shell)

    assert ack.deadline_id not in Stored.load(pipeline.playbook_state[INCIDENT]).pending
    assert Incident.from_json(pipeline.incidents.send.sent[-1][1]).version == 2, "the playbook did not take it"
    sent = [d.deadline_id for d in deadlines_sent(pipeline)]
    assert sent[0] == ack.deadline_id and ack.deadline_id not in sent[1:]
    # Only what the stored entry still holds is remembered: the consumed deadline is forgotten.
    assert pipeline.shell.clock.remembered() == len(sent) - 1


async def test_a_deadline_the_producer_refused_is_said_and_sent_again_at_the_next_tick(
        pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> None:
    async with pipeline.playbook.test_context() as agent:
        await agent.put(opened_days_ago(3).to_json(), key=INCIDENT)
    sent = FakeSend()

    async def refusing(**_: object) -> None:
        raise RuntimeError("KafkaTimeoutError: no broker answered")

    monkeypatch.setattr(pipeline.deadlines, "send", refusing)
    with capture_logs() as logs:
        await worker.deliver_deadlines(pipeline.shell)
    monkeypatch.setattr(pipeline.deadlines, "send", sent)
    await worker.deliver_deadlines(pipeline.shell)

    [failed] = [line for line in logs if line["event"] == "deadline_not_sent"]
    assert failed["log_level"] == "error" and failed["deadline_id"].startswith(f"{INCIDENT}:ack:")
    assert [Deadline.from_json(raw).name for _, raw in sent.sent] == ["ack"]


async def test_a_deadline_not_yet_due_is_not_sent(pipeline: Pipeline) -> None:
    async with pipeline.playbook.test_context() as agent:
        await agent.put(opened_days_ago(0).to_json(), key=INCIDENT)

    await worker.deliver_deadlines(pipeline.shell)

    assert "week_open" not in {d.name for d in deadlines_sent(pipeline)}
