"""The playbook stage without Faust: input checked, the step taken, outputs in the order they are sent."""

from __future__ import annotations

import orjson
import pytest
from structlog.testing import capture_logs

from playbooks.engine import default_rules
from playbooks.runner import Stored
from streams.boundary import Rejected
from streams.playbook_stage import PlaybookStage, PlaybookStep
from streams.stage import Message
from tests.unit.builders import SAMPLE_PROFILE, at, detection
from vocabulary.profile_files import load_profile
from vocabulary.records import BoardCommand, Incident

INCIDENT = "wako-flame-000000000001"


def stage() -> PlaybookStage:
    return PlaybookStage({"wako": load_profile(SAMPLE_PROFILE)}, default_rules())


def message(value: bytes, offset: int = 0) -> Message:
    return Message("noroshi.detections", 0, offset, INCIDENT.encode(), value)


def play(table: dict[str, bytes], value: bytes, offset: int = 0) -> PlaybookStep:
    """What the agent does: the step, then the state stored under the incident's id."""
    step = stage().play(message(value, offset), table)
    table[step.incident_id] = step.state
    return step


def test_an_opening_detection_sends_effects_then_timeline_then_the_incident_and_stores_its_deadlines() -> None:
    step = stage().play(message(detection().to_json()), {})

    topics = [out.topic for out in step.outputs]
    assert topics[-1] == "incidents" and topics.count("incidents") == 1
    assert topics == sorted(topics, key=["effects", "timeline", "incidents"].index)
    assert {"effects", "timeline"} <= set(topics)
    assert all(out.key == INCIDENT for out in step.outputs)
    kinds = [orjson.loads(out.value)["kind"] for out in step.outputs if out.topic == "effects"]
    assert kinds.count("hold_replies") == 1 and "notify" in kinds
    incident = Incident.from_json(step.outputs[-1].value)
    assert (step.incident_id, incident.version, incident.state) == (INCIDENT, 1, "escalated")
    assert Stored.load(step.state).pending, "the acknowledgement deadline was not scheduled"


def test_the_same_detection_again_changes_nothing_and_sends_no_incident() -> None:
    table: dict[str, bytes] = {}
    play(table, detection().to_json())

    again = play(table, detection().to_json(), offset=1)

    assert not [out for out in again.outputs if out.topic in ("incidents", "effects")]
    assert again.outcome == {}


def test_a_step_reads_the_incident_state_the_table_holds() -> None:
    table: dict[str, bytes] = {}
    play(table, detection().to_json())
    ack = BoardCommand(command_id="c1", incident_id=INCIDENT, municipality="wako", action="acknowledge",
                       actor={"kind": "person", "name": "当番 佐藤", "role": "operator"}, at=at(7))

    step = play(table, ack.to_json(), offset=1)

    assert Incident.from_json(step.outputs[-1].value).state == "drafting"
    assert step.outcome == {"event": "incident_changed", "change": "acknowledge", "state": "drafting",
                            "version": 2, "effects": 0}


def test_a_refused_command_is_logged_as_rejected_with_its_reason() -> None:
    table: dict[str, bytes] = {}
    play(table, detection().to_json())
    approve = BoardCommand(command_id="c2", incident_id=INCIDENT, municipality="wako", action="approve",
                           actor={"kind": "person", "name": "当番 佐藤", "role": "operator"}, at=at(7))

    step = play(table, approve.to_json(), offset=1)
    with capture_logs() as logs:
        step.log_outcome()

    [line] = logs
    assert line["event"] == "command_rejected" and line["incident_id"] == INCIDENT and line["reason"]


def test_the_outcome_names_the_incident_change_its_state_and_version() -> None:
    step = stage().play(message(detection().to_json()), {})
    with capture_logs() as logs:
        step.log_outcome()

    [line] = logs
    assert (line["event"], line["change"], line["state"], line["version"]) == (
        "incident_changed", "opened", "escalated", 1)
    assert line["effects"] == len([out for out in step.outputs if out.topic == "effects"])


@pytest.mark.parametrize(("value", "reason"), [
    pytest.param(b"{not json", "bad playbook input: ", id="not JSON"),
    pytest.param(b"[1, 2]", "bad playbook input: expected a JSON object", id="not an object"),
    pytest.param(b'{"incident_id": "x"}', "bad playbook input: neither a detection", id="no identifying field"),
    pytest.param(detection(municipality="kawagoe").to_json(), "bad playbook input: unknown municipality 'kawagoe'",
                 id="unknown municipality"),
])
def test_input_that_cannot_be_played_is_rejected_with_a_reason_for_the_dead_letter(value: bytes, reason: str) -> None:
    table: dict[str, bytes] = {}
    with pytest.raises(Rejected, match="^" + reason.replace("(", r"\(")) as raised:
        stage().play(message(value), table)

    assert raised.value.event == "playbook_input_rejected"
    assert table == {}


def test_a_comeback_after_the_incident_was_resolved_is_sent_on_the_detections_topic_as_a_new_incident() -> None:
    table: dict[str, bytes] = {}
    play(table, detection().to_json())
    resolve = BoardCommand(command_id="c9", incident_id=INCIDENT, municipality="wako", action="resolve",
                           actor={"kind": "person", "name": "当番 佐藤", "role": "operator"}, at=at(60))
    play(table, resolve.to_json(), offset=1)
    comeback = detection(change="updated", at=at(24 * 60), seq=1, severity="high",
                         metrics={"critical": 40, "wave": 2, "resurgence": True})

    step = play(table, comeback.to_json(), offset=2)

    [out] = [o for o in step.outputs if o.topic == "detections"]
    opening = orjson.loads(out.value)
    assert out.key == opening["incident_id"] != INCIDENT  # keyed by the new incident: it meets its state
    assert (opening["change"], opening["previous_incident_id"]) == ("opened", INCIDENT)
    new = play(table, out.value, offset=3)
    incident = Incident.from_json([o for o in new.outputs if o.topic == "incidents"][0].value)
    assert (new.incident_id, incident.previous_incident_id, incident.state) == (opening["incident_id"], INCIDENT, "escalated")
