"""What the watchdog looks at, each on its own short timeout, never through the worker: the
processes' /readyz (or /healthz) and /metrics over HTTP, the broker by a metadata request of its
own client, and the heartbeats topic read by a plain consumer with no group (as the board does).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable
from typing import Any

import aiohttp
import orjson
import structlog
from prometheus_client.parser import text_string_to_metric_families

from lookout.rules import Beat, Probe, SourceMetric, WorkerMetrics

log = structlog.get_logger(__name__)


# --- /metrics, parsed (pure) -----------------------------------------------------------------------

def samples(text: str) -> Iterable[tuple[str, dict[str, str], float]]:
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            yield s.name, s.labels, s.value


def worker_metrics(text: str) -> WorkerMetrics:
    lag: int | None = None
    circuits: list[str] = []
    deadletters: float | None = None
    refused = 0
    for name, labels, value in samples(text):
        if name == "noroshi_consumer_lag_messages":
            lag = (lag or 0) + int(value)
        elif name == "noroshi_circuit_open" and value >= 1:
            circuits.append(labels.get("channel", "?"))
        elif name == "noroshi_deadletters_total":
            deadletters = (deadletters or 0.0) + value
        elif name == "noroshi_profiles_refused":
            refused = int(value)
    # No dead letter yet: the counter has no series, which is 0, not unknown.
    return WorkerMetrics(lag=lag, circuits_open=tuple(sorted(circuits)),
                         deadletters=0.0 if deadletters is None else deadletters, profiles_refused=refused)


def source_metrics(text: str) -> tuple[SourceMetric, ...]:
    connected: dict[str, bool] = {}
    ages: dict[str, float] = {}
    for name, labels, value in samples(text):
        if name == "noroshi_source_connected":
            connected[labels.get("source", "?")] = value >= 1
        elif name == "noroshi_source_last_event_age_seconds":
            ages[labels.get("source", "?")] = value
    return tuple(SourceMetric(n, connected.get(n), ages.get(n)) for n in sorted({*connected, *ages}))


def readiness_detail(body: bytes) -> tuple[str, str]:
    """The failing checks of a /readyz answer, in Japanese and English."""
    try:
        data = orjson.loads(body)
        failing = [c for c in data.get("checks", ()) if not c.get("ok")]
    except (orjson.JSONDecodeError, AttributeError, TypeError):
        return "準備ができていません", "not ready"
    return ("、".join(c.get("ja") or c.get("name", "") for c in failing) or "準備ができていません",
            "; ".join(c.get("en") or c.get("name", "") for c in failing) or "not ready")


# --- the probes ----------------------------------------------------------------------------------

async def probe_http(session: aiohttp.ClientSession, name: str, base: str | None, path: str,
                     timeout: float) -> tuple[Probe, bytes | None]:
    """GET base+path: any HTTP answer means the process is alive; 200 means ready."""
    if base is None:
        return Probe(name, None, None), None
    try:
        async with asyncio.timeout(timeout):
            async with session.get(base + path) as response:
                body = await response.read()
    except TimeoutError:
        return Probe(name, base, False, detail_ja=f"{timeout:g} 秒以内に応答がありません",
                     detail_en=f"no answer within {timeout:g} s"), None
    except (aiohttp.ClientError, OSError):
        return Probe(name, base, False, detail_ja="接続できません", detail_en="cannot connect"), None
    if response.status == 200:
        return Probe(name, base, True, ready=True), body
    ja, en = readiness_detail(body)
    return Probe(name, base, True, ready=False, detail_ja=ja, detail_en=f"HTTP {response.status}: {en}"), body


async def fetch_metrics(session: aiohttp.ClientSession, base: str, timeout: float) -> str | None:
    try:
        async with asyncio.timeout(timeout):
            async with session.get(base + "/metrics") as response:
                if response.status != 200:
                    return None
                return (await response.read()).decode("utf-8", "replace")
    except (TimeoutError, aiohttp.ClientError, OSError, UnicodeDecodeError):
        return None


async def probe_broker(servers: str, timeout: float) -> Probe:
    """A metadata request from a client of our own (never through the worker)."""
    from aiokafka import AIOKafkaClient

    client = AIOKafkaClient(bootstrap_servers=servers, request_timeout_ms=int(timeout * 1000))
    try:
        async with asyncio.timeout(timeout):
            await client.bootstrap()
        return Probe("broker", servers, True, ready=True)
    except TimeoutError:
        return Probe("broker", servers, False, detail_ja=f"{timeout:g} 秒以内に応答がありません",
                     detail_en=f"no metadata answer within {timeout:g} s")
    except Exception as exc:  # noqa: BLE001 - any failure to get metadata is the answer
        return Probe("broker", servers, False, detail_ja="接続できません",
                     detail_en=f"cannot get metadata ({type(exc).__name__})")
    finally:
        with contextlib.suppress(Exception):
            await client.close()


class HeartbeatReader:
    """The latest heartbeat per partition from `PREFIX.heartbeats`, read from the beginning with no
    consumer group; retries (logged once per outage) while the broker or the topic is missing."""

    def __init__(self, servers: str, topic: str, *, retry_s: float = 1.0, max_retry_s: float = 15.0) -> None:
        self.servers, self.topic = servers, topic
        self.beats: dict[int, Beat] = {}
        self.fetched_at: float | None = None  # monotonic time of the last fetch the broker answered
        self._retry_s, self._max_retry_s = retry_s, max_retry_s
        self._task: asyncio.Task[None] | None = None

    def fresh(self, within_s: float) -> bool:
        return self.fetched_at is not None and time.monotonic() - self.fetched_at <= within_s

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="watchdog-heartbeats")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def take(self, value: bytes | None) -> None:
        try:
            beat = orjson.loads(value or b"")
            sent = _epoch(beat["sent_at"])
            partition, muni = beat["partition"], beat["municipality"]
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return
        if type(partition) is int and isinstance(muni, str):
            old = self.beats.get(partition)
            if old is None or sent >= old.sent_at:
                self.beats[partition] = Beat(partition, muni, sent)

    async def _run(self) -> None:
        from aiokafka import AIOKafkaConsumer, TopicPartition

        delay, failing = self._retry_s, False
        while True:
            consumer: Any = AIOKafkaConsumer(bootstrap_servers=self.servers, group_id=None,
                                             enable_auto_commit=False, auto_offset_reset="earliest")
            try:
                await consumer.start()
                await consumer.topics()
                partitions = consumer.partitions_for_topic(self.topic)
                if not partitions:
                    raise LookupError(f"topic {self.topic} not found")
                tps = [TopicPartition(self.topic, p) for p in sorted(partitions)]
                consumer.assign(tps)
                await consumer.seek_to_beginning(*tps)
                if failing:
                    log.info("watchdog_heartbeats_reading_again", topic=self.topic)
                failing, delay = False, self._retry_s
                while True:
                    batch = await consumer.getmany(timeout_ms=500, max_records=1000)
                    for records in batch.values():
                        for record in records:
                            self.take(record.value)
                    self.fetched_at = time.monotonic()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - logged once per outage; the rules see the heartbeat late
                if not failing:
                    log.warning("watchdog_heartbeats_unreadable", topic=self.topic, error=repr(exc), retry_in=delay)
                failing = True
            finally:
                with contextlib.suppress(Exception):
                    await consumer.stop()
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._max_retry_s)


def _epoch(text: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(str(text).replace("Z", "+00:00")).timestamp()
