"""The direct drain (streams/hotpath.py): when it may skip Faust's race, and that it follows Faust's loop."""

from __future__ import annotations

import asyncio
import hashlib
import inspect
from importlib.metadata import version
from types import SimpleNamespace

import faust
from faust.transport.consumer import Consumer as FaustConsumer
from faust.types import TP

from streams import hotpath, tansu

#: sha256 of `faust.transport.consumer.Consumer._drain_messages` in the version streams/hotpath.py copies.
UPSTREAM_SHA256 = "44a2500309e83c630493f6828af50166ec8d96a0b3e4fb2bab735f704ae93417"
#: sha256 of `Consumer.perform_seek`, which `DirectDrain.perform_seek` repeats with one seek more.
UPSTREAM_SEEK_SHA256 = "0e8c130ff4b0afd82c0be9c5fd831316e10febc62c94032833911096e156d7c6"
TP0 = TP("noroshi.mentions", 0)


def test_the_copied_loop_is_faust_s_own_in_the_installed_version() -> None:
    """When faust-streaming moves, its loop may have changed: re-read it and update streams/hotpath.py."""
    assert version("faust-streaming") == hotpath.UPSTREAM_VERSION
    source = inspect.getsource(FaustConsumer._drain_messages)
    assert hashlib.sha256(source.encode()).hexdigest() == UPSTREAM_SHA256
    source = inspect.getsource(FaustConsumer.perform_seek)
    assert hashlib.sha256(source.encode()).hexdigest() == UPSTREAM_SEEK_SHA256


class _Queue:
    def __init__(self, full: bool = False) -> None:
        self._full = full

    def full(self) -> bool:
        return self._full


def _consumer(*, active: bool = True, suspended: bool = False, buffered: int = 0, limit: int = 1000,
              queues: tuple[bool, ...] = (False,)) -> hotpath.DirectDrain:
    consumer = hotpath.DirectDrain()
    consumer.app = SimpleNamespace(
        flow_control=SimpleNamespace(is_active=lambda: active),
        conf=SimpleNamespace(producer_threaded=False),
        producer=SimpleNamespace(buffer=SimpleNamespace(max_messages=limit,
                                                        pending=SimpleNamespace(qsize=lambda: buffered))),
        topics=SimpleNamespace(_tp_index={TP0: [SimpleNamespace(queue=_Queue(f)) for f in queues]}))
    consumer.suspend_flow = asyncio.Event()
    if suspended:
        consumer.suspend_flow.set()
    return consumer


def test_a_delivery_that_cannot_wait_is_direct() -> None:
    assert _consumer()._free_to_deliver()(TP0) == hotpath.FREE
    assert _consumer(queues=(False, False))._free_to_deliver()(TP0) == hotpath.FREE
    assert _consumer()._free_to_deliver()(TP("elsewhere", 3)) == hotpath.FREE  # no stream reads it


def test_each_reason_to_wait_is_told_apart() -> None:
    assert _consumer(active=False)._free_to_deliver()(TP0) == hotpath.BLOCKED  # a rebalance suspended the flow
    assert _consumer(suspended=True)._free_to_deliver()(TP0) == hotpath.BLOCKED
    assert _consumer(buffered=1001)._free_to_deliver()(TP0) == hotpath.BLOCKED  # the producer's buffer is full
    assert _consumer(queues=(False, True))._free_to_deliver()(TP0) == hotpath.FULL  # one stream's buffer is full
    assert _consumer(suspended=True, queues=(True,))._free_to_deliver()(TP0) == hotpath.BLOCKED


def test_the_test_reads_the_state_at_each_message_not_at_start() -> None:
    consumer = _consumer()
    free = consumer._free_to_deliver()
    assert free(TP0) == hotpath.FREE
    consumer.suspend_flow.set()
    assert free(TP0) == hotpath.BLOCKED
    consumer.suspend_flow.clear()
    assert free(TP0) == hotpath.FREE


class _Delivering(hotpath.DirectDrain):
    def __init__(self, states: list[int]) -> None:
        self.states, self.delivered, self.raced = states, [], []
        self.suspend_flow = asyncio.Event()

    async def callback(self, message) -> None:
        self.delivered.append(message)

    async def wait_first(self, *coros) -> None:
        self.raced.append(coros)
        for coro in coros:
            coro.close()


async def test_a_full_stream_buffer_is_waited_for_once_then_the_delivery_is_direct() -> None:
    drain = _Delivering([hotpath.FULL, hotpath.FULL, hotpath.FREE])
    await drain._deliver(lambda tp: drain.states.pop(0), TP0, "m1")
    assert drain.delivered == ["m1"] and drain.raced == [] and drain.states == []


