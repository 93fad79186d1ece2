"""A test client for the board: sign in, wait for the feed, read server-sent events."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from typing import Any

import aiohttp


async def next_event(response: aiohttp.ClientResponse, timeout: float = 15) -> tuple[str, Any]:
    """The next `event:`/`data:` block of an SSE stream, JSON-decoded."""
    name, data = "", []
    async with asyncio.timeout(timeout):
        while True:
            line = (await response.content.readline()).decode()
            if not line:
                raise EOFError("the event stream ended")
            line = line.rstrip("\n")
            if not line:
                if name:
                    return name, json.loads("\n".join(data))
                continue
            field, _, value = line.partition(":")
            if field == "event":
                name = value.strip()
            elif field == "data":
                data.append(value.removeprefix(" "))


async def wait_until_connected(http: aiohttp.ClientSession, base: str, timeout: float = 30) -> None:
    async with asyncio.timeout(timeout):
        while True:
            with contextlib.suppress(aiohttp.ClientConnectionError):
                async with http.get(base + "/healthz") as response:
                    if (await response.json())["feed"]["connected"]:
                        return
            await asyncio.sleep(0.1)


async def sign_in(http: aiohttp.ClientSession, base: str, user: str, password: str) -> aiohttp.ClientResponse:
    form = await (await http.get(base + "/login")).text()
    token = re.search(r'name="csrf" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
    return await http.post(base + "/login", allow_redirects=False,
                           data={"user": user, "password": password, "csrf": token})
