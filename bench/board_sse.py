"""How fast the board's live stream reaches many on-call browsers at once.

    .venv/bin/python bench/board_sse.py [--clients 200] [--incidents 30] [--every 0.5]

An embedded Tansu broker and a real `noroshi board` process (as `noroshi run`
starts it); CLIENTS signed-in SSE connections from this process; then INCIDENTS
new incidents produced onto the incidents topic, one every EVERY seconds. Latency
is measured per delivery, from just before the record is handed to the producer
to the moment a client has read its `incident` event — the whole path: producer,
broker, the board's consumer, its fan-out to every queue, the HTTP stream and
the client's parsing (all on this machine, one clock). It prints p50, p95, p99
and max, the share delivered within one second, and the board's memory.

A benchmark, not a test: the figures depend on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import orjson
from aiokafka import AIOKafkaProducer

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dashboards.users import UserStore  # noqa: E402
from noroshi.broker import EmbeddedBroker, free_port  # noqa: E402
from vocabulary.records import Incident, iso  # noqa: E402
from vocabulary.topics import TopicNames
from streams.topics import ensure_topics  # noqa: E402

PASSWORD = "bench-password-2025"


def incident(n: int) -> Incident:
    now = time.time()
    return Incident(
        incident_id=f"wako-flame-bench{n:04d}", municipality="wako", type="flame", target="wako_city_official",
        opened_at=iso(now), severity=("critical", "high", "medium", "low")[n % 4], evidence_ids=[f"x:{n}"],
        summary=f"ベンチマークの事案 {n}: 批判的な返信が急増しています", state="escalated", change="opened",
        updated_at=iso(now), version=1, metrics={"awaiting": "acknowledge", "critical": 10 + n, "total": 20 + n,
                                                 "ack_due": iso(now + 1800), "level": 1})


async def wait_for_board(http: aiohttp.ClientSession, base: str, timeout: float = 30) -> None:
    async with asyncio.timeout(timeout):
        while True:
            try:
                async with http.get(base + "/healthz") as response:
                    if (await response.json())["feed"]["connected"]:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)


async def session_cookie(base: str) -> str:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        await wait_for_board(http, base)
        page = await (await http.get(base + "/login")).text()
        token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        response = await http.post(base + "/login", allow_redirects=False,
                                   data={"user": "bench", "password": PASSWORD, "csrf": token})
        assert response.status == 303, response.status
        return response.cookies["noroshi_session"].value


async def client(base: str, cookie: str, ready: asyncio.Event, counter: list[int], total: int,
                 received: dict[str, list[float]], done: asyncio.Event) -> None:
    timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
    async with aiohttp.ClientSession(timeout=timeout, headers={"Cookie": f"noroshi_session={cookie}"}) as http:
        async with http.get(base + "/events") as stream:
            assert stream.status == 200, stream.status
            event = ""
            counter[0] += 1
            if counter[0] == total:
                ready.set()
            while not done.is_set():
                line = await stream.content.readline()
                if not line:
                    return
                if line.startswith(b"event: "):
                    event = line[7:].strip().decode()
                elif line.startswith(b"data: ") and event == "incident":
                    at = time.time()
                    incident_id = orjson.loads(line[6:])["incident_id"]
                    received.setdefault(incident_id, []).append(at)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


async def run(broker: EmbeddedBroker, clients: int, incidents: int, every: float) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        names = TopicNames("bench")
        await ensure_topics(broker.servers, names, partitions=8, replication=1)
        port = free_port()
        env = {**os.environ, "NOROSHI_BROKER": broker.url, "NOROSHI_TOPIC_PREFIX": names.prefix,
               "NOROSHI_BOARD_PORT": str(port), "NOROSHI_DATA_DIR": tmp, "NOROSHI_SECRET_KEY": "bench",
               "NOROSHI_LOG_FORMAT": "json", "NOROSHI_LOG_LEVEL": "WARNING"}
        UserStore(Path(tmp) / "board-users.json").add("bench", role="viewer", municipality="wako", password=PASSWORD)
        board = subprocess.Popen([sys.executable, "-m", "noroshi", "board"], env=env, cwd=ROOT,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            cookie = await session_cookie(base)
            ready, done = asyncio.Event(), asyncio.Event()
            counter, received = [0], {}
            tasks = [asyncio.create_task(client(base, cookie, ready, counter, clients, received, done))
                     for _ in range(clients)]
            async with asyncio.timeout(60):
                await ready.wait()
            print(f"{clients} SSE clients connected; board RSS {rss_kib(board.pid) / 1024:.1f} MiB")
            producer = AIOKafkaProducer(bootstrap_servers=broker.servers, acks="all", linger_ms=0)
            await producer.start()
            sent: dict[str, float] = {}
            try:
                await producer.send_and_wait(names.incidents, incident(-1).to_json(), key=b"warm-up")
                await asyncio.sleep(1)
                received.clear()
                for n in range(incidents):
                    record = incident(n)
                    sent[record.incident_id] = time.time()
                    await producer.send_and_wait(names.incidents, record.to_json(), key=record.incident_id.encode())
                    await asyncio.sleep(every)
            finally:
                await producer.stop()
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and sum(len(v) for v in received.values()) < clients * incidents:
                await asyncio.sleep(0.1)
            done.set()
            peak = rss_kib(board.pid)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            board.terminate()
            board.wait(20)

    latencies = [at - sent[i] for i, ats in received.items() if i in sent for at in ats]
    expected = clients * incidents
    within = sum(1 for v in latencies if v <= 1.0)
    per_incident_max = [max(received[i]) - sent[i] for i in sent if i in received]
    print(f"{incidents} incidents × {clients} clients = {expected} deliveries expected, {len(latencies)} received")
    if not latencies:
        return 1
    print(f"latency  p50 {1000 * statistics.median(latencies):7.1f} ms   p95 {1000 * pct(latencies, 95):7.1f} ms   "
          f"p99 {1000 * pct(latencies, 99):7.1f} ms   max {1000 * max(latencies):7.1f} ms")
    print(f"last client per incident: median {1000 * statistics.median(per_incident_max):.1f} ms, "
          f"worst {1000 * max(per_incident_max):.1f} ms")
    print(f"within 1 s: {within}/{expected} ({100 * within / expected:.1f} %); board RSS at the end {peak / 1024:.1f} MiB")
    return 0 if within == expected else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--incidents", type=int, default=30)
    parser.add_argument("--every", type=float, default=0.5, help="seconds between incidents")
    args = parser.parse_args()
    with EmbeddedBroker() as broker:  # it starts with its own event loop: outside ours
        return asyncio.run(run(broker, args.clients, args.incidents, args.every))


if __name__ == "__main__":
    sys.exit(main())
