"""The webhook receiver under faults (issue 12, findings 6 and 1), through real processes: a
real `noroshi sources` serving `/hooks/events` on loopback, the embedded broker, real HTTP.

A broker that goes away loses no event a client sends again; an event for a municipality not
served here, an NDJSON line that is not UTF-8 and a ~900 KB event are each rejected alone,
with the reason and a bounded dead letter, and their neighbours are published; a restart of
`noroshi sources` forgets nothing a replay could publish twice."""

from __future__ import annotations

import asyncio
import hashlib
import io
import signal
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import orjson
import pytest

from noroshi.broker import EmbeddedBroker, free_port
from vocabulary.records import DeadLetter
from sources.webhook import sign
from vocabulary.topics import TopicNames

from .conftest import Proc, read_until

pytestmark = pytest.mark.integration
SECRET = "hooks-fault-secret-31d9"


def mention(event_id: str, **changes: Any) -> dict[str, Any]:
    event = {"kind": "mention", "id": event_id, "platform": "web",
             "ts": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),
             "author": {"id": "web:form", "handle": "resident_form", "name": "お問い合わせフォーム"},
             "text": "和光市の公式アカウントを名乗る不審なDMが届きました #和光市"}
    event.update(changes)
    return event


def signed(body: bytes, content_type: str = "application/json") -> dict[str, str]:
    at = str(int(time.time()))
    return {"X-Noroshi-Timestamp": at, "X-Noroshi-Signature": sign(SECRET, at, body), "Content-Type": content_type}


class Hooks:
    """A running `noroshi sources` with the webhook receiver, and a client for it."""

    def __init__(self, spawn: Callable[..., Proc], session: aiohttp.ClientSession) -> None:
        self.spawn, self.session = spawn, session
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: Proc | None = None

    async def start(self) -> Hooks:
        self.proc = self.spawn("sources", extra_env={
            "NOROSHI_SOURCES": "hooks", "NOROSHI_HOOKS_SECRET": SECRET, "NOROSHI_HOOKS_PORT": str(self.port),
            "NOROSHI_HOOKS_PUBLISH_TIMEOUT": "2"})
        while True:  # until it listens (or dies)
            assert self.proc.proc is not None and self.proc.proc.poll() is None, self.proc.log_path.read_text()
            try:
                async with self.session.get(f"{self.url}/healthz") as resp:
                    if resp.status == 200:
                        return self
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.1)

    def stop(self) -> None:
        assert self.proc is not None
        self.proc.stop()
        assert self.proc.proc is not None and self.proc.proc.returncode == 0

    async def post_until_answered(self, body: bytes) -> tuple[int, dict[str, Any]]:
        """POST as a client does after a 503 with Retry-After: again, a few times (signed anew)."""
        for _ in range(10):
            status, answer = await self.post(body)
            if status != 503:
                break
            await asyncio.sleep(0.5)
        return status, answer

    async def post(self, body: bytes, headers: dict[str, str] | None = None,
                   content_type: str = "application/json") -> tuple[int, dict[str, Any]]:
        async with self.session.post(f"{self.url}/hooks/events", data=io.BytesIO(body),
                                     headers=headers or signed(body, content_type)) as resp:
            return resp.status, await resp.json()


@pytest.fixture
async def hooks(spawn: Callable[..., Proc]) -> AsyncIterator[Hooks]:
    async with aiohttp.ClientSession() as session:
        yield await Hooks(spawn, session).start()


def values(records: list[Any], topic: str) -> list[dict[str, Any]]:
    return [orjson.loads(r.value) for r in records if r.topic == topic]


def ids_on(records: list[Any], topic: str) -> list[str]:
    return [event["id"] for event in values(records, topic)]


async def test_an_event_the_stalled_broker_did_not_confirm_is_published_once_when_sent_again(
        broker: EmbeddedBroker, names: TopicNames, hooks: Hooks) -> None:
    body = orjson.dumps(mention("web:form:stall-1"))
    assert broker.proc is not None
    broker.proc.send_signal(signal.SIGSTOP)  # the broker stops answering; connections stay open
    try:
        status, answer = await hooks.post(body)
        assert status == 503 and answer["failed"] == 1
        assert "not confirmed it within 2 s" in answer["items"][0]["reason"]
    finally:
        broker.proc.send_signal(signal.SIGCONT)
    status, answer = await hooks.post_until_answered(body)  # the client sends it again
    assert status == 200 and answer["items"][0]["status"] == "accepted"  # not `duplicate`: nobody was told
    status, answer = await hooks.post(body)
    assert answer["items"][0]["status"] == "duplicate"
    await hooks.post(orjson.dumps(mention("web:form:after-stall")))
    records = await read_until(broker.servers, [names.mentions],
                               lambda rs: "web:form:after-stall" in ids_on(rs, names.mentions))
    assert ids_on(records, names.mentions).count("web:form:stall-1") == 1


