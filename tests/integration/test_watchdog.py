"""The watchdog through real processes (issue 14, item 4): a real broker, a real `noroshi worker`
and `noroshi watchdog`, and a signed-webhook peer on loopback standing for the on-call chat.

- the worker frozen with SIGSTOP → one alert reaches the peer, and one 復旧 after SIGCONT, though the
  watchdog itself was killed and started again in between;
- the broker killed → the alert comes from the watchdog, which needs neither the broker nor the worker.

Thresholds are lowered through the environment (a round every second, down after 2 s, the
heartbeat late after 5 s, a group wait of 1 s) so that each test waits seconds, not minutes.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from noroshi.broker import free_port

from .conftest import SAMPLE_PROFILE
from .watchdog_peer import SECRET, Peer, serving

pytestmark = pytest.mark.integration

FAST = {"NOROSHI_WATCHDOG_INTERVAL": "1", "NOROSHI_WATCHDOG_GRACE": "8", "NOROSHI_WATCHDOG_DOWN_FOR": "2",
        "NOROSHI_WATCHDOG_GROUP_WAIT": "1", "NOROSHI_HEARTBEAT_INTERVAL": "1", "NOROSHI_HEARTBEAT_LATE": "5",
        "NOROSHI_RETRY_ATTEMPTS": "2"}


@pytest.fixture
async def peer() -> AsyncIterator[Peer]:
    async with serving() as p:
        yield p


def watched_env(tmp_path: Path, peer: Peer) -> dict[str, str]:
    """The sample profile with an on-call operator reached through the webhook; the watchdog's port."""
    profile = json.loads(SAMPLE_PROFILE.read_text(encoding="utf-8"))
    profile["roster"] = {"contacts": [{"name": "当番 佐藤", "role": "operator", "channels": ["webhook:ops"]}]}
    path = tmp_path / "wako.profile.json"
    path.write_text(json.dumps(profile, ensure_ascii=False), encoding="utf-8")
    return {**FAST, "NOROSHI_PROFILES": str(path), "NOROSHI_WEBHOOK_URL": peer.url + "/hook",
            "NOROSHI_WEBHOOK_SECRET": SECRET, "NOROSHI_BOARD_INTERNAL_URL": peer.url,
            "NOROSHI_WATCHDOG_HTTP_PORT": str(free_port())}


async def status(extra: dict[str, str]) -> dict[str, Any]:
    url = f"http://127.0.0.1:{extra['NOROSHI_WATCHDOG_HTTP_PORT']}/status"
    async with aiohttp.ClientSession() as http, http.get(url, timeout=aiohttp.ClientTimeout(total=2)) as response:
        assert response.status == 200
        return await response.json()


async def until_status(extra: dict[str, str], ok, timeout: float = 60) -> dict[str, Any]:
    async with asyncio.timeout(timeout):
        while True:
            try:
                found = await status(extra)
            except (aiohttp.ClientError, OSError, TimeoutError):
                found = None
            if found is not None and ok(found):
                return found
            await asyncio.sleep(0.3)


async def served_metrics(extra: dict[str, str]) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """The watchdog's /metrics, after checking that /healthz and /readyz say it is alive and checking."""
    base = f"http://127.0.0.1:{extra['NOROSHI_WATCHDOG_HTTP_PORT']}"
    async with aiohttp.ClientSession() as http:
        for path in ("/healthz", "/readyz"):
            async with http.get(base + path) as response:
                assert response.status == 200 and (await response.json())["process"] == "watchdog", path
        async with http.get(base + "/metrics") as response:
            text = await response.text()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def component(found: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in found["components"] if c["name"] == name)


def watching(found: dict[str, Any]) -> bool:
    return (component(found, "worker")["state"] == "ok" and component(found, "broker")["state"] == "ok"
            and component(found, "board")["state"] == "ok" and bool(found["heartbeats"])
            and not found["conditions"])


