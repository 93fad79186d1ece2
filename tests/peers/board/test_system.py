"""The システム状態 page (issue 14, item 5) against real local HTTP peers: small aiohttp apps
standing in for the worker (/readyz, /metrics), `noroshi sources` (/readyz, /metrics) and the
watchdog (/status), serving real readiness JSON (vocabulary.health) and real Prometheus text
(prometheus_client, in its own registry), and a peer that accepts and never answers. The board is
the real app over the engine-made world; its dead letters go through the feed as the topic's
records would."""

from __future__ import annotations

import asyncio
import dataclasses
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from aiokafka.structs import ConsumerRecord
from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from structlog.testing import capture_logs

from dashboards import state as state_module
from dashboards.board import create_app
from dashboards.feed import KafkaFeed
from dashboards.state import BoardState, Heartbeat, parse_deadletter
from dashboards.users import UserStore
from streams import heartbeat
from noroshi.broker import free_port
from vocabulary.contract import profile_from_dict
from vocabulary.health import SourceView, WorkerView, sources_readiness, worker_readiness
from vocabulary.records import DeadLetter, iso
from vocabulary.settings import SourceSettings
from vocabulary.topics import TopicNames

from .conftest import SETTINGS, sign_in
from .world import PASSWORD, PROFILES, World

SCRIPT = "<script>window.pwned=1</script>"


# --- the peers ------------------------------------------------------------------------------

@dataclasses.dataclass
class Peer:
    """A local HTTP process: path → (status, body, content type); every request is counted."""

    routes: dict[str, tuple[int, bytes, str]]
    hits: list[str] = dataclasses.field(default_factory=list)
    server: TestServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return str(self.server.make_url("")).rstrip("/")

    def app(self) -> web.Application:
        async def answer(request: web.Request) -> web.Response:
            self.hits.append(request.path)
            status, body, content_type = self.routes.get(request.path, (404, b"not found", "text/plain"))
            return web.Response(status=status, body=body, headers={"Content-Type": content_type})

        app = web.Application()
        app.router.add_get("/{tail:.*}", answer)
        return app


def worker_metrics() -> bytes:
    registry = CollectorRegistry()
    lag = Gauge("noroshi_consumer_lag_messages", "lag", ["group", "topic", "partition"], registry=registry)
    lag.labels("noroshi-worker", "noroshi.mentions", "0").set(0)
    lag.labels("noroshi-worker", "noroshi.mentions", "1").set(1234)
    circuit = Gauge("noroshi_circuit_open", "circuit", ["channel"], registry=registry)
    circuit.labels("slack").set(1)
    circuit.labels("email").set(0)
    deliveries = Counter("noroshi_deliveries_total", "deliveries", ["channel", "outcome", "code"], registry=registry)
    deliveries.labels("slack", "failed", "timeout").inc(3)
    deliveries.labels("slack", "failed", "server").inc(2)
    deliveries.labels("slack", "delivered", "none").inc(10)
    deliveries.labels("email", "delivered", "none").inc(7)
    deliveries.labels("email", "possibly_sent", "timeout").inc(1)
    return generate_latest(registry)


def sources_metrics() -> bytes:
    registry = CollectorRegistry()
    connected = Gauge("noroshi_source_connected", "connected", ["source"], registry=registry)
    connected.labels("jma").set(1)
    connected.labels("mastodon").set(0)
    Gauge("noroshi_source_last_event_age_seconds", "age", ["source"], registry=registry).labels("jma").set(42)
    Gauge("noroshi_jma_last_poll_age_seconds", "poll", registry=registry).set(30)
    return generate_latest(registry)


PROM = "text/plain; version=0.0.4; charset=utf-8"
JSON = "application/json"


def worker_peer() -> Peer:
    ready = worker_readiness(WorkerView(assigned=2, rebalancing=False, recovered=True, last_activity=time.time(),
                                        lag=1234), time.time(), max_lag=1000)
    return Peer({"/readyz": (503, orjson.dumps({"process": "worker", **ready.to_dict()}), JSON),
                 "/metrics": (200, worker_metrics(), PROM)})


def sources_peer() -> Peer:
    ready = sources_readiness(True, [SourceView("jma", True, True, True), SourceView("mastodon", True, False, False)])
    return Peer({"/readyz": (503, orjson.dumps({"process": "sources", **ready.to_dict()}), JSON),
                 "/metrics": (200, sources_metrics(), PROM)})


