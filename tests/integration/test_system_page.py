"""The システム状態 page through real processes: a Tansu broker, `noroshi worker` (heartbeat every
second) and `noroshi board`, with no watchdog and no `noroshi sources` running. An admin sees the
worker ready with its real consumer lag and channels from its /metrics, each partition's heartbeat
with its hop times, a message the worker dead-lettered with its reason and content, the sources
as 未設定, and — loudly — that the watchdog does not answer, so self-alerts are not being sent.
The worker killed, the page says 応答なし for it at the URL tried, never an error page. Anyone but
an admin gets 403. Then with a real `noroshi watchdog` and a webhook peer for the on-call chat: the
worker frozen, the page shows the watchdog's firing condition and whom it told, and 復旧 after."""

from __future__ import annotations

import asyncio
import json
import re
import signal
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from dashboards.users import UserStore
from noroshi.broker import EmbeddedBroker, free_port
from streams import heartbeat
from tests.peers.board.world import FAST_HASHER
from vocabulary.settings import Settings
from vocabulary.topics import TopicNames

from .board_client import sign_in, start_board
from .conftest import PARTITIONS, SAMPLE_PROFILE, produce
from .watchdog_peer import SECRET, Peer, serving

pytestmark = pytest.mark.integration

PASSWORD = "sakura-2025-board"
WAKO_PARTITION = heartbeat.partition_for("wako", PARTITIONS)
BROKEN = {"kind": "mention", "id": "x:broken-1", "text": "壊れた投稿 <b>太字</b>"}  # no author, no ts: a contract violation


async def system(http: aiohttp.ClientSession, base: str, lang: str = "ja") -> dict[str, Any]:
    async with http.get(f"{base}/api/system?lang={lang}") as response:
        assert response.status == 200, await response.text()
        return await response.json()


async def until(http: aiohttp.ClientSession, base: str, done: Any, what: str, timeout: float = 60) -> dict[str, Any]:
    """Ask /api/system until `done(data)`; a bound against hanging, not a measurement."""
    data: dict[str, Any] = {}
    try:
        async with asyncio.timeout(timeout):
            while True:
                data = await system(http, base)
                if done(data):
                    return data
                await asyncio.sleep(0.5)
    except TimeoutError:
        raise AssertionError(f"never: {what}\n{orjson.dumps(data['facts'] if data else {}).decode()}") from None


def component(data: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in data["facts"]["components"] if c["name"] == name)


async def test_an_admin_sees_the_real_worker_heartbeats_dead_letters_and_that_no_watchdog_answers(
        broker: EmbeddedBroker, spawn: Any, env: dict[str, str], names: TopicNames) -> None:
    settings = Settings.from_env(env)
    users = UserStore(settings.users_file, hasher=FAST_HASHER)
    users.add("yamamoto", role="admin", municipality="*", password=PASSWORD, display_name="山本 広報課")
    users.add("sato", role="operator", municipality="wako", password=PASSWORD, display_name="佐藤 一郎")
    watchdog = f"http://127.0.0.1:{free_port()}"  # no watchdog runs: nothing listens there
    worker = spawn("worker", extra_env={"NOROSHI_HEARTBEAT_INTERVAL": "1"})
    _, base = await start_board(spawn, NOROSHI_WATCHDOG_URL=watchdog)
    await produce(broker.servers, [(names.mentions, b"wako", orjson.dumps(BROKEN))])

    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http, \
            aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as operator:
        assert (await sign_in(operator, base, "sato", PASSWORD)).status == 303
        assert (await operator.get(base + "/system")).status == 403
        assert (await operator.get(base + "/api/system")).status == 403
        assert 'href="/system"' not in await (await operator.get(base + "/")).text()

        assert (await sign_in(http, base, "yamamoto", PASSWORD)).status == 303
        data = await until(http, base, lambda d: component(d, "worker")["state"] == "ok"
                           and d["facts"]["lag"] and d["facts"]["deadletters"]
                           and any(h["partition"] == WAKO_PARTITION and h["played_at"] for h in d["facts"]["heartbeats"]),
                           "the worker ready, its lag, a heartbeat and the dead letter")

        facts = data["facts"]
        assert [c["state"] for c in facts["components"]] == ["ok", "ok", "ok", "off", "down"]
        assert component(data, "worker")["url"] == f"{settings.worker_url}/readyz"
        assert {r["topic"] for r in facts["lag"]} >= {names.mentions, names.accounts}
        assert all(isinstance(r["lag"], int) and r["lag"] >= 0 for r in facts["lag"])
        assert facts["channels"] is not None  # read from the worker's /metrics (no delivery yet: none listed)
        beat = next(h for h in facts["heartbeats"] if h["partition"] == WAKO_PARTITION)
        assert beat["municipality"] == "wako" and not beat["late"]
        assert beat["sent_at"] <= beat["detected_at"] <= beat["played_at"]
        letter = facts["deadletters"][0]
        assert letter["word"] == "contract" and letter["reason"].startswith("contract:")
        assert (letter["topic"], letter["municipality"]) == (names.mentions, "wako")
        assert letter["raw"] == orjson.dumps(BROKEN).decode() and letter["size"] == len(orjson.dumps(BROKEN))

        page = await (await http.get(base + "/system")).text()
        assert "壊れた投稿 &lt;b&gt;太字&lt;/b&gt;" in page and "<b>太字</b>" not in page
        assert f"見張り（watchdog）が応答しません（{watchdog}/status）" in page
        assert "自己監視の通知は送られていません" in page
        assert "ソースは設定されていません（NOROSHI_SOURCES が空です）" in page
        assert re.search(r'<tr class="sys-ok"><td[^>]*>ワーカー</td><td[^>]*>正常</td><td[^>]*>準備完了</td>', page)

        # The worker is killed: the page still comes, and says so at the URL it tried.
        worker.kill()
        data = await until(http, base, lambda d: component(d, "worker")["state"] == "down", "the worker down")
        assert data["facts"]["lag"] is None and data["facts"]["channels"] is None
        response = await http.get(base + "/system")
        assert response.status == 200
        page = await response.text()
        row = re.search(r'<tr class="sys-down"><td[^>]*>ワーカー</td>.*?</tr>', page)
        assert row is not None and "応答なし" in row.group(0) and f"{settings.worker_url}/readyz" in row.group(0)
        assert "ワーカーが応答しません。" in page
        english = await system(http, base, "en")
        assert "The watchdog does not answer" in " ".join(english["alerts"])


