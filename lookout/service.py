"""The watchdog process (`noroshi watchdog`): every NOROSHI_WATCHDOG_INTERVAL seconds one round of
checks (lookout/probes.py), the rules (lookout/rules.py) and the notifier (lookout/alerts.py), the
book and the notifications saved in SQLite (lookout/store.py) before they are sent
(lookout/notify.py); and its HTTP server on NOROSHI_HTTP_HOST:NOROSHI_WATCHDOG_HTTP_PORT:
GET /healthz, /readyz, /metrics, /status (what the board's システム状態 page reads), and
POST /report, by which `noroshi run` says that one of its children died (loopback only).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import signal
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import aiohttp
import orjson
import structlog
from aiohttp import web

from lookout.alerts import Book, Notification, iso, step
from lookout.notify import Sender, recipients
from lookout.probes import HeartbeatReader, fetch_metrics, probe_broker, probe_http, source_metrics, worker_metrics
from lookout.rules import COMPONENTS, RULES, Assessment, Round, Watch
from lookout.store import Store
from responders.config import build_channels
from responders.reliability import RetryPolicy
from vocabulary.metrics import WATCHDOG_CHECK_FAILURES, WATCHDOG_CONDITIONS_FIRING, exposition
from vocabulary.settings import Settings
from vocabulary.topics import TopicNames

log = structlog.get_logger(__name__)

#: A probe waits at most this long (and never longer than the interval).
PROBE_TIMEOUT_S = 5.0
#: The log event of each kind of notification made.
LOGGED = {"alert": "watchdog_alerted", "repeat": "watchdog_reminded", "resolved": "watchdog_resolved"}
#: POST /report answers once the alert is sent, or after this long (`noroshi run` waits for it).
REPORT_WAIT_S = 14.0


def partitions_in_use(municipalities: list[str], partitions: int) -> dict[int, str]:
    """The input partitions the worker's heartbeat goes through (as streams/heartbeat.py picks them)."""
    from aiokafka.partitioner import murmur2

    chosen: dict[int, str] = {}
    for muni in sorted(municipalities):
        chosen.setdefault((murmur2(muni.encode("utf-8")) & 0x7FFFFFFF) % partitions, muni)
    return chosen


