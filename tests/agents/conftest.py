"""The agents' fixture: an app through `agent.test_context()`, with a memory store and fake sends."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from streams.app import Pipeline, create_app
from tests.agents.fakes import FakeChangelog, FakeSend
from vocabulary.profile_files import load_profiles
from vocabulary.settings import Settings

DATA = Path(__file__).resolve().parent.parent / "data"


@pytest.fixture
async def pipeline(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Pipeline]:
    # async, so that Faust takes the test's running loop instead of making its own
    settings = Settings.from_env({"NOROSHI_BROKER": "kafka://127.0.0.1:9", "NOROSHI_PARTITIONS": "1"})
    p = create_app(settings, load_profiles([DATA / "wako-sample.profile.json"]))
    p.app.finalize()
    p.app.flow_control.resume()
    for topic in (p.detections, p.incidents, p.timeline, p.deadletters, p.effects, p.deadlines, p.commands):
        monkeypatch.setattr(topic, "send", FakeSend())
    for table in (p.detector_state, p.playbook_state, p.responder_state):
        monkeypatch.setattr(table, "on_key_set", lambda key, value: None)  # no changelog producer
    monkeypatch.setattr(p.responder_state, "send_changelog", FakeChangelog())
    yield p
    # Faust's consumer thread makes its own loop when built; in a test context it never runs.
    p.app.consumer._thread.thread_loop.close()
