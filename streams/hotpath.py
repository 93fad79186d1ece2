"""Faust's per-event path made lean: the worker's events/s are bounded by Faust's cost per event.

1. The consumer hands each fetched message to the streams without four tasks a message.

Faust's `Consumer._drain_messages` (faust-streaming 0.15) passes every fetched message to the
conductor through `Service.wait_first(callback(message), suspend_flow.wait())`: four new tasks
(the callback, the flow event, the service's stopped and crashed events) and an `asyncio.wait`
per message, so that a rebalance can interrupt a delivery that waits for room in a full stream
buffer. Measured on this project's worker, that race is a third of the main thread's time while
it drains a backlog, more than the four detectors together.

The race matters only when the delivery can wait. It waits for three reasons only: the app's
flow control is suspended (a rebalance), the producer's buffer is over its limit, or a queue of a
stream reading the partition is full (the conductor, faust/transport/conductor.py). When none
holds, the delivery completes without waiting, and it is awaited directly; otherwise the message
takes Faust's own path. Offsets, gaps, acks and commits are Faust's, unchanged. The loop below is
Faust's with that one branch added; keep it in step with upstream when faust-streaming moves
(tests/unit/test_hotpath.py compares it with the installed version's).

2. The app runs without Faust's `Monitor` sensor: it keeps statistics for Faust's own web views
(off here) and was called four times an event through the sensor delegate. Noroshi's own metrics
(vocabulary/metrics.py) are counted per batch. The one thing of the Monitor's that Noroshi reads, a
message's arrival time (`time_in`, for `noroshi_detection_latency_seconds`), the drain sets.
"""

from __future__ import annotations

import asyncio
from time import monotonic
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any, cast

import faust
from faust.transport import consumer as faust_consumer
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

from mode import Service, ServiceT

#: The faust-streaming version whose `_drain_messages` this module follows.
UPSTREAM_VERSION = "0.15.3"
SCHEME = "noroshi-kafka"
#: What `_free_to_deliver` says of a partition's streams.
FREE, FULL, BLOCKED = 0, 1, 2
#: How often the drain looks whether a full stream buffer has room again.
ROOM_POLL_S = 0.002
#: Faust asks the broker to hold a fetch up to 1.5 s for data (hard-coded). A fetch covers every
#: partition the worker reads, and a partition whose records are still being consumed is left out of
#: the next one: a detection could then wait that long before the playbook saw it. 100 ms costs an
#: idle worker ten small requests a second.
FETCH_MAX_WAIT_MS = 100


