"""A Faust transport for the Tansu broker that corrects its wrong end offsets.

Tansu answers ListOffsets(LATEST) with the base offset of the last record
batch + 1 rather than the end offset (100 records sent as one batch report an
end offset of 1), while its Fetch responses carry the right high watermark.
Faust stops changelog recovery at the reported end offset, so a restarted
worker would silently restore only part of a table. This transport asks for
the high watermark with a fetch near the reported offset instead. It is used
only when the settings say the broker is Tansu (`tansu://` URLs); real Kafka
goes through Faust's own aiokafka transport untouched.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import structlog
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

from streams.hotpath import ConsumerThread, DirectDrain

log = structlog.get_logger(__name__)

SCHEME = "tansu"


async def true_end_offsets(servers: str, reported: Mapping[TP, int],
                           timeout: float = 10.0) -> dict[TP, int]:
    """The end offset of each partition from fetch high watermarks.

    Fetching from just before the reported offset returns a response whose
    high watermark is the real end; it is never below what was reported.
    """
    if not reported:
        return {}
    probe = AIOKafkaConsumer(bootstrap_servers=servers, group_id=None,
                             enable_auto_commit=False, fetch_max_bytes=1024 * 1024)
    await probe.start()
    try:
        tps = {tp: TopicPartition(tp.topic, tp.partition) for tp in reported}
        probe.assign(list(tps.values()))
        for tp, offset in reported.items():
            probe.seek(tps[tp], max(offset - 1, 0))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while any(probe.highwater(t) is None for t in tps.values()):
            if loop.time() > deadline:
                missing = [str(t) for t in tps.values() if probe.highwater(t) is None]
                raise TimeoutError(f"no high watermark from Tansu for {', '.join(missing)}")
            await probe.getmany(timeout_ms=200, max_records=1)
        return {tp: max(offset, probe.highwater(tps[tp]) or 0) for tp, offset in reported.items()}
    finally:
        await probe.stop()


class TansuConsumerThread(ConsumerThread):
    async def _highwaters(self, partitions: list[TP]) -> Mapping[TP, int]:  # type: ignore[override]
        reported = await super()._highwaters(partitions)
        transport = self.transport
        servers = ",".join(faust_aiokafka.server_list(transport.url, transport.default_port))
        corrected = await true_end_offsets(servers, reported)
        changed = {f"{tp.topic}:{tp.partition}": (reported[tp], v)
                   for tp, v in corrected.items() if v != reported[tp]}
        if changed:
            log.info("tansu_end_offsets_corrected", partitions=changed)
        return corrected


class TansuConsumer(DirectDrain, faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> TansuConsumerThread:
        return TansuConsumerThread(self, loop=self.loop, beacon=self.beacon)


class Transport(faust_aiokafka.Transport):
    Consumer = TansuConsumer


def register() -> None:
    """Make `tansu://host:port` broker URLs use this transport."""
    from faust.transport.drivers import TRANSPORTS

    TRANSPORTS.aliases[SCHEME] = f"{__name__}:Transport"