def watchdog_status(now: float) -> dict[str, Any]:
    return {
        "process": "watchdog", "checked_at": iso(now),
        "components": [{"name": "worker", "url": "http://127.0.0.1:1", "state": "not_ready", "since": iso(now - 90),
                        "detail_ja": "未処理が多い", "detail_en": "lag"}],
        "heartbeats": [],
        "conditions": [
            {"key": "circuit_open:slack", "rule": "circuit_open", "state": "firing", "since": iso(now - 600),
             "summary_ja": "slack の回路が10分開いています", "summary_en": "slack's circuit has been open for 10 min"},
            {"key": "consumer_lag", "rule": "consumer_lag", "state": "pending", "since": iso(now - 30),
             "summary_ja": "未処理が上限を超えています", "summary_en": "consumer lag over its bound"},
        ],
        "notifications": [
            {"at": iso(now - 60), "kind": "repeat", "keys": ["circuit_open:slack"],
             "title_ja": "【狼煙 自己監視】slack の回路が開いたまま", "title_en": "[Noroshi] slack's circuit still open",
             "recipients": [{"contact": "email:koho@city.wako.example", "outcome": "delivered", "error": None},
                            {"contact": "slack:koho-oncall", "outcome": "failed", "error": "circuit_open"}]},
            {"at": iso(now - 3600), "kind": "resolved", "keys": ["heartbeat_late"],
             "title_ja": "【狼煙 自己監視】復旧: 心拍", "title_en": "[Noroshi] resolved: heartbeat",
             "recipients": [{"contact": "email:koho@city.wako.example", "outcome": "delivered", "error": None}]},
        ],
        "recipients": ["email:koho@city.wako.example", "slack:koho-oncall"],
        "unroutable": [],
    }


def watchdog_peer() -> Peer:
    return Peer({"/status": (200, orjson.dumps(watchdog_status(time.time())), JSON)})


@pytest.fixture
async def peers() -> AsyncIterator[dict[str, Peer]]:
    made = {"worker": worker_peer(), "sources": sources_peer(), "watchdog": watchdog_peer()}
    for peer in made.values():
        peer.server = TestServer(peer.app())
        await peer.server.start_server()
    yield made
    for peer in made.values():
        assert peer.server is not None
        await peer.server.close()


@pytest.fixture
async def silent() -> AsyncIterator[str]:
    """A peer that accepts connections and never answers (a frozen process): its base URL."""
    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # until the client gives up and closes
        writer.close()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.close()
    await server.wait_closed()


def nowhere() -> str:
    return f"http://127.0.0.1:{free_port()}"  # nothing listens there


# --- the board ------------------------------------------------------------------------------

def dead_letter(reason: str, raw: bytes, *, key: str | None = "wako", offset: int = 17, at: float | None = None,
                topic: str = "noroshi.mentions") -> bytes:
    return DeadLetter.of(reason=reason, topic=topic, partition=0, offset=offset, key=key, raw=raw,
                         failed_at=iso(time.time() if at is None else at)).to_json()


#: The input partition whose heartbeat each municipality's key carries (as the board works it out).
PARTITION = {m: p for p, m in heartbeat.targets(PROFILES, SETTINGS.partitions).items()}


def fill(world: World) -> None:
    """Heartbeats (one fresh, one late) and dead letters, as the feed would have read them."""
    now = time.time()
    world.feed.push_heartbeat(Heartbeat(partition=PARTITION["wako"], municipality="wako", sent_at=iso(now - 5),
                                        sent_ts=now - 5, detected_at=iso(now - 4), played_at=iso(now - 3)))
    world.feed.push_heartbeat(Heartbeat(partition=PARTITION["asaka"], municipality="asaka", sent_at=iso(now - 400),
                                        sent_ts=now - 400))
    world.feed.push_deadletter(parse_deadletter(dead_letter(
        "contract: missing field 'author'", orjson.dumps({"kind": "mention", "id": "x:1", "text": f"市長 {SCRIPT}"}),
        at=now - 10)))
    world.feed.push_deadletter(parse_deadletter(dead_letter(
        "unknown municipality key 'nerima'", b'{"kind":"mention","id":"x:2","text":"asaka secret"}', key="asaka",
        offset=18, at=now - 5)))


