"""Publishing contract events onto the input topics.

Each message is keyed by municipality id (see `streams.topics`) and carries
the event's own time as its Kafka timestamp. A line that breaks the contract
is not dropped: it goes to the dead-letter topic with the reason, and the
lines after it are published.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import structlog
from aiokafka import AIOKafkaProducer

from vocabulary.contract import ContractError, parse_event
from vocabulary.records import DeadLetter
from vocabulary.topics import TopicNames

log = structlog.get_logger(__name__)


@dataclass
class ProduceReport:
    sent: int = 0
    #: (line number, reason) of every line not published, in file order
    rejected: list[tuple[int, str]] = field(default_factory=list)


async def produce_lines(servers: str, names: TopicNames, municipality: str,
                        lines: Iterable[bytes], *, speed: float | None = None,
                        source: str = "stdin", log_rejected: bool = True,
                        stop: Callable[[], bool] | None = None) -> ProduceReport:
    """Send each line; with `speed`, pace them so that scenario time runs `speed`× wall time.

    A line that breaks the contract (too large, not JSON, a field wrong) goes to the
    dead letters (bounded: `DeadLetter.of`) and the next line is read; so does a
    line the broker refuses. Nothing a line holds stops the lines after it. Each rejected line is
    in the report; `log_rejected=False` when the caller reports them itself (the CLI prints each
    with its file and line: logged too, it would show twice). `stop`: asked before each line and
    while pacing; once it says so, nothing more is sent (what was sent is flushed).
    """
    report = ProduceReport()
    key = municipality.encode()
    producer = AIOKafkaProducer(bootstrap_servers=servers, acks="all", linger_ms=5)
    try:
        await producer.start()
    except BaseException:  # e.g. the broker unreachable: close what start() opened, then say so
        await producer.stop()
        raise
    try:
        first_ts: float | None = None
        wall_start = time.monotonic()
        pending: list[tuple[int, asyncio.Future[Any]]] = []
        letters: list[tuple[int, asyncio.Future[Any]]] = []
        for number, line in enumerate(lines, 1):
            if stop is not None and stop():
                break
            line = line.strip()
            if not line:
                continue
            try:
                event = parse_event(line)
            except ContractError as exc:
                reason = f"contract: {exc}"
                report.rejected.append((number, reason))
                letter = DeadLetter.of(
                    reason=reason, topic=f"file:{source}", partition=-1, offset=number,
                    key=key, raw=line, failed_at=datetime.now(timezone.utc).isoformat())
                if log_rejected:
                    log.warning("event_dead_lettered", topic=letter.topic, offset=number, reason=letter.reason,
                                size=letter.size, sha256=letter.sha256, truncated=letter.truncated)
                letters.append((number, await _send(producer, names.deadletters, letter.to_json(), key)))
                continue
            if speed:
                first_ts = event.ts if first_ts is None else first_ts
                due = wall_start + (event.ts - first_ts) / speed
                while (delay := due - time.monotonic()) > 0 and not (stop is not None and stop()):
                    await asyncio.sleep(min(delay, 0.2))
                if stop is not None and stop():
                    break
            pending.append((number, await _send(
                producer, names.for_kind(event.kind), line, key, timestamp_ms=int(event.ts * 1000))))
        for number, outcome in pending:
            try:
                await outcome
                report.sent += 1
            except Exception as exc:  # noqa: BLE001 - a refused line is reported, the others stand
                reason = f"not published: {type(exc).__name__}: {exc}"
                report.rejected.append((number, reason))
                if log_rejected:
                    log.error("event_not_published", topic=f"file:{source}", offset=number, reason=reason)
        for number, outcome in letters:
            try:
                await outcome
            except Exception as exc:  # noqa: BLE001
                log.error("dead_letter_send_failed", topic=f"file:{source}", offset=number,
                          error=f"{type(exc).__name__}: {exc}")
        report.rejected.sort()
    finally:
        await producer.stop()
    return report


async def _send(producer: AIOKafkaProducer, topic: str, value: bytes, key: bytes,
                **kwargs: Any) -> asyncio.Future[Any]:
    """The delivery of one message as a future; a refusal at once (e.g. too large) is a failed future."""
    try:
        return await producer.send(topic, value, key=key, **kwargs)
    except Exception as exc:  # noqa: BLE001 - reported with its line by the caller
        failed: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        failed.set_exception(exc)
        return failed