async def test_an_event_for_a_municipality_not_served_here_is_rejected_and_dead_lettered(
        broker: EmbeddedBroker, names: TopicNames, hooks: Hooks) -> None:
    body = orjson.dumps([mention("web:form:stray", municipality="nerima"),
                         mention("web:form:number", municipality=17), mention("web:form:wako")])
    status, answer = await hooks.post(body)
    assert status == 200
    assert [(i["status"], i.get("reason")) for i in answer["items"]] == [
        ("rejected", "routing: municipality 'nerima' is not served here (one of: wako)"),
        ("rejected", "routing: municipality: expected a string (one of: wako), got int"),
        ("accepted", None)]
    records = await read_until(broker.servers, [names.mentions, names.deadletters],
                               lambda rs: len(values(rs, names.deadletters)) >= 2
                               and "web:form:wako" in ids_on(rs, names.mentions))
    letters = sorted((DeadLetter.from_json(r.value) for r in records if r.topic == names.deadletters),
                     key=lambda letter: orjson.loads(letter.raw)["id"])
    assert [orjson.loads(letter.raw)["id"] for letter in letters] == ["web:form:number", "web:form:stray"]
    assert "nerima" in letters[1].reason and "expected a string" in letters[0].reason
    assert ids_on(records, names.mentions) == ["web:form:wako"]


async def test_an_ndjson_line_that_is_not_utf8_is_answered_alone_and_the_others_are_published(
        broker: EmbeddedBroker, names: TopicNames, hooks: Hooks) -> None:
    bad = orjson.dumps(mention("web:form:latin1"))[:-2] + b"\xe9t\xe9\"}"  # Latin-1 where UTF-8 belongs
    body = b"\n".join([orjson.dumps(mention("web:form:line-1")), bad, orjson.dumps(mention("web:form:line-3"))])
    status, answer = await hooks.post(body, content_type="application/x-ndjson")
    assert status == 200
    assert [i["status"] for i in answer["items"]] == ["accepted", "rejected", "accepted"]
    assert answer["items"][1]["reason"].startswith("line 2: not UTF-8 (byte ")
    records = await read_until(broker.servers, [names.mentions, names.deadletters],
                               lambda rs: len(ids_on(rs, names.mentions)) == 2 and values(rs, names.deadletters))
    assert sorted(ids_on(records, names.mentions)) == ["web:form:line-1", "web:form:line-3"]
    [letter] = [DeadLetter.from_json(r.value) for r in records if r.topic == names.deadletters]
    assert letter.raw == bad and "not UTF-8" in letter.reason and letter.topic == "source:webhook"


async def test_a_replayed_request_after_a_restart_is_answered_duplicate_and_not_published_again(
        broker: EmbeddedBroker, names: TopicNames, hooks: Hooks) -> None:
    body = orjson.dumps(mention("web:form:replay"))
    headers = signed(body)
    status, answer = await hooks.post(body, headers)
    assert status == 200 and answer["items"][0]["status"] == "accepted"

    hooks.stop()
    await hooks.start()  # a new process, the same data folder
    status, answer = await hooks.post(body, headers)  # the recorded request, inside its window
    assert status == 200 and answer["replayed"] is True
    assert answer["items"] == [{"index": 0, "id": "web:form:replay", "status": "duplicate"}]
    resent = orjson.dumps([mention("web:form:replay"), mention("web:form:fresh")])  # a new request, old id in it
    status, answer = await hooks.post(resent)
    assert [i["status"] for i in answer["items"]] == ["duplicate", "accepted"]

    records = await read_until(broker.servers, [names.mentions],
                               lambda rs: "web:form:fresh" in ids_on(rs, names.mentions))
    assert ids_on(records, names.mentions).count("web:form:replay") == 1


async def test_a_900_kb_invalid_event_is_rejected_alone_with_a_bounded_dead_letter(
        broker: EmbeddedBroker, names: TopicNames, hooks: Hooks) -> None:
    big = orjson.dumps(mention("web:form:huge", text="炎上" * 150_000))  # ~900 KB, over the contract's 256 KiB
    body = b"[" + big + b"," + orjson.dumps(mention("web:form:beside-huge")) + b"]"
    assert 850_000 < len(big) < len(body) < 1024 * 1024
    status, answer = await hooks.post(body)
    assert status == 200
    assert answer["items"][0]["status"] == "rejected" and "above the contract's limit" in answer["items"][0]["reason"]
    assert answer["items"][1] == {"index": 1, "id": "web:form:beside-huge", "status": "accepted"}

    records = await read_until(broker.servers, [names.mentions, names.deadletters],
                               lambda rs: values(rs, names.deadletters) and ids_on(rs, names.mentions))
    assert ids_on(records, names.mentions) == ["web:form:beside-huge"]
    [record] = [r for r in records if r.topic == names.deadletters]
    letter = DeadLetter.from_json(record.value)
    assert len(record.value) < 1_000_000 and letter.truncated
    assert letter.size == len(big) and letter.sha256 == hashlib.sha256(big).hexdigest()
    assert big.startswith(letter.raw) and "above the contract's limit" in letter.reason

    too_big = b"[" + b",".join([big] * 2) + b"]"  # over the receiver's 1 MiB: refused whole, with why
    status, answer = await hooks.post(too_big)
    assert status == 413 and answer["limit_bytes"] == 1024 * 1024 and "1,048,576 bytes" in answer["reason"]