class Watchdog:
    def __init__(self, settings: Settings, profiles: Mapping[str, Mapping[str, Any]], *,
                 sender: Sender | None = None) -> None:
        self.settings, self.config = settings, settings.watchdog
        self.store = Store(settings.data_dir)
        self.book: Book = self.store.book()
        self.started_at = time.time()
        # `noroshi sources` is watched from the start where it is configured, elsewhere once it answered.
        self.watch = Watch(self.config, heartbeat_late_s=settings.heartbeat_late_s, started_at=self.started_at,
                           optional=frozenset() if settings.sources.enabled else frozenset({"sources"}))
        if sender is None:
            to = recipients(profiles, self.config.contacts)
            sender = Sender(build_channels(settings.responders, settings.data_dir), to, board_url=settings.board_url,
                            policy=RetryPolicy(attempts=settings.responders.retry_attempts))
        self.sender = sender
        self.expected = partitions_in_use(list(profiles), settings.partitions)
        self.heartbeats = HeartbeatReader(settings.broker_servers, TopicNames(settings.topic_prefix).heartbeats)
        self.timeout = min(PROBE_TIMEOUT_S, self.config.interval_s)
        self.assessment: Assessment | None = None
        self.checked_at: float | None = None
        self.outbox: asyncio.Queue[Notification] = asyncio.Queue()
        self.wake = asyncio.Event()
        self.sending: set[int] = set()
        self.waiting: dict[str, list[asyncio.Future[list[dict[str, Any]]]]] = {}  # key → who waits for its alert

    # --- one round -------------------------------------------------------------------------------

    async def check(self, session: aiohttp.ClientSession) -> list[Notification]:
        s, t = self.settings, self.timeout
        sources_url = s.sources_url
        (worker, _), (sources, _), (board, _), broker, worker_text, sources_text = await asyncio.gather(
            probe_http(session, "worker", s.worker_url, "/readyz", t),
            probe_http(session, "sources", sources_url, "/readyz", t),
            probe_http(session, "board", s.board_internal_url, "/healthz", t),
            probe_broker(s.broker_servers, t),
            fetch_metrics(session, s.worker_url, t),
            fetch_metrics(session, sources_url, t))
        now = time.time()
        seen = self.watch.assess(Round(
            now=now, probes=(worker, sources, board, broker), beats=dict(self.heartbeats.beats),
            expected_partitions=self.expected,
            worker=worker_metrics(worker_text) if worker_text is not None else None,
            sources=source_metrics(sources_text) if sources_text is not None else None))
        if now - self.started_at < self.config.grace_s:  # nothing ends for lack of a first answer
            seen = replace(seen, undetermined=frozenset(RULES))
        made = step(self.book, seen, now, group_wait_s=self.config.group_wait_s, repeat_s=self.config.repeat_s)
        self.store.save(self.book, made)
        self.assessment, self.checked_at = seen, now
        firing = [c.rule for c in self.book.firing()]
        for rule in RULES:
            WATCHDOG_CONDITIONS_FIRING.labels(rule).set(firing.count(rule))
        for n in made:
            log.warning(LOGGED[n.kind], number=n.number, keys=list(n.keys), title=n.title_ja,
                        title_en=n.title_en)
            self.outbox.put_nowait(n)
        return made

    def report_exit(self, name: str, how: str) -> asyncio.Future[list[dict[str, Any]]]:
        """`noroshi run` saw `name` die: it is alerted at once (no for-duration, no group wait); the
        future ends with the recipients' outcomes once the alert has been sent."""
        waiter: asyncio.Future[list[dict[str, Any]]] = asyncio.get_running_loop().create_future()
        key = "broker_unreachable" if name == "broker" else f"component_down:{name}"
        condition = self.book.conditions.get(key)
        if condition is not None and condition.told:
            waiter.set_result([])  # told already
        else:
            self.waiting.setdefault(key, []).append(waiter)
        self.watch.report_exit(name, how, time.time())
        self.wake.set()
        return waiter

    # --- the loops -------------------------------------------------------------------------------

    async def run_checks(self) -> None:
        async with aiohttp.ClientSession() as session:
            while True:
                self.wake.clear()
                try:
                    await self.check(session)
                except Exception:  # noqa: BLE001 - a bug must not end the watching: counted, logged, next round
                    WATCHDOG_CHECK_FAILURES.inc()
                    log.exception("watchdog_check_failed")
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.config.interval_s):
                        await self.wake.wait()

    async def run_sends(self) -> None:
        for n in self.store.unsent():  # made before a restart, not sent: sent now with the same keys
            self.outbox.put_nowait(n)
        while True:
            n = await self.outbox.get()
            self.sending.add(n.number)
            try:
                outcomes = await self.sender.send(n)
                self.store.sent(n.number, outcomes, time.time())
                for key in n.keys:
                    for waiter in self.waiting.pop(key, []):
                        if not waiter.done():
                            waiter.set_result(outcomes)
            finally:
                self.sending.discard(n.number)

    # --- what it shows ---------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        now = time.time()
        states = {c.name: c for c in (self.assessment.components if self.assessment else ())}
        components = []
        for name in COMPONENTS:
            c = states.get(name)
            components.append({
                "name": name, "url": c.url if c else None, "state": c.state if c else "unknown",
                "since": iso(c.since) if c and c.since else None,
                "detail_ja": c.detail_ja if c else "まだ確認していません", "detail_en": c.detail_en if c else "not checked yet"})
        beats = [{"partition": b.partition, "municipality": b.municipality, "sent_at": iso(b.sent_at),
                  "age_s": round(max(0.0, now - b.sent_at), 1)} for b in sorted(self.heartbeats.beats.values(),
                                                                               key=lambda b: b.partition)]
        conditions = sorted(self.book.conditions.values(), key=lambda c: (c.state != "firing", c.since, c.key))
        return {"process": "watchdog", "checked_at": iso(self.checked_at or now), "components": components,
                "heartbeats": beats, "conditions": [c.status() for c in conditions],
                "notifications": self.store.listed(),
                # Who an alert would reach, and the contacts no configured channel can: an empty list
                # means self-alerts reach nobody, which the board's システム状態 page says in red.
                "recipients": [r.contact for r in self.sender.to],
                "unroutable": [{"contact": c, "error": e} for c, e in self.sender.unroutable()]}

    def ready(self) -> bool:
        return self.checked_at is not None and time.time() - self.checked_at <= 3 * self.config.interval_s + self.timeout


