"""Event time that cannot be trusted (contract, "Limits and time"): which events the detectors see
now, and with what time.

A source's clock may be wrong: one that writes Japan time with a `Z` is nine hours ahead, a broken
one writes 2099. One event stamped far ahead must never move the detectors' windows or close their
episodes, so every event passes here before any detector sees it:

- **live** (the worker passes the time the event arrived): an event stamped more than `AHEAD_S`
  (15 minutes) after its arrival is re-stamped with the arrival time;
- **without an arrival time** (a replay, `noroshi replay` / `evaluate`; and a drill, whose times run
  on the drill's own clock, shifted and sped up, not the worker's): an event more than `AHEAD_S`
  ahead of the newest time the stream has confirmed is *provisional*: held aside, unseen by the
  detectors, until `CONFIRM_AFTER` events in a row, nothing on time between them, confirm that time
  has moved on (a quiet night followed by a new surge does: the confirmed time moves to the
  earliest of them; never by more than `MAX_JUMP_S`), or until the stream goes past it (`CONFIRM_AFTER` events on time after it, or
  as many confirmations that do not reach it): it is then re-stamped with the stream's confirmed
  time when it was read, its arrival in stream time. At the end of a replay the last provisional
  events are seen as stamped when less than `END_TRUST_S` ahead, else re-stamped.

A re-stamped event keeps the time its source wrote and the reason (`Event.restamp`). Late events are
never touched: they count in the window they belong to. Pure: the caller passes the arrival in.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson

from vocabulary.contract import ContractError, Event, Restamp, event_from_dict
from vocabulary.records import iso

#: How far ahead of its arrival (live) or of the stream's confirmed time (replay) an event may be stamped.
AHEAD_S = 15 * 60
#: Provisional events in a row that confirm the stream's time has moved on; as many events on time
#: after a provisional one (or confirmations that do not reach it) and it is re-stamped.
CONFIRM_AFTER = 3
#: The furthest one confirmation may move a stream's time: events further ahead never confirm one
#: (a broken source writing 2099 on everything, with nothing else between, must not), they are
#: re-stamped. A municipality's traffic is never silent for a month.
MAX_JUMP_S = 30 * 86400
#: The most provisional events kept per clock (a snapshot is one Kafka message); the earliest read
#: is re-stamped when one more comes.
HELD_CAP = 20
#: At the end of a replay, how far ahead of the confirmed time the last provisional events are still
#: taken as stamped: less than any episode's end (48 h), so they cannot close one.
END_TRUST_S = 24 * 3600
#: Re-stamped event ids remembered, to mark the detections whose evidence they are.
REMEMBERED_CAP = 50

#: Reason words (the `reason` label of noroshi_events_restamped_total).
AHEAD_OF_ARRIVAL = "ahead_of_arrival"  # live: stamped more than AHEAD_S after it arrived
AHEAD_OF_STREAM = "ahead_of_stream"  # no arrival: the stream went on without reaching its time
UNCONFIRMED_AT_END = "unconfirmed_at_end"  # the replay ended before anything confirmed its time
REASONS = (AHEAD_OF_ARRIVAL, AHEAD_OF_STREAM, UNCONFIRMED_AT_END)


def restamped(event: Event, ts: float, reason: str) -> Event:
    """`event` at `ts`, keeping the time its source wrote (the first one, if re-stamped before)."""
    original = event.restamp.ts_original if event.restamp is not None else event.ts_text
    return dataclasses.replace(event, ts=ts, ts_text=iso(ts), restamp=Restamp(original, reason))


def _contract_dict(event: Event) -> dict[str, Any]:
    """The event back as a contract object, to be kept in the state while it is provisional."""
    obj = orjson.loads(orjson.dumps(dataclasses.asdict(event)))
    obj["ts"] = obj.pop("ts_text")
    obj.pop("restamp", None)
    return obj


class _Held:
    __slots__ = ("event", "read", "read_at", "passed")

    def __init__(self, event: Event, read: int, read_at: float | None, passed: int = 0) -> None:
        self.event, self.read, self.read_at, self.passed = event, read, read_at, passed


class _Clock:
    """One stream's clock: the time it has confirmed and its provisional events."""

    __slots__ = ("confirmed", "reads", "streak_from", "held")

    def __init__(self, state: dict[str, Any] | None = None) -> None:
        state = state or {}
        self.confirmed: float | None = state.get("confirmed")
        self.reads: int = state.get("reads", 0)
        # The read number of the last event on time: provisional events read after it are "in a row".
        self.streak_from: int = state.get("streak_from", 0)
        self.held: list[_Held] = []
        for h in state.get("held", ()):
            try:
                self.held.append(_Held(event_from_dict(h["event"]), h["read"], h["read_at"], h["passed"]))
            except (ContractError, KeyError, TypeError):
                continue  # a state written by another version: the provisional event is let go

    def to_state(self) -> dict[str, Any]:
        return {"confirmed": self.confirmed, "reads": self.reads, "streak_from": self.streak_from,
                "held": [{"event": _contract_dict(h.event), "read": h.read, "read_at": h.read_at,
                          "passed": h.passed} for h in self.held]}

    def read(self, event: Event, out: list[Event], restamps: list[Event]) -> None:
        """`event` read from the stream: append what the detectors may see now to `out`."""
        self.reads += 1
        confirmed = self.confirmed
        if confirmed is not None and event.ts <= confirmed + AHEAD_S:  # on time, or late
            self.streak_from = self.reads
            if event.ts > confirmed:
                self.confirmed = event.ts
            out.append(event)
            if self.held:
                self._release(out)
                self._pass(out, restamps)
            return
        self.held.append(_Held(event, self.reads, confirmed))
        reach = None if confirmed is None else confirmed + MAX_JUMP_S
        streak = [h.event.ts for h in self.held if h.read > self.streak_from and (reach is None or h.event.ts <= reach)]
        if len(streak) >= CONFIRM_AFTER:  # time has moved on: to the earliest of them
            self.confirmed = min(streak) if confirmed is None else max(confirmed, min(streak))
            self._release(out)
            self._pass(out, restamps)
        if len(self.held) > HELD_CAP:
            self._give_up(min(self.held, key=lambda h: h.read), AHEAD_OF_STREAM, out, restamps)

    def _release(self, out: list[Event]) -> None:
        """The provisional events the confirmed time now reaches, in time order (each may reach more)."""
        assert self.confirmed is not None
        while True:
            reach = self.confirmed + AHEAD_S
            ready = sorted((h for h in self.held if h.event.ts <= reach), key=lambda h: (h.event.ts, h.read))
            if not ready:
                return
            for h in ready:
                self.held.remove(h)
                out.append(h.event)
                if h.event.ts > self.confirmed:
                    self.confirmed = h.event.ts

    def _pass(self, out: list[Event], restamps: list[Event]) -> None:
        """The stream went on once more without reaching the provisional events."""
        for h in list(self.held):
            h.passed += 1
            if h.passed >= CONFIRM_AFTER:
                self._give_up(h, AHEAD_OF_STREAM, out, restamps)

    def _give_up(self, h: _Held, reason: str, out: list[Event], restamps: list[Event]) -> None:
        self.held.remove(h)
        at = h.read_at if h.read_at is not None else self.confirmed
        if at is None or h.event.ts <= at + AHEAD_S:
            out.append(h.event)  # nothing to measure it against, or no longer ahead: as it is
            return
        event = restamped(h.event, at, reason)
        out.append(event)
        restamps.append(event)

    def finish(self, out: list[Event], restamps: list[Event]) -> None:
        """The end of a replay: nothing more will confirm a time, and nothing follows that a wrong one
        could disturb. The last posts after a quiet spell are seen as stamped if they are less than
        `END_TRUST_S` ahead (too little to end any episode); further ahead they are re-stamped."""
        if not self.held:
            return
        if self.confirmed is None:  # fewer events than confirm anything: the earliest
            self.confirmed = min(h.event.ts for h in self.held)
        self._release(out)
        for h in sorted(self.held, key=lambda h: (h.event.ts, h.read)):
            if h.event.ts <= self.confirmed + END_TRUST_S:
                self.held.remove(h)
                out.append(h.event)
                self.confirmed = max(self.confirmed, h.event.ts)
        for h in sorted(self.held, key=lambda h: h.read):
            self._give_up(h, UNCONFIRMED_AT_END, out, restamps)

    def shrink(self) -> None:
        self.held = self.held[len(self.held) // 2:]


class StreamTime:
    """The time the detectors may trust, for one municipality: one clock for real traffic and one
    for drills (a drill's clock is its own, and must not be judged against the real one)."""

    def __init__(self, state: dict[str, Any] | None = None) -> None:
        state = state or {}
        self.clocks = {name: _Clock(state.get(name)) for name in ("real", "drill") if name in state}
        #: Re-stamped event id → [the time its source wrote, the reason] (bounded, oldest first).
        self.remembered: dict[str, list[str]] = dict(state.get("restamped", {}))
        #: The events re-stamped by the last call of `admit` or `finish`.
        self.fresh: list[Event] = []

    def to_state(self) -> dict[str, Any]:
        state: dict[str, Any] = {name: clock.to_state() for name, clock in self.clocks.items()}
        if self.remembered:
            state["restamped"] = self.remembered
        return state

    def shrink(self) -> None:
        for clock in self.clocks.values():
            clock.shrink()
        keep = list(self.remembered.items())
        self.remembered = dict(keep[len(keep) // 2:])

    def _clock(self, drill: bool) -> _Clock:
        name = "drill" if drill else "real"
        clock = self.clocks.get(name)
        if clock is None:
            clock = self.clocks[name] = _Clock()
        return clock

    def admit(self, event: Event, arrived: float | None = None) -> list[Event]:
        """What the detectors may see now that `event` was read (none, it, and/or provisional events
        the stream now confirms or gives up on), in order. `arrived`: POSIX seconds when the worker
        received it, None in a replay; a drill is always judged on its own clock."""
        self.fresh = []
        if arrived is not None and not event.drill:
            if event.ts - arrived > AHEAD_S:
                event = restamped(event, arrived, AHEAD_OF_ARRIVAL)
                self._remember([event])
            return [event]
        clock = self._clock(event.drill)
        if clock.confirmed is not None and not clock.held and event.ts <= clock.confirmed + AHEAD_S:
            clock.reads += 1  # the usual case, kept short: on time, nothing provisional
            clock.streak_from = clock.reads
            if event.ts > clock.confirmed:
                clock.confirmed = event.ts
            return [event]
        out: list[Event] = []
        restamps: list[Event] = []
        clock.read(event, out, restamps)
        self._remember(restamps)
        return out

    def finish(self) -> list[Event]:
        """The end of a replay: the provisional events, re-stamped unless the confirmed time reaches them."""
        self.fresh = []
        out: list[Event] = []
        restamps: list[Event] = []
        for clock in self.clocks.values():
            clock.finish(out, restamps)
        self._remember(restamps)
        return out

    def newest(self) -> float | None:
        """The newest time any of the streams has confirmed (None before any)."""
        times = [clock.confirmed for clock in self.clocks.values() if clock.confirmed is not None]
        return max(times, default=None)

    def provisional(self) -> int:
        return sum(len(clock.held) for clock in self.clocks.values())

    def _remember(self, events: list[Event]) -> None:
        self.fresh = events
        for event in events:
            assert event.restamp is not None
            self.remembered[event.id] = [event.restamp.ts_original, event.restamp.reason]
            while len(self.remembered) > REMEMBERED_CAP:
                del self.remembered[next(iter(self.remembered))]