async def test_a_suspended_flow_takes_faust_s_race_even_after_waiting_for_room() -> None:
    drain = _Delivering([hotpath.FULL, hotpath.BLOCKED])
    await drain._deliver(lambda tp: drain.states.pop(0), TP0, "m1")
    assert drain.delivered == [] and len(drain.raced) == 1  # a rebalance may interrupt it there


def test_both_transports_use_the_direct_drain() -> None:
    assert issubclass(hotpath.Transport.Consumer, hotpath.DirectDrain)
    assert issubclass(tansu.Transport.Consumer, hotpath.DirectDrain)
    # the loop actually run is ours, not Faust's
    assert tansu.Transport.Consumer._drain_messages is hotpath.DirectDrain._drain_messages


async def test_the_app_runs_without_faust_s_per_event_monitor(monkeypatch) -> None:
    app = hotpath.App("hotpath-test", broker="kafka://127.0.0.1:1", store="memory://", autodiscover=False,
                      web_enabled=False)

    def faust_s_own(self):  # Faust's adds the Monitor to the sensors (and builds the consumer: not here)
        self.sensors.add(self.monitor)
        return []

    monkeypatch.setattr(faust.App, "on_init_dependencies", faust_s_own)
    app.on_init_dependencies()
    assert app.monitor not in set(app.sensors)
    app.monitor.track_tp_end_offset(TP0, 10)  # what the consumer still calls directly works
    app.on_rebalance_start()
    assert app._rebalancing_sensor_state  # no "Missing sensor state" at the rebalance's end


def test_the_worker_s_fetches_wait_at_most_a_tenth_of_a_second_for_data(monkeypatch) -> None:
    from faust.transport.drivers import aiokafka as faust_aiokafka

    built = SimpleNamespace(_fetch_max_wait_ms=1500)  # what Faust hard-codes
    monkeypatch.setattr(faust_aiokafka.AIOKafkaConsumerThread, "_create_worker_consumer",
                        lambda self, transport: built)
    thread = hotpath.ConsumerThread.__new__(hotpath.ConsumerThread)
    assert thread._create_worker_consumer(None)._fetch_max_wait_ms == hotpath.FETCH_MAX_WAIT_MS == 100
    assert issubclass(tansu.TansuConsumerThread, hotpath.ConsumerThread)
    # aiokafka reads the attribute when it starts its fetcher: the name must still be the one it reads
    import inspect
    from aiokafka import AIOKafkaConsumer
    assert "fetch_max_wait_ms=self._fetch_max_wait_ms" in inspect.getsource(AIOKafkaConsumer.start)


class _Seeking(hotpath.DirectDrain):
    """The consumer's side of a seek: what the broker says was committed, and the seeks it gets."""

    def __init__(self, committed: dict, reset: str = "earliest") -> None:
        self.committed, self.to_beginning = committed, []
        self._thread = self  # the consumer thread, which owns the aiokafka consumer
        self._read_offset, self._committed_offset = {}, {}
        self.app = SimpleNamespace(conf=SimpleNamespace(consumer_auto_offset_reset=reset),
                                   topics=SimpleNamespace(acks_enabled_for=lambda t: not t.endswith("-changelog")))

    async def seek_to_committed(self) -> dict:
        return self.committed

    async def seek_to_beginning(self, *tps) -> None:
        self.to_beginning += tps


async def test_a_stream_partition_with_no_commit_starts_from_the_beginning_after_a_rebalance() -> None:
    commands, effects, alerts = TP("noroshi.commands", 3), TP("noroshi.effects", 3), TP("noroshi.alerts", 1)
    changelog = TP("noroshi-detector-state-changelog", 3)
    consumer = _Seeking({commands: None, effects: 0, alerts: 42, changelog: None})
    await consumer.perform_seek()
    # aiokafka moved `alerts` to 42; the two it leaves where the fetcher was are sent to the beginning;
    # a changelog is the tables' recovery's business, never the streams'
    assert sorted(consumer.to_beginning) == sorted([commands, effects])
    assert consumer._read_offset == {commands: None, effects: 0, alerts: 42, changelog: None}
    assert consumer._committed_offset == {effects: None, alerts: 42}


def test_the_seek_goes_where_faust_s_consumer_thread_has_it() -> None:
    from faust.transport.drivers import aiokafka as faust_aiokafka
    assert inspect.iscoroutinefunction(faust_aiokafka.AIOKafkaConsumerThread.seek_to_beginning)
    assert not hasattr(faust_aiokafka.Consumer, "seek_to_beginning")  # the consumer itself has none


async def test_with_latest_as_the_reset_policy_nothing_more_is_moved() -> None:
    consumer = _Seeking({TP("noroshi.commands", 3): None}, reset="latest")
    await consumer.perform_seek()
    assert consumer.to_beginning == []