Make = Callable[..., Awaitable[aiohttp.ClientSession]]


@pytest.fixture
async def board(world: World, store: UserStore) -> AsyncIterator[Callable[..., Awaitable[Make]]]:
    """`await board(worker=url, sources=url, watchdog=url, timeout=s)` → a maker of signed-in clients."""
    servers: list[TestServer] = []
    sessions: list[aiohttp.ClientSession] = []

    async def start(*, worker: str, sources: str, watchdog: str, timeout: float = 2.0,
                    enabled: tuple[str, ...] = ()) -> Make:
        settings = dataclasses.replace(SETTINGS, worker_url=worker, sources_url=sources, watchdog_url=watchdog,
                                       sources=SourceSettings(enabled=enabled))
        app = create_app(settings, world.feed, users=store, system_timeout=timeout,
                         profiles={k: profile_from_dict(v) for k, v in PROFILES.items()}, outcome_wait=0.05)
        server = TestServer(app)
        await server.start_server()
        servers.append(server)

        async def make(user: str | None = None) -> aiohttp.ClientSession:
            http = aiohttp.ClientSession(base_url=str(server.make_url("/")),
                                         cookie_jar=aiohttp.CookieJar(unsafe=True))
            sessions.append(http)
            if user is not None:
                assert (await sign_in(http, user)).status == 303
            return http
        return make

    yield start
    for http in sessions:
        await http.close()
    for server in servers:
        await server.close()


def main_of(page: str) -> str:
    return page[page.index("<main"):]


def section(page: str, ident: str) -> str:
    start = page.index(f'<section id="sys-{ident}"')
    return page[start:page.index("</section>", start)]


def row_of(section_html: str, text: str) -> str:
    rows = [r for r in re.findall(r"<tr[^>]*>.*?</tr>", section_html, re.S) if text in r]
    assert len(rows) == 1, (text, section_html)
    return rows[0]


# --- the tests ------------------------------------------------------------------------------

