"""Chat notifications (通知) to the people on call: Slack, Microsoft Teams, LINE WORKS and a signed webhook.

Every channel takes the same `ChatMessage` and builds what its platform requires from it. A
webhook URL, an access token or a key never reaches an error message, a traceback or a `repr`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
import jwt
import orjson
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from yarl import URL

from vocabulary.settings import Secret
from vocabulary.terms import DRILL_LABEL, Severity
from responders.base import ALWAYS, Receipt, Transient, http_error

#: 深刻度 as the board names it (dashboards/i18n.py).
SEVERITY_LABELS: dict[str, str] = {"critical": "緊急", "high": "高", "medium": "中", "low": "低"}
_SEVERITY_FACT = "深刻度"
_OPEN_BOARD = "ボードで開く"
LINK_LIMIT = 1000  # LINE WORKS' limit for a link, the lowest of the platforms

_JSON = "application/json; charset=utf-8"
_ANSWER_LIMIT = 64 * 1024  # error answers are short; never read an unbounded body
# Platform error codes, the only part of an error answer passed on: a body may echo a secret, and
# these shapes (no digits; a bare body only in Slack's lower snake case) do not fit a key or token.
_BARE_CODE = re.compile(r"[a-z]+(?:_[a-z]+)*")
_JSON_CODE = re.compile(r"[A-Za-z][A-Za-z_]*")
_CODE_LIMIT = 48


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One notification for people: what happened, how bad, where on the board to act.

    A drill (訓練) shows 【訓練】 in front of the title on every channel.
    """

    title: str
    text: str
    severity: Severity = "medium"
    link: str | None = None  # the incident on the board
    facts: Sequence[tuple[str, str]] = ()
    drill: bool = False

    def __post_init__(self) -> None:
        if not self.title.strip():
            raise ValueError("a chat message needs a title")
        if self.severity not in SEVERITY_LABELS:
            raise ValueError(f"severity must be one of {', '.join(SEVERITY_LABELS)}, not {self.severity!r}")
        if self.link is not None:
            _require_http_url(self.link, "the link")
            if len(self.link) > LINK_LIMIT:
                raise ValueError(f"the link must be at most {LINK_LIMIT} characters")
        object.__setattr__(self, "facts", tuple((str(label), str(value)) for label, value in self.facts))

    @property
    def heading(self) -> str:
        """The title as people see it: with 【訓練】 in front for a drill (once, if already labelled)."""
        if self.drill and not self.title.startswith(DRILL_LABEL):
            return DRILL_LABEL + self.title
        return self.title

    @property
    def all_facts(self) -> list[tuple[str, str]]:
        """The severity first, then the message's own facts."""
        return [(_SEVERITY_FACT, SEVERITY_LABELS[self.severity]), *self.facts]


def _require_http_url(value: str, what: str) -> None:
    """Raise unless `value` is an http(s) URL in ASCII (percent-encoded), so it can be sent as it is.

    The message never repeats the value: a webhook URL holds its key.
    """
    try:
        url = URL(value)
    except (TypeError, ValueError):
        url = None
    if (url is None or url.scheme not in ("http", "https") or not url.host
            or not value.isascii() or any(c.isspace() for c in value)):
        raise ValueError(f"{what} must be an http(s) URL, percent-encoded")


def _clip(text: str, limit: int, measure: Callable[[str], int] = len) -> str:
    """`text` cut to at most `limit` ≥ 1 (as `measure` counts it), with … where it was cut."""
    if measure(text) <= limit:
        return text
    cut = limit - 1
    while (over := measure(text[:cut]) - (limit - 1)) > 0:
        cut -= over  # every character counts at least 1, so this never cuts too much
    return text[:cut] + "…"


def _plain(message: ChatMessage) -> str:
    """The message as plain lines: heading, text, then 深刻度 and the facts."""
    lines = [message.heading, *([message.text] if message.text else []), ""]
    lines += [f"{label}: {value}" for label, value in message.all_facts]
    return "\n".join(lines)


# --- Slack ------------------------------------------------------------------------------------

_SLACK_HEADER_LIMIT = 150
_SLACK_SECTION_LIMIT = 3000
_SLACK_FIELD_LIMIT = 2000
_SLACK_LABEL_LIMIT = 200  # leaves the value most of its field
_SLACK_FIELDS_PER_SECTION = 10


