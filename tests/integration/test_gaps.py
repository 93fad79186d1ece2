"""Reading skipped input messages again from the embedded broker (streams.gaps.BrokerRefetch)."""

from __future__ import annotations

import pytest

from streams.gaps import BrokerRefetch, Gap

from .conftest import produce

pytestmark = pytest.mark.integration


async def test_a_range_of_offsets_is_read_again_exactly(broker, names) -> None:
    await produce(broker.servers, [(names.mentions, b"wako", f"m{i}".encode()) for i in range(40)])
    await produce(broker.servers, [(names.mentions, b"wako", f"m{i}".encode()) for i in range(40, 60)])
    reader = BrokerRefetch(broker.servers, timeout=10)
    try:
        partition = [p for p in range(2) if await reader(Gap(names.mentions, p, 0, 0))][0]  # the key's
        got = await reader(Gap(names.mentions, partition, 36, 44))  # across the two producer batches
        assert [(m.offset, m.value) for m in got] == [(o, f"m{o}".encode()) for o in range(36, 45)]
        assert {m.key for m in got} == {b"wako"}
        again = await reader(Gap(names.mentions, partition, 3, 3))  # the consumer is reused
        assert [m.offset for m in again] == [3]
        beyond = await reader(Gap(names.mentions, partition, 58, 70))  # not all there: what there is
        assert [m.offset for m in beyond] == [58, 59]
    finally:
        await reader.close()

