"""What the responders remember per incident: effects finished, deliveries made or in flight, accounts held.

One ledger per incident, stored as JSON in a table keyed by incident id (the effects
topic's key), so it lives on the same partition as the effects it guards. It is what
makes a redelivered effect (after a restart or a rebalance) send nothing twice.

A delivery is written down twice: as in flight before the peer is called, as delivered
(or given up) after. The shell's `save` must return only once the ledger is on the
broker (`streams.app` awaits the changelog write), so that after a kill -9 in the middle
of a send the restarted worker knows the send may have gone out: it sends it again with
the same key where the peer recognises the key, and otherwise reports it as possibly
sent (送信済みの可能性) for a person to check, instead of sending it twice in silence.

Each in-flight mark also says where its effect is on the effects topic (`cut_off_effects`):
Faust may skip the last messages of a partition when a worker starts, and the effect a
crash cut off is nearly always the last one, so the shell reads it again from there
rather than wait for a redelivery that may never come.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from responders.holds import Holds
from responders.responder import Responder, Result
from vocabulary.records import Effect

#: Bounds that keep one incident's ledger small however long the incident runs.
FINISHED_CAP = 2000
DELIVERED_CAP = 4000
IN_FLIGHT_CAP = 200


@dataclass
class Ledger:
    finished: dict[str, bool] = field(default_factory=dict)  # effect_id → carried out (False: failed)
    delivered: list[str] = field(default_factory=list)  # delivery keys that went out
    holds: list[str] = field(default_factory=list)  # accounts this incident holds
    #: delivery key → {"effect_id", "channel", "since", "at": [topic, partition, offset] of the
    #: effect}: sends started and not yet ended
    in_flight: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def load(cls, raw: bytes | None) -> Ledger:
        if not raw:
            return cls()
        obj = orjson.loads(raw)
        return cls(dict(obj.get("finished", {})), list(obj.get("delivered", [])), list(obj.get("holds", [])),
                   dict(obj.get("in_flight", {})))

    def dump(self) -> bytes:
        return orjson.dumps({"finished": self.finished, "delivered": self.delivered, "holds": self.holds,
                             "in_flight": self.in_flight})

    def start(self, key: str, effect_id: str, channel: str, now: float,
              at: tuple[str, int, int] | None = None) -> None:
        """A send is about to begin (`at`: the effect's topic, partition and offset). A key
        already in flight keeps its first time: a peer's memory of the key (Mastodon's hour)
        counts from the first try."""
        if key not in self.in_flight:
            self.in_flight[key] = {"effect_id": effect_id, "channel": channel, "since": now,
                                   **({"at": list(at)} if at is not None else {})}
            while len(self.in_flight) > IN_FLIGHT_CAP:
                del self.in_flight[next(iter(self.in_flight))]

    def deliver(self, key: str) -> None:
        self.in_flight.pop(key, None)
        if key not in self.delivered:
            self.delivered.append(key)
            del self.delivered[:-DELIVERED_CAP]

    def give_up(self, key: str) -> None:
        """Every attempt failed: the failure is reported, the playbook decides what comes next."""
        self.in_flight.pop(key, None)

    def cut_off(self, effect_id: str) -> dict[str, float]:
        """The sends of `effect_id` that a crash cut off: key → when the send began."""
        return {key: float(entry["since"]) for key, entry in self.in_flight.items()
                if entry.get("effect_id") == effect_id}

    def finish(self, effect_id: str, ok: bool) -> None:
        self.finished[effect_id] = ok
        for key in [k for k, entry in self.in_flight.items() if entry.get("effect_id") == effect_id]:
            del self.in_flight[key]  # reported as possibly sent: the effect is over
        while len(self.finished) > FINISHED_CAP:
            del self.finished[next(iter(self.finished))]


def cut_off_effects(ledgers: Iterable[tuple[str, bytes | None]]) -> list[tuple[str, int, int]]:
    """Where the effects with a send left in flight by a crash are (topic, partition, offset),
    each once, in the order they were published."""
    found: set[tuple[str, int, int]] = set()
    for _, raw in ledgers:
        if not raw or b'"in_flight":{}' in raw:  # the usual case, without parsing
            continue
        ledger = Ledger.load(raw)
        for entry in ledger.in_flight.values():
            at = entry.get("at")
            if entry.get("effect_id") not in ledger.finished and isinstance(at, list) and len(at) == 3:
                found.add((str(at[0]), int(at[1]), int(at[2])))
    return sorted(found)


def restore_holds(holds: Holds, ledgers: Iterable[tuple[str, bytes | None]]) -> None:
    """After a restart: the holds as the stored ledgers left them."""
    for incident_id, raw in ledgers:
        for account in Ledger.load(raw).holds:
            holds.hold(account, incident_id)


async def carry_out(responder: Responder, effect: Effect, ledger: Ledger,
                    save: Callable[[Ledger], Awaitable[None]],
                    at: tuple[str, int, int] | None = None) -> Result | None:
    """Carry out one effect unless it was finished before (then None, a redelivery).

    Each send is saved as in flight before the peer is called and as delivered (or given up)
    as soon as it ends; `save` must not return before the ledger is stored durably. The
    caller publishes the result's timeline and commands and only then calls `finish`: after
    a crash in between, the effect runs again, sends nothing already delivered, and repeats
    its reports under the same ids (harmless) rather than losing a failure report (not harmless)."""
    if effect.effect_id in ledger.finished:
        return None

    async def started(key: str, channel: str) -> None:
        ledger.start(key, effect.effect_id, channel, responder.clock(), at)
        await save(ledger)

    async def delivered(key: str) -> None:
        ledger.deliver(key)
        await save(ledger)

    async def given_up(key: str) -> None:
        ledger.give_up(key)
        await save(ledger)

    return await responder.carry_out(effect, already=frozenset(ledger.delivered), on_delivered=delivered,
                                     in_flight=ledger.cut_off(effect.effect_id), on_started=started,
                                     on_given_up=given_up)


def finish(responder: Responder, effect: Effect, ledger: Ledger, result: Result) -> None:
    ledger.holds = [account for account, holders in responder.holds.held().items()
                    if effect.incident_id in holders]
    ledger.finish(effect.effect_id, not result.failed)
