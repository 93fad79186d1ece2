"""Throughput and latency of one worker beside the broker's raw ceiling, in one run.

    .venv/bin/python bench/pipeline.py [--events 100000] [--rate 4000 --seconds 30]   (or: make bench)

On one embedded Tansu broker it measures, side by side:
1. raw ceiling: a plain aiokafka consumer reading N mention messages;
2. sustained: a real `noroshi worker` (detectors on) draining a backlog of N mentions produced
   before it started, from its 1,000th committed offset to the last: what one worker keeps up with;
3. live: another worker processing N mentions produced while it runs (the producer shares the
   cores), until its committed offsets reach the end;
4. latency at a paced rate (`--rate` events/s for `--seconds`): traffic of 100 generated
   municipalities (most quiet, a few busy, one 炎上 and one 災害; tools/traffic.py) through a third
   worker; for each detection, the time from the producer's send of the event that produced it to
   the detection record, and to the incident record the playbook published for it (both read by
   plain consumers): p50, p90, p99 and the worst;
5. replay: the N mentions through the pure detectors in-process, no broker.
Every mention of 1–3 is keyed by one municipality, so one worker and one partition carry all of
it: the per-worker figure. The latency traffic is on one partition too.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from common import (PROFILE, Sent, bench_worker, end_to_end, produce_paced, quantile, watch,  # noqa: E402
                    watch_detections)

from noroshi.broker import EmbeddedBroker  # noqa: E402
from vocabulary.profile_files import load_profile  # noqa: E402
from vocabulary.records import iso  # noqa: E402
from tools import traffic  # noqa: E402
from tools.profiles import generate_profiles  # noqa: E402
from tools.replay import replay_lines  # noqa: E402
from vocabulary.topics import TopicNames
from streams.topics import ensure_topics  # noqa: E402

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


async def produce_all(servers: str, topic: str, lines: list[bytes], key: bytes = b"wako") -> float:
    producer = AIOKafkaProducer(bootstrap_servers=servers, linger_ms=10, max_batch_size=512 * 1024)
    await producer.start()
    t0 = time.perf_counter()
    try:
        futures = [await producer.send(topic, line, key=key) for line in lines]
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


def sustained(broker: EmbeddedBroker, tmp: str, lines: list[bytes]) -> float:
    """Events/s of a worker draining `lines` produced before it started (its 1,000th committed offset
    to the last, so that start-up is not in it)."""
    names = TopicNames("drain")
    asyncio.run(ensure_topics(broker.servers, names, 1, 1))
    asyncio.run(produce_all(broker.servers, names.mentions, lines))
    with bench_worker(broker, tmp, "drain") as worker:
        t0 = asyncio.run(wait_committed(broker.servers, "drain", names.mentions, 1000, 120, worker))
        t1 = asyncio.run(wait_committed(broker.servers, "drain", names.mentions, len(lines), 600, worker))
    return (len(lines) - 1000) / (t1 - t0)


def live(broker: EmbeddedBroker, tmp: str, lines: list[bytes]) -> tuple[float, float]:
    """(seconds to process `lines` produced while the worker runs, seconds the producing took)."""
    names = TopicNames("bench")
    asyncio.run(ensure_topics(broker.servers, names, 1, 1))
    with bench_worker(broker, tmp, "bench") as worker:
        warmup = mentions(1, start=time.time() - 3600, seed=2)
        asyncio.run(produce_all(broker.servers, names.mentions, [warmup[0].replace(b"bench0", b"warm")]))
        asyncio.run(wait_committed(broker.servers, "bench", names.mentions, 1, 120, worker))
        t0 = time.perf_counter()
        produce_s = asyncio.run(produce_all(broker.servers, names.mentions, lines))
        t_end = asyncio.run(wait_committed(broker.servers, "bench", names.mentions, len(lines) + 1, 600, worker))
    return t_end - t0, produce_s


class Latency:
    """Send → detection record and send → incident record, one entry per detection matched to its event."""

    def __init__(self, sent: Sent, detections: list, incidents: list[tuple[dict, float, float]]) -> None:
        self.rate = sent.events / sent.seconds  # what the pacing producer achieved
        matched, self.ambiguous, _, self.unmatched = end_to_end(detections, sent)
        # the first time the playbook published the incident after applying each detection
        published: dict[tuple[str, int], float] = {}
        for record, _, seen in incidents:
            key = (record["incident_id"], record.get("detection_seq", 0))
            published[key] = min(seen, published.get(key, seen))
        self.detection = [by_read for _, _, by_read in matched]
        self.incident = [published[d.incident_id, d.seq] - (d.seen - by_read)
                         for d, _, by_read in matched if (d.incident_id, d.seq) in published]
        self.detections = len(detections)

    @staticmethod
    def line(values: list[float]) -> str:
        return (f"p50 {quantile(values, 0.5):.3f} s, p90 {quantile(values, 0.9):.3f} s, "
                f"p99 {quantile(values, 0.99):.3f} s, worst {max(values, default=float('nan')):.3f} s "
                f"(n={len(values)})")


def latency(broker: EmbeddedBroker, tmp: str, rate: float, seconds: float, municipalities: int = 100) -> Latency:
    """Paced traffic of generated municipalities through a worker; each detection's latency."""
    names = TopicNames("lat")
    folder = Path(tmp) / "profiles"
    profiles = [orjson.loads(p.read_bytes()) for p in generate_profiles(folder, municipalities)]
    roles = traffic.plan_roles([p["municipality"]["id"] for p in profiles], busy=4)
    count = int(rate * seconds)
    items = traffic.after_week(profiles, roles, time.time() - 30 * 86400, count)
    asyncio.run(ensure_topics(broker.servers, names, 1, 1))
    with bench_worker(broker, tmp, "lat", NOROSHI_PROFILES=str(folder)) as worker:
        warmup = orjson.loads(mentions(1, start=time.time() - 3600, seed=3)[0])
        asyncio.run(produce_all(broker.servers, names.mentions, [orjson.dumps({**warmup, "id": "x:warm"})],
                                key=profiles[0]["municipality"]["id"].encode()))
        asyncio.run(wait_committed(broker.servers, "lat", names.mentions, 1, 120, worker))

        async def run() -> Latency:
            sent, stop, since = Sent(), asyncio.Event(), time.time()
            detections = asyncio.create_task(watch_detections(broker.servers, names.detections, since, stop))
            incidents = asyncio.create_task(watch(broker.servers, names.incidents, since, stop))
            await produce_paced(broker.servers, names, items, rate, sent)
            for tp, end in sent.ends.items():
                await wait_committed(broker.servers, "lat", tp.topic, end, 300, worker)
            stop.set()
            return Latency(sent, await detections, await incidents)

        return asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rate", type=float, default=4000.0, help="events/s of the latency run")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of the latency run")
    args = parser.parse_args()
    n = args.events
    lines = mentions(n, start=time.time() - n / 10)

    with EmbeddedBroker() as broker, tempfile.TemporaryDirectory() as tmp:
        raw = TopicNames("raw")
        asyncio.run(ensure_topics(broker.servers, raw, 1, 1))
        asyncio.run(produce_all(broker.servers, raw.mentions, lines))
        raw_s = asyncio.run(raw_ceiling(broker.servers, raw.mentions, n))
        for name in ("drain", "bench", "lat"):
            Path(tmp, name).mkdir()
        drain_rate = sustained(broker, str(Path(tmp, "drain")), lines)
        live_s, produce_s = live(broker, str(Path(tmp, "bench")), lines)
        lat = latency(broker, str(Path(tmp, "lat")), args.rate, args.seconds)

    profile = load_profile(PROFILE)
    t0 = time.perf_counter()
    result = replay_lines(lines, profile)
    replay_s = time.perf_counter() - t0

    print(f"Noroshi pipeline benchmark — {n:,} mentions, one municipality (one partition), embedded Tansu, "
          f"{os.cpu_count()} cores shared by broker, worker and producer")
    print(f"  raw ceiling (plain aiokafka consumer):   {n / raw_s:>10,.0f} ev/s  ({raw_s:.2f} s)")
    print(f"  sustained (a worker draining a backlog): {drain_rate:>10,.0f} ev/s  (target ≥ 10,000)")
    print(f"  live (produced while the worker runs):   {n / live_s:>10,.0f} ev/s  ({live_s:.2f} s; "
          f"producing took {produce_s:.2f} s)")
    print(f"  sustained / raw:                         {drain_rate * raw_s / n:>10.3f}")
    print(f"  replay, in-process detectors:            {n / replay_s:>10,.0f} ev/s  ({replay_s:.2f} s, "
          f"{len(result.incidents)} incidents)")
    print(f"  latency at {lat.rate:,.0f} ev/s for {args.seconds:.0f} s (100 municipalities, 炎上 and 災害 among "
          f"them; {lat.detections} detections, {lat.unmatched} not matched to their event, "
          f"{lat.ambiguous} among several of one second):")
    print(f"    send → detection record: {Latency.line(lat.detection)}")
    print(f"    send → incident record:  {Latency.line(lat.incident)}  (target p99 ≤ 2 s)")


if __name__ == "__main__":
    main()