class DirectDrain:
    """Mixin for a Faust `Consumer`: a delivery that cannot wait is awaited directly, and every stream
    partition starts from its committed offset after a rebalance, also one with none yet."""

    app: Any
    callback: Any
    suspend_flow: asyncio.Event

    def _free_to_deliver(self) -> Callable[[TP], int]:
        """A test of the three reasons a delivery to the streams of a partition would wait: FREE when
        none holds, FULL when only a stream's buffer is full, BLOCKED otherwise."""
        flow_active = self.app.flow_control.is_active
        suspended = self.suspend_flow.is_set
        producer_buffer = self.app.producer.buffer
        limit = producer_buffer.max_messages
        # `ProducerBuffer.size` reads a setting on every call; the buffer it measures is fixed
        buffered = ((lambda: producer_buffer.size) if self.app.conf.producer_threaded
                    else producer_buffer.pending.qsize)
        tp_index = self.app.topics._tp_index  # the conductor's channels per partition

        def free(tp: TP) -> int:
            if suspended() or not flow_active():
                return BLOCKED
            if limit and buffered() > limit:
                return BLOCKED
            return FULL if any(channel.queue.full() for channel in tp_index.get(tp, ())) else FREE

        return free

    async def _deliver(self, free: Callable[[TP], int], tp: TP, message: Any) -> None:
        """The message to the conductor: directly when nothing can make it wait, after the streams
        have made room when only their buffer is full (a backlog: polled, not a race a message),
        and else through Faust's race with the flow event (a rebalance may interrupt it)."""
        this = cast(Any, self)
        state = free(tp)
        while state == FULL:
            await asyncio.sleep(ROOM_POLL_S)
            state = free(tp)
        if state == FREE:
            await this.callback(message)
        else:
            await this.wait_first(this.callback(message), this.suspend_flow.wait())

    async def perform_seek(self) -> None:
        """Faust's seek of the stream partitions to their committed offsets after a rebalance, and a
        seek to the beginning of those that have none (or 0).

        aiokafka's `seek_to_committed` moves a partition only when its committed offset is above 0,
        while Faust drops what the fetcher read during the tables' recovery: a partition nobody had
        committed on kept its fetch position past the dropped messages, and they were never handled
        (an operator's command, a JMA alert, a pending effect; seen in 1 of 4 two-worker takeovers,
        tests/integration/test_two_workers.py). With `consumer_auto_offset_reset="earliest"`, as
        here, no commit means: from the beginning (what was already applied is skipped by offset)."""
        this = cast(Any, self)
        committed = await this.seek_to_committed()
        if this.app.conf.consumer_auto_offset_reset == "earliest":
            acking = this.app.topics.acks_enabled_for  # the agents' input topics, not changelogs
            unmoved = [tp for tp, offset in committed.items() if not (offset and offset > 0) and acking(tp.topic)]
            if unmoved:
                await this._thread.seek_to_beginning(*unmoved)  # the consumer thread's aiokafka consumer
        this._read_offset.update({tp: offset if offset is not None and offset >= 0 else None
                                  for tp, offset in committed.items()})
        this._committed_offset.update({faust_consumer.ensure_TP(tp): offset if offset else None
                                       for tp, offset in committed.items() if offset is not None})

    async def _drain_messages(self, fetcher: ServiceT) -> None:  # pragma: no cover - Faust's loop
        this = cast(Any, self)
        getmany = this.getmany
        consumer_should_stop = cast(Service, self)._stopped.is_set
        fetcher_should_stop = cast(Service, fetcher)._stopped.is_set
        get_read_offset = this._read_offset.__getitem__
        set_read_offset = this._read_offset.__setitem__
        set_flag, unset_flag = this.diag.set_flag, this.diag.unset_flag
        flag_consumer_fetching = faust_consumer.CONSUMER_FETCHING
        commit_every = this._commit_every
        acks_enabled_for = this.app.topics.acks_enabled_for
        free = self._free_to_deliver()
        yield_every, num_since_yield = 100, 0
        sleep = asyncio.sleep
        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                set_flag(flag_consumer_fetching)
                ait = cast(AsyncIterator, getmany(timeout=1.0))
                await this.sleep(0)
                if not this.should_stop:
                    async for tp, message in ait:
                        num_since_yield += 1
                        if num_since_yield > yield_every:
                            await sleep(0)
                            num_since_yield = 0
                        offset = message.offset
                        r_offset = get_read_offset(tp)
                        if r_offset is None or offset >= r_offset:
                            gap = offset - (r_offset or 0)
                            if gap > 1 and r_offset and acks_enabled_for(message.topic):
                                await this._add_gap(tp, r_offset + 1, offset)
                            if commit_every is not None and this._n_acked >= commit_every:
                                this._n_acked = 0
                                await this.commit()
                            message.time_in = monotonic()  # what the Monitor sensor set (see App)
                            await self._deliver(free, tp, message)  # the change (Faust: wait_first)
                            set_read_offset(tp, offset)
                        else:
                            this.log.dev("DROPPED MESSAGE ROFF %r: k=%r v=%r", offset, message.key,
                                         message.value)
                    unset_flag(flag_consumer_fetching)
        except this.consumer_stopped_errors:
            if this.transport.app.should_stop:
                this.log.info("Broker stopped consumer, shutting down...")
                return
            raise
        except asyncio.CancelledError:
            if this.transport.app.should_stop:
                this.log.info("Consumer shutting down for user cancel.")
                return
            raise
        except Exception as exc:
            this.log.exception("Drain messages raised: %r", exc)
            raise
        finally:
            unset_flag(flag_consumer_fetching)


class ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    """Faust's consumer thread with fetches that wait at most FETCH_MAX_WAIT_MS for data."""

    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS  # read when the consumer starts its fetcher
        return consumer


class Consumer(DirectDrain, faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> ConsumerThread:
        return ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class App(faust.App):
    """A Faust app without the `Monitor` among its sensors (it still exists: the consumer reports
    end offsets and commits to it directly)."""

    def on_init_dependencies(self) -> Iterable[ServiceT]:
        dependencies = super().on_init_dependencies()
        self.sensors.remove(self.monitor)
        return dependencies

    def on_rebalance_start(self) -> None:
        super().on_rebalance_start()
        # With no sensor the state is empty, which Faust reports as "Missing sensor state" at every
        # rebalance's return and end; a placeholder says there was nothing to keep.
        self._rebalancing_sensor_state = self._rebalancing_sensor_state or {"no sensors": None}


class Transport(faust_aiokafka.Transport):
    Consumer = Consumer


def register() -> None:
    """Make `noroshi-kafka://host:port` broker URLs use this transport (Kafka, with the direct drain)."""
    from faust.transport.drivers import TRANSPORTS

    TRANSPORTS.aliases[SCHEME] = f"{__name__}:Transport"
