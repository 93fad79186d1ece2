"""Trying again without hammering: retries with backoff (`vocabulary.waits.Backoff`), and a circuit breaker per channel.

`attempt_delivery` sends one message through one channel with retries. Every attempt,
success and failure is returned as an `Attempt`, so the caller can put each of them in
the incident's timeline. The clock, the sleep and the random source are passed in, so
tests run without waiting and give the same answer each time.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from vocabulary.metrics import CIRCUIT_OPEN, word
from vocabulary.waits import Backoff
from responders.base import DeliveryError, Receipt, Transient


@dataclass
class CircuitBreaker:
    """Stops calling a channel that keeps failing, then lets one trial through.

    closed → (threshold failures in a row) → open → (reset_after_s) → half-open:
    one trial; success closes it, failure opens it again.
    """

    threshold: int = 5
    reset_after_s: float = 60.0
    failures: int = 0
    opened_at: float | None = None

    def allows(self, now: float) -> bool:
        return self.opened_at is None or now - self.opened_at >= self.reset_after_s

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return "closed"
        return "open"

    def succeeded(self) -> None:
        self.failures, self.opened_at = 0, None

    def failed(self, now: float) -> None:
        self.failures += 1
        if self.failures >= self.threshold or self.opened_at is not None:
            self.opened_at = now


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4  # in all, the first included
    backoff: Backoff = field(default_factory=lambda: Backoff(cap_s=30.0))  # a person waits on a delivery
    #: A Retry-After longer than this is not waited out here: the delivery fails now and the
    #: playbook decides (it retries the effect once, then tells a person by another channel).
    max_wait_s: float = 60.0


@dataclass(frozen=True)
class Attempt:
    """One try: which channel, its number, and how it went (for the timeline)."""

    channel: str
    number: int
    ok: bool
    error: str | None = None
    code: str | None = None  # responders.base.FAILURE_CODES
    permanent: bool = False
    waited_s: float = 0.0
    ref: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    attempts: tuple[Attempt, ...]
    receipt: Receipt | None

    @property
    def ok(self) -> bool:
        return self.receipt is not None

    @property
    def error(self) -> str | None:
        return None if self.ok or not self.attempts else self.attempts[-1].error

    @property
    def code(self) -> str | None:
        return None if self.ok or not self.attempts else self.attempts[-1].code


Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


async def attempt_delivery(channel: str, send: Callable[[], Awaitable[Receipt]], *, policy: RetryPolicy,
                           breaker: CircuitBreaker, clock: Clock, sleep: Sleep,
                           rng: random.Random) -> Outcome:
    """Send with retries. Transient errors are retried (honouring Retry-After), permanent ones
    are not, and an open breaker fails at once without calling the peer."""
    attempts: list[Attempt] = []
    waited = 0.0
    for number in range(1, policy.attempts + 1):
        if not breaker.allows(clock()):
            attempts.append(Attempt(channel, number, ok=False, waited_s=waited, code="circuit_open",
                                    error=f"{channel}: circuit open after {breaker.failures} failures in a row"))
            break
        try:
            receipt = await send()
        except DeliveryError as exc:
            breaker.failed(clock())
            CIRCUIT_OPEN.labels(word(channel)).set(breaker.state == "open")
            attempts.append(Attempt(channel, number, ok=False, error=str(exc), code=exc.code,
                                    permanent=exc.permanent, waited_s=waited))
            if exc.permanent or number == policy.attempts:
                break
            wait = policy.backoff.delay(number, rng)
            if isinstance(exc, Transient) and exc.retry_after is not None:
                if exc.retry_after > policy.max_wait_s:
                    break
                wait = max(wait, exc.retry_after)
            waited = wait
            await sleep(wait)
            continue
        breaker.succeeded()
        CIRCUIT_OPEN.labels(word(channel)).set(0)
        attempts.append(Attempt(channel, number, ok=True, waited_s=waited, ref=receipt.ref,
                                detail=dict(receipt.detail)))
        return Outcome(tuple(attempts), receipt)
    return Outcome(tuple(attempts), None)
