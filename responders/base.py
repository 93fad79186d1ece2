"""What every channel adapter shares: the outcome of a send, the errors it may raise, a fake.

A channel is a small object with one coroutine::

    async def send(self, message: <its own message type>, *, key: str) -> Receipt

`key` is the idempotency key (the effect id, plus a suffix when one effect sends several
messages). An adapter passes it to the platform where the platform has its own idempotency
(Mastodon's `Idempotency-Key`, an e-mail `Message-ID`, a webhook header) and otherwise only
uses it to name what it sent. Deduplication across restarts is not the adapter's job: the
responder keeps a record of finished keys and never calls `send` twice for one of them.

Each adapter declares `dedup_window_s`: how long its peer recognises a key it has already
been given and answers a repeat without delivering twice (`ALWAYS` for a Bluesky record key,
a page named by the key, a receiver that keeps `Idempotency-Key`s; an hour for Mastodon; 0
for SMTP, Slack, Teams, LINE WORKS and X, whose peers deliver every request). After a crash
in the middle of a send, the responder sends again only through a channel whose window still
covers the first try; any other is reported as possibly sent (送信済みの可能性) to a person.

An adapter raises `Transient` for what may work on a later attempt (connection refused, a
timeout, 5xx, 429 — with `retry_after` when the peer says how long to wait) and `Permanent`
for what will not (bad credentials, 4xx other than 408/429, text the platform refuses).
Error messages name the channel and what went wrong, never a secret: no token, password,
webhook URL with a key in it, or signed header ever goes into an exception, log or timeline.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

from vocabulary.waits import retry_after_seconds

#: A peer that recognises a repeated key however late it comes.
ALWAYS = math.inf


def dedup_window(channel: object) -> float:
    """Seconds during which `channel`'s peer answers a repeated key without delivering twice;
    0 (never) for a channel that does not declare it, so that nothing is resent on a guess."""
    return float(getattr(channel, "dedup_window_s", 0.0))


@dataclass(frozen=True, slots=True)
class Receipt:
    """A delivery the peer accepted: which channel, the peer's reference for it, details."""

    channel: str
    ref: str | None = None  # a message id, a post URL or URI, a file path
    detail: dict[str, Any] = field(default_factory=dict)


#: What went wrong, in words an operator can act on; the board shows each in Japanese
#: (i18n "failure.*") beside the technical reason.
FAILURE_CODES = ("timeout", "unreachable", "tls", "rate_limited", "server", "credentials", "forbidden",
                 "refused", "config", "circuit_open")


def failure_code(reason: str, *, permanent: bool) -> str:
    """The code of a reason written without one (most adapters' reasons say it in passing)."""
    text = reason.lower()
    for code, words in (("timeout", ("timed out", "in time", "timeout")),
                        ("tls", ("tls", "certificate", "starttls")),
                        ("credentials", ("credential", "sign-in", "token", "password", "login", "401")),
                        ("forbidden", ("forbidden", "403", "permission")),
                        ("rate_limited", ("429", "rate limit")),
                        ("unreachable", ("cannot reach", "connection", "refused to connect"))):
        if any(w in text for w in words):
            return code
    return "refused" if permanent else "unreachable"


class DeliveryError(Exception):
    """A send that did not go through. `str(error)` is safe to show and to log; `code`
    (FAILURE_CODES) says what kind of trouble it is."""

    permanent = False

    def __init__(self, channel: str, reason: str, *, retry_after: float | None = None,
                 code: str | None = None) -> None:
        super().__init__(f"{channel}: {reason}")
        self.channel = channel
        self.reason = reason
        self.retry_after = retry_after
        self.code = code or failure_code(reason, permanent=self.permanent)


class Transient(DeliveryError):
    """May work later: the peer is down, slow, overloaded or rate-limiting (`retry_after` seconds)."""


class Permanent(DeliveryError):
    """Will not work by trying again: the message or the configuration must change."""

    permanent = True


def http_error(channel: str, status: int, retry_after: str | None = None, what: str = "") -> DeliveryError:
    """The DeliveryError for an HTTP answer that is not a success (no body, no URL: they may hold secrets)."""
    reason = f"HTTP {status}" + (f" ({what})" if what else "")
    if status == 429 or status == 408 or status >= 500:
        code = {429: "rate_limited", 408: "timeout"}.get(status, "server")
        return Transient(channel, reason, retry_after=retry_after_seconds(retry_after, time.time()), code=code)
    code = {401: "credentials", 403: "forbidden"}.get(status, "refused")
    return Permanent(channel, reason, code=code)


class FakeChannel:
    """A working channel for unit tests: records what it sent, fails on request.

    `fail` is a list of exceptions raised by the next sends, in order (then it succeeds).
    Keys already sent are answered with the first receipt, like a peer with idempotency
    (`dedup_window_s=0`: like one without, which delivers a repeat again).
    """

    def __init__(self, name: str = "fake", fail: list[DeliveryError] | None = None, *,
                 dedup_window_s: float = ALWAYS) -> None:
        self.name = name
        self.fail = list(fail or [])
        self.dedup_window_s = dedup_window_s
        self.sent: list[tuple[str, Any]] = []
        self.attempts = 0
        self._receipts: dict[str, Receipt] = {}

    async def send(self, message: Any, *, key: str) -> Receipt:
        self.attempts += 1
        if self.fail:
            raise self.fail.pop(0)
        if key in self._receipts and self.dedup_window_s > 0:
            return self._receipts[key]
        self.sent.append((key, message))
        receipt = Receipt(self.name, ref=f"{self.name}:{len(self.sent)}")
        self._receipts[key] = receipt
        return receipt
