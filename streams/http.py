"""The worker's own small HTTP server: GET /healthz (the process is alive), /readyz (it consumes its
partitions and keeps up, `vocabulary.health.worker_readiness`) and /metrics (Prometheus text).

It runs in the worker process as a `mode.Service` handed to `faust.Worker` before the app, so it
answers while the app still joins its group and recovers its tables (Faust's own web server stays
disabled: see the platform notes). Every few seconds it samples the consumer: the lag of each
assigned partition (the high watermark of the last fetch − the group's committed offset; on Tansu
the fetch's high watermark is right where ListOffsets is not, see streams/tansu.py) and the time
of the last fetch.
"""

from __future__ import annotations

import time
from typing import Any

import faust
import structlog
from aiohttp import web
from mode import Service

from vocabulary.health import CONSUMING_WITHIN_S, Readiness, WorkerView, worker_readiness
from vocabulary.metrics import CONSUMER_LAG, on_scrape
from vocabulary.serving import health_app, serve
from vocabulary.settings import Settings

log = structlog.get_logger(__name__)

SAMPLE_EVERY_S = 5.0


class ConsumerWatch:
    """What the worker's consumer is doing, read from Faust and aiokafka without disturbing them."""

    def __init__(self, app: faust.App) -> None:
        self.app = app
        self._labels: set[tuple[str, str, str]] = set()
        self.view = WorkerView(assigned=0, rebalancing=False, recovered=False, last_activity=None, lag=None)

    def _aiokafka(self) -> Any:
        """The aiokafka consumer inside Faust's consumer thread, or None before it started."""
        consumer = getattr(self.app, "_consumer", None)
        thread = getattr(consumer, "_thread", None)
        return getattr(thread, "_consumer", None)

    def sample(self) -> WorkerView:
        app, aio = self.app, self._aiokafka()
        if aio is None:
            self.view = WorkerView(0, False, False, None, None)
            return self.view
        changelogs = app.tables.changelog_topics
        assigned = [tp for tp in aio.assignment() if tp.topic not in changelogs]
        committed = app.consumer._committed_offset  # Faust's: the next offset to read, per partition
        group, labels, total, known, polled = app.conf.id, set(), 0, True, []
        for tp in assigned:
            try:
                end, last_poll = aio.highwater(tp), aio.last_poll_timestamp(tp)
            except AssertionError:  # revoked between the two calls
                continue
            if last_poll:
                polled.append(last_poll / 1000.0)
            if end is None:  # nothing fetched from it yet
                known = False
                continue
            lag = max(0, end - (committed.get(tp) or 0))
            total += lag
            key = (group, tp.topic, str(tp.partition))
            CONSUMER_LAG.labels(*key).set(lag)
            labels.add(key)
        for gone in self._labels - labels:  # no longer ours: another worker reports it
            CONSUMER_LAG.remove(*gone)
        self._labels = labels
        self.view = WorkerView(
            assigned=len(assigned), rebalancing=bool(app.rebalancing),
            recovered=app.tables.recovery.completed.is_set(),
            last_activity=max(polled) if polled else None,
            lag=total if assigned and known else None)
        return self.view


def create_app(watch: ConsumerWatch, settings: Settings,
               consuming_within_s: float = CONSUMING_WITHIN_S) -> web.Application:
    def readiness() -> Readiness:
        return worker_readiness(watch.sample(), time.time(), max_lag=settings.ready_max_lag,
                                consuming_within_s=consuming_within_s)

    return health_app("worker", readiness)


class WorkerHTTP(Service):
    """Serves `create_app` on NOROSHI_HTTP_HOST:NOROSHI_WORKER_HTTP_PORT for the worker's lifetime."""

    def __init__(self, app: faust.App, settings: Settings, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.settings = settings
        self.watch = ConsumerWatch(app)
        self._runner: web.AppRunner | None = None
        on_scrape(self.watch.sample)

    async def on_start(self) -> None:
        self._runner = await serve(create_app(self.watch, self.settings), self.settings.http_host,
                                   self.settings.worker_http_port, process="worker",
                                   port_setting="NOROSHI_WORKER_HTTP_PORT")

    async def on_stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @Service.timer(SAMPLE_EVERY_S)
    async def _sample(self) -> None:
        try:
            self.watch.sample()
        except Exception:  # noqa: BLE001 - a sample that failed leaves the last one; the next tries again
            log.exception("consumer_sample_failed")