async def test_a_frozen_worker_is_alerted_once_and_resolved_once_when_it_resumes(
        spawn, peer: Peer, tmp_path: Path) -> None:
    extra = watched_env(tmp_path, peer)
    worker = spawn("worker", extra_env=extra)
    dog = spawn("watchdog", extra_env=extra)
    found = await until_status(extra, watching, timeout=90)
    assert component(found, "sources")["state"] == "unknown"  # not configured: not watched
    assert peer.messages == []

    assert worker.proc is not None
    frozen = time.monotonic()
    worker.proc.send_signal(signal.SIGSTOP)
    try:
        alert = await peer.until("alert", "ワーカーが応答しません", timeout=30)
        alerted_after = alert["received"] - frozen
        found = await until_status(extra, lambda s: any(
            "component_down:worker" in n["keys"] and n["recipients"] for n in s["notifications"]))
        await asyncio.sleep(3)  # long enough for a second alert, had one been made
        served = await served_metrics(extra)
        assert served[("noroshi_watchdog_conditions_firing", (("rule", "component_down"),))] == 1
        assert served[("noroshi_watchdog_notifications_total", (("kind", "alert"), ("outcome", "delivered")))] >= 1
        # A watchdog killed and started again meanwhile remembers what it told (DATA_DIR/watchdog.sqlite3):
        # no second alert now, and the 復旧 below all the same.
        dog.kill()
        dog = spawn("watchdog", extra_env=extra)
        await until_status(extra, lambda s: any(c["key"] == "component_down:worker" and c["state"] == "firing"
                                                for c in s["conditions"]))
        await asyncio.sleep(3)
    finally:
        worker.proc.send_signal(signal.SIGCONT)
    resumed = time.monotonic()
    resolved = await peer.until("resolved", "ワーカーが応答しません", timeout=60)
    resolved_after = resolved["received"] - resumed
    await until_status(extra, lambda s: not s["conditions"], timeout=60)
    await asyncio.sleep(3)

    assert len(peer.of("alert", "ワーカーが応答しません")) == 1
    assert len(peer.of("resolved", "ワーカーが応答しません")) == 1
    assert alert["title"].startswith("【狼煙 監視】異常を検知しました")
    text = alert["text"]
    assert text.index("ワーカーが応答しません") < text.index("the worker is not answering")  # Japanese first
    assert "確認:" in text and "Check:" in text
    (told,) = [n for n in found["notifications"] if "component_down:worker" in n["keys"]]
    assert told["kind"] == "alert" and told["recipients"] == [
        {"contact": "webhook:ops", "outcome": "delivered", "error": None}]
    assert resolved["title"].startswith("【狼煙 監視】復旧しました")
    logged = [line for line in dog.log_lines() if line.get("event") == "watchdog_alerted"]
    assert logged and any("component_down:worker" in line["keys"] for line in logged)
    print(f"\nworker frozen → alert at the peer: {alerted_after:.1f} s; resumed → 復旧: {resolved_after:.1f} s")


async def test_a_dead_broker_is_alerted_by_the_watchdog_itself(spawn, broker, peer: Peer, tmp_path: Path) -> None:
    extra = watched_env(tmp_path, peer)
    worker = spawn("worker", extra_env=extra)
    dog = spawn("watchdog", extra_env=extra)
    await until_status(extra, watching, timeout=90)

    killed = time.monotonic()
    assert broker.proc is not None
    broker.proc.kill()
    broker.proc.wait(10)
    alert = await peer.until("alert", "ブローカー", timeout=30)
    alerted_after = alert["received"] - killed
    assert "ブローカー（Kafka）に接続できません" in alert["text"]
    found = await status(extra)
    assert component(found, "broker")["state"] == "down"
    (told,) = [n for n in found["notifications"] if "broker_unreachable" in n["keys"]]
    assert told["recipients"] == [{"contact": "webhook:ops", "outcome": "delivered", "error": None}]
    assert alert["key"].startswith("watchdog:")  # sent by the watchdog's own sender, not a worker's effect
    assert dog.proc is not None and dog.proc.poll() is None
    worker.kill()  # a worker without its broker takes long to stop, and nothing more is asked of it
    print(f"\nbroker killed → alert at the peer: {alerted_after:.1f} s")
