"""A signed-webhook peer on loopback standing for the on-call chat, for the watchdog's tests; it also
answers /healthz where a test needs a board that is up without running one."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from responders.chat import verify_signature

SECRET = "watchdog-hook-secret"


class Peer:
    """The on-call chat: a signed-webhook receiver that keeps every message it is given (once per
    Idempotency-Key, as receivers are asked to), and a stand-in for the board's /healthz."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.keys: set[str] = set()
        self.url = ""
        self.failed = 0  # requests to /fail

    async def hook(self, request: web.Request) -> web.Response:
        raw = await request.read()
        assert verify_signature(SECRET, request.headers.get("X-Noroshi-Timestamp"), raw,
                                request.headers.get("X-Noroshi-Signature"), time.time())
        key = request.headers.get("Idempotency-Key", "")
        if key not in self.keys:
            self.keys.add(key)
            self.messages.append({**json.loads(raw), "received": time.monotonic()})
        return web.Response(text="ok")

    async def fail(self, request: web.Request) -> web.Response:
        """A chat channel that keeps failing (a Slack-compatible webhook answering 500)."""
        await request.read()
        self.failed += 1
        return web.Response(status=500, text="internal_error")

    async def healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"alive": True})

    def of(self, kind: str, word: str) -> list[dict[str, Any]]:
        """The messages of a kind (異常 alert, 継続 repeat, 復旧 resolved) whose text names `word`."""
        label = {"alert": "異常 / alert", "repeat": "継続 / repeat", "resolved": "復旧 / resolved"}[kind]
        return [m for m in self.messages if {"label": "種別 / Kind", "value": label} in m["facts"] and word in m["text"]]

    async def until(self, kind: str, word: str, timeout: float) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while not self.of(kind, word):
                await asyncio.sleep(0.1)
        return self.of(kind, word)[0]


@contextlib.asynccontextmanager
async def serving() -> AsyncIterator[Peer]:
    """A Peer on a free loopback port for the duration."""
    p = Peer()
    app = web.Application()
    app.router.add_post("/hook", p.hook)
    app.router.add_post("/fail", p.fail)
    app.router.add_get("/healthz", p.healthz)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    p.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    try:
        yield p
    finally:
        await runner.cleanup()