async def test_an_admin_sees_each_component_heartbeats_lag_sources_channels_dead_letters_and_alerts(
        board: Any, peers: dict[str, Peer], world: World) -> None:
    fill(world)
    make = await board(worker=peers["worker"].url, sources=peers["sources"].url, watchdog=peers["watchdog"].url)
    admin = await make("yamamoto")
    response = await admin.get("/system")
    assert response.status == 200
    page = await response.text()
    assert '<a href="/system" aria-current="page">システム状態</a>' in page
    # The frame: 監視 indicator, the live connection and the 最新ではありません banner.
    assert 'id="watch"' in page and 'id="connection"' in page and 'id="stale-banner"' in page

    components = section(page, "components")
    assert "正常" in row_of(components, "ボード") and "正常" in row_of(components, "ブローカー")
    worker = row_of(components, "ワーカー")
    assert "準備未完了" in worker and "未処理 1,234 件（上限 1,000 件）" in worker and peers["worker"].url in worker
    assert ">見張りの判定</th>" in components and re.search(r"準備未完了（\d\d/\d\d [\d:]+から）", worker)  # its view
    sources = row_of(components, "ソース（noroshi sources）")
    assert "準備未完了" in sources and "停止しているソース: mastodon" in sources
    watchdog = row_of(components, "見張り（watchdog）")
    assert 'class="sys-ok"' in watchdog and "最終確認" in watchdog

    beats = section(page, "heartbeats")
    fresh, late = row_of(beats, ">wako<"), row_of(beats, ">asaka<")
    assert 'class="late"' in late and "6分前" in late
    assert 'class="late"' not in fresh and "5秒前" in fresh

    lag = section(page, "lag")
    assert "1,234" in row_of(lag, "noroshi.mentions</td><td data-label=\"パーティション\" class=\"\">1<")
    assert "合計 1,234 件" in lag

    src = section(page, "sources")
    assert "接続中" in row_of(src, ">jma<") and "42秒前" in row_of(src, ">jma<")
    mastodon = row_of(src, ">mastodon<")
    assert "停止" in mastodon and "切断" in mastodon and "まだイベントなし" in mastodon
    assert "気象庁フィードの最終取得: 30秒前" in src

    channels = section(page, "channels")
    slack = row_of(channels, ">slack<")
    assert "開（送信停止中）" in slack and ">10<" in slack and "5 (server 2、timeout 3)" in slack
    email = row_of(channels, ">email<")
    assert "閉（正常）" in email and ">7<" in email and ">1<" in email

    conditions = section(page, "conditions")
    assert "発報中" in row_of(conditions, "circuit_open:slack") and "保留中" in row_of(conditions, "consumer_lag")
    sent = section(page, "notifications")
    repeat = row_of(sent, "再通知")
    assert "slack の回路が開いたまま" in repeat
    assert "email:koho@city.wako.example: 配信済み\nslack:koho-oncall: 失敗 (circuit_open)" in repeat
    assert "復旧" in row_of(sent, "復旧: 心拍")
    assert sent.index("再通知") < sent.index("復旧: 心拍")  # newest first, as the watchdog lists them

    letters = section(page, "deadletters")
    assert letters.index("unknown municipality key") < letters.index("contract: missing field")  # newest first
    contract = row_of(letters, "contract: missing field")
    assert "形式違反" in contract and "noroshi.mentions #0 @17" in contract and ">wako<" in contract
    assert "&lt;script&gt;window.pwned=1&lt;/script&gt;" in contract and SCRIPT not in page  # text, never markup

    alerts = page[page.index('<ul id="system-alerts"'):page.index("</ul>", page.index('<ul id="system-alerts"'))]
    assert "ワーカーの準備ができていません" in alerts and f"パーティション {PARTITION['asaka']} (asaka)" in alerts
    assert "回路が開いているチャネル: slack" in alerts and "見張り" not in alerts

    # The same, as data, for the page's refreshes.
    data = await (await admin.get("/api/system")).json()
    assert [c["state"] for c in data["facts"]["components"]] == ["ok", "ok", "not_ready", "not_ready", "ok"]
    assert {(r["topic"], r["partition"], r["lag"]) for r in data["facts"]["lag"]} == {
        ("noroshi.mentions", 0, 0), ("noroshi.mentions", 1, 1234)}
    slack_data = next(c for c in data["facts"]["channels"] if c["channel"] == "slack")
    assert (slack_data["circuit_open"], slack_data["delivered"], slack_data["failed"]) == (True, 10, 5)
    assert [s["id"] for s in data["sections"]] == ["components", "heartbeats", "lag", "sources", "channels",
                                                  "conditions", "notifications", "deadletters"]
    assert data["facts"]["deadletters"][1]["raw"].endswith(SCRIPT + "\"}")


async def test_the_page_speaks_english_with_lang_en(board: Any, peers: dict[str, Peer], world: World) -> None:
    fill(world)
    make = await board(worker=peers["worker"].url, sources=peers["sources"].url, watchdog=nowhere())
    admin = await make("yamamoto")
    page = await (await admin.get("/system?lang=en")).text()
    assert "<h1>System</h1>" in page
    worker = row_of(section(page, "components"), "Worker")
    assert "Not ready" in worker and "consumer lag 1,234 messages, over 1,000" in worker
    assert "The watchdog does not answer" in page and "self-alerts are not being sent" in page
    assert "Contract — contract: missing field" in section(page, "deadletters")
    view = await (await admin.get("/api/system?lang=en")).json()
    assert view["lang"] == "en" and view["sections"][0]["title"] == "Components"


async def test_with_nothing_answering_the_page_says_no_answer_with_the_urls_tried_and_that_self_alerts_are_off(
        board: Any) -> None:
    worker, sources, watchdog = nowhere(), nowhere(), nowhere()
    make = await board(worker=worker, sources=sources, watchdog=watchdog)
    admin = await make("yamamoto")
    response = await admin.get("/system")
    assert response.status == 200
    page = await response.text()
    components = section(page, "components")
    row = row_of(components, "ワーカー")
    assert "応答なし" in row and "接続できません" in row and f"{worker}/readyz" in row
    # No source is set up and nothing answers: a normal state, not a failure.
    assert "未設定" in row_of(components, "ソース（noroshi sources）")
    dog = row_of(components, "見張り（watchdog）")
    assert 'class="sys-down"' in dog and "自己監視の通知は送られていません" in dog and f"{watchdog}/status" in dog
    assert f"見張り（watchdog）が応答しません（{watchdog}/status）。Noroshi 自身の異常を知らせる通知（自己監視）は今、送られません。" \
        in page[page.index('<ul id="system-alerts"'):]
    assert f"ワーカーから読めないため分かりません（{worker}/metrics）" in section(page, "lag")
    assert "ソースは設定されていません" in section(page, "sources")
    assert "自己監視の通知は送られていません" in section(page, "notifications")