def create_app(dog: Watchdog) -> web.Application:
    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"alive": True, "process": "watchdog"})

    async def readyz(request: web.Request) -> web.Response:
        ready = dog.ready()
        checks = [{"name": "checking", "ok": ready,
                   "ja": "" if ready else "監視の確認がまだ一度も終わっていないか、止まっています",
                   "en": "" if ready else "no round of checks finished recently"}]
        return web.Response(body=orjson.dumps({"process": "watchdog", "ready": ready,
                                               "failing": [] if ready else ["checking"], "checks": checks}),
                            status=200 if ready else 503, content_type="application/json")

    async def metrics(request: web.Request) -> web.Response:
        body, content_type = exposition()
        return web.Response(body=body, headers={"Content-Type": content_type})

    async def status(request: web.Request) -> web.Response:
        return web.Response(body=orjson.dumps(dog.status()), content_type="application/json")

    async def report(request: web.Request) -> web.Response:
        try:
            loopback = ipaddress.ip_address(request.remote or "").is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            return web.json_response({"error": "loopback only"}, status=403)
        try:
            body = await request.json()
            name, how = str(body["process"]), str(body.get("how") or "?")[:80]
        except (ValueError, KeyError, TypeError):
            return web.json_response({"error": "expected {\"process\": NAME, \"how\": TEXT}"}, status=400)
        if name not in COMPONENTS:
            return web.json_response({"error": f"unknown process {name!r}"}, status=400)
        log.warning("watchdog_exit_reported", process=name, how=how)
        try:
            async with asyncio.timeout(REPORT_WAIT_S):
                outcomes = await dog.report_exit(name, how)
        except TimeoutError:
            return web.json_response({"reported": name, "notified": None}, status=202)
        return web.json_response({"reported": name, "notified": outcomes})

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/status", status)
    app.router.add_post("/report", report)
    return app


async def run_watchdog(settings: Settings, profiles: Mapping[str, Mapping[str, Any]]) -> int:
    dog = Watchdog(settings, profiles)
    if not dog.sender.to:
        log.warning("watchdog_no_recipients",
                  message="監視の通知先がありません（当番・広報課の連絡手段か NOROSHI_WATCHDOG_CONTACTS を設定してください） / "
                          "the watchdog has nobody to tell: give the roster's operators or 広報課 a channel, "
                          "or set NOROSHI_WATCHDOG_CONTACTS")
    for contact, error in dog.sender.unroutable():
        log.warning("watchdog_contact_unreachable", contact=contact, error=error)
    runner = web.AppRunner(create_app(dog), access_log=None)
    await runner.setup()
    host, port = settings.http_host, settings.watchdog_http_port
    await web.TCPSite(runner, host, port).start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    dog.heartbeats.start()
    tasks = [asyncio.create_task(dog.run_checks(), name="watchdog-checks"),
             asyncio.create_task(dog.run_sends(), name="watchdog-sends")]
    log.info("watchdog_started", host=host, port=port, recipients=[r.contact for r in dog.sender.to],
             interval_s=dog.config.interval_s, paths=["/healthz", "/readyz", "/metrics", "/status"])
    try:
        await stop.wait()
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await dog.heartbeats.stop()
        await runner.cleanup()
        dog.store.close()
        log.info("watchdog_stopped")
    return 0
