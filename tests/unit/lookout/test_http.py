"""The watchdog's HTTP face, in process: /status has the shape the board's システム状態 page reads,
/readyz waits for a first round of checks, and /report takes only a known process."""

from __future__ import annotations

from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from lookout.alerts import step
from lookout.notify import Sender
from lookout.rules import Beat, Probe, Round
from lookout.service import Watchdog, create_app
from responders.responder import Channels
from vocabulary.settings import Settings

COMPONENT_KEYS = {"name", "url", "state", "since", "detail_ja", "detail_en"}


def dog(tmp_path: Path) -> Watchdog:
    settings = Settings.from_env({"NOROSHI_BROKER": "kafka://127.0.0.1:9", "NOROSHI_DATA_DIR": str(tmp_path),
                                  "NOROSHI_WATCHDOG_GRACE": "0"})
    return Watchdog(settings, {"wako": {"municipality": {"id": "wako"}}},
                    sender=Sender(Channels(), [], board_url="http://board"))


async def test_status_readiness_and_reports(tmp_path: Path) -> None:
    d = dog(tmp_path)
    d.watch.started_at = 0.0
    d.heartbeats.beats[1] = Beat(1, "wako", 1_000.0)
    async with TestClient(TestServer(create_app(d))) as client:
        assert (await client.get("/healthz")).status == 200
        assert (await client.get("/readyz")).status == 503  # no round yet
        seen = d.watch.assess(Round(now=2_000.0, probes=(Probe("worker", "http://w", False),
                                                         Probe("broker", "k:9", True, ready=True))))
        step(d.book, seen, 2_000.0, group_wait_s=0, repeat_s=3600)
        d.assessment, d.checked_at = seen, 2_000.0
        status = await (await client.get("/status")).json()
        assert set(status) == {"process", "checked_at", "components", "heartbeats", "conditions", "notifications",
                               "recipients", "unroutable"}
        assert status["recipients"] == [] and status["unroutable"] == []  # this watchdog has nobody to tell
        assert status["process"] == "watchdog"
        assert [c["name"] for c in status["components"]] == ["worker", "sources", "board", "broker"]
        assert all(set(c) == COMPONENT_KEYS for c in status["components"])
        assert {c["name"]: c["state"] for c in status["components"]} == {
            "worker": "down", "sources": "unknown", "board": "unknown", "broker": "ok"}
        (beat,) = status["heartbeats"]
        assert set(beat) == {"partition", "municipality", "sent_at", "age_s"} and beat["partition"] == 1
        (condition,) = status["conditions"]
        assert condition["key"] == "component_down:worker" and condition["state"] == "pending"
        assert set(condition) == {"key", "rule", "state", "since", "summary_ja", "summary_en"}
        assert (await client.post("/report", json={"process": "kitchen"})).status == 400
        assert (await client.post("/report", data=b"not json")).status == 400
    d.store.close()
