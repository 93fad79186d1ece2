"""The webhook receiver (Webhook 受信): tools that push — web forms, other monitoring tools,
a LINE 公式アカウント — send their events here, and each becomes a contract event on a `Sink`.

Two authenticated endpoints on one aiohttp application (`create_app`, run by `serve` or
`WebhookReceiver.run`), plus `GET /healthz`:

POST /hooks/events — contract events, as they are
-------------------------------------------------

The body is contract events (../shared/contracts/events.md: `mention`, `account` or `alert`,
with `kind`, `id`, `platform`, `ts` and the fields of their kind) in one of three shapes:

- one event: a JSON object;
- several: a JSON array of event objects;
- several: NDJSON (JSON Lines), one event object a line, blank lines ignored — sent with
  `Content-Type: application/x-ndjson` (or `application/jsonl`), or with any type when the
  body is not a single JSON document.

Each event is taken as the contract defines it, extra fields included, and published as it
came; nothing is added or renamed. An event may name its `municipality` (one this deployment
serves); without one it goes to `NOROSHI_HOOKS_MUNICIPALITY`. Ids should be stable: an event
whose `id` was already published (a retry, a replay) is answered `duplicate` and published
once. The receiver remembers the ids it published, and the signed requests it answered, in a
small SQLite file (`DATA_DIR/webhook.sqlite3`, `sources.seen`) that outlives a restart:
published ids for `NOROSHI_HOOKS_REMEMBER` seconds (a day), answers for twice the signature
window. An id is remembered only once the broker has confirmed its event.

Every request is signed with the shared secret (`WebhookConfig.secret`):

    X-Noroshi-Timestamp: <Unix time in whole seconds, e.g. 1795310100>
    X-Noroshi-Signature: sha256=<hex of HMAC-SHA256(secret, "<timestamp>.<raw body>")>

The HMAC is over the timestamp as sent, one `.`, and the body bytes exactly as sent. A
timestamp more than 300 seconds away from the receiver's clock is refused, so a recorded
request cannot be replayed later; one replayed sooner, even after a restart, is answered as
before with `"replayed": true` (what was accepted is now a duplicate) and nothing is
published or dead-lettered again. For example, with a shell:

    ts=$(date +%s)
    sig=$(printf '%s.%s' "$ts" "$body" | openssl dgst -sha256 -hmac "$SECRET" -r | cut -d' ' -f1)
    curl -H "X-Noroshi-Timestamp: $ts" -H "X-Noroshi-Signature: sha256=$sig" \\
         -H 'Content-Type: application/json' --data-binary "$body" http://HOST:PORT/hooks/events

Answers (all JSON):

- `200` — the body was read and every event has its answer, in the order sent (`index`
  counts from 0; in NDJSON it counts the non-blank lines):

      {"accepted": 1, "duplicates": 0, "rejected": 1, "failed": 0,
       "items": [{"index": 0, "id": "web:form:2211", "status": "accepted"},
                 {"index": 1, "status": "rejected", "reason": "author: missing or not an object"}]}

  `status` is `accepted` (published), `duplicate` (already published) or `rejected` (it
  breaks the contract, its limits included — one event at most 256 KiB —, names a
  municipality not served here, or is an NDJSON line that is not UTF-8 or not JSON;
  `reason` says how, and the event went to the dead letters, bounded, with it). One bad
  event never stops the others, whatever its size.
- `503` with `Retry-After: 5` — the same summary, and some events are `failed`: the broker
  did not confirm them within `NOROSHI_HOOKS_PUBLISH_TIMEOUT` seconds (or refused them). Send
  the request again: what was published is answered `duplicate`, a `failed` event is
  published then (once: a send still held by the producer is waited for, not repeated).
- `400` — nothing could be read at all: an empty body, not UTF-8, or not JSON or NDJSON.
- `401` — `{"error": "unauthorized"}`: signature or timestamp missing, wrong or stale.
- `413` — `{"error": "body too large", "reason": …, "limit_bytes": …}`: the body is over
  `max_body_bytes` (1 MiB; nothing of it is read), or `{"error": "too many events", …}` for
  over `max_events` (1000).

`GET /healthz` answers `{"ok": true, "events": {"accepted": n, "duplicate": n, "rejected": n,
"failed": n}, "in_flight": n}`: what the receiver did since it started.

POST /hooks/line — a LINE Messaging API webhook
-----------------------------------------------

Set this URL as the channel's Webhook URL. The `x-line-signature` header (base64 of
HMAC-SHA256 of the raw body with the channel secret) is checked; `401` if it does not match.
Each `message` event of type `text` becomes a `mention` with platform `line`, id
`line:<message.id>` (the same on a redelivery, so `deliveryContext.isRedelivery` never
publishes twice) and `ts` from the event's `timestamp`. Other events (follow, postback,
stickers, images, …) are ignored. The answer is `200` as soon as the events are published,
`503` when one could not be (LINE sends the webhook again when redelivery is on).

A LINE user id is personal data (個人情報) and is never stored: the author is a pseudonym,
`line:u:<16 hex>` with handle `line-<16 hex>`, an HMAC-SHA256 of the user id keyed with
`line_user_salt` (the channel secret when that is empty). The same person keeps the same
pseudonym, so the detectors can count distinct authors, but the id cannot be turned back
into a LINE account without the key. A message sent to the official account is a reply to
it: when `line_account` (the account's handle in the profile) is set, `reply_to` is
`{"post_id": "line:<quotedMessageId>" or "line:<line_account>", "account": line_account}`.

Secrets never appear in logs, errors or answers.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import hmac
import sqlite3
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import structlog
from aiohttp import web

from vocabulary.settings import Secret
from vocabulary.contract import ContractError, parse_event
from vocabulary.terms import JST
from sources.base import ACCEPTED, DUPLICATE, REJECTED, Offered, Sink, Unusable
from sources.seen import ReceiverMemory

log = structlog.get_logger(__name__)

EVENTS_PATH = "/hooks/events"
LINE_PATH = "/hooks/line"
TIMESTAMP_HEADER = "X-Noroshi-Timestamp"
SIGNATURE_HEADER = "X-Noroshi-Signature"
LINE_SIGNATURE_HEADER = "x-line-signature"
NDJSON_TYPES = frozenset({"application/x-ndjson", "application/jsonl", "application/json-lines",
                          "application/ndjson"})
SHUTDOWN_TIMEOUT = 5.0
FAILED, IGNORED = "failed", "ignored"  # besides accepted, duplicate and rejected
RETRY_AFTER_S = 5  # what a 503 asks the client to wait before sending again
MAX_REASON_CHARS = 1_000  # a reason in an answer (the dead letter keeps its own, bounded)


@dataclass(frozen=True)
class WebhookConfig:
    """What the receiver listens on and the secrets it checks. An endpoint whose secret is
    empty is not served (404), so a half-configured receiver cannot be used unsigned."""

    host: str = "127.0.0.1"
    port: int = 8090
    secret: Secret = Secret("")  # /hooks/events: the shared HMAC secret
    line_channel_secret: Secret = Secret("")  # /hooks/line: the channel secret
    line_user_salt: Secret = Secret("")  # key of the LINE user pseudonyms (default: channel secret)
    line_account: str = ""  # the official LINE account's handle in the profile, for reply_to
    max_body_bytes: int = 1024 * 1024
    max_events: int = 1000
    tolerance_s: int = 300
    publish_timeout_s: float = 10.0  # how long a request waits for the broker before `failed`
    memory_path: Path | None = None  # the SQLite file of published ids and answered requests
    remember_s: float = 86_400.0  # how long a published id is remembered (at least 2 × tolerance_s)

    def __post_init__(self) -> None:
        if not (self.secret or self.line_channel_secret):
            raise ValueError("the webhook receiver needs a shared secret, a LINE channel secret, or both")
        if min(self.max_body_bytes, self.max_events, self.tolerance_s, self.publish_timeout_s,
               self.remember_s) <= 0:
            raise ValueError("max_body_bytes, max_events, tolerance_s, publish_timeout_s and remember_s "
                             "must be positive")


class BodyError(Unusable):
    """Nothing in a request body could be read as events; `str()` says why (sent back as-is)."""


@dataclass(frozen=True, slots=True)
class Item:
    """One event of a request as read: the object, or why it could not be read."""

    index: int
    raw: bytes  # for the dead letters
    obj: Any = None
    error: str | None = None


# --- signatures (pure) ---------------------------------------------------------------


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The `X-Noroshi-Signature` value for `body` sent at `timestamp` (Unix seconds, as text)."""
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp: str | None, body: bytes, signature: str | None,
           now: float, tolerance_s: float = 300) -> str | None:
    """None if the request is genuine and fresh, else why not (for the log, never the answer)."""
    if not secret:
        return "not_configured"
    if not timestamp or not signature:
        return "unsigned"
    timestamp = timestamp.strip()
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        return "bad_timestamp"
    if abs(now - int(timestamp)) > tolerance_s:
        return "stale_timestamp"
    expected = sign(secret, timestamp, body).encode()
    if not hmac.compare_digest(expected, signature.strip().lower().encode("utf-8", "replace")):
        return "bad_signature"
    return None


