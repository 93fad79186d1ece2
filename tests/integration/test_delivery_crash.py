"""Issue 12, finding 9: a worker killed (SIGKILL) while a notification is in flight.

A real worker opens a flame-up incident and notifies the on-call operator through a local peer
that takes the request and then hangs; the test kills the worker at that moment and starts
another. Through Slack (no idempotency) the notification is not sent again: the timeline says
送信済みの可能性 and the playbook asks the people on call to check. Through the signed webhook
(which keeps Idempotency-Keys) it is sent again with the same key and the peer keeps it once.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiokafka import AIOKafkaConsumer
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.structs import TopicPartition

from responders.chat import verify_signature
from vocabulary.records import BoardCommand, Detection, TimelineEntry, iso

from .conftest import SAMPLE_PROFILE, produce, read_until, serve_hook

pytestmark = pytest.mark.integration

SATO = "当番 佐藤"
HOOK_SECRET = "hook-secret-for-the-test"


class HangingPeer:
    """A chat peer on loopback: takes its first request and then never answers it (the worker
    is killed meanwhile); answers every later one at once. With `keys`, it keeps what it stores
    by `Idempotency-Key`, as the signed webhook's receivers are asked to."""

    def __init__(self, *, keys: bool) -> None:
        self.keys = keys
        self.requests: list[dict[str, Any]] = []  # every request, with its key
        self.stored: dict[str, dict[str, Any]] = {}  # what a receiver keeps (by key, or by order)
        self.first = asyncio.Event()

    async def handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        body = json.loads(raw)
        key = request.headers.get("Idempotency-Key")
        if self.keys:
            assert verify_signature(HOOK_SECRET, request.headers.get("X-Noroshi-Timestamp"), raw,
                                    request.headers.get("X-Noroshi-Signature"), time.time())
        self.requests.append({"key": key, "body": body})
        if not self.keys or key not in self.stored:
            self.stored[key if self.keys else str(len(self.stored))] = body
        if len(self.requests) == 1:
            self.first.set()
            await asyncio.sleep(3600)  # taken, never answered: the worker dies waiting
        return web.Response(text="ok")


async def serve(peer: HangingPeer) -> AsyncIterator[str]:
    async with serve_hook(peer.handle) as url:
        yield url


@pytest.fixture
async def slack() -> AsyncIterator[tuple[HangingPeer, str]]:
    peer = HangingPeer(keys=False)
    async for url in serve(peer):
        yield peer, url


@pytest.fixture
async def webhook() -> AsyncIterator[tuple[HangingPeer, str]]:
    peer = HangingPeer(keys=True)
    async for url in serve(peer):
        yield peer, url


def roster_profile(tmp_path: Path, channel: str) -> Path:
    """The sample profile with an on-call operator reached only through `channel`."""
    profile = json.loads(SAMPLE_PROFILE.read_text(encoding="utf-8"))
    profile["roster"] = {"contacts": [{"name": SATO, "role": "operator", "channels": [channel]}]}
    path = tmp_path / "wako.profile.json"
    path.write_text(json.dumps(profile, ensure_ascii=False), encoding="utf-8")
    return path


def opening(now: float) -> Detection:
    return Detection(incident_id="wako-flame-crash-1", municipality="wako", type="flame",
                     target="wako_city_official", change="opened", opened_at=iso(now), at=iso(now),
                     severity="high", evidence_ids=["x:1", "x:2", "x:3"], summary="批判が急増しています",
                     metrics={"critical": 5, "total": 5, "authors": 5, "reach": 500})


def timeline(records, incident_id: str) -> list[TimelineEntry]:
    entries: dict[str, TimelineEntry] = {}
    for r in records:
        if r.topic == "noroshi.timeline":
            entry = TimelineEntry.from_json(r.value)
            if entry.incident_id == incident_id:
                entries.setdefault(entry.entry_id, entry)
    return list(entries.values())


async def kill_while_in_flight(broker, names, spawn, peer: HangingPeer, extra_env: dict[str, str],
                               *, skipped: bool = False):
    """Open the incident, kill the worker once the peer holds the notification, start another.
    `skipped`: first move the group's offset past the effects, as Faust's start sometimes does."""
    worker = spawn("worker", extra_env=extra_env)
    detection = opening(time.time())
    await produce(broker.servers, [(names.detections, detection.incident_id.encode(), detection.to_json())])
    await asyncio.wait_for(peer.first.wait(), 60)
    worker.kill()
    if skipped:
        await commit_past_the_effects(broker.servers, names.effects)
    return spawn("worker", extra_env=extra_env), detection.incident_id


class AsFaust(RangePartitionAssignor):
    name = "faust"  # the protocol Faust's workers join the group with


