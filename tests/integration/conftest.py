"""Fixtures for the integration tests: a real broker, real worker processes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import ConsumerRecord
import aiohttp
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from noroshi.broker import EmbeddedBroker, free_port
from vocabulary.contract import parse_ts
from vocabulary.records import iso
from vocabulary.settings import Settings
from vocabulary.topics import TopicNames
from streams.topics import ensure_topics

DATA = Path(__file__).resolve().parent.parent / "data"
SAMPLE = DATA / "wako-sample.jsonl"
SAMPLE_PROFILE = DATA / "wako-sample.profile.json"
PARTITIONS = 2


@pytest.fixture
def partitions() -> int:
    """Partitions of every topic; a test module that needs more overrides this fixture."""
    return PARTITIONS


@pytest.fixture
def broker(partitions: int) -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker() as b:
        asyncio.run(ensure_topics(b.servers, TopicNames("noroshi"), partitions, 1))
        yield b


@pytest.fixture
def names() -> TopicNames:
    return TopicNames("noroshi")


@pytest.fixture
def env(broker: EmbeddedBroker, tmp_path: Path, partitions: int) -> dict[str, str]:
    return {
        **os.environ,
        "NOROSHI_BROKER": broker.url,
        "NOROSHI_BROKER_TANSU": "true",
        "NOROSHI_FAST_GROUPS": "true",
        "NOROSHI_PARTITIONS": str(partitions),
        "NOROSHI_PROFILES": str(SAMPLE_PROFILE),
        "NOROSHI_DATA_DIR": str(tmp_path / "var"),
        "NOROSHI_LOG_FORMAT": "json",
        "NOROSHI_SECRET_KEY": "test-secret-key",
        "NOROSHI_BOARD_PASSWORD": "test-password",
        # never the defaults (8081, 8091): tests run side by side
        "NOROSHI_WORKER_HTTP_PORT": str(free_port()),
        "NOROSHI_SOURCES_HTTP_PORT": str(free_port()),
    }


@pytest.fixture
def settings(env: dict[str, str]) -> Settings:
    return Settings.from_env(env)


class Proc:
    """A `noroshi SUBCOMMAND` child process whose log is kept for assertions."""

    def __init__(self, args: list[str], env: dict[str, str], log_path: Path) -> None:
        self.args, self.env, self.log_path = args, env, log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Proc:
        with self.log_path.open("ab") as log:  # the child keeps its own descriptor
            self.proc = subprocess.Popen([sys.executable, "-m", "noroshi", *self.args],
                                         env=self.env, stdout=log, stderr=log)
        return self

    def kill(self) -> None:
        """SIGKILL: no shutdown, no final commit, no flush."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log_lines(self) -> list[dict]:
        lines = []
        for raw in self.log_path.read_bytes().splitlines():
            try:
                lines.append(orjson.loads(raw))
            except orjson.JSONDecodeError:
                pass
        return lines


@pytest.fixture
def spawn(env: dict[str, str], tmp_path: Path) -> Iterator[Callable[..., Proc]]:
    procs: list[Proc] = []

    def _spawn(*args: str, extra_env: dict[str, str] | None = None) -> Proc:
        name = "-".join(args)
        proc = Proc(list(args), {**env, **(extra_env or {})}, tmp_path / f"{name}.log").start()
        procs.append(proc)
        return proc

    yield _spawn
    for proc in procs:
        proc.stop()


@contextlib.asynccontextmanager
async def serve_hook(handle: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> AsyncIterator[str]:
    """`handle` as a local webhook peer on loopback: its URL while the block runs."""
    app = web.Application()
    app.router.add_post("/hook", handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}/hook"
    finally:
        await runner.cleanup()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus exposition: (name, sorted labels) → value."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def total(found: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return sum(v for (n, ls), v in found.items() if n == name and set(labels.items()) <= set(ls))


async def processed(env: dict[str, str], count: int, timeout: float = 60.0) -> dict:
    """Wait until the worker's /metrics says it has processed `count` events; its samples."""
    url = f"http://127.0.0.1:{env['NOROSHI_WORKER_HTTP_PORT']}/metrics"
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as http:
        while True:
            try:
                async with http.get(url) as resp:
                    found = samples(await resp.text())
                if total(found, "noroshi_events_total", outcome="processed") >= count:
                    return found
            except aiohttp.ClientError:
                pass
            assert time.monotonic() < deadline, f"the worker did not process {count} events"
            await asyncio.sleep(0.2)


async def produce(servers: str, items: list[tuple[str, bytes | None, bytes]]) -> None:
    """Send (topic, key, value) triples as fast as possible, then flush."""
    producer = AIOKafkaProducer(bootstrap_servers=servers, linger_ms=20)
    await producer.start()
    try:
        futures = [await producer.send(topic, value, key=key) for topic, key, value in items]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def read_until(servers: str, topics: list[str], done: Callable[[list[ConsumerRecord]], bool],
                     timeout: float = 60.0) -> list[ConsumerRecord]:
    """Read topics from the beginning until `done(records)` or the timeout."""
    consumer = AIOKafkaConsumer(*topics, bootstrap_servers=servers, group_id=None,
                                auto_offset_reset="earliest")
    await consumer.start()
    records: list[ConsumerRecord] = []
    try:
        deadline = time.monotonic() + timeout
        while not done(records):
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"gave up after {timeout:.0f} s with {len(records)} records on {topics}")
            batch = await consumer.getmany(timeout_ms=300)
            for recs in batch.values():
                records.extend(recs)
    finally:
        await consumer.stop()
    return records


def sample_lines() -> list[bytes]:
    return [line for line in SAMPLE.read_bytes().splitlines() if line.strip()]


def shifted_to_now(lines: list[bytes]) -> tuple[list[bytes], float]:
    """The scenario moved so that it ends now: live traffic is in real time, and the
    playbook's deadlines (in event time) are compared with the worker's clock."""
    events = [orjson.loads(line) for line in lines]
    delta = time.time() - max(parse_ts(e["ts"]) for e in events)
    for e in events:
        e["ts"] = iso(parse_ts(e["ts"]) + delta)
    return [orjson.dumps(e) for e in events], delta
