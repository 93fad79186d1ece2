"""The step between Faust and the responders, with no Faust in it: one effect in, carried out once
(the ledger), and the timeline entries and board commands it produced out.

The ledger's order (`responders.ledger`): each send is saved as in flight before the peer is
called and as ended when it answered, durably (`LedgerStore.save`); the agent publishes the
outputs and only then is the effect marked finished (`finish`), so a crash in between repeats
reports under the same ids rather than losing a failure report. After each assignment, effects a
crash left with a send in flight are read again from the effects topic (`read_cut_off_again`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Iterable
from dataclasses import dataclass
from typing import Protocol

import structlog

from responders.ledger import Ledger, carry_out, cut_off_effects, finish, restore_holds
from responders.responder import Responder, Result
from streams.boundary import Outgoing, Rejected
from streams.gaps import Gap, Refetch
from streams.stage import Message
from vocabulary.records import Effect

log = structlog.get_logger(__name__)


class LedgerStore(Protocol):
    """The responders' ledgers, one per incident id (the worker's `responders` table)."""

    def get(self, incident_id: str) -> bytes | None: ...

    def items(self) -> Iterable[tuple[str, bytes | None]]: ...

    async def save(self, incident_id: str, raw: bytes) -> None:
        """Store, returning only once the ledger is on the broker."""

    def put(self, incident_id: str, raw: bytes) -> None:
        """Store, in the background."""


@dataclass(frozen=True)
class Delivery:
    """An effect carried out: the outputs to publish before `RespondStage.finish` records it."""

    msg: Message
    effect: Effect
    ledger: Ledger
    result: Result
    outputs: list[Outgoing]


class RespondStage:
    def __init__(self, responder: Responder, ledgers: LedgerStore, refetch: Refetch) -> None:
        self.responder, self.ledgers, self.refetch = responder, ledgers, refetch
        self._holds_restored = False
        self.resume_due = False  # set by an assignment: look for sends a crash cut off

    def _restore_holds_once(self) -> None:
        # The table is recovered before the first message arrives: the holds a restart forgot.
        if not self._holds_restored:
            restore_holds(self.responder.holds, self.ledgers.items())
            self._holds_restored = True

    async def carry_out(self, msg: Message) -> Delivery | None:
        """Carry out the effect in `msg` unless the ledger says it was (then None). Raises `Rejected`
        for a message that is not an effect."""
        self._restore_holds_once()
        try:
            effect = Effect.from_json(msg.value or b"")
        except Exception as exc:
            raise Rejected(f"bad effect: {exc}", event="effect_rejected") from exc
        ledger = Ledger.load(self.ledgers.get(effect.incident_id))

        async def save(current: Ledger) -> None:
            await self.ledgers.save(effect.incident_id, current.dump())

        result = await carry_out(self.responder, effect, ledger, save, at=(msg.topic, msg.partition, msg.offset))
        if result is None:
            log.info("effect_already_carried_out", **msg.position, effect_id=effect.effect_id)
            return None
        for key in result.possibly_sent:
            log.warning("delivery_possibly_sent", **msg.position, incident_id=effect.incident_id,
                        effect_id=effect.effect_id, key=key)
        outputs = [*(Outgoing("timeline", t.incident_id, t.to_json()) for t in result.timeline),
                   *(Outgoing("commands", c.incident_id, c.to_json()) for c in result.commands)]
        return Delivery(msg, effect, ledger, result, outputs)

    def finish(self, delivery: Delivery) -> None:
        """The effect is over (its outputs are published): the ledger says so, and the holds."""
        effect, ledger = delivery.effect, delivery.ledger
        finish(self.responder, effect, ledger, delivery.result)
        self.ledgers.put(effect.incident_id, ledger.dump())
        log.info("effect_carried_out" if not delivery.result.failed else "effect_failed", **delivery.msg.position,
                 incident_id=effect.incident_id, effect_id=effect.effect_id, kind=effect.kind)

    def partitions_assigned(self) -> None:
        self.resume_due = True

    async def read_cut_off_again(self, assigned: Collection[tuple[str, int]]) -> AsyncIterator[Message]:
        """Once per assignment: the effects of `assigned` partitions with a send a crash left in flight,
        read again from the effects topic. Faust may skip the last messages of a partition when a
        worker starts, and such an effect is nearly always the last: its redelivery may never come."""
        if not self.resume_due:
            return
        self.resume_due = False
        for topic, partition, offset in cut_off_effects(self.ledgers.items()):
            if (topic, partition) not in assigned:
                continue  # another worker's (a standby copy of its ledger)
            try:
                found = [m for m in await self.refetch(Gap(topic, partition, offset, offset)) if m.offset == offset]
            except Exception:  # noqa: BLE001 - a redelivery may still bring it
                log.exception("cut_off_effect_not_resumed", topic=topic, partition=partition, offset=offset)
                continue
            if not found:
                log.error("cut_off_effect_unreadable", topic=topic, partition=partition, offset=offset)
                continue
            log.info("cut_off_effect_read_again", topic=topic, partition=partition, offset=offset)
            yield found[0]
