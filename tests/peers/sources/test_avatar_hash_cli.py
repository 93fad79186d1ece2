"""`noroshi avatar-hash --profile`: 広報課 fills the official accounts' `avatar_phash` from their
avatar URLs, fetched from a local server the way discovery fetches a look-alike's."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import pytest
from aiohttp import web

from noroshi.cli import main
from sources.avatars import load_hasher
from streams.detectors.impersonation import ImpersonationConfig
from streams.detectors.impersonation_text import phash_distance
from tests.images import city_avatar, encoded, resized
from tests.peers.sources.peers import AppServer
from tests.unit.test_cli import clean_environment  # noqa: F401 - the fixture, for main()

PICTURES = {"x.png": encoded(city_avatar()), "bsky.jpg": encoded(resized(city_avatar(), 1000), "JPEG")}


async def test_avatar_hash_fills_each_account_of_the_profile_from_its_avatar_url(
        app_server: AppServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    async def picture(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        return web.Response(body=PICTURES[name]) if name in PICTURES else web.Response(status=404)

    app = web.Application()
    app.router.add_get("/{name}", picture)
    base = str((await app_server(app)).make_url("")).rstrip("/")
    profile = {"municipality": {"id": "wako", "name": "和光市"}, "accounts": [
        {"platform": "x", "handle": "wako_city_official", "name": "和光市役所", "avatar_url": f"{base}/x.png"},
        {"platform": "bluesky", "handle": "wako-city.bsky.social", "name": "和光市", "avatar_url": f"{base}/bsky.jpg"},
        {"platform": "mastodon", "handle": "wako_city", "name": "和光市", "avatar_url": f"{base}/gone.png"},
        {"platform": "line", "handle": "wako_line", "name": "和光市LINE"},
    ]}
    path = tmp_path / "wako.profile.json"
    path.write_bytes(orjson.dumps(profile))

    code = await asyncio.to_thread(main, ["avatar-hash", "--profile", str(path)])

    assert code == 1  # one picture was not found
    saved = orjson.loads(path.read_bytes())["accounts"]
    hasher = load_hasher()
    assert hasher is not None
    assert saved[0]["avatar_phash"] == hasher(PICTURES["x.png"])
    assert phash_distance(saved[1]["avatar_phash"], saved[0]["avatar_phash"]) <= ImpersonationConfig().avatar_max_distance
    assert "avatar_phash" not in saved[2] and "avatar_phash" not in saved[3]
    out, err = capsys.readouterr()
    assert f"@wako_city_official: avatar_phash = {saved[0]['avatar_phash']}" in out and "保存しました" in out
    assert f"{base}/gone.png: ハッシュを計算できません / not hashed: HTTP 404" in err
    assert "@wako_line: avatar_url がないため未計算" in err
