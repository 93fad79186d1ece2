"""The respond agent through `test_context()`: each effect carried out once, the ledger stored durably,
what cannot be handled dead-lettered without stopping the stream, the message's position on its log lines."""

from __future__ import annotations

import structlog

from responders.base import FakeChannel
from responders.ledger import Ledger
from responders.responder import Channels
from streams.app import Pipeline
from tests.unit.responders.test_responder import notify, responder
from vocabulary.records import DeadLetter, Effect, TimelineEntry

INCIDENT = "wako-flame-1"


class ContextSlack(FakeChannel):
    """A fake Slack that notes the log context bound when it was called."""

    def __init__(self) -> None:
        super().__init__("slack")
        self.contexts: list[dict[str, object]] = []

    async def send(self, message, *, key):
        self.contexts.append(structlog.contextvars.get_contextvars())
        return await super().send(message, key=key)


def with_slack(p: Pipeline, slack: FakeChannel) -> None:
    p.shell.responding.responder = responder(Channels(chat={"slack": slack}))


def another_notify(incident_id: str) -> Effect:
    e = notify("slack:koho")
    return Effect(effect_id=f"{incident_id}:notify:1", incident_id=incident_id, municipality="wako",
                  kind="notify", at=e.at, payload=e.payload)


async def test_an_effect_is_carried_out_once_its_timeline_published_and_its_ledger_stored(
        pipeline: Pipeline) -> None:
    slack = FakeChannel("slack")
    with_slack(pipeline, slack)
    sent = notify("slack:koho")

    async with pipeline.respond.test_context() as agent:
        await agent.put(sent.to_json(), key=INCIDENT)
        await agent.put(sent.to_json(), key=INCIDENT)  # delivered again after a rebalance

    assert len(slack.sent) == 1
    entries = [TimelineEntry.from_json(raw) for _, raw in pipeline.timeline.send.sent]
    assert [e.action for e in entries] == ["delivered", "effect_carried_out"]
    ledger = Ledger.load(pipeline.responder_state[INCIDENT])
    assert ledger.finished == {sent.effect_id: True} and ledger.in_flight == {}
    # On the broker before the peer was called (in flight) and as soon as it answered (delivered).
    durable = [Ledger.load(raw) for _, raw in pipeline.responder_state.send_changelog.sent]
    assert [bool(d.in_flight) for d in durable] == [True, False] and durable[-1].delivered == ledger.delivered


async def test_a_message_that_is_not_an_effect_is_dead_lettered_and_the_next_one_is_carried_out(
        pipeline: Pipeline) -> None:
    slack = FakeChannel("slack")
    with_slack(pipeline, slack)

    async with pipeline.respond.test_context() as agent:
        await agent.put(b"{not an effect", key=INCIDENT)
        await agent.put(notify("slack:koho").to_json(), key=INCIDENT)

    [(key, raw)] = pipeline.deadletters.send.sent
    letter = DeadLetter.from_json(raw)
    assert key == INCIDENT and letter.raw == b"{not an effect" and letter.reason.startswith("bad effect: ")
    assert len(slack.sent) == 1


async def test_an_effect_whose_ledger_cannot_be_stored_is_dead_lettered_and_the_stream_goes_on(
        pipeline: Pipeline) -> None:
    slack = FakeChannel("slack")
    with_slack(pipeline, slack)
    changelog = pipeline.responder_state.send_changelog
    changelog.fail = RuntimeError("KafkaTimeoutError: the changelog write was not acknowledged")
    first, second = notify("slack:koho"), another_notify("wako-flame-2")

    async with pipeline.respond.test_context() as agent:
        await agent.put(first.to_json(), key=INCIDENT)
        changelog.fail = None
        await agent.put(second.to_json(), key="wako-flame-2")

    [(_, raw)] = pipeline.deadletters.send.sent
    letter = DeadLetter.from_json(raw)
    assert letter.reason.startswith("respond failed: RuntimeError: KafkaTimeoutError")
    assert letter.raw == first.to_json()
    assert len(slack.sent) == 1, "the peer was called before its in-flight mark was stored"
    assert Ledger.load(pipeline.responder_state["wako-flame-2"]).finished == {second.effect_id: True}


async def test_each_effect_is_handled_with_its_own_position_and_incident_bound_to_the_log_context(
        pipeline: Pipeline) -> None:
    slack = ContextSlack()
    with_slack(pipeline, slack)

    async with pipeline.respond.test_context() as agent:
        await agent.put(notify("slack:koho").to_json(), key=INCIDENT)
        await agent.put(another_notify("wako-flame-2").to_json(), key="wako-flame-2")

    assert [(c["topic"], c["incident_id"]) for c in slack.contexts] == [
        (pipeline.effects.get_topic_name(), INCIDENT), (pipeline.effects.get_topic_name(), "wako-flame-2")]
    assert slack.contexts[0]["offset"] != slack.contexts[1]["offset"]
    assert {"partition"} <= set(slack.contexts[0])

