"""Table writes that are on the broker when they return.

A Faust table sends each change to its changelog topic in the background (`send_soon`): a
worker killed right after `table[key] = value` may lose the change. The responders' ledger
must not: its "in flight" mark has to be stored before a peer is called.
"""

from __future__ import annotations

from typing import Any

import faust


async def store(table: faust.types.TableT, key: Any, value: Any) -> None:
    """`table[key] = value`, returning once the broker has acknowledged the changelog record
    (the producer's acks=all); raises what the producer raised if it could not be written."""
    sent = table.send_changelog(table.partition_for_key(key), key, value)
    table.data[key] = value
    await sent