def line_signature(channel_secret: str, body: bytes) -> str:
    """The `x-line-signature` LINE sends: base64 of HMAC-SHA256 of the raw body."""
    mac = hmac.new(channel_secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(mac).decode("ascii")


def verify_line(channel_secret: str, body: bytes, signature: str | None) -> bool:
    if not channel_secret or not signature:
        return False
    expected = line_signature(channel_secret, body).encode()
    return hmac.compare_digest(expected, signature.strip().encode("utf-8", "replace"))


# --- /hooks/events body (pure) ---------------------------------------------------------


def _not_utf8(line: bytes) -> str | None:
    """Why `line` is not UTF-8 (where the first bad byte is), or None when it is."""
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"not UTF-8 (byte {exc.start + 1} is 0x{line[exc.start]:02x})"
    return None


def read_events(body: bytes, content_type: str = "application/json") -> list[Item]:
    """The events of a request body — one object, an array, or NDJSON — each read or not.

    NDJSON is read line by line from the bytes: a line that is not UTF-8 or not JSON is an
    item with its `error`, and the lines around it are read as usual. Raises `BodyError`
    when nothing can be read at all."""
    if not body.strip():
        raise BodyError("the body is empty")
    if content_type.lower() not in NDJSON_TYPES:
        try:
            whole = orjson.loads(body)
        except orjson.JSONDecodeError:
            if b"\n" not in body.strip():
                raise BodyError("the body is not UTF-8" if _not_utf8(body) else "the body is not JSON") from None
        else:
            if isinstance(whole, list):
                return [Item(i, orjson.dumps(obj), obj=obj) for i, obj in enumerate(whole)]
            return [Item(0, body, obj=whole)]
    items: list[Item] = []
    for number, line in enumerate(body.split(b"\n"), 1):
        raw = line.strip()
        if not raw:
            continue
        unreadable = _not_utf8(raw)
        if unreadable:
            items.append(Item(len(items), raw, error=f"line {number}: {unreadable}"))
            continue
        try:
            items.append(Item(len(items), raw, obj=orjson.loads(raw)))
        except orjson.JSONDecodeError as exc:
            items.append(Item(len(items), raw, error=f"line {number}: not valid JSON: {exc}"))
    if all(item.error is not None for item in items):
        if all(" not UTF-8 " in f" {item.error} " for item in items):
            raise BodyError("the body is not UTF-8")
        raise BodyError("the body is neither JSON nor NDJSON")
    return items


def check(item: Item) -> str | None:
    """None if the item is a contract event within the contract's limits, else the reason.

    The contract's own parser judges the event's bytes as sent (an NDJSON line, a single
    object's body, an array member as serialized), so its size and nesting limits apply."""
    if item.error is not None:
        return item.error
    try:
        parse_event(item.raw)
    except ContractError as exc:
        return str(exc)
    return None


def seen_key(event: dict[str, Any]) -> str:
    """What the receiver remembers a published event by: its id, within the municipality it
    names (an id is unique per platform and source, not across every municipality)."""
    municipality = event.get("municipality")
    return f"{municipality if isinstance(municipality, str) else ''}\x1f{event.get('id')}"


def replayed(answer: dict[str, Any]) -> dict[str, Any]:
    """The answer to a request already answered: what was accepted then is a duplicate now,
    what was rejected stays rejected (and is not dead-lettered twice)."""
    items = [{**item, "status": DUPLICATE} if item.get("status") == ACCEPTED else item
             for item in answer.get("items", [])]
    return {**summary(items), "replayed": True}


def summary(items: list[dict[str, Any]]) -> dict[str, Any]:
    count = Counter(item["status"] for item in items)
    return {"accepted": count[ACCEPTED], "duplicates": count[DUPLICATE], "rejected": count[REJECTED],
            "failed": count[FAILED], "items": items}


def _cut(text: str, chars: int = MAX_REASON_CHARS) -> str:
    return text if len(text) <= chars else text[: chars - 1] + "…"


# --- /hooks/line (pure) ------------------------------------------------------------------


def pseudonym(user_id: str, key: str) -> str:
    """16 hex characters that stand for a LINE user: stable, and not reversible without `key`."""
    return hmac.new(key.encode("utf-8"), user_id.encode("utf-8"), hashlib.sha256).hexdigest()[:16]


def _ts_of_ms(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ContractError(f"timestamp: expected milliseconds since 1970, got {value!r}")
    return datetime.fromtimestamp(value / 1000, JST).isoformat(timespec="seconds")


def line_mention(event: dict[str, Any], *, user_key: str, account: str = "") -> dict[str, Any] | None:
    """A LINE webhook event → a contract mention; None for what is not a text message.

    Raises `ContractError` for a text message that lacks what a mention needs."""
    if event.get("type") != "message":
        return None
    message = event.get("message")
    if not isinstance(message, dict) or message.get("type") != "text":
        return None
    text = message.get("text")
    if not isinstance(text, str):
        raise ContractError("message.text: missing")
    message_id = message.get("id") or event.get("webhookEventId")
    if not isinstance(message_id, str) or not message_id:
        raise ContractError("message.id: missing")
    source = event.get("source") if isinstance(event.get("source"), dict) else {}
    who = next((source[k] for k in ("userId", "groupId", "roomId") if isinstance(source.get(k), str)), None)
    alias = pseudonym(who, user_key) if who else "anonymous"
    quoted = message.get("quotedMessageId")
    reply_to = None
    if account:
        post_id = f"line:{quoted}" if isinstance(quoted, str) and quoted else f"line:{account}"
        reply_to = {"post_id": post_id, "account": account}
    return {
        "kind": "mention", "id": f"line:{message_id}", "platform": "line",
        "ts": _ts_of_ms(event.get("timestamp")),
        "author": {"id": f"line:u:{alias}", "handle": f"line-{alias}", "name": "", "followers": 0,
                   "created_at": None},
        "text": text, "reply_to": reply_to, "quote_of": None, "repost_of": None,
        "urls": [], "lang": None, "geo": None,
    }


# --- the application ---------------------------------------------------------------------


class Receiver:
    """The receiver's state around a `Sink`: what is being published, what was published (a
    `ReceiverMemory` that outlives the process), and the counts shown on `/healthz`.

    Every send is a task of its own, waited for at most `publish_timeout_s`. One the broker
    has not confirmed by then is answered `failed` (the client sends it again) and left
    running: a retry waits for that same send instead of sending a second copy, and is
    answered `accepted` once it lands. Only a confirmed publish is remembered."""

    def __init__(self, config: WebhookConfig, sink: Sink, memory: ReceiverMemory,
                 clock: Callable[[], float]) -> None:
        self.config, self.sink, self.memory, self.clock = config, sink, memory, clock
        self.in_flight: dict[str, asyncio.Task[Offered]] = {}
        self.counts: Counter[str] = Counter()

    async def publish(self, event: dict[str, Any], claimed: set[str], deadline: float) -> tuple[str, str]:
        """(status, reason) for one contract event of a request."""
        key = seen_key(event)
        if key in claimed:  # the same event twice in one request
            return DUPLICATE, ""
        claimed.add(key)
        task = self.in_flight.get(key)
        if task is None:
            if self._seen(key):
                return DUPLICATE, ""
            task = asyncio.create_task(self.sink.offer(event), name=f"webhook-publish:{event.get('id')}")
            self.in_flight[key] = task
            task.add_done_callback(functools.partial(self._settled, key, event.get("id")))
        done, _ = await asyncio.wait({task}, timeout=max(0.0, deadline - asyncio.get_running_loop().time()))
        if not done:
            # Nobody will hear how this send ends unless the client retries: keep it for that.
            task.add_done_callback(functools.partial(self._unreported, key))
            return FAILED, (f"the broker has not confirmed it within {self.config.publish_timeout_s:g} s: "
                            "send it again (it will be published once)")
        if self.in_flight.get(key) is task:
            del self.in_flight[key]
        if task.cancelled() or task.exception() is not None:
            error = "cancelled" if task.cancelled() else _error(task.exception())
            return FAILED, f"not published ({error}): send it again"
        offered = task.result()
        return offered.status, offered.reason

    def _settled(self, key: str, event_id: Any, task: asyncio.Task[Offered]) -> None:
        """A send ended, answered or not: remember it if it landed, forget it if it failed."""
        if task.cancelled() or task.exception() is not None:
            if self.in_flight.get(key) is task:
                del self.in_flight[key]  # a retry sends it anew
            return
        if task.result().status in (ACCEPTED, DUPLICATE):
            try:
                self.memory.remember([key], self.clock())
            except sqlite3.Error as exc:
                log.error("webhook_memory_failed", event_id=str(event_id)[:256], error=str(exc))

    def _unreported(self, key: str, task: asyncio.Task[Offered]) -> None:
        """A send that ended after its request was answered `failed`. Landed, it is kept for
        the client's retry, which is then answered `accepted`, until the signature window
        has passed; failed, `_settled` has already let a retry send it anew."""
        if self.in_flight.get(key) is task:
            asyncio.get_running_loop().call_later(2 * self.config.tolerance_s, self._drop, key, task)

    def _seen(self, key: str) -> bool:
        try:
            return self.memory.seen(key, self.clock())
        except sqlite3.Error as exc:  # unreadable memory: publishing again beats losing the event
            log.error("webhook_memory_failed", error=str(exc))
            return False

    def _drop(self, key: str, task: asyncio.Task[Offered]) -> None:
        if self.in_flight.get(key) is task:
            del self.in_flight[key]

    async def dead_letter(self, raw: bytes, reason: str, origin: str, deadline: float) -> tuple[str, str]:
        """A rejected item to the dead letters (bounded: `DeadLetter.of`); `failed` when the
        broker does not take even that, so the client sends it again."""
        task = asyncio.create_task(self.sink.reject(raw, f"{origin}: {reason}", origin))
        done, _ = await asyncio.wait({task}, timeout=max(0.0, deadline - asyncio.get_running_loop().time()))
        if not done:
            task.add_done_callback(_quietly)
            return FAILED, f"rejected ({_cut(reason)}), but the dead letter was not confirmed: send it again"
        if task.exception() is not None:  # logged with the request's other failures
            return FAILED, f"rejected ({_cut(reason)}), but the dead letter failed: send it again"
        return REJECTED, _cut(reason)

    def count(self, items: list[dict[str, Any]]) -> None:
        self.counts.update(item["status"] for item in items)

    async def close(self) -> None:
        """Give the sends still running one more timeout to land (and be remembered)."""
        tasks = [task for task in self.in_flight.values() if not task.done()]
        if tasks:
            await asyncio.wait(tasks, timeout=self.config.publish_timeout_s)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.in_flight.clear()


def _log_failed(endpoint: str, failed: list[tuple[Any, str]]) -> None:
    """One line per request for what the broker did not take, not one per event."""
    if failed:
        log.warning("webhook_publish_failed", endpoint=endpoint, failed=len(failed),
                    event_ids=[str(event_id)[:256] for event_id, _ in failed[:10]], reason=failed[0][1])


def _error(exc: BaseException | None) -> str:
    return _cut(f"{type(exc).__name__}: {exc}", 300)


def _quietly(task: asyncio.Task[Any]) -> None:
    """A late dead letter's end: its request was already answered (and logged) `failed`."""
    if not task.cancelled():
        task.exception()


CONFIG = web.AppKey("config", WebhookConfig)
RECEIVER = web.AppKey("receiver", Receiver)
CLOCK = web.AppKey("clock", Callable[[], float])


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json",
                        headers=headers)


def _unauthorized() -> web.Response:
    return _json({"error": "unauthorized"}, 401)


def _too_large(limit: int) -> web.Response:
    return _json({"error": "body too large", "limit_bytes": limit,
                  "reason": f"the body is over the receiver's limit of {limit:,} bytes: send the events "
                            "in several requests (one event may have up to 256 KiB, the contract's limit)"}, 413)


async def _body(request: web.Request) -> bytes | None:
    """The raw body, or None when it is over the limit (then nothing more is read)."""
    limit = request.app[CONFIG].max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        return None
    try:
        return await request.read()  # the application's client_max_size is the same limit
    except web.HTTPRequestEntityTooLarge:
        return None


def _answer(result: dict[str, Any]) -> web.Response:
    """200 when every item has its final answer; 503 (with Retry-After) when any `failed`, so
    a client that only looks at the status sends the request again."""
    if result["failed"]:
        return _json(result, 503, headers={"Retry-After": str(RETRY_AFTER_S)})
    return _json(result)


async def events(request: web.Request) -> web.Response:
    config, receiver = request.app[CONFIG], request.app[RECEIVER]
    body = await _body(request)
    if body is None:
        log.warning("webhook_refused", endpoint=EVENTS_PATH, reason="too_large", remote=request.remote,
                    limit_bytes=config.max_body_bytes, content_length=request.content_length)
        return _too_large(config.max_body_bytes)
    now = request.app[CLOCK]()
    signature = request.headers.get(SIGNATURE_HEADER)
    refused = verify(config.secret.value, request.headers.get(TIMESTAMP_HEADER), body, signature,
                     now, config.tolerance_s)
    if refused:
        log.warning("webhook_refused", endpoint=EVENTS_PATH, reason=refused, remote=request.remote)
        return _unauthorized()
    assert signature is not None  # verified
    try:
        before = receiver.memory.answer_for(signature, now)
    except sqlite3.Error as exc:  # unreadable memory: the ids' own check still holds
        log.error("webhook_memory_failed", error=str(exc))
        before = None
    if before is not None:
        result = replayed(before)
        receiver.count(result["items"])
        log.info("webhook_replay_answered", endpoint=EVENTS_PATH, duplicates=result["duplicates"],
                 rejected=result["rejected"], remote=request.remote)
        return _json(result)
    try:
        items = read_events(body, request.content_type)
    except BodyError as exc:
        log.warning("webhook_refused", endpoint=EVENTS_PATH, reason="unreadable", error=str(exc),
                    remote=request.remote)
        return _json({"error": str(exc)}, 400)
    if len(items) > config.max_events:
        return _json({"error": "too many events",
                      "reason": f"more than {config.max_events} events in one request"}, 413)
    deadline = asyncio.get_running_loop().time() + config.publish_timeout_s
    claimed: set[str] = set()

    async def one(item: Item) -> dict[str, Any]:
        answer: dict[str, Any] = {"index": item.index}
        event_id = item.obj.get("id") if isinstance(item.obj, dict) else None
        if isinstance(event_id, str):
            answer["id"] = _cut(event_id, 256)
        reason = check(item)
        if reason is not None:
            status, why = await receiver.dead_letter(item.raw, reason, "webhook", deadline)
        else:
            status, why = await receiver.publish(item.obj, claimed, deadline)
        answer["status"] = status
        if why:
            answer["reason"] = why
        return answer

    result = summary(list(await asyncio.gather(*(one(item) for item in items))))
    receiver.count(result["items"])
    _log_failed(EVENTS_PATH, [(item.get("id"), item["reason"]) for item in result["items"]
                              if item["status"] == FAILED])
    if not result["failed"]:
        try:
            receiver.memory.remember_answer(signature, result, now)
        except sqlite3.Error as exc:
            log.error("webhook_memory_failed", error=str(exc))
    log.info("webhook_received", endpoint=EVENTS_PATH, accepted=result["accepted"],
             duplicates=result["duplicates"], rejected=result["rejected"], failed=result["failed"])
    return _answer(result)


async def line(request: web.Request) -> web.Response:
    config, receiver = request.app[CONFIG], request.app[RECEIVER]
    body = await _body(request)
    if body is None:
        log.warning("webhook_refused", endpoint=LINE_PATH, reason="too_large", remote=request.remote,
                    limit_bytes=config.max_body_bytes, content_length=request.content_length)
        return _too_large(config.max_body_bytes)
    if not verify_line(config.line_channel_secret.value, body, request.headers.get(LINE_SIGNATURE_HEADER)):
        log.warning("webhook_refused", endpoint=LINE_PATH, reason="bad_signature", remote=request.remote)
        return _unauthorized()
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return _json({"error": "the body is not JSON"}, 400)
    raw_events = payload.get("events") if isinstance(payload, dict) else None
    if not isinstance(raw_events, list):
        return _json({"error": "events: expected a list"}, 400)
    key = (config.line_user_salt or config.line_channel_secret).value
    deadline = asyncio.get_running_loop().time() + config.publish_timeout_s
    claimed: set[str] = set()

    async def one(raw: Any) -> tuple[Any, str, str]:
        try:
            mention = line_mention(raw, user_key=key, account=config.line_account) \
                if isinstance(raw, dict) else None
        except ContractError as exc:
            return (None, *await receiver.dead_letter(orjson.dumps(raw), str(exc), "line", deadline))
        if mention is None:
            return None, IGNORED, ""
        return (mention["id"], *await receiver.publish(mention, claimed, deadline))

    answers = await asyncio.gather(*(one(raw) for raw in raw_events))
    _log_failed(LINE_PATH, [(event_id, why) for event_id, status, why in answers if status == FAILED])
    count = Counter(status for _, status, _ in answers)
    receiver.counts.update({status: n for status, n in count.items() if status != IGNORED})
    log.info("webhook_received", endpoint=LINE_PATH, accepted=count[ACCEPTED], duplicates=count[DUPLICATE],
             ignored=count[IGNORED], rejected=count[REJECTED], failed=count[FAILED])
    result = {"accepted": count[ACCEPTED], "duplicates": count[DUPLICATE], "ignored": count[IGNORED],
              "rejected": count[REJECTED], "failed": count[FAILED]}
    return _answer(result)  # LINE sends a webhook again after a 5xx when redelivery is on


async def healthz(request: web.Request) -> web.Response:
    receiver = request.app[RECEIVER]
    return _json({"ok": True, "events": {s: receiver.counts[s] for s in (ACCEPTED, DUPLICATE, REJECTED, FAILED)},
                  "in_flight": sum(not t.done() for t in receiver.in_flight.values())})


def create_app(config: WebhookConfig, sink: Sink, *, clock: Callable[[], float] = time.time,
               memory: ReceiverMemory | None = None) -> web.Application:
    """The receiver's application; `clock` (Unix seconds) is the one the timestamps are checked
    against. Its memory is `config.memory_path` (in memory when None) unless one is given."""
    app = web.Application(client_max_size=config.max_body_bytes)
    owned = memory is None
    memory = memory or ReceiverMemory(config.memory_path, keep_ids_s=max(config.remember_s, 2 * config.tolerance_s),
                                      keep_answers_s=2 * config.tolerance_s)
    receiver = Receiver(config, sink, memory, clock)
    app[CONFIG] = config
    app[RECEIVER] = receiver
    app[CLOCK] = clock

    async def close(_: web.Application) -> None:
        await receiver.close()
        if owned:
            memory.close()

    app.on_cleanup.append(close)
    if config.secret:
        app.router.add_post(EVENTS_PATH, events)
    if config.line_channel_secret:
        app.router.add_post(LINE_PATH, line)
    app.router.add_get("/healthz", healthz)
    return app


async def serve(config: WebhookConfig, sink: Sink, stop: asyncio.Event) -> None:
    """Listen on `config.host:config.port` until `stop` is set, then stop cleanly."""
    runner = web.AppRunner(create_app(config, sink), shutdown_timeout=SHUTDOWN_TIMEOUT, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, config.host, config.port).start()
        log.info("webhook_started", host=config.host, port=config.port,
                 endpoints=[p for p, on in ((EVENTS_PATH, config.secret), (LINE_PATH, config.line_channel_secret)) if on],
                 memory=str(config.memory_path) if config.memory_path else "(memory only)")
        await stop.wait()
    finally:
        await runner.cleanup()
        log.info("webhook_stopped")


class WebhookReceiver:
    """The receiver as a source: `await WebhookReceiver(config).run(sink, stop)`."""

    name = "webhook"

    def __init__(self, config: WebhookConfig) -> None:
        self.config = config

    async def run(self, sink: Sink, stop: asyncio.Event) -> None:
        await serve(self.config, sink, stop)
