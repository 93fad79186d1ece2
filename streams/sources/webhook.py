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
came; nothing is added or renamed. Ids should be stable: an event whose `id` was already
published (a retry, a replay) is counted as a duplicate and published once.

Every request is signed with the shared secret (`WebhookConfig.secret`):

    X-Noroshi-Timestamp: <Unix time in whole seconds, e.g. 1795310100>
    X-Noroshi-Signature: sha256=<hex of HMAC-SHA256(secret, "<timestamp>.<raw body>")>

The HMAC is over the timestamp as sent, one `.`, and the body bytes exactly as sent. A
timestamp more than 300 seconds away from the receiver's clock is refused, so a recorded
request cannot be replayed later (and one replayed sooner publishes nothing new: its ids are
duplicates). For example, with a shell:

    ts=$(date +%s)
    sig=$(printf '%s.%s' "$ts" "$body" | openssl dgst -sha256 -hmac "$SECRET" -r | cut -d' ' -f1)
    curl -H "X-Noroshi-Timestamp: $ts" -H "X-Noroshi-Signature: sha256=$sig" \\
         -H 'Content-Type: application/json' --data-binary "$body" http://HOST:PORT/hooks/events

Answers (all JSON):

- `200` — the body was read; a summary per event, in the order sent (`index` counts from 0;
  in NDJSON it counts the non-blank lines):

      {"accepted": 1, "duplicates": 0, "rejected": 1,
       "items": [{"index": 0, "id": "web:form:2211", "status": "accepted"},
                 {"index": 1, "status": "rejected", "reason": "author: missing or not an object"}]}

  `status` is `accepted` (published), `duplicate` (already published) or `rejected` (it
  breaks the contract; `reason` says how, and the event went to the dead letters with it).
  One bad event never stops the others.
- `400` — nothing could be read at all: an empty body, not UTF-8, or not JSON or NDJSON.
- `401` — `{"error": "unauthorized"}`: signature or timestamp missing, wrong or stale.
- `413` — the body is over `max_body_bytes` (1 MiB) or holds over `max_events` (1000) events.

POST /hooks/line — a LINE Messaging API webhook
-----------------------------------------------

Set this URL as the channel's Webhook URL. The `x-line-signature` header (base64 of
HMAC-SHA256 of the raw body with the channel secret) is checked; `401` if it does not match.
Each `message` event of type `text` becomes a `mention` with platform `line`, id
`line:<message.id>` (the same on a redelivery, so `deliveryContext.isRedelivery` never
publishes twice) and `ts` from the event's `timestamp`. Other events (follow, postback,
stickers, images, …) are ignored. The answer is `200` as soon as the events are published.

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
import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson
import structlog
from aiohttp import web

from noroshi.settings import Secret
from streams.contract import ContractError, event_from_dict
from streams.sources.base import Sink, Unusable

log = structlog.get_logger(__name__)

EVENTS_PATH = "/hooks/events"
LINE_PATH = "/hooks/line"
TIMESTAMP_HEADER = "X-Noroshi-Timestamp"
SIGNATURE_HEADER = "X-Noroshi-Signature"
LINE_SIGNATURE_HEADER = "x-line-signature"
NDJSON_TYPES = frozenset({"application/x-ndjson", "application/jsonl", "application/json-lines",
                          "application/ndjson"})
JST = timezone(timedelta(hours=9))
SHUTDOWN_TIMEOUT = 5.0


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

    def __post_init__(self) -> None:
        if not (self.secret or self.line_channel_secret):
            raise ValueError("the webhook receiver needs a shared secret, a LINE channel secret, or both")
        if self.max_body_bytes <= 0 or self.max_events <= 0 or self.tolerance_s <= 0:
            raise ValueError("max_body_bytes, max_events and tolerance_s must be positive")


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


