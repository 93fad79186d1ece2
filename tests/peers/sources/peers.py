"""Helpers the source adapters' tests share (their fixtures are in conftest.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from aiohttp import web
from aiohttp.test_utils import TestServer

from sources.base import MemorySink, Sink


class Runs(Protocol):
    """A source: `await source.run(sink, stop)` until `stop` is set."""

    async def run(self, sink: Sink, stop: asyncio.Event) -> None: ...


#: `start(source, sink)` → the task running it and the event that stops it.
Start = Callable[[Runs, MemorySink], tuple[asyncio.Task[None], asyncio.Event]]
#: `await app_server(app)` → the app served on loopback until the test ends.
AppServer = Callable[[web.Application], Awaitable[TestServer]]


class CountingSink(MemorySink):
    """A MemorySink that also keeps every id it was offered, repeats included."""

    def __init__(self) -> None:
        super().__init__()
        self.offered: list[str] = []

    async def publish(self, event: dict[str, Any]) -> bool:
        self.offered.append(str(event.get("id")))
        return await super().publish(event)


async def until(condition: Any, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


async def stopped(task: asyncio.Task[None], stop: asyncio.Event, timeout: float = 2.0) -> None:
    stop.set()
    await asyncio.wait_for(task, timeout)
