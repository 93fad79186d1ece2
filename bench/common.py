"""What the benchmarks share: a real worker to measure, a pacing producer that keeps each event's send
time, and detections matched to the send of the event that produced them."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from noroshi.broker import EmbeddedBroker, free_port  # noqa: E402
from tools import traffic  # noqa: E402
from vocabulary.topics import TopicNames  # noqa: E402

PROFILE = ROOT / "tests" / "data" / "wako-sample.profile.json"
TICK_S = 0.02  # the pacing producer sends what is due every 20 ms


@contextlib.contextmanager
def bench_worker(broker: EmbeddedBroker, data_dir: str, prefix: str,
                 **extra_env: str) -> Iterator[subprocess.Popen[bytes]]:
    """A real `noroshi worker` on the embedded broker, one partition, topics under `prefix`; its
    log's tail is printed when the benchmark fails, and it is stopped at the end."""
    env = {**os.environ, "NOROSHI_BROKER": broker.url, "NOROSHI_BROKER_TANSU": "true",
           "NOROSHI_FAST_GROUPS": "true", "NOROSHI_TOPIC_PREFIX": prefix,
           "NOROSHI_PARTITIONS": "1", "NOROSHI_PROFILES": str(PROFILE),
           "NOROSHI_DATA_DIR": data_dir, "NOROSHI_WORKER_ID": prefix, "NOROSHI_LOG_LEVEL": "WARNING",
           "NOROSHI_LOG_FORMAT": "json", "NOROSHI_WORKER_HTTP_PORT": str(free_port()), **extra_env}
    log_path = Path(data_dir) / "worker.log"
    with log_path.open("wb") as log:
        worker = subprocess.Popen([sys.executable, "-m", "noroshi", "worker"], env=env, cwd=ROOT,
                                  stdout=subprocess.DEVNULL, stderr=log)
    try:
        yield worker
    except BaseException:
        sys.stderr.write(log_path.read_text(errors="replace")[-4000:])
        raise
    finally:
        worker.terminate()
        worker.wait(30)


@dataclass
class Sent:
    """What a producer sent: events, the next offset of each partition, and (paced) when each went."""

    events: int = 0
    ends: dict[TopicPartition, int] = field(default_factory=dict)
    seconds: float = 0.0
    #: (municipality, event time) → [(send time, event id)], for matching detections to their event.
    at: dict[tuple[str, int], list[tuple[float, str]]] = field(default_factory=lambda: defaultdict(list))

    def record(self, metadata) -> None:
        tp = TopicPartition(metadata.topic, metadata.partition)
        self.ends[tp] = max(self.ends.get(tp, 0), metadata.offset + 1)


def message(names: TopicNames, item: traffic.Item) -> tuple[str, bytes, bytes, int]:
    """Topic, key, value and Kafka timestamp (the event's own time, as sources/producer.py sends it)."""
    return (names.for_kind(item.event["kind"]), item.municipality.encode(), orjson.dumps(item.event),
            int(item.ts * 1000))


def producer(servers: str) -> AIOKafkaProducer:
    return AIOKafkaProducer(bootstrap_servers=servers, acks="all", linger_ms=10, max_batch_size=512 * 1024)


async def produce_paced(servers: str, names: TopicNames, items: list[traffic.Item], rate: float,
                        sent: Sent) -> None:
    """`items` at `rate` a second into `sent`: every TICK_S what is due is sent; each event's send
    time is kept."""
    futures = []
    out = producer(servers)
    await out.start()
    try:
        t0 = time.perf_counter()
        wall0 = time.time() - t0
        i = 0
        while i < len(items):
            due = min(len(items), int(rate * (time.perf_counter() - t0)) + 1)
            for item in items[i:due]:
                topic, key, value, ts_ms = message(names, item)
                sent.at[item.municipality, int(item.ts)].append((wall0 + time.perf_counter(), item.event["id"]))
                futures.append(await out.send(topic, value, key=key, timestamp_ms=ts_ms))
            i = sent.events = max(i, due)
            await asyncio.sleep(TICK_S)
        sent.seconds = time.perf_counter() - t0
        for metadata in await asyncio.gather(*futures):
            sent.record(metadata)
    finally:
        await out.stop()


@dataclass
class Detected:
    municipality: str
    type: str
    change: str
    at: int  # event time of the evidence that produced it
    evidence: list[str]
    record_ts: float  # the worker's send (Kafka timestamp)
    seen: float  # read by our consumer
    incident_id: str = ""
    seq: int = 0  # the detector's report number within the episode


async def watch(servers: str, topic: str, since: float, stop: asyncio.Event) -> list[tuple[dict, float, float]]:
    """The records of `topic` (not heartbeats) sent after `since`, until `stop` and a quiet second:
    (record, its Kafka timestamp, when it was read; fetches wait at most 20 ms for new records)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=servers, group_id=None, enable_auto_commit=False,
                                fetch_max_wait_ms=20)
    await consumer.start()
    found = []
    try:
        await consumer.topics()
        tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        quiet = 0
        while not stop.is_set() or quiet < 2:
            batch = await consumer.getmany(timeout_ms=500, max_records=5000)
            seen = time.time()
            quiet = 0 if batch else quiet + 1
            for records in batch.values():
                for r in records:
                    if r.timestamp / 1000 < since or (r.key or b"").startswith(b"heartbeat:"):
                        continue
                    found.append((orjson.loads(r.value), r.timestamp / 1000, seen))
    finally:
        await consumer.stop()
    return found


async def watch_detections(servers: str, topic: str, since: float, stop: asyncio.Event) -> list[Detected]:
    """Detection records sent after `since`, each with the time it was read."""
    return [Detected(d["municipality"], d["type"], d["change"], int(datetime.fromisoformat(d["at"]).timestamp()),
                     d.get("evidence_ids") or [], record_ts, seen, d["incident_id"], d.get("seq", 0))
            for d, record_ts, seen in await watch(servers, topic, since, stop)]


def end_to_end(found: list[Detected], sent: Sent) -> tuple[list[tuple[Detected, float, float]], int, float, int]:
    """Each detection with its latency from the send of the event that produced it: the event of its
    municipality at its `at`, an evidence id when one matches, sent before the record; the latest such
    (the tightest consistent bound). Returns (detection, by record timestamp, by our read), and how
    many were ambiguous (several candidates of the same second; the widest gap between such candidates'
    sends) and how many could not be matched."""
    out, ambiguous, spread, unmatched = [], 0, 0.0, 0
    for d in found:
        candidates = [(t, i) for t, i in sent.at.get((d.municipality, d.at), ()) if t <= d.record_ts + 0.01]
        evidence = [c for c in candidates if c[1] in set(d.evidence)] or candidates
        if not evidence:
            unmatched += 1
            continue
        ambiguous += len(evidence) > 1
        trigger = max(t for t, _ in evidence)
        spread = max(spread, trigger - min(t for t, _ in evidence))
        out.append((d, d.record_ts - trigger, d.seen - trigger))
    return out, ambiguous, spread, unmatched


def quantile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]
