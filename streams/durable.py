"""Table writes that are on the broker when they return.

A Faust table sends each change to its changelog topic in the background (`send_soon`): a
worker killed right after `table[key] = value` may lose the change. The responders' ledger
must not: its "in flight" mark has to be stored before a peer is called (`TableLedgers.save`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import faust


async def store(table: faust.types.TableT, key: Any, value: Any) -> None:
    """`table[key] = value`, returning once the broker has acknowledged the changelog record
    (the producer's acks=all); raises what the producer raised if it could not be written."""
    sent = table.send_changelog(table.partition_for_key(key), key, value)
    table.data[key] = value
    await sent


class TableLedgers:
    """The responders' table as `streams.respond_stage.LedgerStore`: `save` waits for the broker."""

    def __init__(self, table: faust.types.TableT) -> None:
        self.table = table

    def get(self, incident_id: str) -> bytes | None:
        return self.table.get(incident_id)

    def items(self) -> Iterable[tuple[str, bytes | None]]:
        return self.table.items()

    async def save(self, incident_id: str, raw: bytes) -> None:
        await store(self.table, incident_id, raw)

    def put(self, incident_id: str, raw: bytes) -> None:
        self.table[incident_id] = raw
