"""Fixtures the source adapters' tests share: local servers, and sources running against them."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from sources.base import MemorySink
from tests.peers.sources.peers import AppServer, Runs, Start


@pytest.fixture
async def app_server() -> AsyncIterator[AppServer]:
    """Serves aiohttp apps on loopback; every one is closed when the test ends."""
    servers: list[TestServer] = []

    async def serve(app: web.Application) -> TestServer:
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        servers.append(server)
        return server

    yield serve
    for server in servers:
        await server.close()


@pytest.fixture
async def start() -> AsyncIterator[Start]:
    """Runs sources; any still running when a test ends (a failed one) is stopped before its server."""
    running: list[tuple[asyncio.Task[None], asyncio.Event]] = []

    def run(source: Runs, sink: MemorySink) -> tuple[asyncio.Task[None], asyncio.Event]:
        stop = asyncio.Event()
        running.append((asyncio.create_task(source.run(sink, stop)), stop))
        return running[-1]

    yield run
    for task, stop in running:
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 2)
