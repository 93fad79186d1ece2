"""The small HTTP server of `noroshi sources`: GET /healthz (alive), /readyz (its producer is
connected and every enabled source is running; the body lists each source's state) and /metrics
(Prometheus text: noroshi_source_connected, noroshi_source_last_event_age_seconds,
noroshi_jma_last_poll_age_seconds), on NOROSHI_HTTP_HOST:NOROSHI_SOURCES_HTTP_PORT.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from aiohttp import web

from vocabulary.health import Readiness, SourceView, sources_readiness
from vocabulary.metrics import JMA_LAST_POLL_AGE, SOURCE_CONNECTED, SOURCE_LAST_EVENT_AGE, on_scrape
from vocabulary.serving import health_app, serve
from vocabulary.settings import Settings

if TYPE_CHECKING:
    from sources.runner import SourceState

PROBE_EVERY_S = 5.0  # how often the broker is asked for its metadata
PROBE_FRESH_S = 15.0  # an answer older than this no longer counts as connected


class SourcesHTTP:
    def __init__(self, settings: Settings, producer: Any, states: Sequence[SourceState]) -> None:
        self.settings, self.producer, self.states = settings, producer, list(states)
        self._runner: web.AppRunner | None = None
        self._probe: asyncio.Task[None] | None = None
        self.broker_answered_at: float | None = None  # monotonic time of the last metadata answer
        on_scrape(self.refresh)

    def producer_connected(self) -> bool:
        """The broker answered the producer's client within PROBE_FRESH_S. (aiokafka opens a
        connection to a broker only to send to it: a quiet producer holds none, so its open
        connections cannot say whether it could send now.)"""
        answered = self.broker_answered_at
        return answered is not None and time.monotonic() - answered <= PROBE_FRESH_S

    async def _probe_broker(self) -> None:
        client = self.producer.client
        while True:
            try:
                async with asyncio.timeout(PROBE_EVERY_S):
                    await client.fetch_all_metadata()
                self.broker_answered_at = time.monotonic()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - not answering is what /readyz reports; the producer logs why
                pass
            await asyncio.sleep(PROBE_EVERY_S)

    def refresh(self) -> None:
        """The gauges measured at scrape time, from each source's state."""
        now = time.time()
        polls = []
        for state in self.states:
            SOURCE_CONNECTED.labels(state.name).set(state.connected)
            if state.last_event is not None:
                SOURCE_LAST_EVENT_AGE.labels(state.name).set(max(0.0, now - state.last_event))
            polled = getattr(state.source, "last_poll_at", None)
            if isinstance(polled, float):
                polls.append(polled)
        if polls:
            JMA_LAST_POLL_AGE.set(max(0.0, now - max(polls)))

    def readiness(self) -> Readiness:
        return sources_readiness(self.producer_connected(), [
            SourceView(s.name, enabled=True, running=s.running, connected=s.connected) for s in self.states])

    def create_app(self) -> web.Application:
        return health_app("sources", self.readiness)

    async def start(self) -> None:
        self._runner = await serve(self.create_app(), self.settings.http_host, self.settings.sources_http_port,
                                   process="sources", port_setting="NOROSHI_SOURCES_HTTP_PORT")
        if self._runner is not None:
            self._probe = asyncio.create_task(self._probe_broker(), name="sources-broker-probe")

    async def stop(self) -> None:
        if self._probe is not None:
            self._probe.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._probe
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