def watched_env(tmp_path: Path, peer: Peer) -> dict[str, str]:
    """The sample profile with an on-call operator reached through the peer's webhook, and the
    watchdog's thresholds lowered (a round every second, down after 2 s) so that the test waits
    seconds: as in test_watchdog.py."""
    profile = json.loads(SAMPLE_PROFILE.read_text(encoding="utf-8"))
    profile["roster"] = {"contacts": [{"name": "当番 佐藤", "role": "operator", "channels": ["webhook:ops"]}]}
    path = tmp_path / "wako.profile.json"
    path.write_text(json.dumps(profile, ensure_ascii=False), encoding="utf-8")
    return {"NOROSHI_WATCHDOG_INTERVAL": "1", "NOROSHI_WATCHDOG_GRACE": "8", "NOROSHI_WATCHDOG_DOWN_FOR": "2",
            "NOROSHI_WATCHDOG_GROUP_WAIT": "1", "NOROSHI_HEARTBEAT_INTERVAL": "1", "NOROSHI_HEARTBEAT_LATE": "5",
            "NOROSHI_RETRY_ATTEMPTS": "2", "NOROSHI_PROFILES": str(path), "NOROSHI_WEBHOOK_URL": peer.url + "/hook",
            "NOROSHI_WEBHOOK_SECRET": SECRET, "NOROSHI_WATCHDOG_HTTP_PORT": str(free_port())}


async def test_the_page_shows_what_the_real_watchdog_sees_and_whom_it_told(
        spawn: Any, env: dict[str, str], tmp_path: Path) -> None:
    users = UserStore(Settings.from_env(env).users_file, hasher=FAST_HASHER)
    users.add("yamamoto", role="admin", municipality="*", password=PASSWORD, display_name="山本 広報課")
    peer: Peer
    async with serving() as peer:
        extra = watched_env(tmp_path, peer)  # the on-call chat is the peer's webhook; fast watchdog rounds
        worker = spawn("worker", extra_env=extra)
        _, base = await start_board(spawn, **extra)  # its watchdog_url: NOROSHI_WATCHDOG_HTTP_PORT
        spawn("watchdog", extra_env={**extra, "NOROSHI_BOARD_INTERNAL_URL": base})
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            assert (await sign_in(http, base, "yamamoto", PASSWORD)).status == 303
            data = await until(http, base, lambda d: component(d, "watchdog")["state"] == "ok"
                               and component(d, "worker")["state"] == "ok", "the watchdog and the worker answering",
                               timeout=90)
            assert not any("self" in a or "自己監視" in a for a in data["alerts"])

            assert worker.proc is not None
            worker.proc.send_signal(signal.SIGSTOP)
            try:
                data = await until(http, base, lambda d: any(
                    "component_down:worker" in n["keys"] and n["recipients"]
                    for n in (d["facts"]["watchdog"] or {}).get("notifications", ())), "the watchdog's alert", timeout=60)
                assert component(data, "worker")["state"] == "down"  # frozen: no answer within the timeout
                assert "秒以内に応答がありません" in component(data, "worker")["detail_ja"]
                page = await (await http.get(base + "/system")).text()
            finally:
                worker.proc.send_signal(signal.SIGCONT)
            told = re.search(r'<tr class="kind-alert"><td[^>]*>[^<]*</td><td[^>]*>通知</td><td[^>]*>([^<]*)</td>'
                             r'<td[^>]*>([^<]*)</td></tr>', page)
            assert told is not None, page[page.index('id="sys-notifications"'):]
            assert told.group(1).startswith("【狼煙 監視】") and told.group(2) == "webhook:ops: 配信済み"
            conditions = page[page.index('id="sys-conditions"'):page.index('id="sys-notifications"')]
            assert "component_down:worker" in conditions and "発報中" in conditions

            data = await until(http, base, lambda d: any(
                n["kind"] == "resolved" and "component_down:worker" in n["keys"] and n["recipients"]
                for n in d["facts"]["watchdog"]["notifications"]), "the watchdog's 復旧", timeout=90)
            kinds = [n["kind"] for n in data["facts"]["watchdog"]["notifications"]
                     if "component_down:worker" in n["keys"]]
            # Newest first: the 復旧 on top, the alert below it (a grouped alert may name the worker again).
            assert kinds[0] == "resolved" and kinds.count("resolved") == 1 and kinds[-1] == "alert"
            page = await (await http.get(base + "/system")).text()
            assert re.search(r'<td[^>]*>復旧</td>', page)
