"""What the responders remember per incident: effects finished, deliveries made, accounts held.

One ledger per incident, stored as JSON in a table keyed by incident id (the effects
topic's key), so it lives on the same partition as the effects it guards. It is what
makes a redelivered effect (after a restart or a rebalance) send nothing twice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

import orjson

from responders.holds import Holds
from responders.responder import Responder, Result
from streams.records import Effect

#: Bounds that keep one incident's ledger small however long the incident runs.
FINISHED_CAP = 2000
DELIVERED_CAP = 4000


@dataclass
class Ledger:
    finished: dict[str, bool] = field(default_factory=dict)  # effect_id → carried out (False: failed)
    delivered: list[str] = field(default_factory=list)  # delivery keys that went out
    holds: list[str] = field(default_factory=list)  # accounts this incident holds

    @classmethod
    def load(cls, raw: bytes | None) -> Ledger:
        if not raw:
            return cls()
        obj = orjson.loads(raw)
        return cls(dict(obj.get("finished", {})), list(obj.get("delivered", [])), list(obj.get("holds", [])))

    def dump(self) -> bytes:
        return orjson.dumps({"finished": self.finished, "delivered": self.delivered, "holds": self.holds})

    def deliver(self, key: str) -> None:
        if key not in self.delivered:
            self.delivered.append(key)
            del self.delivered[:-DELIVERED_CAP]

    def finish(self, effect_id: str, ok: bool) -> None:
        self.finished[effect_id] = ok
        while len(self.finished) > FINISHED_CAP:
            del self.finished[next(iter(self.finished))]


def restore_holds(holds: Holds, ledgers: Iterable[tuple[str, bytes | None]]) -> None:
    """After a restart: the holds as the stored ledgers left them."""
    for incident_id, raw in ledgers:
        for account in Ledger.load(raw).holds:
            holds.hold(account, incident_id)


async def carry_out(responder: Responder, effect: Effect, ledger: Ledger,
                    save: Callable[[Ledger], Awaitable[None]]) -> Result | None:
    """Carry out one effect unless it was finished before (then None, a redelivery).

    Each delivery is saved in the ledger as soon as it succeeds. The caller publishes the
    result's timeline and commands and only then calls `finish`: after a crash in between,
    the effect runs again, sends nothing already delivered, and repeats its reports under
    the same ids (harmless) rather than losing a failure report (not harmless)."""
    if effect.effect_id in ledger.finished:
        return None

    async def delivered(key: str) -> None:
        ledger.deliver(key)
        await save(ledger)

    return await responder.carry_out(effect, already=frozenset(ledger.delivered), on_delivered=delivered)


def finish(responder: Responder, effect: Effect, ledger: Ledger, result: Result) -> None:
    ledger.holds = [account for account, holders in responder.holds.held().items()
                    if effect.incident_id in holders]
    ledger.finish(effect.effect_id, not result.failed)