async def test_sources_that_should_run_but_do_not_answer_are_shown_as_no_answer(board: Any) -> None:
    sources = nowhere()
    make = await board(worker=nowhere(), sources=sources, watchdog=nowhere(), enabled=("hooks",))
    page = await (await (await make("yamamoto")).get("/system")).text()
    row = row_of(section(page, "components"), "ソース（noroshi sources）")
    assert "応答なし" in row and f"{sources}/readyz" in row
    assert f"ソース（noroshi sources）から読めないため分かりません（{sources}/readyz）" in section(page, "sources")


async def test_a_process_that_never_answers_is_shown_as_no_answer_once_its_time_is_up(
        board: Any, peers: dict[str, Peer], silent: str) -> None:
    make = await board(worker=silent, sources=peers["sources"].url, watchdog=silent, timeout=0.5)
    admin = await make("yamamoto")
    async with asyncio.timeout(15):  # a guard against hanging, not a measurement
        response = await admin.get("/system")
    assert response.status == 200
    components = section(await response.text(), "components")
    assert "0.5 秒以内に応答がありません" in row_of(components, "ワーカー")
    assert "0.5 秒以内に応答がありません" in row_of(components, "見張り（watchdog）")
    assert "準備未完了" in row_of(components, "ソース（noroshi sources）")  # the others are still read


async def test_metrics_that_cannot_be_read_leave_lag_and_channels_unknown_but_the_page_up(
        board: Any, peers: dict[str, Peer]) -> None:
    peers["worker"].routes["/metrics"] = (200, b"noroshi_consumer_lag_messages{group=\"g\" this is not prometheus\n", PROM)
    make = await board(worker=peers["worker"].url, sources=peers["sources"].url, watchdog=peers["watchdog"].url)
    admin = await make("yamamoto")
    with capture_logs() as logs:
        for _ in range(3):
            page = await (await admin.get("/system")).text()
    unreadable = [e for e in logs if e["event"] == "system_metrics_unreadable"]
    assert len(unreadable) == 1 and unreadable[0]["url"] == peers["worker"].url + "/metrics"  # once, not per refresh
    assert "ワーカーから読めないため分かりません" in section(page, "lag")
    assert "ワーカーから読めないため分かりません" in section(page, "channels")
    assert "準備未完了" in row_of(section(page, "components"), "ワーカー")


async def test_only_admins_reach_the_system_page_and_its_data(board: Any, peers: dict[str, Peer]) -> None:
    make = await board(worker=peers["worker"].url, sources=peers["sources"].url, watchdog=peers["watchdog"].url)
    for name in ("viewer", "sato", "tanaka", "asaka-op"):
        http = await make(name)
        assert 'href="/system"' not in await (await http.get("/")).text()
        response = await http.get("/system")
        assert response.status == 403 and "この操作の権限がありません" in await response.text()
        assert (await http.get("/api/system")).status == 403
    anonymous = await make()
    assert (await anonymous.get("/system", allow_redirects=False)).headers["Location"] == "/login"
    assert (await anonymous.get("/api/system")).status == 401
    # A refusal asks nothing of the other processes.
    assert not any(peer.hits for peer in peers.values())
    admin = await make("yamamoto")
    assert 'href="/system"' in await (await admin.get("/")).text()
    assert (await admin.get("/api/system")).status == 200
    assert peers["watchdog"].hits == ["/status"] and sorted(peers["worker"].hits) == ["/metrics", "/readyz"]