async def commit_past_the_effects(servers: str, topic: str) -> None:
    """The worker group's committed offsets set past every effect published so far: the restarted
    worker's stream will not deliver the one cut off again."""
    records = await read_until(servers, [topic], lambda rs: any(b'"notify"' in r.value for r in rs))
    (record,) = [r for r in records if b'"notify"' in r.value]
    tp = TopicPartition(topic, record.partition)
    # A member of the group may commit for it: one that speaks the workers' protocol by name.
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=servers, group_id="noroshi", enable_auto_commit=False,
                                session_timeout_ms=3000, heartbeat_interval_ms=500, max_poll_interval_ms=10000,
                                partition_assignment_strategy=(AsFaust,))
    await consumer.start()
    try:
        while tp not in consumer.assignment():
            await consumer.getmany(timeout_ms=200)
        await consumer.commit({tp: record.offset + 1})
    finally:
        await consumer.stop()


@pytest.mark.parametrize("skipped", [False, True], ids=["redelivered", "not_redelivered"])
async def test_a_slack_notification_cut_off_by_a_crash_is_not_sent_again_but_shown_as_possibly_sent(
        broker, names, spawn, slack, tmp_path: Path, skipped: bool) -> None:
    """`not_redelivered`: the restarted worker's stream does not bring the effect back (Faust may skip
    the last messages of a partition at start); the ledger's mark says where it is, and it is read again."""
    peer, url = slack
    restarted, iid = await kill_while_in_flight(broker, names, spawn, peer, {
        "NOROSHI_PROFILES": str(roster_profile(tmp_path, "slack:oncall")), "NOROSHI_SLACK_WEBHOOK": url},
        skipped=skipped)

    # The restarted worker reports it, and the playbook asks the people on call to check it: the
    # only notification delivered after the restart is that request.
    records = await read_until(broker.servers, [names.timeline, names.commands], lambda rs: any(
        e.action == "delivered" and e.detail.get("kind") == "notify" for e in timeline(rs, iid)))
    entries = timeline(records, iid)
    (cut,) = [e for e in entries if e.action == "delivery_possibly_sent" and e.actor["name"] == "slack"]
    assert cut.detail["message_ja"].startswith("送信済みの可能性があります")
    assert "自動では再送しません" in cut.detail["message_ja"] and "Possibly sent" in cut.detail["message_en"]
    assert cut.detail["to"] == SATO
    commands = [BoardCommand.from_json(r.value) for r in records if r.topic == names.commands]
    assert [c.action for c in commands if c.incident_id == iid] == ["delivery_possibly_sent"]
    (noted,) = [e for e in entries if e.action == "delivery_possibly_sent" and e.actor["name"] == "noroshi"]
    assert noted.detail["key"] == cut.detail["key"]
    assert not [e for e in entries if e.action == "delivered" and e.detail.get("key") == cut.detail["key"]]

    # The first notification reached the peer once; the one after it asks to check it.
    assert len(peer.requests) == 2, [r["body"]["text"][:80] for r in peer.requests]
    first, check = (r["body"]["text"] for r in peer.requests)
    assert "受付してください" in first and "送信済みの可能性" not in first
    assert "送信済みの可能性" in check
    assert [line for line in restarted.log_lines() if line.get("event") == "delivery_possibly_sent"
            and line.get("topic") == names.effects and line.get("key") == cut.detail["key"]]
    if skipped:
        assert [line for line in restarted.log_lines() if line.get("event") == "cut_off_effect_read_again"]


async def test_a_signed_webhook_cut_off_by_a_crash_is_sent_again_with_its_key_and_kept_once(
        broker, names, spawn, webhook, tmp_path: Path) -> None:
    peer, url = webhook
    _, iid = await kill_while_in_flight(broker, names, spawn, peer, {
        "NOROSHI_PROFILES": str(roster_profile(tmp_path, "webhook:ops")),
        "NOROSHI_WEBHOOK_URL": url, "NOROSHI_WEBHOOK_SECRET": HOOK_SECRET})

    records = await read_until(broker.servers, [names.timeline], lambda rs: any(
        e.action == "delivered" and e.detail.get("kind") == "notify" for e in timeline(rs, iid)))
    entries = timeline(records, iid)
    (delivered,) = [e for e in entries if e.action == "delivered"]
    key = delivered.detail["key"]
    assert [r["key"] for r in peer.requests] == [key, key], "sent again, with the same key"
    assert list(peer.stored) == [key], "the receiver kept it once"
    assert [e.detail["key"] for e in entries if e.action == "delivery_resumed"] == [key]
    assert not [e for e in entries if e.action == "delivery_possibly_sent"]
