"""More faults the watchdog alerts, through real processes (issue 14, item 4): a chat channel that
keeps failing (its peer answers 500, the worker's circuit opens), a dead-letter flood (malformed
events on the input topic), and a source whose peer disappears (a webhook sender that stops:
`noroshi sources` with `hooks` goes silent past its usual gap). The alerts go to a signed-webhook
peer named by NOROSHI_WATCHDOG_CONTACTS; the board's /healthz is the peer's stand-in."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from noroshi.broker import free_port
from vocabulary.records import Detection, iso

from .conftest import SAMPLE_PROFILE, produce
from .hooks_client import post_mention
from .test_watchdog import FAST, status, until_status
from .watchdog_peer import SECRET, Peer, serving

pytestmark = pytest.mark.integration

HOOKS_SECRET = "watchdog-faults-hooks-secret"


@pytest.fixture
async def peer() -> AsyncIterator[Peer]:
    async with serving() as p:
        yield p


def faults_env(tmp_path: Path, peer: Peer, **more: str) -> dict[str, str]:
    """An on-call operator reached through Slack, which is the peer's failing /fail; the watchdog
    also tells `webhook:ops` (the peer's /hook), which works."""
    profile = json.loads(SAMPLE_PROFILE.read_text(encoding="utf-8"))
    profile["roster"] = {"contacts": [{"name": "当番 佐藤", "role": "operator", "channels": ["slack:oncall"]}]}
    path = tmp_path / "wako.profile.json"
    path.write_text(json.dumps(profile, ensure_ascii=False), encoding="utf-8")
    return {**FAST, "NOROSHI_PROFILES": str(path), "NOROSHI_SLACK_WEBHOOK": peer.url + "/fail",
            "NOROSHI_WEBHOOK_URL": peer.url + "/hook", "NOROSHI_WEBHOOK_SECRET": SECRET,
            "NOROSHI_WATCHDOG_CONTACTS": "webhook:ops", "NOROSHI_BOARD_INTERNAL_URL": peer.url,
            "NOROSHI_WATCHDOG_HTTP_PORT": str(free_port()), **more}


def opening(n: int) -> Detection:
    now = time.time()
    return Detection(incident_id=f"wako-flame-watchdog-{n}", municipality="wako", type="flame",
                     target="wako_city_official", change="opened", opened_at=iso(now), at=iso(now),
                     severity="high", evidence_ids=[f"x:{n}"], summary="批判が急増しています",
                     metrics={"critical": 5, "total": 5, "authors": 5, "reach": 500})


async def test_a_chat_channel_that_keeps_failing_is_alerted_once_its_circuit_stays_open(
        broker, names, spawn, peer: Peer, tmp_path: Path) -> None:
    extra = faults_env(tmp_path, peer, NOROSHI_RETRY_ATTEMPTS="3", NOROSHI_WATCHDOG_CIRCUIT_FOR="1")
    spawn("worker", extra_env=extra)
    spawn("watchdog", extra_env=extra)
    detections = [opening(n) for n in (1, 2)]
    started = time.monotonic()
    await produce(broker.servers, [(names.detections, d.incident_id.encode(), d.to_json()) for d in detections])
    alert = await peer.until("alert", "slack", timeout=90)
    assert "送信チャネル slack が失敗を続けており" in alert["text"] and "circuit breaker" in alert["text"]
    assert peer.failed >= 5  # the worker's tries that opened the circuit (and the watchdog's own)
    found = await until_status(extra, lambda s: any("circuit_open:slack" in n["keys"] and n["recipients"]
                                                    for n in s["notifications"]))
    (told,) = [n for n in found["notifications"] if "circuit_open:slack" in n["keys"]]
    # Its own Slack recipient fails the same way; the webhook named in NOROSHI_WATCHDOG_CONTACTS does not.
    outcomes = {r["contact"]: r["outcome"] for r in told["recipients"]}
    assert outcomes == {"slack:oncall": "failed", "webhook:ops": "delivered"}
    assert next(r for r in told["recipients"] if r["contact"] == "slack:oncall")["error"].startswith("slack: HTTP 500")
    print(f"\nnotifications through a failing Slack → circuit alert at the peer: {alert['received'] - started:.1f} s")


async def test_a_dead_letter_flood_is_alerted(broker, names, spawn, peer: Peer, tmp_path: Path) -> None:
    extra = faults_env(tmp_path, peer, NOROSHI_WATCHDOG_DEADLETTER_MAX="5", NOROSHI_WATCHDOG_DEADLETTER_WINDOW="60")
    spawn("worker", extra_env=extra)
    spawn("watchdog", extra_env=extra)
    # The worker ready (consuming): its dead letters are counted from now.
    await until_status(extra, lambda s: any(c["name"] == "worker" and c["state"] == "ok" for c in s["components"]))
    flooded = time.monotonic()
    await produce(broker.servers, [(names.mentions, b"wako", b"{not json %d" % n) for n in range(12)])
    alert = await peer.until("alert", "デッドレターが急増しています", timeout=60)
    assert "dead letters spiking" in alert["text"]
    found = await status(extra)
    assert any(c["key"] == "deadletter_spike" and c["state"] == "firing" for c in found["conditions"])
    print(f"\ndead-letter flood → alert at the peer: {alert['received'] - flooded:.1f} s")


async def test_a_source_whose_sender_disappears_is_alerted_when_silent_past_its_usual_gap(
        broker, spawn, peer: Peer, tmp_path: Path) -> None:
    hooks_port = free_port()
    extra = faults_env(tmp_path, peer, NOROSHI_SOURCES="hooks", NOROSHI_HOOKS_SECRET=HOOKS_SECRET,
                       NOROSHI_HOOKS_PORT=str(hooks_port), NOROSHI_WATCHDOG_SOURCE_SILENT="1")
    spawn("sources", extra_env=extra)
    spawn("watchdog", extra_env=extra)
    await until_status(extra, lambda s: any(c["name"] == "sources" and c["state"] == "ok" for c in s["components"]))
    async with aiohttp.ClientSession() as http:
        for n in range(4):  # a sender posting every 1.5 s: its usual gap
            await post_mention(http, hooks_port, HOOKS_SECRET, f"web:watchdog-{n}")
            await asyncio.sleep(1.5)
    gone = time.monotonic()  # the sender is gone
    alert = await peer.until("alert", "ソース hooks から", timeout=60)
    assert "通常の間隔から見た上限" in alert["text"] and "bound from its usual gap" in alert["text"]
    found = await status(extra)
    assert next(c for c in found["components"] if c["name"] == "sources")["state"] == "ok"
    print(f"\nwebhook sender gone → alert at the peer: {alert['received'] - gone:.1f} s")



async def test_a_profile_refused_at_start_is_alerted_at_once(broker, spawn, peer: Peer, tmp_path: Path) -> None:
    """A mistyped closure day refuses that city's profile (it must not become a working day): the
    worker runs the others, and people are told at once that the city is not watched."""
    extra = faults_env(tmp_path, peer)
    folder = tmp_path / "profiles"
    folder.mkdir()
    (folder / "wako.profile.json").write_bytes(Path(extra["NOROSHI_PROFILES"]).read_bytes())
    asaka = json.loads(SAMPLE_PROFILE.read_text(encoding="utf-8"))
    asaka["municipality"] = {**asaka["municipality"], "id": "asaka", "name": "朝霞市"}
    asaka["closure_days"] = ["2027-05-06", "10/01"]
    (folder / "asaka.profile.json").write_text(json.dumps(asaka, ensure_ascii=False), encoding="utf-8")
    extra["NOROSHI_PROFILES"] = str(folder)
    spawn("worker", extra_env=extra)
    spawn("watchdog", extra_env=extra)
    alert = await peer.until("alert", "自治体プロファイル 1 件を読み込めず", timeout=60)
    assert "not watched" in alert["text"] and "noroshi profiles check" in alert["text"]
    found = await status(extra)
    assert any(c["key"] == "profiles_refused" and c["state"] == "firing" for c in found["conditions"])
    # The other municipality is watched: the worker is ready.
    assert any(c["name"] == "worker" and c["state"] == "ok" for c in found["components"]) or await until_status(
        extra, lambda s: any(c["name"] == "worker" and c["state"] == "ok" for c in s["components"]))
