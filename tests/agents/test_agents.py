"""The Faust agents through `agent.test_context()`, with a memory store and fake sends (conftest.py)."""

from __future__ import annotations

from pathlib import Path

import orjson

from streams.app import Pipeline
from vocabulary.records import DeadLetter, Detection, Incident

DATA = Path(__file__).resolve().parent.parent / "data"


def opening(incident_id: str) -> Detection:
    return Detection(
        incident_id=incident_id, municipality="wako", type="flame", target="wako_city_official",
        change="opened", opened_at="2026-11-20T10:05:30+09:00", at="2026-11-20T10:05:30+09:00",
        severity="low", evidence_ids=["x:1"], summary="批判が急増")


def sample() -> list[bytes]:
    return [line for line in (DATA / "wako-sample.jsonl").read_bytes().splitlines() if line.strip()]


async def test_detect_agent_turns_a_flame_up_into_detections(pipeline: Pipeline) -> None:
    async with pipeline.detect.test_context() as agent:
        for line in sample()[:20]:
            await agent.put(line, key=b"wako")
    sent = pipeline.detections.send.sent
    assert sent, "no detection was sent"
    first = Detection.from_json(sent[0][1])
    assert (first.type, first.target, first.change) == ("flame", "wako_city_official", "opened")
    assert sent[0][0] == first.incident_id  # keyed by incident id
    state = orjson.loads(pipeline.detector_state["wako"])
    assert set(state) == {"offsets", "marks", "replay_from", "detectors"}


async def test_detect_agent_dead_letters_a_malformed_event_and_goes_on(pipeline: Pipeline) -> None:
    async with pipeline.detect.test_context() as agent:
        await agent.put(b"\xff not json", key=b"wako")
        for line in sample()[:20]:
            await agent.put(line, key=b"wako")
    [(key, raw)] = pipeline.deadletters.send.sent
    letter = DeadLetter.from_json(raw)
    assert key == "wako" and letter.raw == b"\xff not json"
    assert letter.reason.startswith("contract: not valid JSON")
    assert pipeline.detections.send.sent, "the events after the bad one were not processed"


async def test_playbook_agent_opens_once_holds_replies_and_publishes_timeline(pipeline: Pipeline) -> None:
    detection = opening("wako-flame-1")
    async with pipeline.playbook.test_context() as agent:
        await agent.put(detection.to_json(), key="wako-flame-1")
        await agent.put(detection.to_json(), key="wako-flame-1")  # delivered again
    [(key, raw)] = pipeline.incidents.send.sent
    incident = Incident.from_json(raw)
    assert (key, incident.version, incident.state) == ("wako-flame-1", 1, "escalated")
    kinds = [orjson.loads(raw)["kind"] for _, raw in pipeline.effects.send.sent]
    assert kinds.count("hold_replies") == 1 and "notify" in kinds
    actors = {orjson.loads(entry)["actor"]["kind"] for _, entry in pipeline.timeline.send.sent}
    assert actors == {"detector"}
    stored = orjson.loads(pipeline.playbook_state["wako-flame-1"])
    assert stored["pending"], "the acknowledgement deadline was not scheduled"


async def test_a_board_command_reaches_the_playbook_and_a_bad_one_is_dead_lettered(
        pipeline: Pipeline) -> None:
    from vocabulary.records import BoardCommand

    ack = BoardCommand(command_id="c1", incident_id="wako-flame-3", municipality="wako",
                       action="acknowledge", actor={"kind": "person", "name": "当番 佐藤", "role": "operator"},
                       at="2026-11-20T10:07:00+09:00")
    async with pipeline.playbook.test_context() as agent:
        await agent.put(opening("wako-flame-3").to_json(), key="wako-flame-3")
        await agent.put(b"{not a command", key="wako-flame-3")
        await agent.put(ack.to_json(), key="wako-flame-3")
    states = [Incident.from_json(raw).state for _, raw in pipeline.incidents.send.sent]
    assert states == ["escalated", "drafting"]
    [(_, raw)] = pipeline.deadletters.send.sent
    assert DeadLetter.from_json(raw).reason.startswith("bad playbook input")


async def test_outputs_are_sent_before_the_state_that_says_they_were(pipeline: Pipeline) -> None:
    """A crash between the two must repeat an output, never lose one."""
    seen_at_send: list[object] = []

    async def detections_send(*, key: str, value: bytes, **_: object) -> None:
        seen_at_send.append(pipeline.detector_state.get("wako"))

    async def incidents_send(*, key: str, value: bytes, **_: object) -> None:
        seen_at_send.append(pipeline.playbook_state.get(key))

    pipeline.detections.send = detections_send  # type: ignore[method-assign]
    pipeline.incidents.send = incidents_send  # type: ignore[method-assign]
    async with pipeline.detect.test_context() as agent:
        for line in sample()[:20]:
            await agent.put(line, key=b"wako")
    detection = opening("wako-flame-2")
    async with pipeline.playbook.test_context() as agent:
        await agent.put(detection.to_json(), key="wako-flame-2")
    assert len(seen_at_send) == 2
    assert seen_at_send == [None, None], "state was stored before its output was sent"
    assert pipeline.detector_state.get("wako") and pipeline.playbook_state.get("wako-flame-2")
