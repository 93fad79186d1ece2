"""Reading a server-sent event stream in tests."""

from __future__ import annotations

import asyncio
import json
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