def _mrkdwn(text: str) -> str:
    """Text Slack shows as written: &, < and > would otherwise start entities, links and mentions."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _mrkdwn_clipped(text: str, limit: int) -> str:
    return _mrkdwn(_clip(text, limit, lambda part: len(_mrkdwn(part))))


def _slack_payload(message: ChatMessage) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = [{
        "type": "header",
        "text": {"type": "plain_text", "text": _clip(message.heading, _SLACK_HEADER_LIMIT), "emoji": True},
    }]
    if message.text:
        blocks.append({"type": "section",
                       "text": {"type": "mrkdwn", "text": _mrkdwn_clipped(message.text, _SLACK_SECTION_LIMIT)}})
    fields = []
    for label, value in message.all_facts:
        name = f"*{_mrkdwn_clipped(label, _SLACK_LABEL_LIMIT)}*\n"
        fields.append({"type": "mrkdwn", "text": name + _mrkdwn_clipped(value, _SLACK_FIELD_LIMIT - len(name))})
    for start in range(0, len(fields), _SLACK_FIELDS_PER_SECTION):
        blocks.append({"type": "section", "fields": fields[start:start + _SLACK_FIELDS_PER_SECTION]})
    fallback = _plain(message)
    if message.link:
        blocks.append({"type": "actions", "elements": [{
            "type": "button", "action_id": "open_board",
            "text": {"type": "plain_text", "text": _OPEN_BOARD}, "url": message.link,
        }]})
        fallback += "\n" + message.link  # Slack-compatible servers without Block Kit show only `text`
    return {"text": _mrkdwn(fallback), "blocks": blocks}


# --- Microsoft Teams ----------------------------------------------------------------------------

_TEAMS_COLORS = {"critical": "Attention", "high": "Attention", "medium": "Warning", "low": "Default"}


def _teams_payload(message: ChatMessage) -> dict[str, Any]:
    body: list[dict[str, Any]] = [{
        "type": "TextBlock", "text": message.heading, "size": "Large", "weight": "Bolder",
        "color": _TEAMS_COLORS[message.severity], "wrap": True,
    }]
    if message.text:
        body.append({"type": "TextBlock", "text": message.text, "wrap": True})
    body.append({"type": "FactSet",
                 "facts": [{"title": label, "value": value} for label, value in message.all_facts]})
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    if message.link:
        card["actions"] = [{"type": "Action.OpenUrl", "title": _OPEN_BOARD, "url": message.link}]
    return {"type": "message", "attachments": [{
        "contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card,
    }]}


# --- LINE WORKS ---------------------------------------------------------------------------------

_LINEWORKS_TEXT_LIMIT = 2000
_LINEWORKS_LINK_TEXT_LIMIT = 1000


def _lineworks_content(message: ChatMessage) -> dict[str, Any]:
    text = _plain(message)
    if message.link and len(text) <= _LINEWORKS_LINK_TEXT_LIMIT:
        return {"type": "link", "contentText": text, "linkText": _OPEN_BOARD, "link": message.link}
    tail = "\n" + message.link if message.link else ""
    return {"type": "text", "text": _clip(text, _LINEWORKS_TEXT_LIMIT - len(tail)) + tail}


# --- Signed webhook -----------------------------------------------------------------------------

def _webhook_body(message: ChatMessage, key: str, now: float) -> dict[str, Any]:
    return {
        "event": "noroshi.notification",
        "key": key,
        "title": message.heading,
        "text": message.text,
        "link": message.link,
        "severity": message.severity,
        "facts": [{"label": label, "value": value} for label, value in message.facts],
        "drill": message.drill,
        "sent_at": datetime.fromtimestamp(now, timezone.utc).isoformat(timespec="seconds"),
    }


def _signature(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_signature(secret: Secret | str, timestamp: str | None, body: bytes, header: str | None,
                     now: float, tolerance: float = 300) -> bool:
    """Whether a delivery of `SignedWebhookChannel` is genuine and fresh.

    `timestamp` and `header` are the X-Noroshi-Timestamp and X-Noroshi-Signature headers, `body`
    the raw request body, `now` the receiver's Unix time. A timestamp more than `tolerance`
    seconds away from `now` fails, so a recorded delivery cannot be replayed later.
    """
    if not timestamp or not header:
        return False
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    if abs(now - sent) > tolerance:
        return False
    key = secret.value if isinstance(secret, Secret) else secret
    return hmac.compare_digest(_signature(key, timestamp, body).encode(), header.strip().encode())


# --- HTTP, shared ---------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    body: str
    retry_after: str | None


def _error_code(body: str) -> str:
    """The platform's short error code in an error answer, or "".

    Slack answers with the code as the body ("no_service"), Teams Workflows with
    {"error": {"code": ...}}, LINE WORKS with {"code": ...} or, for tokens, {"error": ...}.
    """
    text = body.strip()
    if len(text) <= _CODE_LIMIT and _BARE_CODE.fullmatch(text):
        return text
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        return ""
    if not isinstance(data, dict):
        return ""
    error = data.get("error")
    for candidate in (error.get("code") if isinstance(error, dict) else error, data.get("code")):
        if isinstance(candidate, str) and len(candidate) <= _CODE_LIMIT and _JSON_CODE.fullmatch(candidate):
            return candidate
    return ""


class _HttpChannel:
    """What the HTTP channels share: a name, a timeout, a safe repr, errors mapped the one way."""

    #: Slack, Teams and LINE WORKS deliver every request: a repeat after a crash is a second message.
    dedup_window_s: float = 0.0

    def __init__(self, name: str, timeout: float) -> None:
        self.name = name
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"

    def _session(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))

    async def _post(self, session: aiohttp.ClientSession, url: str, body: bytes,
                    headers: dict[str, str]) -> _Answer:
        # The Transient is raised outside the except clauses: aiohttp's exceptions may carry the
        # URL, and as the error's __context__ they would print in any traceback that logs it.
        try:
            # encoded=True: the URL goes out byte for byte; re-quoting could alter a signed query.
            async with session.post(URL(url, encoded=True), data=body, headers=headers,
                                    allow_redirects=False) as response:
                raw = await response.content.read(_ANSWER_LIMIT)
                return _Answer(response.status, raw.decode("utf-8", "replace"), response.headers.get("Retry-After"))
        except TimeoutError:
            failure = f"no answer within {self.timeout:g} s"
        except aiohttp.ClientError:
            failure = "cannot connect"
        raise Transient(self.name, failure)

    def _check(self, answer: _Answer, what: str = "") -> None:
        if not 200 <= answer.status < 300:
            code = _error_code(answer.body)
            raise http_error(self.name, answer.status, answer.retry_after, ": ".join(filter(None, (what, code))))

    async def _deliver(self, url: str, body: bytes, headers: dict[str, str] | None = None) -> Receipt:
        """POST one JSON body on its own session; the receipt, or the DeliveryError."""
        async with self._session() as session:
            answer = await self._post(session, url, body, {"Content-Type": _JSON, **(headers or {})})
        self._check(answer)
        return Receipt(self.name, detail={"status": answer.status})


class SlackWebhookChannel(_HttpChannel):
    """A Slack incoming webhook (or a Slack-compatible one): Block Kit with a plain-text fallback."""

    def __init__(self, url: Secret, *, name: str = "slack", timeout: float = 10.0) -> None:
        _require_http_url(url.value, "the Slack webhook URL")
        super().__init__(name, timeout)
        self._url = url

    async def send(self, message: ChatMessage, *, key: str) -> Receipt:
        """Post the message; Slack has no idempotency, so `key` is not sent."""
        return await self._deliver(self._url.value, orjson.dumps(_slack_payload(message)))


class TeamsWorkflowChannel(_HttpChannel):
    """A Microsoft Teams channel through a Workflows (Power Automate) webhook: an Adaptive Card.

    Workflows answer 202 when the flow has accepted the card; posting it is the flow's job.
    """

    def __init__(self, url: Secret, *, name: str = "teams", timeout: float = 10.0) -> None:
        _require_http_url(url.value, "the Teams Workflows URL")
        super().__init__(name, timeout)
        self._url = url

    async def send(self, message: ChatMessage, *, key: str) -> Receipt:
        """Post the card; Workflows have no idempotency, so `key` is not sent."""
        return await self._deliver(self._url.value, orjson.dumps(_teams_payload(message)))


class SignedWebhookChannel(_HttpChannel):
    """Any HTTP receiver: a JSON body signed with HMAC-SHA256 (check it with `verify_signature`).

    The receiver is asked to keep the `Idempotency-Key`s it has seen and to answer a repeat
    without acting on it again, so a send cut short by a crash is safely sent again.
    """

    dedup_window_s = ALWAYS

    def __init__(self, url: str, secret: Secret, *, name: str = "webhook", timeout: float = 10.0) -> None:
        _require_http_url(url, "the webhook URL")
        if not secret:
            raise ValueError("the webhook needs a signing secret")
        super().__init__(name, timeout)
        self._url = url
        self._secret = secret

    async def send(self, message: ChatMessage, *, key: str) -> Receipt:
        """Post the signed body; `key` goes in `Idempotency-Key` so the receiver can drop repeats."""
        now = time.time()
        body = orjson.dumps(_webhook_body(message, key, now))
        timestamp = str(int(now))
        signature = _signature(self._secret.value, timestamp, body)
        return await self._deliver(self._url, body, {
            "X-Noroshi-Timestamp": timestamp, "X-Noroshi-Signature": signature, "Idempotency-Key": key,
        })


@dataclass(frozen=True, slots=True)
class LineWorksConfig:
    """A LINE WORKS bot (API 2.0) and where it posts: a talk room (`channel_id`) or one member (`user_id`).

    `client_id`, `client_secret`, `service_account` and `private_key` (PEM) come from the app in
    the Developer Console; the bot must be added to the app and to the talk room.
    """

    client_id: str
    client_secret: Secret
    service_account: str
    private_key: Secret
    bot_id: str
    channel_id: str | None = None
    user_id: str | None = None
    auth_url: str = "https://auth.worksmobile.com"
    api_url: str = "https://www.worksapis.com"
    scope: str = "bot"

    def __post_init__(self) -> None:
        if bool(self.channel_id) == bool(self.user_id):
            raise ValueError("LINE WORKS: give exactly one of channel_id and user_id")
        _require_http_url(self.auth_url, "the LINE WORKS auth_url")
        _require_http_url(self.api_url, "the LINE WORKS api_url")


#: LINE WORKS accepts an assertion valid for at most an hour.
_ASSERTION_LIFETIME = 3600
#: Renew an access token this long before it expires (LINE WORKS tokens last 24 h).
_TOKEN_MARGIN = 300.0


class LineWorksBotChannel(_HttpChannel):
    """A LINE WORKS bot message, authenticated as the app's service account (JWT grant).

    The access token is kept until shortly before it expires (as `clock`, monotonic seconds,
    counts); a 401 fetches a new one once.
    """

    def __init__(self, config: LineWorksConfig, *, name: str = "lineworks", timeout: float = 10.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        try:
            key = load_pem_private_key(config.private_key.value.encode(), password=None)
        except (TypeError, ValueError, UnsupportedAlgorithm):
            key = None
        if not isinstance(key, RSAPrivateKey):
            raise ValueError("LINE WORKS: private_key is not an unencrypted PEM RSA private key")
        super().__init__(name, timeout)
        self.config = config
        self._key = key
        self._clock = clock
        self._token: str | None = None
        self._token_expires_at = 0.0
        self._token_lock = asyncio.Lock()
        target = (f"channels/{quote(config.channel_id, safe='')}" if config.channel_id
                  else f"users/{quote(config.user_id or '', safe='')}")
        self._messages_url = (f"{config.api_url.rstrip('/')}/v1.0/bots/"
                              f"{quote(config.bot_id, safe='')}/{target}/messages")
        self._token_url = f"{config.auth_url.rstrip('/')}/oauth2/v2.0/token"

    async def send(self, message: ChatMessage, *, key: str) -> Receipt:
        """Post the message; LINE WORKS has no idempotency, so `key` is not sent."""
        body = orjson.dumps({"content": _lineworks_content(message)})
        async with self._session() as session:
            token = await self._access_token(session)
            answer = await self._post_message(session, token, body)
            if answer.status == 401:  # revoked or expired early: one new token, one more try
                if self._token == token:
                    self._token = None
                answer = await self._post_message(session, await self._access_token(session), body)
        self._check(answer)
        return Receipt(self.name, detail={"status": answer.status})

    async def _post_message(self, session: aiohttp.ClientSession, token: str, body: bytes) -> _Answer:
        headers = {"Content-Type": _JSON, "Authorization": f"Bearer {token}"}
        return await self._post(session, self._messages_url, body, headers)

    async def _access_token(self, session: aiohttp.ClientSession) -> str:
        async with self._token_lock:  # concurrent sends share one token request
            now = self._clock()
            if self._token is None or now >= self._token_expires_at:
                self._token, lifetime = await self._fetch_token(session)
                self._token_expires_at = now + lifetime - min(_TOKEN_MARGIN, lifetime / 2)
            return self._token

    async def _fetch_token(self, session: aiohttp.ClientSession) -> tuple[str, int]:
        config = self.config
        issued = int(time.time())
        assertion = jwt.encode(
            {"iss": config.client_id, "sub": config.service_account, "iat": issued,
             "exp": issued + _ASSERTION_LIFETIME},
            self._key, algorithm="RS256",
        )
        form = urlencode({
            "assertion": assertion,
            "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
            "client_id": config.client_id,
            "client_secret": config.client_secret.value,
            "scope": config.scope,
        }).encode()
        answer = await self._post(session, self._token_url, form,
                                  {"Content-Type": "application/x-www-form-urlencoded"})
        self._check(answer, "access token")
        try:
            data = orjson.loads(answer.body)
            token, lifetime = data["access_token"], int(data["expires_in"])  # LINE WORKS sends "86400"
        except (orjson.JSONDecodeError, TypeError, KeyError, ValueError):
            token, lifetime = None, 0
        if not isinstance(token, str) or not token or lifetime <= 0:
            raise Transient(self.name, "access token: the answer has no usable token")
        return token, lifetime
