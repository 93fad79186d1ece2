"""How fast the embedded broker's memory grows: bytes per input event, at real pace.

    .venv/bin/python bench/broker_growth.py [--events 600] [--rate 4]

The embedded broker (Tansu, memory-only) never expires or compacts anything, so every byte a
worker makes it write stays in its RAM. On one embedded broker with a real `noroshi worker`,
this produces N mentions of one municipality at `--rate` per second (slow enough that each
detector batch holds about one event, as at ordinary traffic), waits until the worker has
committed them, and prints the broker process's RSS (VmRSS) before and after, the bytes the
records of every topic take (keys and values, changelogs included), each per input event, and
what that makes per day for a stated traffic. The README's figures come from this script.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from common import bench_worker  # noqa: E402
from pipeline import mentions, wait_committed  # noqa: E402

from noroshi.broker import EmbeddedBroker  # noqa: E402
from noroshi.stack import rss_bytes  # noqa: E402
from streams.topics import ensure_topics  # noqa: E402
from vocabulary.topics import TopicNames  # noqa: E402

MIB = 1024 * 1024


async def topic_bytes(servers: str) -> Counter[str]:
    """Bytes of keys and values in every topic, read from the beginning to the end."""
    consumer = AIOKafkaConsumer(bootstrap_servers=servers, group_id=None, auto_offset_reset="earliest",
                                enable_auto_commit=False)
    await consumer.start()
    sizes: Counter[str] = Counter()
    try:
        from aiokafka.structs import TopicPartition

        tps = [TopicPartition(t, p) for t in await consumer.topics() if not t.startswith("__")
               for p in consumer.partitions_for_topic(t) or ()]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        # Tansu's end offsets are wrong (platform notes): read until a round brings nothing.
        empty = 0
        while empty < 3:
            batch = await consumer.getmany(timeout_ms=500, max_records=10_000)
            empty = 0 if batch else empty + 1
            for tp, records in batch.items():
                sizes[tp.topic] += sum(len(r.key or b"") + len(r.value or b"") for r in records)
    finally:
        await consumer.stop()
    return sizes


async def produce_paced(servers: str, topic: str, lines: list[bytes], rate: float) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=servers)
    await producer.start()
    try:
        for line in lines:
            await producer.send_and_wait(topic, line, key=b"wako")
            await asyncio.sleep(1 / rate)
    finally:
        await producer.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=600)
    parser.add_argument("--rate", type=float, default=4.0, help="mentions per second (default 4)")
    parser.add_argument("--per-day", type=int, default=10_000,
                        help="the stated traffic: input events a day (default 10,000)")
    args = parser.parse_args()
    n = args.events
    lines = mentions(n, start=time.time() - 3600)

    with EmbeddedBroker() as broker, tempfile.TemporaryDirectory() as tmp:
        assert broker.proc is not None
        names = TopicNames("growth")
        asyncio.run(ensure_topics(broker.servers, names, 1, 1))
        with bench_worker(broker, tmp, "growth", NOROSHI_HEARTBEAT_INTERVAL="3600") as worker:
            warm = mentions(1, start=time.time() - 7200, seed=2)[0].replace(b"bench0", b"warm")
            asyncio.run(produce_paced(broker.servers, names.mentions, [warm], args.rate))
            asyncio.run(wait_committed(broker.servers, "growth", names.mentions, 1, 120, worker))
            rss_before, bytes_before = rss_bytes(broker.proc.pid), asyncio.run(topic_bytes(broker.servers))
            asyncio.run(produce_paced(broker.servers, names.mentions, lines, args.rate))
            asyncio.run(wait_committed(broker.servers, "growth", names.mentions, n + 1, 600, worker))
            time.sleep(2)  # the last changelog writes are acknowledged after the commit
            rss_after, bytes_after = rss_bytes(broker.proc.pid), asyncio.run(topic_bytes(broker.servers))

    assert rss_before is not None and rss_after is not None
    grown = {t: bytes_after[t] - bytes_before.get(t, 0) for t in bytes_after}
    rss_per_event = (rss_after - rss_before) / n
    log_per_event = sum(grown.values()) / n
    print(f"Embedded broker growth — {n:,} mentions of one municipality at {args.rate:g}/s (one per batch)")
    print(f"  broker RSS: {rss_before / MIB:,.1f} MiB → {rss_after / MIB:,.1f} MiB: "
          f"{rss_per_event:,.0f} bytes per event")
    print(f"  records written (keys + values): {log_per_event:,.0f} bytes per event, of which")
    for topic, size in sorted(grown.items(), key=lambda kv: -kv[1]):
        if size:
            print(f"    {topic:40} {size / n:>10,.0f}")
    print(f"  at {args.per_day:,} input events a day: {rss_per_event * args.per_day / MIB:,.0f} MiB a day "
          f"(RSS), {log_per_event * args.per_day / MIB:,.0f} MiB a day (records)")


if __name__ == "__main__":
    main()
