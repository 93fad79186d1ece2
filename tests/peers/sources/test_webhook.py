"""The webhook receiver: signed contract events on /hooks/events and a LINE channel on
/hooks/line, through aiohttp's test server, plus the pure readers and signatures."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import socket
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer
from structlog.testing import capture_logs

from vocabulary.settings import Secret
from vocabulary.contract import event_from_dict
from sources.base import MemorySink, Offered
from sources.runner import RoutingSink
from sources.seen import ReceiverMemory
from sources.webhook import (
    BodyError,
    WebhookConfig,
    WebhookReceiver,
    create_app,
    line_mention,
    pseudonym,
    read_events,
    sign,
    verify,
)

SECRET = "hooks-shared-secret-7f3a9c"
LINE_SECRET = "line-channel-secret-0b1c2d"
SALT = "line-user-salt-55e4"
NOW = 1_795_310_100  # 2026-11-22T10:15:00+09:00
CONFIG = WebhookConfig(secret=Secret(SECRET), line_channel_secret=Secret(LINE_SECRET),
                       line_user_salt=Secret(SALT), line_account="wako_city_line")
USER_ID = "U4af4980629e0c2f4d5b8b6a1c3d2e1f0"


def mention(event_id: str = "web:form:2211", **changes: Any) -> dict[str, Any]:
    event = {"kind": "mention", "id": event_id, "platform": "web", "ts": "2026-11-22T10:14:00+09:00",
             "author": {"id": "web:form", "handle": "resident_form", "name": "お問い合わせフォーム"},
             "text": "和光市の公式アカウントを名乗る不審なDMが届きました #和光市", "form": "お問い合わせ"}
    event.update(changes)
    return event


def reported_account() -> dict[str, Any]:
    return {"kind": "account", "id": "web:report:17", "platform": "x", "ts": "2026-11-22T10:16:00+09:00",
            "type": "reported", "note": "市民から通報",
            "account": {"id": "x:u:991", "handle": "wako_clty_official", "name": "和光市【公式】"}}


def signed(body: bytes, *, at: int = NOW, secret: str = SECRET,
           content_type: str = "application/json") -> dict[str, str]:
    return {"X-Noroshi-Timestamp": str(at), "X-Noroshi-Signature": sign(secret, str(at), body),
            "Content-Type": content_type}


def line_text(message_id: str = "468789577898262530", text: str = "ゴミ収集の日程がホームページと違います",
              *, redelivery: bool = False, **changes: Any) -> dict[str, Any]:
    event = {"type": "message", "mode": "active", "timestamp": 1_795_310_040_123,
             "source": {"type": "user", "userId": USER_ID},
             "webhookEventId": "01JD4Z6W2Q8N3R7K5V9T1X0YBC",
             "deliveryContext": {"isRedelivery": redelivery},
             "replyToken": "38ef843bde154d9b91c21320ffd17a0f",
             "message": {"id": message_id, "type": "text", "quoteToken": "q3Plxr4AgKd", "text": text}}
    event.update(changes)
    return event


def line_body(*events: dict[str, Any]) -> bytes:
    return orjson.dumps({"destination": "xxxxxxxxxx", "events": list(events)})


def line_headers(body: bytes, secret: str = LINE_SECRET) -> dict[str, str]:
    # Computed here as LINE's documentation gives it, independently of the module.
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return {"x-line-signature": base64.b64encode(digest).decode(), "Content-Type": "application/json"}


@pytest.fixture
def sink() -> MemorySink:
    return MemorySink()


@pytest.fixture
async def client(sink: MemorySink) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(create_app(CONFIG, sink, clock=lambda: NOW))) as client:
        yield client


# --- /hooks/events ---------------------------------------------------------------------------


async def test_a_signed_event_is_published_as_it_came(client: TestClient, sink: MemorySink) -> None:
    body = orjson.dumps(mention())
    resp = await client.post("/hooks/events", data=body, headers=signed(body))
    assert resp.status == 200
    assert await resp.json() == {"accepted": 1, "duplicates": 0, "rejected": 0, "failed": 0,
                                 "items": [{"index": 0, "id": "web:form:2211", "status": "accepted"}]}
    assert sink.events == [mention()]  # extra fields and all
    assert sink.rejected == []


async def test_an_array_with_a_malformed_event_publishes_the_good_ones(client: TestClient, sink: MemorySink) -> None:
    broken = mention("web:form:2212")
    del broken["author"]
    body = orjson.dumps([mention(), broken, reported_account()])
    resp = await client.post("/hooks/events", data=body, headers=signed(body))
    assert resp.status == 200
    answer = await resp.json()
    assert (answer["accepted"], answer["rejected"]) == (2, 1)
    assert answer["items"][1] == {"index": 1, "id": "web:form:2212", "status": "rejected",
                                  "reason": "author: missing or not an object"}
    assert [e["id"] for e in sink.events] == ["web:form:2211", "web:report:17"]
    [(raw, reason, origin)] = sink.rejected
    assert origin == "webhook" and reason == "webhook: author: missing or not an object"
    assert orjson.loads(raw)["id"] == "web:form:2212"


async def test_ndjson_lines_are_read_one_by_one(client: TestClient, sink: MemorySink) -> None:
    body = b"\n".join([orjson.dumps(mention()), b"{not json", b"", orjson.dumps(reported_account())]) + b"\n"
    resp = await client.post("/hooks/events", data=body, headers=signed(body, content_type="application/x-ndjson"))
    answer = await resp.json()
    assert resp.status == 200 and (answer["accepted"], answer["rejected"]) == (2, 1)
    assert answer["items"][1]["status"] == "rejected" and answer["items"][1]["reason"].startswith("line 2: not valid JSON")
    assert [e["id"] for e in sink.events] == ["web:form:2211", "web:report:17"]
    assert sink.rejected[0][0] == b"{not json"


async def test_an_event_sent_twice_is_published_once(client: TestClient, sink: MemorySink) -> None:
    body = orjson.dumps(mention())
    await client.post("/hooks/events", data=body, headers=signed(body))
    resp = await client.post("/hooks/events", data=body, headers=signed(body, at=NOW + 5))
    assert (await resp.json())["items"] == [{"index": 0, "id": "web:form:2211", "status": "duplicate"}]
    assert len(sink.events) == 1


@pytest.mark.parametrize("headers", [
    pytest.param(lambda body: signed(body, secret="a-guess"), id="wrong secret"),
    pytest.param(lambda body: {**signed(body), "X-Noroshi-Signature": "sha256=" + "0" * 64}, id="wrong signature"),
    pytest.param(lambda body: signed(body + b" "), id="body changed"),
    pytest.param(lambda body: {"Content-Type": "application/json"}, id="unsigned"),
    pytest.param(lambda body: {**signed(body), "X-Noroshi-Timestamp": "soon"}, id="timestamp not a number"),
    pytest.param(lambda body: signed(body, at=NOW - 301), id="stale"),
    pytest.param(lambda body: signed(body, at=NOW + 301), id="from the future"),
])
async def test_a_request_without_a_good_fresh_signature_is_refused(
        client: TestClient, sink: MemorySink, headers: Any) -> None:
    body = orjson.dumps(mention())
    with capture_logs() as logs:
        resp = await client.post("/hooks/events", data=body, headers=headers(body))
    assert resp.status == 401
    assert await resp.json() == {"error": "unauthorized"}  # no detail for the sender
    assert sink.events == [] and sink.rejected == []
    assert [entry["event"] for entry in logs] == ["webhook_refused"]
    assert SECRET not in repr(logs)


async def test_a_signature_just_inside_the_window_is_accepted(client: TestClient, sink: MemorySink) -> None:
    body = orjson.dumps(mention())
    resp = await client.post("/hooks/events", data=body, headers=signed(body, at=NOW - 300))
    assert resp.status == 200 and len(sink.events) == 1


async def test_a_body_over_the_limit_is_refused_before_anything_is_read(sink: MemorySink) -> None:
    small = WebhookConfig(secret=Secret(SECRET), max_body_bytes=2048)
    async with TestClient(TestServer(create_app(small, sink, clock=lambda: NOW))) as client:
        body = orjson.dumps([mention(f"web:form:{i}") for i in range(20)])
        assert len(body) > 2048
        resp = await client.post("/hooks/events", data=body, headers=signed(body))
        assert resp.status == 413
        answer = await resp.json()
        assert answer["error"] == "body too large" and answer["limit_bytes"] == 2048
        assert "limit of 2,048 bytes" in answer["reason"]
        assert sink.events == []


async def test_a_chunked_body_over_the_limit_is_refused_too(sink: MemorySink) -> None:
    small = WebhookConfig(secret=Secret(SECRET), max_body_bytes=2048)
    async with TestClient(TestServer(create_app(small, sink, clock=lambda: NOW))) as client:
        body = orjson.dumps([mention(f"web:form:{i}") for i in range(20)])

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: sent chunked
            for start in range(0, len(body), 512):
                yield body[start:start + 512]

        resp = await client.post("/hooks/events", data=chunks(), headers=signed(body))
        assert resp.status == 413 and sink.events == []


async def test_too_many_events_are_refused(sink: MemorySink) -> None:
    few = WebhookConfig(secret=Secret(SECRET), max_events=2)
    async with TestClient(TestServer(create_app(few, sink, clock=lambda: NOW))) as client:
        body = orjson.dumps([mention(f"web:form:{i}") for i in range(3)])
        resp = await client.post("/hooks/events", data=body, headers=signed(body))
        assert resp.status == 413 and sink.events == []


@pytest.mark.parametrize(("body", "error"), [
    (b"", "the body is empty"),
    (b"\xff\xfe{}", "the body is not UTF-8"),
    (b"kind=mention&id=1", "the body is not JSON"),
    (b"not json\nnor this", "the body is neither JSON nor NDJSON"),
])
async def test_a_body_with_nothing_readable_is_a_bad_request(
        client: TestClient, sink: MemorySink, body: bytes, error: str) -> None:
    resp = await client.post("/hooks/events", data=body, headers=signed(body))
    assert resp.status == 400 and await resp.json() == {"error": error}
    assert sink.events == [] and sink.rejected == []


async def test_an_endpoint_without_its_secret_is_not_served(sink: MemorySink) -> None:
    only_line = WebhookConfig(line_channel_secret=Secret(LINE_SECRET))
    async with TestClient(TestServer(create_app(only_line, sink, clock=lambda: NOW))) as client:
        body = orjson.dumps(mention())
        assert (await client.post("/hooks/events", data=body, headers=signed(body))).status == 404
        assert (await client.get("/healthz")).status == 200
    with pytest.raises(ValueError, match="needs a shared secret"):
        WebhookConfig()


# --- /hooks/line -----------------------------------------------------------------------------


async def test_a_line_text_message_becomes_a_mention(client: TestClient, sink: MemorySink) -> None:
    body = line_body(line_text())
    resp = await client.post("/hooks/line", data=body, headers=line_headers(body))
    assert resp.status == 200
    [event] = sink.events
    alias = hmac.new(SALT.encode(), USER_ID.encode(), hashlib.sha256).hexdigest()[:16]
    assert event["id"] == "line:468789577898262530" and event["platform"] == "line"
    assert event["ts"] == "2026-11-22T10:14:00+09:00"
    assert event["author"] == {"id": f"line:u:{alias}", "handle": f"line-{alias}", "name": "", "followers": 0,
                               "created_at": None}
    assert event["text"] == "ゴミ収集の日程がホームページと違います"
    assert event["reply_to"] == {"post_id": "line:wako_city_line", "account": "wako_city_line"}
    assert USER_ID not in orjson.dumps(event).decode()  # personal data stays out
    assert event_from_dict(event).author.handle == f"line-{alias}"


async def test_a_line_redelivery_is_not_published_twice(client: TestClient, sink: MemorySink) -> None:
    first = line_body(line_text())
    again = line_body(line_text(redelivery=True))
    for body in (first, again):
        assert (await client.post("/hooks/line", data=body, headers=line_headers(body))).status == 200
    assert len(sink.events) == 1


async def test_line_events_other_than_text_messages_are_ignored(client: TestClient, sink: MemorySink) -> None:
    sticker = line_text("468789577898262531")
    sticker["message"] = {"id": "468789577898262531", "type": "sticker", "packageId": "446", "stickerId": "1988"}
    follow = {"type": "follow", "timestamp": 1_795_310_040_000, "source": {"type": "user", "userId": USER_ID},
              "webhookEventId": "01JD4Z6W2Q8N3R7K5V9T1X0YBD", "deliveryContext": {"isRedelivery": False}}
    postback = {"type": "postback", "timestamp": 1_795_310_040_000, "postback": {"data": "action=menu"},
                "source": {"type": "user", "userId": USER_ID}}
    text = line_text("468789577898262532", "避難所はどこですか", source={"type": "group", "groupId": "Ca56f94637c"})
    body = line_body(sticker, follow, postback, text)
    resp = await client.post("/hooks/line", data=body, headers=line_headers(body))
    assert await resp.json() == {"accepted": 1, "duplicates": 0, "ignored": 3, "rejected": 0, "failed": 0}
    assert [e["id"] for e in sink.events] == ["line:468789577898262532"]


async def test_a_line_message_without_what_a_mention_needs_is_rejected(client: TestClient, sink: MemorySink) -> None:
    broken = line_text("468789577898262533")
    del broken["timestamp"]
    body = line_body(broken, line_text())
    resp = await client.post("/hooks/line", data=body, headers=line_headers(body))
    assert resp.status == 200 and len(sink.events) == 1
    [(_, reason, origin)] = sink.rejected
    assert origin == "line" and reason.startswith("line: timestamp")


async def test_a_line_request_with_a_bad_signature_is_refused(client: TestClient, sink: MemorySink) -> None:
    body = line_body(line_text())
    with capture_logs() as logs:
        bad = await client.post("/hooks/line", data=body, headers=line_headers(body, secret="not-the-secret"))
        unsigned = await client.post("/hooks/line", data=body, headers={"Content-Type": "application/json"})
    assert (bad.status, unsigned.status) == (401, 401)
    assert sink.events == []
    assert LINE_SECRET not in repr(logs) and LINE_SECRET not in await bad.text()


async def test_line_checks_the_webhook_url_with_no_events(client: TestClient, sink: MemorySink) -> None:
    body = line_body()
    resp = await client.post("/hooks/line", data=body, headers=line_headers(body))
    assert resp.status == 200 and sink.events == []


# --- pure parts --------------------------------------------------------------------------------


def test_the_signature_is_an_hmac_of_timestamp_dot_body() -> None:
    expected = hmac.new(b"k", b"1795310100.{}", hashlib.sha256).hexdigest()
    assert sign("k", "1795310100", b"{}") == f"sha256={expected}"
    assert verify("k", "1795310100", b"{}", f"SHA256={expected.upper()}", NOW) is None
    assert verify("k", "1795310100", b"{}", f"sha256={expected}", NOW + 301) == "stale_timestamp"
    assert verify("k", "1795310100", b"{ }", f"sha256={expected}", NOW) == "bad_signature"
    assert verify("k", None, b"{}", f"sha256={expected}", NOW) == "unsigned"


def test_one_object_an_array_or_ndjson_are_read() -> None:
    assert [i.obj for i in read_events(b'{"a": 1}')] == [{"a": 1}]
    assert [i.obj for i in read_events(b'[{"a": 1}, 2]')] == [{"a": 1}, 2]
    lines = read_events(b'{"a": 1}\n{"b": 2}\n', "application/json")  # NDJSON sent as JSON
    assert [i.obj for i in lines] == [{"a": 1}, {"b": 2}]
    with pytest.raises(BodyError):
        read_events(b"   \n")


def test_a_line_user_keeps_one_pseudonym_that_hides_the_user_id() -> None:
    assert pseudonym(USER_ID, SALT) == pseudonym(USER_ID, SALT) != pseudonym(USER_ID, "another key")
    assert len(pseudonym(USER_ID, SALT)) == 16 and USER_ID not in pseudonym(USER_ID, SALT)
    plain = line_mention(line_text(), user_key=SALT)
    assert plain is not None and plain["reply_to"] is None  # no LINE account in the profile
    quoted = line_text()
    quoted["message"]["quotedMessageId"] = "468789577898262000"
    found = line_mention(quoted, user_key=SALT, account="wako_city_line")
    assert found is not None and found["reply_to"]["post_id"] == "line:468789577898262000"


def test_the_secrets_do_not_show_in_the_config() -> None:
    assert SECRET not in repr(CONFIG) and LINE_SECRET not in repr(CONFIG) and SALT not in repr(CONFIG)


# --- serving -------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_the_receiver_serves_until_stopped(sink: MemorySink) -> None:
    config = WebhookConfig(port=_free_port(), line_channel_secret=Secret(LINE_SECRET))
    stop = asyncio.Event()
    task = asyncio.create_task(WebhookReceiver(config).run(sink, stop))
    try:
        body = line_body(line_text())
        url = f"http://127.0.0.1:{config.port}"
        async with aiohttp.ClientSession() as session:
            for _ in range(100):  # until it listens
                try:
                    async with session.get(f"{url}/healthz") as resp:
                        if resp.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.01)
            async with session.post(f"{url}/hooks/line", data=body, headers=line_headers(body)) as resp:
                assert resp.status == 200
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)
    assert [e["id"] for e in sink.events] == ["line:468789577898262530"]


# --- faults: nothing lost, nothing silent (issue 12, finding 6) ------------------------------


class BrokerDown(Exception):
    """What a sink raises when the broker does not take an event."""


class FailingSink(MemorySink):
    """A sink whose broker refuses the first `failures` sends (and dead letters while `down`)."""

    def __init__(self, failures: int = 0, *, down: bool = False) -> None:
        super().__init__()
        self.failures, self.down, self.sends = failures, down, 0

    async def offer(self, event: dict[str, Any]) -> Offered:
        self.sends += 1
        if self.failures:
            self.failures -= 1
            raise BrokerDown("KafkaConnectionError: no broker at 127.0.0.1:9092")
        return await super().offer(event)

    async def reject(self, raw: bytes | str, reason: str, source: str) -> None:
        if self.down:
            raise BrokerDown("KafkaConnectionError: no broker at 127.0.0.1:9092")
        await super().reject(raw, reason, source)


class StalledSink(MemorySink):
    """A sink whose broker confirms nothing until `confirm` is set (a broker that went away
    and comes back: the producer holds the send and delivers it later)."""

    def __init__(self) -> None:
        super().__init__()
        self.confirm = asyncio.Event()
        self.sends = 0

    async def offer(self, event: dict[str, Any]) -> Offered:
        self.sends += 1
        await self.confirm.wait()
        return await super().offer(event)


def app_with(sink: Any, tmp_path: Any = None, **changes: Any) -> TestServer:
    config = WebhookConfig(secret=Secret(SECRET), line_channel_secret=Secret(LINE_SECRET),
                           memory_path=None if tmp_path is None else tmp_path / "webhook.sqlite3", **changes)
    return TestServer(create_app(config, sink, clock=lambda: NOW))


async def test_an_event_whose_publish_failed_is_accepted_when_the_client_sends_it_again() -> None:
    sink = FailingSink(failures=1)
    async with TestClient(app_with(sink)) as client:
        body = orjson.dumps([mention(), reported_account()])
        with capture_logs() as logs:
            first = await client.post("/hooks/events", data=body, headers=signed(body))
        assert first.status == 503 and first.headers["Retry-After"] == "5"
        [failure] = [entry for entry in logs if entry["log_level"] != "info"]  # said once, with where
        assert failure["event"] == "webhook_publish_failed" and failure["failed"] == 1
        answer = await first.json()
        assert (answer["accepted"], answer["failed"]) == (1, 1)
        failed = next(item for item in answer["items"] if item["status"] == "failed")
        assert "send it again" in failed["reason"] and "KafkaConnectionError" in failed["reason"]

        again = await client.post("/hooks/events", data=body, headers=signed(body, at=NOW + 3))
        assert again.status == 200
        statuses = {item["id"]: item["status"] for item in (await again.json())["items"]}
        assert statuses[failed["id"]] == "accepted"  # not `duplicate`: it had never been published
        assert sorted(e["id"] for e in sink.events) == ["web:form:2211", "web:report:17"]


async def test_a_send_the_broker_confirms_late_is_sent_once_and_accepted_on_the_retry() -> None:
    sink = StalledSink()
    async with TestClient(app_with(sink, publish_timeout_s=0.2)) as client:
        body = orjson.dumps(mention())
        first = await client.post("/hooks/events", data=body, headers=signed(body))
        assert first.status == 503
        assert "not confirmed it within 0.2 s" in (await first.json())["items"][0]["reason"]
        assert (await (await client.get("/healthz")).json())["in_flight"] == 1

        sink.confirm.set()  # the broker is back: the held send lands
        await sink.wait_for(1)
        again = await client.post("/hooks/events", data=body, headers=signed(body, at=NOW + 6))
        assert again.status == 200
        assert (await again.json())["items"][0]["status"] == "accepted"
        third = await client.post("/hooks/events", data=body, headers=signed(body, at=NOW + 9))
        assert (await third.json())["items"][0]["status"] == "duplicate"
    assert sink.sends == 1 and len(sink.events) == 1


async def test_an_event_for_a_municipality_not_served_here_is_rejected_and_dead_lettered() -> None:
    wako = MemorySink()
    async with TestClient(app_with(RoutingSink({"wako": wako}, default="wako"))) as client:
        body = orjson.dumps([mention("web:form:1", municipality="nerima"), mention("web:form:2", municipality=17),
                             mention("web:form:3", municipality="wako"), mention("web:form:4")])
        resp = await client.post("/hooks/events", data=body, headers=signed(body))
        assert resp.status == 200
        items = (await resp.json())["items"]
    assert [i["status"] for i in items] == ["rejected", "rejected", "accepted", "accepted"]
    assert items[0]["reason"] == "routing: municipality 'nerima' is not served here (one of: wako)"
    assert items[1]["reason"] == "routing: municipality: expected a string (one of: wako), got int"
    assert [e["id"] for e in wako.events] == ["web:form:3", "web:form:4"]
    assert [(orjson.loads(raw)["id"], reason) for raw, reason, _ in wako.rejected] == [
        ("web:form:1", items[0]["reason"]), ("web:form:2", items[1]["reason"])]


async def test_an_ndjson_line_that_is_not_utf8_is_rejected_and_the_other_lines_are_published(
        client: TestClient, sink: MemorySink) -> None:
    bad = b'{"kind": "mention", "id": "web:form:9", "text": "\xe5\x92\x8c\xff\xfe"}'
    body = b"\n".join([orjson.dumps(mention()), bad, orjson.dumps(reported_account())]) + b"\n"
    resp = await client.post("/hooks/events", data=body, headers=signed(body, content_type="application/x-ndjson"))
    assert resp.status == 200
    answer = await resp.json()
    assert (answer["accepted"], answer["rejected"]) == (2, 1)
    assert answer["items"][1] == {"index": 1, "status": "rejected", "reason": "line 2: not UTF-8 (byte 53 is 0xff)"}
    assert [e["id"] for e in sink.events] == ["web:form:2211", "web:report:17"]
    [(raw, reason, origin)] = sink.rejected
    assert raw == bad and origin == "webhook" and reason == "webhook: line 2: not UTF-8 (byte 53 is 0xff)"


async def test_a_big_invalid_event_is_rejected_alone_and_its_neighbours_are_published(
        client: TestClient, sink: MemorySink) -> None:
    big = mention("web:form:big", text="炎上" * 150_000)  # ~900 KB of UTF-8
    body = orjson.dumps([big, mention()])
    assert 850_000 < len(body) < 1024 * 1024
    resp = await client.post("/hooks/events", data=body, headers=signed(body))
    assert resp.status == 200
    items = (await resp.json())["items"]
    assert items[0]["status"] == "rejected" and "above the contract's limit" in items[0]["reason"]
    assert items[1] == {"index": 1, "id": "web:form:2211", "status": "accepted"}
    [(raw, reason, _)] = sink.rejected
    assert reason.startswith("webhook: ") and len(raw) > 850_000  # the sink bounds its dead letter


async def test_a_dead_letter_the_broker_does_not_take_is_answered_failed_not_a_server_error() -> None:
    sink = FailingSink(down=True)
    async with TestClient(app_with(sink)) as client:
        broken = mention()
        del broken["author"]
        body = orjson.dumps(broken)
        resp = await client.post("/hooks/events", data=body, headers=signed(body))
        assert resp.status == 503
        [item] = (await resp.json())["items"]
        assert item["status"] == "failed" and "dead letter failed" in item["reason"]


async def test_published_ids_are_remembered_across_a_restart(tmp_path: Any) -> None:
    body = orjson.dumps(mention())
    async with TestClient(app_with(MemorySink(), tmp_path)) as client:
        assert (await client.post("/hooks/events", data=body, headers=signed(body))).status == 200
    restarted = MemorySink()  # a new process: its sink has an empty memory
    async with TestClient(app_with(restarted, tmp_path)) as client:
        both = orjson.dumps([mention(), reported_account()])  # another request, the old event in it
        resp = await client.post("/hooks/events", data=both, headers=signed(both, at=NOW + 60))
        statuses = [item["status"] for item in (await resp.json())["items"]]
    assert statuses == ["duplicate", "accepted"]
    assert [e["id"] for e in restarted.events] == ["web:report:17"]


async def test_a_replayed_request_is_answered_as_before_and_nothing_is_sent_again(tmp_path: Any) -> None:
    broken = mention("web:form:2212")
    del broken["author"]
    body = orjson.dumps([mention(), broken])
    headers = signed(body)
    async with TestClient(app_with(MemorySink(), tmp_path)) as client:
        first = await (await client.post("/hooks/events", data=body, headers=headers)).json()
    restarted = MemorySink()
    async with TestClient(app_with(restarted, tmp_path)) as client:
        with capture_logs() as logs:
            resp = await client.post("/hooks/events", data=body, headers=headers)
        answer = await resp.json()
    assert [i["status"] for i in first["items"]] == ["accepted", "rejected"]
    assert answer["replayed"] is True and [i["status"] for i in answer["items"]] == ["duplicate", "rejected"]
    assert answer["items"][1]["reason"] == "author: missing or not an object"
    assert restarted.events == [] and restarted.rejected == []  # not published, not dead-lettered twice
    assert [entry["event"] for entry in logs] == ["webhook_replay_answered"]


async def test_a_line_message_whose_publish_failed_asks_line_to_send_it_again() -> None:
    sink = FailingSink(failures=1)
    async with TestClient(app_with(sink)) as client:
        body = line_body(line_text())
        first = await client.post("/hooks/line", data=body, headers=line_headers(body))
        assert first.status == 503 and (await first.json())["failed"] == 1
        again = line_body(line_text(redelivery=True))
        second = await client.post("/hooks/line", data=again, headers=line_headers(again))
        assert second.status == 200 and (await second.json())["accepted"] == 1
    assert [e["id"] for e in sink.events] == ["line:468789577898262530"]


async def test_the_health_answer_counts_what_the_receiver_did(client: TestClient) -> None:
    broken = mention("web:form:2212")
    del broken["author"]
    body = orjson.dumps([mention(), mention(), broken])
    await client.post("/hooks/events", data=body, headers=signed(body))
    health = await (await client.get("/healthz")).json()
    assert health == {"ok": True, "events": {"accepted": 1, "duplicate": 1, "rejected": 1, "failed": 0},
                      "in_flight": 0}


def test_the_memory_forgets_by_age_and_keeps_within_its_bounds(tmp_path: Any) -> None:
    memory = ReceiverMemory(tmp_path / "m.sqlite3", keep_ids_s=600, keep_answers_s=600, max_ids=3, max_answers=2)
    memory.remember(["a", "b"], NOW)
    memory.remember(["c", "d"], NOW + 100)
    memory.remember_answer("sha256=01", {"items": []}, NOW)
    assert memory.seen("c", NOW + 100) and not memory.seen("zz", NOW + 100)
    assert not memory.seen("d", NOW + 701)  # older than its keep time: forgotten even before a prune
    memory.prune(NOW + 100)
    assert memory.counts() == {"ids": 3, "answers": 1}  # the oldest id went first
    assert not memory.seen("a", NOW + 100) and memory.seen("b", NOW + 100)
    memory.prune(NOW + 601)
    assert memory.counts() == {"ids": 2, "answers": 0} and memory.answer_for("sha256=01", NOW + 601) is None
    memory.close()


def test_an_unreadable_memory_file_is_set_aside_and_a_new_one_started(tmp_path: Any) -> None:
    path = tmp_path / "webhook.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    with capture_logs() as logs:
        memory = ReceiverMemory(path, keep_ids_s=600, keep_answers_s=600)
    memory.remember(["a"], NOW)
    assert memory.seen("a", NOW) and (tmp_path / "webhook.sqlite3.unreadable").exists()
    assert [entry["event"] for entry in logs] == ["webhook_memory_unreadable"]
    memory.close()


class Producer:
    """An aiokafka producer as the sinks use it: `send_and_wait` fails `failures` times, then
    keeps what it was sent; `stop` never returns while `stuck` (a broker that is gone)."""

    def __init__(self, failures: int = 0, stuck: bool = False) -> None:
        self.failures, self.stuck = failures, stuck
        self.sent: list[tuple[str, bytes]] = []

    async def send_and_wait(self, topic: str, value: bytes, **_: Any) -> None:
        if self.failures:
            self.failures -= 1
            raise BrokerDown("KafkaTimeoutError")
        self.sent.append((topic, value))

    async def stop(self) -> None:
        if self.stuck:
            await asyncio.Event().wait()


async def test_the_kafka_sink_counts_an_id_as_published_only_once_the_broker_took_it() -> None:
    from sources.base import KafkaSink
    from vocabulary.topics import TopicNames

    producer = Producer(failures=1)
    sink = KafkaSink(producer, TopicNames("noroshi"), "wako")
    with pytest.raises(BrokerDown):
        await sink.offer(mention())
    assert await sink.offer(mention()) == Offered("accepted")  # the retry publishes it
    assert await sink.offer(mention()) == Offered("duplicate")
    assert [topic for topic, _ in producer.sent] == ["noroshi.mentions"]


async def test_sources_stop_even_when_the_broker_never_takes_what_the_producer_holds() -> None:
    from sources.runner import stop_producer

    with capture_logs() as logs:
        assert not await stop_producer(Producer(stuck=True), timeout_s=0.05)
    assert [entry["event"] for entry in logs] == ["sources_stopped_unflushed"]
    assert await stop_producer(Producer())
