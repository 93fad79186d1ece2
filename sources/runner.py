"""`noroshi sources`: every configured source for every municipality, into the contract's topics.

Which sources run is the settings' `NOROSHI_SOURCES` (jetstream, mastodon, x, discovery, jma,
hooks). Each municipality's events go through its own `KafkaSink` (keyed by its id); the
webhook receiver, one per deployment, routes each event by its `municipality` field, or to
the one municipality the receiver serves. Every source runs under a supervisor: an
unexpected exception is logged and the source restarted after a backoff, so one broken
source never stops the others, and the process stops them all on SIGINT or SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import orjson
import structlog

from vocabulary.settings import Settings, SourceSettings
from vocabulary.contract import Profile
from vocabulary.waits import Backoff
from sources.http import SourcesHTTP
from sources.base import ACCEPTED, REJECTED, Cursor, KafkaSink, Offered, Sink, sleep_or_stop
from vocabulary.topics import TopicNames

log = structlog.get_logger(__name__)

PRODUCER_STOP_S = 10.0  # how long a stopping process waits for the broker to take what it holds

class Source(Protocol):
    async def run(self, sink: Sink, stop: asyncio.Event) -> None: ...


@dataclass(frozen=True)
class Planned:
    name: str  # e.g. "jetstream:wako"
    municipality: str | None  # None: the webhook receiver, routed per event
    source: Source


@dataclass
class SourceState:
    """What `noroshi sources` knows of one planned source, for /readyz and /metrics (sources/http.py)."""

    name: str
    source: Any = field(repr=False, default=None)
    running: bool = False  # inside its `run` (not ended, not waiting to be restarted)
    last_event: float | None = None  # epoch seconds of the last event it published

    @property
    def connected(self) -> bool:
        """Running, and connected by its own account when it keeps one (`connected`, e.g. the JMA poll)."""
        return self.running and bool(getattr(self.source, "connected", True))


class TrackedSink:
    """A source's view of its sink: the same sink, noting when the source last published."""

    def __init__(self, sink: Sink, state: SourceState) -> None:
        self.sink, self.state = sink, state

    async def publish(self, event: dict[str, Any]) -> bool:
        return (await self.offer(event)).status == ACCEPTED

    async def offer(self, event: dict[str, Any]) -> Offered:
        offered = await self.sink.offer(event)
        if offered.status == ACCEPTED:
            self.state.last_event = time.time()
        return offered

    async def reject(self, raw: bytes | str, reason: str, source: str) -> None:
        await self.sink.reject(raw, reason, source)


class RoutingSink:
    """One sink for a receiver that serves several municipalities: an event goes to the sink of
    its `municipality` field, or to `default` when it has none."""

    def __init__(self, sinks: Mapping[str, Sink], default: str | None) -> None:
        self.sinks = dict(sinks)
        self.default = default

    def _pick(self, event: Mapping[str, Any]) -> tuple[Sink | None, str]:
        known = ", ".join(sorted(self.sinks))
        wanted = event.get("municipality")
        if wanted is not None and not isinstance(wanted, str):
            return None, f"municipality: expected a string (one of: {known}), got {type(wanted).__name__}"
        wanted = wanted or self.default
        if wanted and wanted in self.sinks:
            return self.sinks[wanted], wanted
        return None, (f"municipality {wanted[:100]!r} is not served here (one of: {known})" if wanted
                      else f"no municipality: add \"municipality\": one of {known}")

    async def publish(self, event: dict[str, Any]) -> bool:
        return (await self.offer(event)).status == ACCEPTED

    async def offer(self, event: dict[str, Any]) -> Offered:
        """The event's own municipality decides its sink; one no sink serves is refused with
        the reason and dead-lettered, never counted as published."""
        sink, why = self._pick(event)
        if sink is None:
            reason = f"routing: {why}"
            await self.reject(orjson.dumps(event), reason, str(event.get("platform") or "?"))
            return Offered(REJECTED, reason)
        return await sink.offer(event)

    async def reject(self, raw: bytes | str, reason: str, source: str) -> None:
        sink = self.sinks.get(self.default or "") or next(iter(self.sinks.values()))
        await sink.reject(raw, reason, source)


