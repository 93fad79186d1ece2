"""Throughput of the live pipeline against the broker's raw ceiling, in one run.

    .venv/bin/python bench/pipeline.py [--events 100000]     (or: make bench)

On one embedded Tansu broker it measures, side by side:
1. raw ceiling: a plain aiokafka consumer reading N mention messages;
2. live pipeline: a real `noroshi worker` process (detectors on) processing
   N mentions produced while it runs, until its committed offsets reach the end;
3. replay: the same N events through the pure detectors in-process, no broker.
It prints events per second for each and the pipeline/raw ratio. Every
mention is keyed by one municipality, so one worker and one partition carry
all of it: the per-worker figure.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from noroshi.broker import EmbeddedBroker, free_port  # noqa: E402
from vocabulary.contract import load_profile  # noqa: E402
from vocabulary.records import iso  # noqa: E402
from tools.replay import replay_lines  # noqa: E402
from vocabulary.topics import TopicNames
from streams.topics import ensure_topics  # noqa: E402

PROFILE = ROOT / "tests" / "data" / "wako-sample.profile.json"
TEXTS = ("和光市の図書館、週末も開いてて助かる", "和光市役所の駐車場いつも混んでるなあ",
         "この動画は不適切では？", "誰が承認したんですか", "市民まつり楽しみ #和光市",
         "粗大ごみの申し込み方法を教えてください")


def mentions(n: int, start: float, seed: int = 1) -> list[bytes]:
    """N realistic mentions, 10 per second of event time, a third of them replies."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        reply = {"post_id": "x:post1", "account": "wako_city_official"} if i % 3 == 0 else None
        out.append(orjson.dumps({
            "kind": "mention", "id": f"x:bench{i}", "platform": "x", "ts": iso(start + i / 10),
            "author": {"id": f"x:u:{rng.randrange(5000)}", "handle": f"user{rng.randrange(5000)}",
                       "name": "住民", "followers": rng.randrange(2000)},
            "text": rng.choice(TEXTS), "reply_to": reply, "quote_of": None, "repost_of": None,
            "lang": "ja"}))
    return out


async def produce_all(servers: str, topic: str, lines: list[bytes]) -> float:
    producer = AIOKafkaProducer(bootstrap_servers=servers, linger_ms=10, max_batch_size=512 * 1024)
    await producer.start()
    t0 = time.perf_counter()
    try:
        futures = [await producer.send(topic, line, key=b"wako") for line in lines]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return time.perf_counter() - t0


async def raw_ceiling(servers: str, topic: str, n: int) -> float:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=servers, group_id=None,
                                auto_offset_reset="earliest", max_partition_fetch_bytes=8 * 1024 * 1024)
    await consumer.start()
    try:
        seen = 0
        t0 = time.perf_counter()
        while seen < n:
            batch = await consumer.getmany(timeout_ms=500, max_records=10000)
            seen += sum(len(v) for v in batch.values())
        return time.perf_counter() - t0
    finally:
        await consumer.stop()


async def wait_committed(servers: str, group: str, topic: str, target: int, timeout: float,
                         worker: subprocess.Popen[bytes]) -> float:
    """Wait until the group's committed offset on the (one-partition) topic reaches `target`."""
    # A consumer that names the group but never subscribes reads its offsets without joining.
    probe = AIOKafkaConsumer(bootstrap_servers=servers, group_id=group, enable_auto_commit=False)
    await probe.start()
    try:
        tp = TopicPartition(topic, 0)
        t0 = time.perf_counter()
        while (await probe.committed(tp) or 0) < target:
            if worker.poll() is not None:
                raise RuntimeError(f"the worker exited with code {worker.returncode}")
            if time.perf_counter() - t0 > timeout:
                raise TimeoutError(f"worker did not reach offset {target} within {timeout:.0f} s")
            await asyncio.sleep(0.05)
        return time.perf_counter()
    finally:
        await probe.stop()


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    args = parser.parse_args()
    n = args.events
    lines = mentions(n, start=time.time() - n / 10)

    with EmbeddedBroker() as broker, tempfile.TemporaryDirectory() as tmp:
        raw, live = TopicNames("raw"), TopicNames("bench")
        asyncio.run(ensure_topics(broker.servers, raw, 1, 1))
        asyncio.run(ensure_topics(broker.servers, live, 1, 1))

        asyncio.run(produce_all(broker.servers, raw.mentions, lines))
        raw_s = asyncio.run(raw_ceiling(broker.servers, raw.mentions, n))

        with bench_worker(broker, tmp, "bench") as worker:
            warmup = mentions(1, start=time.time() - 3600, seed=2)
            asyncio.run(produce_all(broker.servers, live.mentions, [warmup[0].replace(b"bench0", b"warm")]))
            asyncio.run(wait_committed(broker.servers, "bench", live.mentions, 1, 120, worker))
            t0 = time.perf_counter()
            produce_s = asyncio.run(produce_all(broker.servers, live.mentions, lines))
            t_end = asyncio.run(wait_committed(broker.servers, "bench", live.mentions, n + 1, 600, worker))
            live_s = t_end - t0

    profile = load_profile(PROFILE)
    t0 = time.perf_counter()
    result = replay_lines(lines, profile)
    replay_s = time.perf_counter() - t0

    print(f"Noroshi pipeline benchmark — {n:,} mentions, one municipality (one partition), embedded Tansu")
    print(f"  raw ceiling (plain aiokafka consumer): {n / raw_s:>10,.0f} ev/s  ({raw_s:.2f} s)")
    print(f"  live pipeline (noroshi worker):        {n / live_s:>10,.0f} ev/s  ({live_s:.2f} s; "
          f"producing took {produce_s:.2f} s)")
    print(f"  ratio live / raw:                      {raw_s / live_s:>10.3f}")
    print(f"  replay, in-process detectors:          {n / replay_s:>10,.0f} ev/s  ({replay_s:.2f} s, "
          f"{len(result.incidents)} incidents)")


if __name__ == "__main__":
    main()
