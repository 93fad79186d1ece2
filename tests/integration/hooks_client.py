"""A sender of the webhook receiver (`noroshi sources` with `hooks`) in integration tests: one
signed mention for wako, as a form on the city's site would post it."""

from __future__ import annotations

import time

import aiohttp
import orjson

from sources.webhook import EVENTS_PATH, sign


async def post_mention(http: aiohttp.ClientSession, port: int, secret: str, event_id: str) -> None:
    """POST one signed mention (stamped now) to the receiver on `port`; it must be accepted."""
    event = orjson.dumps({"kind": "mention", "id": event_id, "platform": "web",
                          "ts": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),
                          "author": {"id": "web:form", "handle": "form", "name": "フォーム"},
                          "text": "和光市 #和光市", "municipality": "wako"})
    at = str(int(time.time()))
    async with http.post(f"http://127.0.0.1:{port}{EVENTS_PATH}", data=event, headers={
            "X-Noroshi-Timestamp": at, "X-Noroshi-Signature": sign(secret, at, event),
            "Content-Type": "application/json"}) as resp:
        assert resp.status == 200, await resp.text()