async def test_raw_content_goes_only_to_admins_who_may_see_its_municipality(
        board: Any, store: UserStore, world: World) -> None:
    fill(world)
    store.add("wako-admin", role="admin", municipality="wako", password=PASSWORD, display_name="和光 管理")
    make = await board(worker=nowhere(), sources=nowhere(), watchdog=nowhere())
    everyone = {d["reason"][:7]: d for d in (await (await (await make("yamamoto")).get("/api/system")).json())[
        "facts"]["deadletters"]}
    assert "raw" in everyone["contrac"] and everyone["unknown"]["raw"] == '{"kind":"mention","id":"x:2","text":"asaka secret"}'
    local = await make("wako-admin")
    data = await (await local.get("/api/system")).json()
    by_reason = {d["reason"][:7]: d for d in data["facts"]["deadletters"]}
    assert "raw" in by_reason["contrac"] and "raw" not in by_reason["unknown"]
    page = await (await local.get("/system")).text()
    assert "asaka secret" not in page and "（内容は管理者のみ表示）" in row_of(section(page, "deadletters"), "unknown")


# --- the dead letters the board keeps -------------------------------------------------------

def test_the_board_keeps_the_newest_fifty_dead_letters_each_clipped() -> None:
    state, now = BoardState(), time.time()
    for n in range(120):
        state.add_deadletter(parse_deadletter(dead_letter(f"contract: bad {n}", b"x" * 300_000, offset=n,
                                                          at=now - 1000 + n)))
    kept = state.deadletters()
    assert len(kept) == state_module.MAX_DEADLETTERS == 50 and state.sizes()["deadletters"] == 50
    assert [d.offset for d in kept] == list(range(119, 69, -1))  # the newest, newest first
    assert all(len(d.raw) == state_module.DEADLETTER_TEXT_CHARS and d.clipped and d.size == 300_000 for d in kept)
    # An older one read later does not push a newer one out.
    assert state.add_deadletter(parse_deadletter(dead_letter("contract: old", b"{}", offset=999, at=now - 5000))) is False
    assert min(d.offset for d in state.deadletters()) == 70


def test_a_dead_letter_read_again_is_kept_once_and_names_its_municipality_when_known() -> None:
    state, at = BoardState(), time.time()
    letter = dead_letter("bad playbook input: x", orjson.dumps({"incident_id": "i", "municipality": "asaka"}),
                         key="asaka-flame-1:cmd", topic="noroshi.commands", at=at)
    assert state.add_deadletter(parse_deadletter(letter)) is True
    assert state.add_deadletter(parse_deadletter(letter)) is False  # the feed re-reads from the beginning
    assert [d.municipality for d in state.deadletters()] == ["asaka"]  # from its content
    keyed = parse_deadletter(dead_letter("contract: y", b"not json", key="wako"))
    assert keyed.municipality == "wako" and keyed.raw == "not json" and not keyed.clipped
    assert parse_deadletter(dead_letter("contract: z", b"\xff\xfe", key="heartbeat:1")).municipality == ""


def test_the_feed_keeps_dead_letters_from_the_topic_and_skips_a_broken_one() -> None:
    names = TopicNames("noroshi")
    feed = KafkaFeed("127.0.0.1:1", names)

    def record(offset: int, value: bytes) -> ConsumerRecord:
        return ConsumerRecord(topic=names.deadletters, partition=0, offset=offset, timestamp=0, timestamp_type=0,
                              key=None, value=value, checksum=None, serialized_key_size=0,
                              serialized_value_size=len(value), headers=[])

    feed.handle(record(0, dead_letter("contract: missing id", b'{"kind":"mention"}')))
    feed.handle(record(1, b"not a dead letter"))  # logged and skipped, as any record the board cannot read
    feed.handle(record(2, dead_letter("broker_log_lost: noroshi.mentions 0 ended at 3", b"", key=None)))
    assert sorted(d.reason.split(":")[0] for d in feed.state.deadletters()) == ["broker_log_lost", "contract"]
    assert [n.kind for n in feed.state.notices.values()] == ["broker_log_lost"]  # still a banner too


async def test_a_large_metrics_answer_is_read_whole(board: Any, peers: dict[str, Peer]) -> None:
    registry = CollectorRegistry()
    lag = Gauge("noroshi_consumer_lag_messages", "lag", ["group", "topic", "partition"], registry=registry)
    for n in range(3000):
        lag.labels("noroshi-worker", "noroshi.mentions", str(n)).set(n % 7)
    text = generate_latest(registry)
    assert len(text) > 200_000  # many reads' worth on the socket
    peers["worker"].routes["/metrics"] = (200, text, PROM)
    make = await board(worker=peers["worker"].url, sources=peers["sources"].url, watchdog=peers["watchdog"].url)
    data = await (await (await make("yamamoto")).get("/api/system")).json()
    assert len(data["facts"]["lag"]) == 3000
    assert sum(r["lag"] for r in data["facts"]["lag"]) == sum(n % 7 for n in range(3000))


