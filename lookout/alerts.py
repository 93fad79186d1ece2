"""The watchdog's notifier, like Alertmanager's, as a pure state machine over `Book` (what is
pending, what fired, what was said) — the caller passes each round's assessment and `now`:

- a condition that holds is `pending`; once it has held for its rule's `for_s` it is `firing`;
- firing conditions not yet told are sent together in ONE notification (`alert`), after waiting
  `group_wait_s` from the first of them so that those that start together (the worker frozen and
  the heartbeat late) make one message; an `urgent` one (a death `noroshi run` saw) does not wait;
- while any told condition keeps firing, a reminder (`repeat`) lists them every `repeat_s`;
- a told condition that ends gets exactly one 復旧 (`resolved`), grouped the same way; one that
  ends before it was told (pending, or within the group wait) is dropped without a word;
- a condition whose rule could not be judged this round (its source did not answer, or the
  watchdog is in its start-up grace) stays as it is: never resolved for lack of an answer.

The whole book is plain data (`to_dict`/`from_dict`) so that a restarted watchdog neither repeats
an alert early nor forgets a 復旧.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

from lookout.rules import Assessment, Holding, hhmm


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True, slots=True)
class Condition:
    key: str
    rule: str
    state: str  # pending | firing
    since: float  # when the trouble began (as the rule saw it)
    pending_at: float  # when the watchdog first saw it hold
    summary_ja: str
    summary_en: str
    check_ja: str
    check_en: str
    fired_at: float | None = None
    told: bool = False  # an alert named it
    ended_at: float | None = None

    @classmethod
    def of(cls, h: Holding, now: float) -> Condition:
        return cls(h.key, h.rule, "pending", h.since, now, h.summary_ja, h.summary_en, h.check_ja, h.check_en)

    def status(self) -> dict[str, Any]:
        """As /status lists it."""
        return {"key": self.key, "rule": self.rule, "state": self.state, "since": iso(self.since),
                "summary_ja": self.summary_ja, "summary_en": self.summary_en}


@dataclass(frozen=True, slots=True)
class Notification:
    """One message to every recipient: Japanese first, English after."""

    number: int
    at: float
    kind: str  # alert | repeat | resolved
    keys: tuple[str, ...]
    title_ja: str
    title_en: str
    text: str  # the lines under the title, both languages

    @property
    def key(self) -> str:
        """The idempotency key of its deliveries."""
        return f"watchdog:{self.number}:{self.kind}"


@dataclass
class Book:
    conditions: dict[str, Condition] = field(default_factory=dict)
    ended: list[Condition] = field(default_factory=list)  # told, ended, 復旧 not sent yet
    unsent_since: float | None = None  # the first change not yet told (for the group wait)
    urgent: bool = False  # a change that must not wait
    last_told_at: float | None = None  # the last alert or reminder
    number: int = 0  # notifications made so far

    def to_dict(self) -> dict[str, Any]:
        return {"conditions": [asdict(c) for c in self.conditions.values()],
                "ended": [asdict(c) for c in self.ended], "unsent_since": self.unsent_since,
                "urgent": self.urgent, "last_told_at": self.last_told_at, "number": self.number}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Book:
        return cls(conditions={c["key"]: Condition(**c) for c in data.get("conditions", ())},
                   ended=[Condition(**c) for c in data.get("ended", ())],
                   unsent_since=data.get("unsent_since"), urgent=bool(data.get("urgent")),
                   last_told_at=data.get("last_told_at"), number=int(data.get("number", 0)))

    def firing(self) -> list[Condition]:
        return sorted((c for c in self.conditions.values() if c.state == "firing"), key=lambda c: (c.since, c.key))


def step(book: Book, seen: Assessment, now: float, *, group_wait_s: float, repeat_s: float) -> list[Notification]:
    """Move the book on by one round; the notifications to send now (already recorded in it)."""
    for key, h in seen.holding.items():
        c = book.conditions.get(key) or Condition.of(h, now)
        c = replace(c, summary_ja=h.summary_ja, summary_en=h.summary_en, check_ja=h.check_ja, check_en=h.check_en,
                    since=min(c.since, h.since))
        if c.state == "pending" and now - c.pending_at >= h.for_s:
            c = replace(c, state="firing", fired_at=now)
            book.unsent_since = book.unsent_since if book.unsent_since is not None else now
            book.urgent = book.urgent or h.urgent
        book.conditions[key] = c
    for key, c in list(book.conditions.items()):
        if key in seen.holding or c.rule in seen.undetermined or key in seen.undetermined:
            continue
        del book.conditions[key]
        if c.told:
            book.ended.append(replace(c, ended_at=now))
            book.unsent_since = book.unsent_since if book.unsent_since is not None else now
    out: list[Notification] = []
    if book.unsent_since is not None and (book.urgent or now - book.unsent_since >= group_wait_s):
        new = [c for c in book.firing() if not c.told]
        if new:
            for c in new:
                book.conditions[c.key] = replace(c, told=True)
            out.append(_message(book, now, "alert", new, book.firing()))
            book.last_told_at = now
        if book.ended:
            out.append(_message(book, now, "resolved", book.ended, []))
            book.ended = []
        book.unsent_since, book.urgent = None, False
    told = [c for c in book.firing() if c.told]
    if not out and told and book.last_told_at is not None and now - book.last_told_at >= repeat_s:
        out.append(_message(book, now, "repeat", told, told))
        book.last_told_at = now
    return out


def _message(book: Book, now: float, kind: str, named: list[Condition], firing: list[Condition]) -> Notification:
    book.number += 1
    n = len(named)
    if kind == "alert":
        title_ja, title_en = f"【狼煙 監視】異常を検知しました（{n}件）", f"Noroshi watchdog: {n} problem{'s' * (n > 1)} detected"
    elif kind == "repeat":
        title_ja, title_en = f"【狼煙 監視】異常が続いています（{n}件）", f"Noroshi watchdog: {n} problem{'s' * (n > 1)} still going on"
    else:
        title_ja, title_en = f"【狼煙 監視】復旧しました（{n}件）", f"Noroshi watchdog: {n} problem{'s' * (n > 1)} resolved"
    ja: list[str] = []
    en: list[str] = []
    for c in named:
        if kind == "resolved":
            ja.append(f"・復旧: {c.summary_ja}（{hhmm(c.since)} から {hhmm(c.ended_at or now)} まで）")
            en.append(f"- resolved: {c.summary_en} (from {iso(c.since)} to {iso(c.ended_at or now)})")
        else:
            ja += [f"・{c.summary_ja}（{hhmm(c.since)} から）", f"  確認: {c.check_ja}"]
            en += [f"- {c.summary_en} (since {iso(c.since)})", f"  Check: {c.check_en}"]
    others = [c for c in firing if c not in named and c.key not in {x.key for x in named}]
    if others:
        ja.append("継続中: " + "、".join(c.summary_ja for c in others))
        en.append("Still going on: " + "; ".join(c.summary_en for c in others))
    text = "\n".join([*ja, "", title_en, *en])
    return Notification(book.number, now, kind, tuple(c.key for c in named), title_ja, title_en, text)
