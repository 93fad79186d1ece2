"""Issue 14, items 1 and 2, through real processes: the worker, the board and `noroshi sources`
each serve GET /metrics with their own metrics, and the worker's /readyz says whether it consumes.

A real broker, `python -m noroshi worker|board|sources` on free ports, the sample scenario
produced onto the input topics, real HTTP on loopback; then the broker is stopped under them."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import orjson
import pytest

from noroshi.broker import free_port

from .board_client import sign_in, wait_until_connected
from .hooks_client import post_mention
from .conftest import produce, sample_lines, samples, total

pytestmark = pytest.mark.integration
SECRET = "metrics-hooks-secret-5e1f"


async def get(http: aiohttp.ClientSession, url: str) -> tuple[int, str]:
    async with http.get(url) as resp:
        return resp.status, await resp.text()


async def until(http: aiohttp.ClientSession, url: str, check: Any, what: str, timeout: float = 90) -> str:
    """GET `url` until `check(status, body)`; the last answer is in the failure."""
    last: Any = None
    try:
        async with asyncio.timeout(timeout):
            while True:
                try:
                    last = await get(http, url)
                    if check(*last):
                        return last[1]
                except aiohttp.ClientConnectionError as exc:
                    last = repr(exc)
                await asyncio.sleep(0.2)
    except TimeoutError:
        raise AssertionError(f"{what}: never; last answer {last!r}") from None


async def test_every_process_serves_its_metrics_and_the_worker_is_ready_only_while_it_consumes(
        broker, names, spawn, env):
    worker_port, sources_port, board_port, hooks_port = (free_port() for _ in range(4))
    worker = f"http://127.0.0.1:{worker_port}"
    sources = f"http://127.0.0.1:{sources_port}"
    board = f"http://127.0.0.1:{board_port}"
    spawn("worker", extra_env={"NOROSHI_WORKER_HTTP_PORT": str(worker_port)})
    spawn("board", extra_env={"NOROSHI_BOARD_PORT": str(board_port)})
    spawn("sources", extra_env={"NOROSHI_SOURCES_HTTP_PORT": str(sources_port), "NOROSHI_SOURCES": "hooks",
                                "NOROSHI_HOOKS_SECRET": SECRET, "NOROSHI_HOOKS_PORT": str(hooks_port)})
    lines = sample_lines()

    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        # The worker's server starts before its app: at first it is alive and not ready.
        first = await until(http, worker + "/readyz", lambda s, b: s in (200, 503), "the worker answers")
        assert orjson.loads(first)["ready"] is False and "assigned" in orjson.loads(first)["failing"]
        assert (await get(http, worker + "/healthz"))[0] == 200

        await produce(broker.servers, [(names.mentions if b'"mention"' in line else names.accounts,
                                        b"wako", line) for line in lines])

        def consumed(status: int, body: str) -> bool:
            found = samples(body)
            return (total(found, "noroshi_events_total", outcome="processed")
                    + total(found, "noroshi_events_total", outcome="dead_lettered")) >= len(lines) \
                and total(found, "noroshi_incidents_opened_total", type="flame") >= 1 \
                and total(found, "noroshi_detection_latency_seconds_count") >= len(lines)  # after the batch

        found = samples(await until(http, worker + "/metrics", lambda s, b: s == 200 and consumed(s, b),
                                    "every sample event counted and the flame-up opened"))
        assert total(found, "noroshi_events_total", topic=names.mentions, outcome="processed") > 0
        assert total(found, "noroshi_events_total", outcome="skipped") == 0
        assert total(found, "noroshi_incidents_opened_total", type="flame") == 1
        assert total(found, "noroshi_detection_latency_seconds_count") >= len(lines)
        assert total(found, "noroshi_detection_event_time_latency_seconds_count") >= len(lines)

        ready = orjson.loads(await until(http, worker + "/readyz", lambda s, b: s == 200, "the worker ready"))
        # ready with a lag: the detections, effects and heartbeats the run made are not all committed yet
        assert ready["ready"] is True and ready["failing"] == [] and ready["lag"] >= 0
        found = samples(await until(
            http, worker + "/metrics",
            lambda s, b: total(samples(b), "noroshi_consumer_lag_messages") == 0
            and any(n == "noroshi_consumer_lag_messages" for n, _ in samples(b)), "the lag sampled, all consumed"))
        assert {dict(ls)["group"] for n, ls in found if n == "noroshi_consumer_lag_messages"} == {"noroshi"}

        # The board: /metrics without sign-in, and the live feed's clients counted.
        await wait_until_connected(http, board)
        status, text = await get(http, board + "/metrics")
        assert status == 200 and samples(text)[("noroshi_board_sse_clients", ())] == 0
        assert (await sign_in(http, board, "demo", env["NOROSHI_BOARD_PASSWORD"])).status == 303
        async with http.get(board + "/events") as stream:
            assert (await stream.content.readline()).startswith(b"retry:")
            status, text = await get(http, board + "/metrics")
            assert samples(text)[("noroshi_board_sse_clients", ())] == 1

        # `noroshi sources`: the receiver listening, ready, and its last event's age once it has one.
        body = await until(http, sources + "/readyz", lambda s, b: s == 200, "the sources ready")
        assert orjson.loads(body)["sources"] == [{"name": "hooks", "enabled": True, "running": True,
                                                  "connected": True}]
        found = samples((await get(http, sources + "/metrics"))[1])
        assert found[("noroshi_source_connected", (("source", "hooks"),))] == 1
        assert total(found, "noroshi_source_last_event_age_seconds") == 0  # none yet: absent
        await post_mention(http, hooks_port, SECRET, "web:metrics-1")
        found = samples((await get(http, sources + "/metrics"))[1])
        assert 0 <= found[("noroshi_source_last_event_age_seconds", (("source", "hooks"),))] < 60

        # The broker gone: the worker stops consuming and says so; so do the sources.
        broker.stop()
        body = await until(http, worker + "/readyz", lambda s, b: s == 503, "the worker not ready")
        assert "consuming" in orjson.loads(body)["failing"]
        assert (await get(http, worker + "/healthz"))[0] == 200  # alive all the same
        body = await until(http, sources + "/readyz", lambda s, b: s == 503, "the sources not ready")
        assert orjson.loads(body)["failing"] == ["producer"]