def read_events(body: bytes, content_type: str = "application/json") -> list[Item]:
    """The events of a request body — one object, an array, or NDJSON — each read or not.

    Raises `BodyError` when nothing can be read at all."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BodyError("the body is not UTF-8") from None
    if not text.strip():
        raise BodyError("the body is empty")
    if content_type.lower() not in NDJSON_TYPES:
        try:
            whole = orjson.loads(body)
        except orjson.JSONDecodeError:
            if "\n" not in text.strip():
                raise BodyError("the body is not JSON") from None
        else:
            if isinstance(whole, list):
                return [Item(i, orjson.dumps(obj), obj=obj) for i, obj in enumerate(whole)]
            return [Item(0, body, obj=whole)]
    items: list[Item] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        raw = line.encode("utf-8")
        try:
            items.append(Item(len(items), raw, obj=orjson.loads(raw)))
        except orjson.JSONDecodeError as exc:
            items.append(Item(len(items), raw, error=f"line {number}: not valid JSON: {exc}"))
    if all(item.error is not None for item in items):
        raise BodyError("the body is neither JSON nor NDJSON")
    return items


def check(item: Item) -> str | None:
    """None if the item is a contract event, else the reason it is not."""
    if item.error is not None:
        return item.error
    try:
        event_from_dict(item.obj)
    except ContractError as exc:
        return str(exc)
    return None


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

CONFIG = web.AppKey("config", WebhookConfig)
SINK = web.AppKey("sink", Sink)  # type: ignore[type-abstract]
CLOCK = web.AppKey("clock", Callable[[], float])


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")


def _unauthorized() -> web.Response:
    return _json({"error": "unauthorized"}, 401)


def _too_large() -> web.Response:
    return _json({"error": "body too large"}, 413)


async def _body(request: web.Request) -> bytes | None:
    """The raw body, or None when it is over the limit (then nothing more is read)."""
    limit = request.app[CONFIG].max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        return None
    try:
        return await request.read()  # the application's client_max_size is the same limit
    except web.HTTPRequestEntityTooLarge:
        return None


async def events(request: web.Request) -> web.Response:
    config, sink = request.app[CONFIG], request.app[SINK]
    body = await _body(request)
    if body is None:
        log.warning("webhook_refused", endpoint=EVENTS_PATH, reason="too_large", remote=request.remote)
        return _too_large()
    refused = verify(config.secret.value, request.headers.get(TIMESTAMP_HEADER), body,
                     request.headers.get(SIGNATURE_HEADER), request.app[CLOCK](), config.tolerance_s)
    if refused:
        log.warning("webhook_refused", endpoint=EVENTS_PATH, reason=refused, remote=request.remote)
        return _unauthorized()
    try:
        items = read_events(body, request.content_type)
    except BodyError as exc:
        return _json({"error": str(exc)}, 400)
    if len(items) > config.max_events:
        return _json({"error": f"more than {config.max_events} events in one request"}, 413)
    answers: list[dict[str, Any]] = []
    counts = {"accepted": 0, "duplicate": 0, "rejected": 0}
    for item in items:
        reason = check(item)
        event_id = item.obj.get("id") if isinstance(item.obj, dict) else None
        answer: dict[str, Any] = {"index": item.index}
        if isinstance(event_id, str):
            answer["id"] = event_id
        if reason is not None:
            await sink.reject(item.raw, f"webhook: {reason}", "webhook")
            answer.update(status="rejected", reason=reason)
        else:
            answer["status"] = "accepted" if await sink.publish(item.obj) else "duplicate"
        counts[answer["status"]] += 1
        answers.append(answer)
    log.info("webhook_received", endpoint=EVENTS_PATH, accepted=counts["accepted"],
             duplicates=counts["duplicate"], rejected=counts["rejected"])
    return _json({"accepted": counts["accepted"], "duplicates": counts["duplicate"],
                  "rejected": counts["rejected"], "items": answers})


async def line(request: web.Request) -> web.Response:
    config, sink = request.app[CONFIG], request.app[SINK]
    body = await _body(request)
    if body is None:
        log.warning("webhook_refused", endpoint=LINE_PATH, reason="too_large", remote=request.remote)
        return _too_large()
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
    published = duplicates = ignored = rejected = 0
    for raw in raw_events:
        try:
            mention = line_mention(raw, user_key=key, account=config.line_account) \
                if isinstance(raw, dict) else None
        except ContractError as exc:
            await sink.reject(orjson.dumps(raw), f"line: {exc}", "line")
            rejected += 1
            continue
        if mention is None:
            ignored += 1
        elif await sink.publish(mention):
            published += 1
        else:
            duplicates += 1
    log.info("webhook_received", endpoint=LINE_PATH, accepted=published, duplicates=duplicates,
             ignored=ignored, rejected=rejected)
    return _json({"accepted": published, "duplicates": duplicates, "ignored": ignored, "rejected": rejected})


async def healthz(request: web.Request) -> web.Response:
    return _json({"ok": True})


def create_app(config: WebhookConfig, sink: Sink, *, clock: Callable[[], float] = time.time) -> web.Application:
    """The receiver's application; `clock` (Unix seconds) is the one the timestamps are checked against."""
    app = web.Application(client_max_size=config.max_body_bytes)
    app[CONFIG] = config
    app[SINK] = sink
    app[CLOCK] = clock
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
                 endpoints=[p for p, on in ((EVENTS_PATH, config.secret), (LINE_PATH, config.line_channel_secret)) if on])
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
