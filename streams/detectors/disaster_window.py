"""One channel of the disaster detector (a hashtag, or the municipality's names): its
five-minute and long windows of weighted posts, their authors, and its hourly baseline.
"""

from __future__ import annotations

from collections import Counter, deque
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # only for annotations: the detector module imports this one
    from streams.detectors.disaster import DisasterConfig


class Channel:
    """A five-minute window and a longer one, each with running score and authors, plus hourly history.

    Entries are `[ts, weight, author or "", event id, tag index]`. `recent` holds the
    short window; entries that leave it move to `earlier`, which holds the rest of the
    long window. Both are pruned from the left, so each post costs O(1) however loud
    the channel is, and each is capped.
    """

    __slots__ = ("recent", "earlier", "hours", "score", "authors", "long_score", "long_authors")

    def __init__(self, state: dict[str, Any] | None = None) -> None:
        state = state or {}
        self.recent: deque[list[Any]] = deque(state.get("recent", ()))
        self.earlier: deque[list[Any]] = deque(state.get("earlier", ()))  # absent in old state
        self.hours: dict[int, float] = {int(h): c for h, c in state.get("hours", {}).items()}
        self.score = 0.0
        self.authors: Counter[str] = Counter()
        self.long_score = 0.0
        self.long_authors: Counter[str] = Counter()
        for entry in self.earlier:
            self._count_long(entry, 1)
        for entry in self.recent:
            self._count_short(entry, 1)
            self._count_long(entry, 1)

    def to_state(self) -> dict[str, Any]:
        return {"recent": [list(e) for e in self.recent],
                "earlier": [list(e) for e in self.earlier],
                "hours": {str(h): c for h, c in self.hours.items()}}

    def _count_short(self, entry: list[Any], sign: int) -> None:
        self.score += sign * entry[1]
        _count_author(self.authors, entry[2], sign)

    def _count_long(self, entry: list[Any], sign: int) -> None:
        self.long_score += sign * entry[1]
        _count_author(self.long_authors, entry[2], sign)

    def add(self, entry: list[Any], cfg: DisasterConfig, *, into_baseline: bool) -> None:
        now = entry[0]
        if into_baseline:
            hour = int(now // 3600)
            if hour not in self.hours:
                for old in [h for h in self.hours if h <= hour - cfg.history_hours]:
                    del self.hours[old]
            self.hours[hour] = self.hours.get(hour, 0.0) + entry[1]
        self.recent.append(entry)
        self._count_short(entry, 1)
        self._count_long(entry, 1)
        self.prune(now, cfg)

    def prune(self, now: float, cfg: DisasterConfig) -> None:
        recent, earlier = self.recent, self.earlier
        while recent and (now - recent[0][0] > cfg.window_s or len(recent) > cfg.window_cap):
            entry = recent.popleft()
            self._count_short(entry, -1)
            earlier.append(entry)  # still in the long window, or dropped just below
        while earlier and (now - earlier[0][0] > cfg.long_window_s
                           or len(earlier) > cfg.long_window_cap):
            self._count_long(earlier.popleft(), -1)
        if not recent:
            self.score = 0.0  # no float drift to carry into the next surge
            if not earlier:
                self.long_score = 0.0

    def long_entries(self) -> list[list[Any]]:
        """The long window, oldest first."""
        return [*self.earlier, *self.recent]

    def baseline(self, now: float, first_hour: int, cfg: DisasterConfig, window_s: int,
                 *, before_window: bool = False) -> float:
        """Expected score per `window_s` from this channel's own past hours (outside episodes).

        The hours before the current one, or with `before_window` the hours before the one
        the window starts in: the long window's own early posts (a slow build crossing an
        hour) must not raise its bar.
        """
        end = int((now - window_s if before_window else now) // 3600)
        span = min(max(1, end - first_hour), cfg.history_hours)
        past = sum(c for h, c in self.hours.items() if end - span <= h < end)
        return past / span * window_s / 3600


def _count_author(authors: Counter[str], author: str, sign: int) -> None:
    if author:  # reposts and copies give no author credit
        authors[author] += sign
        if not authors[author]:
            del authors[author]