def plan_sources(config: SourceSettings, profiles: Mapping[str, Profile], cursor_dir: Path) -> list[Planned]:
    """The sources the settings ask for, built for each municipality (pure: nothing starts)."""
    planned: list[Planned] = []
    wanted = set(config.enabled)
    for muni, profile in profiles.items():
        if "jetstream" in wanted:
            from sources.jetstream import JetstreamConfig, JetstreamSource

            planned.append(Planned(f"jetstream:{muni}", muni, JetstreamSource(JetstreamConfig(
                profile, url=config.jetstream_url, appview_url=config.bluesky_appview_url,
                cursor_dir=cursor_dir, name=f"bluesky-jetstream-{muni}"))))
        if "mastodon" in wanted:
            from sources.mastodon import MastodonConfig, MastodonInstance, MastodonSource

            instances = tuple(MastodonInstance(url, public=config.mastodon_public, token=config.mastodon_token)
                              for url in config.mastodon_instances)
            planned.append(Planned(f"mastodon:{muni}", muni, MastodonSource(MastodonConfig(
                profile, instances=instances, cursor_dir=cursor_dir, name=f"mastodon-stream-{muni}"))))
        if "x" in wanted:
            from sources.xstream import XStream, XStreamConfig

            planned.append(Planned(f"x:{muni}", muni, XStream(profile, XStreamConfig(
                bearer_token=config.x_bearer_token, api_url=config.x_api_url))))
        if "discovery" in wanted:
            from sources.discovery import Discovery, DiscoveryConfig

            discovery = DiscoveryConfig(
                interval_s=config.discovery_interval_s, bluesky_url=config.bluesky_appview_url,
                mastodon_url=config.mastodon_instances[0] if config.mastodon_instances else "",
                mastodon_token=config.mastodon_token, x_api_url=config.x_api_url,
                x_bearer_token=config.x_bearer_token)
            planned.append(Planned(f"discovery:{muni}", muni, Discovery(
                profile, discovery, Cursor(cursor_dir, f"discovery-{muni}"))))
        if "jma" in wanted:
            from sources.jma import JmaConfig, JmaSource

            jma = JmaConfig.for_profile(profile, **({"feeds": config.jma_feeds} if config.jma_feeds else {}),
                                        poll_interval_s=config.jma_poll_s)
            planned.append(Planned(f"jma:{muni}", muni, JmaSource(jma, profile, cursor=Cursor(cursor_dir, f"jma-{muni}"))))
    if "hooks" in wanted:
        from sources.webhook import WebhookConfig, WebhookReceiver

        planned.append(Planned("hooks", None, WebhookReceiver(WebhookConfig(
            host=config.hooks_host, port=config.hooks_port, secret=config.hooks_secret,
            line_channel_secret=config.line_channel_secret, line_user_salt=config.line_user_salt,
            line_account=config.line_account, publish_timeout_s=config.hooks_publish_timeout_s,
            remember_s=config.hooks_remember_s,
            # beside the cursors' folder: the ids it published must outlive a restart
            memory_path=cursor_dir.parent / "webhook.sqlite3"))))
    return planned


async def supervise(planned: Planned, sink: Sink, stop: asyncio.Event, backoff: Backoff | None = None,
                    state: SourceState | None = None) -> None:
    """Run one source until `stop`; an unexpected failure is logged and the source started again."""
    backoff = backoff or Backoff(base_s=2.0, cap_s=300.0)
    state = state or SourceState(planned.name, planned.source)
    sink = TrackedSink(sink, state)
    while not stop.is_set():
        try:
            log.info("source_started", source=planned.name)
            state.running = True
            await planned.source.run(sink, stop)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - a source must never take the others down
            state.running = False  # now, not after the wait below
            delay = backoff.next_delay()
            log.error("source_failed", source=planned.name, error=f"{type(exc).__name__}: {exc}",
                      restart_in_s=round(delay, 1))
            if await sleep_or_stop(delay, stop):
                return
            continue
        finally:
            state.running = False
        if not stop.is_set():  # a source that returned by itself is restarted too
            if await sleep_or_stop(backoff.next_delay(), stop):
                return
    log.info("source_stopped", source=planned.name)


async def run_planned(planned: list[Planned], sinks: Mapping[str, Sink], default: str | None,
                      stop: asyncio.Event, states: Mapping[str, SourceState] | None = None) -> None:
    routing = RoutingSink(sinks, default)
    states = states or {}
    tasks = [asyncio.create_task(supervise(p, sinks[p.municipality] if p.municipality else routing, stop,
                                           state=states.get(p.name)), name=p.name) for p in planned]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def run_sources(settings: Settings, profiles: Mapping[str, Profile]) -> int:
    """The process: a producer, a sink per municipality, every planned source until a signal."""
    from aiokafka import AIOKafkaProducer

    planned = plan_sources(settings.sources, profiles, settings.data_dir / "cursors")
    if not planned:
        log.warning("no_sources_configured", hint="set NOROSHI_SOURCES, e.g. jetstream,jma")
        return 0
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    names = TopicNames(settings.topic_prefix)
    producer = AIOKafkaProducer(bootstrap_servers=settings.broker_servers, acks="all", linger_ms=5)
    states = {p.name: SourceState(p.name, p.source) for p in planned}
    http = SourcesHTTP(settings, producer, list(states.values()))
    await http.start()  # before the producer: /healthz answers, /readyz says what is missing
    try:
        await producer.start()
        try:
            sinks: dict[str, Sink] = {muni: KafkaSink(producer, names, muni) for muni in profiles}
            default = settings.sources.hooks_municipality or (next(iter(profiles)) if len(profiles) == 1 else None)
            log.info("sources_running", sources=[p.name for p in planned])
            await run_planned(planned, sinks, default, stop, states)
        finally:
            flushed = await stop_producer(producer)
    finally:
        await http.stop()
    return 0 if flushed else 1


async def stop_producer(producer: Any, timeout_s: float = PRODUCER_STOP_S) -> bool:
    """Stop the producer, giving what it still holds `timeout_s` to reach the broker. aiokafka
    waits for ever on a broker that is gone; then the process says what it could not send
    (the webhook's clients were answered `failed` for it and send it again) and stops."""
    try:
        await asyncio.wait_for(producer.stop(), timeout_s)
    except TimeoutError:
        log.error("sources_stopped_unflushed", timeout_s=timeout_s,
                  message="ブローカーが応答しないため、未送信のイベントを残して停止しました / "
                          "stopped with events the broker never confirmed")
        return False
    return True
