"""Issue 12, finding 1: a dead letter the producer refuses never takes the agent, or the batch, down."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from streams.app import Pipeline
from tests.agents.test_agents import sample


class RefusingSend:
    """A producer that refuses every message, as a broker with a smaller size limit would."""

    def __init__(self) -> None:
        self.tried = 0

    async def __call__(self, **_: object) -> None:
        self.tried += 1
        raise RuntimeError("MessageSizeTooLargeError: the message is too large for the broker")


async def test_a_dead_letter_that_cannot_be_sent_is_logged_once_and_the_batch_goes_on(
        pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> None:
    refusing = RefusingSend()
    monkeypatch.setattr(pipeline.deadletters, "send", refusing)

    with capture_logs() as logs:
        async with pipeline.detect.test_context() as agent:
            await agent.put(b"\xff not json", key=b"wako")
            for line in sample()[:20]:
                await agent.put(line, key=b"wako")

    assert refusing.tried == 1
    [failed] = [line for line in logs if line["event"] == "dead_letter_send_failed"]
    assert failed["log_level"] == "error" and {"topic", "partition", "offset"} <= set(failed)
    assert "MessageSizeTooLargeError" in failed["error"] and failed["unsent_total"] == 1
    assert pipeline.detections.send.sent, "the events after the bad one were not processed"
