"""Login attempt limits: guessing passwords must be slow, locking out the person on call easy to avoid.

Failures are counted in a sliding window for one name from one address (5), for one
address whatever the name (20) and for one name from anywhere (50): the first stops
plain guessing, the second a spray over many names, the third a guess spread over
many addresses — while someone else's typos elsewhere cannot lock the on-call
operator out for long. Bounded: only the most recently seen keys are kept.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass

WINDOW_S = 15 * 60


@dataclass(frozen=True)
class Limits:
    per_name_and_address: int = 5
    per_address: int = 20
    per_name: int = 50
    window_s: float = WINDOW_S
    max_keys: int = 10_000


class LoginLimiter:
    def __init__(self, limits: Limits = Limits()) -> None:
        self.limits = limits
        self._failures: OrderedDict[tuple[str, str], deque[float]] = OrderedDict()

    def _keys(self, name: str, address: str) -> list[tuple[tuple[str, str], int]]:
        name = name.strip().casefold()[:64]
        return [(("pair", f"{name}\x00{address}"), self.limits.per_name_and_address),
                (("address", address), self.limits.per_address),
                (("name", name), self.limits.per_name)]

    def _recent(self, key: tuple[str, str], now: float) -> deque[float] | None:
        times = self._failures.get(key)
        if times is None:
            return None
        while times and times[0] <= now - self.limits.window_s:
            times.popleft()
        if not times:
            del self._failures[key]
            return None
        return times

    def retry_after(self, name: str, address: str, now: float) -> float:
        """Seconds to wait before this attempt may be tried; 0 when it may be tried now."""
        wait = 0.0
        for key, limit in self._keys(name, address):
            times = self._recent(key, now)
            if times is not None and len(times) >= limit:
                wait = max(wait, times[-limit] + self.limits.window_s - now)
        return wait

    def failed(self, name: str, address: str, now: float) -> None:
        for key, limit in self._keys(name, address):
            times = self._failures.get(key)
            if times is None:
                times = self._failures[key] = deque(maxlen=limit)
            times.append(now)
            self._failures.move_to_end(key)
        while len(self._failures) > self.limits.max_keys:
            self._failures.popitem(last=False)

    def succeeded(self, name: str, address: str) -> None:
        """A right password clears that name's failures from that address (not the others)."""
        self._failures.pop(self._keys(name, address)[0][0], None)