async def test_a_component_that_stops_answering_is_logged_once_and_its_return_once(
        board: Any, peers: dict[str, Peer]) -> None:
    make = await board(worker=peers["worker"].url, sources=peers["sources"].url, watchdog=peers["watchdog"].url)
    admin = await make("yamamoto")
    with capture_logs() as logs:
        peers["watchdog"].routes.pop("/status")  # answers 404 now: not a watchdog's status
        for _ in range(3):
            assert (await admin.get("/api/system")).status == 200
        peers["watchdog"].routes["/status"] = (200, orjson.dumps(watchdog_status(time.time())), JSON)
        for _ in range(2):
            assert (await admin.get("/system")).status == 200
    events = [(e["event"], e["component"]) for e in logs if e["event"].startswith("system_component")]
    assert events.count(("system_component_unhealthy", "watchdog")) == 1
    assert events.count(("system_component_recovered", "watchdog")) == 1
    assert events.count(("system_component_unhealthy", "worker")) == 1  # not ready the whole time: told once
    down = next(e for e in logs if e["event"] == "system_component_unhealthy" and e["component"] == "watchdog")
    assert down["detail"].startswith("answered HTTP 404") and down["url"].endswith("/status")


async def test_answers_of_an_unexpected_shape_are_passed_over_not_an_error_page(
        board: Any, peers: dict[str, Peer]) -> None:
    odd = {"process": "watchdog", "checked_at": 7, "components": {"worker": "ok"}, "conditions": 5,
           "notifications": ["x", {"kind": "alert", "title_ja": ["?"], "recipients": "nope"}]}
    peers["watchdog"].routes["/status"] = (200, orjson.dumps(odd), JSON)
    peers["worker"].routes["/readyz"] = (503, b'{"ready": false, "checks": "all bad"}', JSON)
    registry = CollectorRegistry()
    Gauge("noroshi_consumer_lag_messages", "lag", ["group", "topic", "partition"], registry=registry).labels(
        "g", "noroshi.mentions", "0").set(float("nan"))
    peers["worker"].routes["/metrics"] = (200, generate_latest(registry), PROM)
    make = await board(worker=peers["worker"].url, sources=peers["sources"].url, watchdog=peers["watchdog"].url)
    response = await (await make("yamamoto")).get("/system")
    assert response.status == 200
    page = await response.text()
    assert "準備未完了" in row_of(section(page, "components"), "ワーカー")
    assert "異常はありません" in section(page, "conditions") and "送信中…" in section(page, "notifications")
    assert "割り当てられたパーティションはまだありません" in section(page, "lag")  # NaN: nothing to say


async def test_a_watchdog_with_nobody_to_tell_is_an_alert_at_the_top_of_the_page(
        board: Any, peers: dict[str, Peer]) -> None:
    make = await board(worker=peers["worker"].url, sources=peers["sources"].url, watchdog=peers["watchdog"].url)
    admin = await make("yamamoto")
    first = re.search(r'<ul id="system-alerts"[^>]*>(.*?)</ul>', await (await admin.get("/system")).text(), re.S)
    assert first is not None and "通知先" not in first.group(1)  # the usual watchdog reaches 広報課

    status = {**watchdog_status(time.time()), "recipients": [],
              "unroutable": [{"contact": "teams:koho", "error": "NOROSHI_TEAMS_WEBHOOK is not set"}]}
    peers["watchdog"].routes["/status"] = (200, orjson.dumps(status), JSON)
    alerts = re.search(r'<ul id="system-alerts"[^>]*>(.*?)</ul>', await (await admin.get("/system")).text(), re.S)
    assert alerts is not None
    assert "見張り（watchdog）の通知先がありません" in alerts.group(1)
    assert "設定された送信手段で届かないもの: teams:koho" in alerts.group(1)
    english = await (await admin.get("/system?lang=en")).text()
    assert "The watchdog has nobody to tell" in english and "teams:koho" in english
