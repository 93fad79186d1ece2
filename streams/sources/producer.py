"""Publishing contract events onto the input topics.

Each message is keyed by municipality id (see `streams.topics`) and carries
the event's own time as its Kafka timestamp. A line that breaks the contract
is not dropped: it goes to the dead-letter topic with the reason.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone

import structlog
from aiokafka import AIOKafkaProducer

from streams.contract import ContractError, parse_event
from streams.records import DeadLetter
from streams.topics import TopicNames

log = structlog.get_logger(__name__)


@dataclass
class ProduceReport:
    sent: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)


async def produce_lines(servers: str, names: TopicNames, municipality: str,
                        lines: Iterable[bytes], *, speed: float | None = None,
                        source: str = "stdin") -> ProduceReport:
    """Send each line; with `speed`, pace them so that scenario time runs `speed`× wall time."""
    report = ProduceReport()
    key = municipality.encode()
    producer = AIOKafkaProducer(bootstrap_servers=servers, acks="all", linger_ms=5)
    await producer.start()
    try:
        first_ts: float | None = None
        wall_start = time.monotonic()
        pending = []
        for number, line in enumerate(lines, 1):
            line = line.strip()
            if not line:
                continue
            try:
                event = parse_event(line)
            except ContractError as exc:
                report.rejected.append((number, str(exc)))
                letter = DeadLetter.of(
                    reason=f"contract: {exc}", topic=f"file:{source}", partition=-1, offset=number,
                    key=key, raw=line, failed_at=datetime.now(timezone.utc).isoformat())
                log.warning("event_dead_lettered", topic=letter.topic, offset=number, reason=letter.reason)
                pending.append(await producer.send(names.deadletters, letter.to_json(), key=key))
                continue
            if speed:
                first_ts = event.ts if first_ts is None else first_ts
                delay = wall_start + (event.ts - first_ts) / speed - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            pending.append(await producer.send(
                names.for_kind(event.kind), line, key=key, timestamp_ms=int(event.ts * 1000)))
            report.sent += 1
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return report
