"""How long to wait before trying a peer again: exponential backoff with jitter, and the wait a
server asks for in its `Retry-After` header.

Here, below every package, because both the sources (reconnecting to a platform) and the
responders (retrying a delivery) need the same two answers, and sources may import only the
vocabulary. Pure but for the random draws, which come from a `random.Random` the caller may seed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import timezone
from email.utils import parsedate_to_datetime


@dataclass
class Backoff:
    """Delay after the n-th failure in a row: base × factor^(n-1), capped, with full jitter in
    [½, 1] of it, so that many clients failing together do not come back together.

    `delay(n, rng)` answers for a count the caller keeps (a delivery's attempt number);
    `next_delay()` keeps the count itself (a source reconnecting) until `reset()` after a
    connection has worked, and honours a server's own wait through `at_least`.
    """

    base_s: float = 1.0
    factor: float = 2.0
    cap_s: float = 60.0
    failures: int = 0
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, failures: int, rng: random.Random | None = None) -> float:
        ceiling = min(self.cap_s, self.base_s * self.factor ** max(0, failures - 1))
        return ceiling * (rng or self.rng).uniform(0.5, 1.0)

    def next_delay(self, at_least: float = 0.0) -> float:
        self.failures += 1
        return max(at_least, self.delay(self.failures))

    def reset(self) -> None:
        self.failures = 0


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """Seconds a `Retry-After` header asks us to wait at `now` (POSIX seconds), never below 0:
    delta-seconds or an HTTP date (RFC 9110 §10.2.3; a date without a zone is UTC). None when
    the header is absent or unreadable, so the caller decides what silence means."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, when.timestamp() - now)


__all__ = ["Backoff", "retry_after_seconds"]
