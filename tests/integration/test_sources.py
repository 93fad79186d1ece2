"""A real source end to end: a local Mastodon server streams #和光市災害 statuses, `noroshi
sources` turns them into contract mentions on the embedded broker, the worker's detectors open
a disaster incident; a malformed status goes to the dead letters and loses nothing around it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web

from vocabulary.records import DeadLetter, Incident

from .conftest import SAMPLE_PROFILE, read_until, sample_lines, shifted_to_now

pytestmark = pytest.mark.integration
TAG = "和光市災害"


def status(event: dict[str, Any], n: int) -> dict[str, Any]:
    """A Mastodon status for a contract mention of the sample (as mstdn.example would send it)."""
    author = event["author"]
    created = event["ts"]  # already shifted to now, with its offset
    return {
        "id": str(110_000_000_000_000_000 + n), "uri": f"https://mstdn.example/users/{author['handle']}/statuses/{n}",
        "url": f"https://mstdn.example/@{author['handle']}/{n}", "created_at": created,
        "content": f"<p>{event['text'].replace(f'#{TAG}', '')}<a href=\"https://mstdn.example/tags/{TAG}\" "
                   f"class=\"mention hashtag\" rel=\"tag\">#<span>{TAG}</span></a></p>",
        "spoiler_text": "", "visibility": "public", "language": "ja", "in_reply_to_id": None,
        "in_reply_to_account_id": None, "reblog": None, "mentions": [], "media_attachments": [],
        "tags": [{"name": TAG, "url": f"https://mstdn.example/tags/{TAG}"}], "card": None,
        "account": {"id": str(9000 + n), "username": author["handle"], "acct": author["handle"],
                    "display_name": author["name"], "followers_count": author.get("followers", 0),
                    "created_at": "2024-04-01T00:00:00.000Z", "url": f"https://mstdn.example/@{author['handle']}"},
    }


class Mastodon:
    """The streaming and timeline endpoints of a Mastodon server, for one hashtag."""

    def __init__(self, statuses: list[dict[str, Any]]) -> None:
        self.statuses = statuses
        self.connections = 0

    async def stream(self, request: web.Request) -> web.StreamResponse:
        assert request.query.get("tag") == TAG
        self.connections += 1
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for i, s in enumerate(self.statuses):
            await response.write(f"event: update\ndata: {json.dumps(s, ensure_ascii=False)}\n\n".encode())
            if i == 5:  # one broken frame among the good ones
                await response.write(b"event: update\ndata: {\"id\": \"broken\", \"content\": \n\n")
        try:
            while True:
                await response.write(b":thump\n\n")
                await asyncio.sleep(1)
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        return response

    async def timeline(self, request: web.Request) -> web.Response:
        return web.json_response([])  # nothing missed: the stream carries it all


@pytest.fixture
async def mastodon() -> AsyncIterator[tuple[Mastodon, str]]:
    lines, _ = shifted_to_now([line for line in sample_lines() if TAG.encode() in line])
    server = Mastodon([status(orjson.loads(line), n) for n, line in enumerate(lines)])
    app = web.Application()
    app.router.add_get("/api/v1/streaming/hashtag", server.stream)
    app.router.add_get("/api/v1/streaming/hashtag/local", server.stream)
    app.router.add_get(f"/api/v1/timelines/tag/{TAG}", server.timeline)
    app.router.add_get("/api/v1/timelines/tag/{tag}", server.timeline)
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield server, f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def test_a_mastodon_hashtag_stream_opens_a_disaster_incident_through_the_broker(
        broker, names, spawn, mastodon, tmp_path: Path) -> None:
    server, url = mastodon
    profile = json.loads(SAMPLE_PROFILE.read_text(encoding="utf-8"))
    profile_path = tmp_path / "wako.profile.json"
    profile_path.write_text(json.dumps(profile, ensure_ascii=False), encoding="utf-8")
    common = {"NOROSHI_PROFILES": str(profile_path)}
    spawn("worker", extra_env=common)
    sources = spawn("sources", extra_env={**common, "NOROSHI_SOURCES": "mastodon",
                                          "NOROSHI_MASTODON_INSTANCES": url})

    def disaster_opened(records) -> bool:
        return any(Incident.from_json(r.value).type == "disaster" for r in records if r.topic == names.incidents)

    records = await read_until(broker.servers, [names.mentions, names.incidents, names.deadletters],
                               disaster_opened, timeout=90)

    mentions = [orjson.loads(r.value) for r in records if r.topic == names.mentions]
    assert len(mentions) == len(server.statuses)  # every good status, the ones after the broken frame too
    assert {m["platform"] for m in mentions} == {"mastodon"} and all(r.key == b"wako" for r in records
                                                                      if r.topic == names.mentions)
    assert all(TAG in m["hashtags"] for m in mentions)
    (incident,) = {i.incident_id: i for i in (Incident.from_json(r.value) for r in records
                                              if r.topic == names.incidents) if i.type == "disaster"}.values()
    assert incident.target == TAG and incident.municipality == "wako"
    letters = [DeadLetter.from_json(r.value) for r in records if r.topic == names.deadletters]
    assert any("mastodon" in letter.topic or "mastodon" in letter.reason for letter in letters)
    assert sources.proc is not None and sources.proc.poll() is None  # the broken frame stopped nothing
