"""Detector state between checkpoints lives only in the worker's memory: a worker killed with SIGKILL
loses it, and the one started after it reads the input since the checkpoints again (streams/app.py
catch_up). A worker stopped in order writes every state first and replays nothing."""

from __future__ import annotations

import asyncio
import time

import pytest

from vocabulary.profile_files import load_profile
from vocabulary.records import Incident
from tools.replay import replay_lines

from aiokafka import AIOKafkaConsumer
from aiokafka.partitioner import murmur2
from aiokafka.structs import TopicPartition

from .conftest import (PARTITIONS, SAMPLE_PROFILE, processed, produce, read_until, sample_lines, shifted_to_now,
                       total)

pytestmark = pytest.mark.integration

#: After a municipality's first checkpoint nothing more is written until the replay bound is reached:
#: whatever the worker applied after it is in memory only when it is killed.
HOLD_EVERYTHING = {"NOROSHI_CHECKPOINT_BYTES_PER_EVENT": "0", "NOROSHI_CHECKPOINT_REPLAY_MAX": "1000000"}


def incidents_of(records) -> list[Incident]:
    return [Incident.from_json(r.value) for r in records if r.topic.endswith(".incidents")]


def routed(names, lines: list[bytes]) -> list[tuple[str, bytes, bytes]]:
    return [(names.mentions if b'"mention"' in line else names.accounts, b"wako", line) for line in lines]


def events(proc, name: str) -> list[dict]:
    return [line for line in proc.log_lines() if line.get("event") == name]


async def committed_through(servers: str, names, lines: list[bytes], timeout: float = 60.0) -> None:
    """Wait until the worker's group has committed every input message of `lines`: a worker started
    after that one begins behind them, and only the replay from the checkpoints can bring them back."""
    ends: dict[TopicPartition, int] = {}
    for topic, key, _ in routed(names, lines):
        tp = TopicPartition(topic, partition_of(key))
        ends[tp] = ends.get(tp, 0) + 1
    probe = AIOKafkaConsumer(bootstrap_servers=servers, group_id="noroshi", enable_auto_commit=False)
    await probe.start()
    try:
        deadline = time.monotonic() + timeout
        for tp, end in ends.items():
            while (await probe.committed(tp) or 0) < end:
                assert time.monotonic() < deadline, "the worker did not commit what it processed"
                await asyncio.sleep(0.2)
    finally:
        await probe.stop()


def partition_of(key: bytes) -> int:
    """The partition Kafka's default partitioner gives `key` (murmur2), as the producer and Faust do."""
    return (murmur2(key) & 0x7FFFFFFF) % PARTITIONS


async def held_in_memory(broker, names, env, spawn, lines: list[bytes]):
    """A worker that has written wako's first state and holds everything after it in memory only."""
    worker = spawn("worker", extra_env=HOLD_EVERYTHING)
    await produce(broker.servers, routed(names, lines[:4]))
    found = await processed(env, 4)
    assert total(found, "noroshi_detector_checkpoints_total") == 1
    await produce(broker.servers, routed(names, lines[4:]))
    await read_until(broker.servers, [names.incidents], lambda rs: any(i.version >= 2 for i in incidents_of(rs)))
    found = await processed(env, len(lines))
    assert total(found, "noroshi_detector_checkpoints_total") == 1  # nothing written since the first
    await committed_through(broker.servers, names, lines)
    return worker


async def test_a_worker_killed_between_checkpoints_is_followed_by_one_that_replays_what_it_held(
        broker, names, env, spawn):
    lines, _ = shifted_to_now(sample_lines())
    expected = replay_lines(lines, load_profile(SAMPLE_PROFILE)).incidents
    [final] = [i for i in expected.values() if i.type == "flame"]
    first, rest = lines[:32], lines[32:]  # the flame-up has opened and grown by then

    worker = await held_in_memory(broker, names, env, spawn, first)
    worker.kill()

    second = spawn("worker", extra_env=HOLD_EVERYTHING)
    await produce(broker.servers, routed(names, rest))
    records = await read_until(
        broker.servers, [names.incidents],
        lambda rs: any(i.incident_id == final.incident_id and i.detection_seq >= final.detection_seq
                       for i in incidents_of(rs)))

    replays = events(second, "detector_replay_finished")  # one per input partition (mentions, accounts)
    assert sum(r["messages"] for r in replays) == len(first) - 4, \
        "the new worker did not read again exactly what the killed one held in memory"
    assert all(r["messages"] == r["expected"] for r in replays)
    live = [i for i in incidents_of(records) if i.type == "flame"]
    assert {i.incident_id for i in live} == {final.incident_id}, "the episode opened twice"
    got = max((i for i in live if i.detection_seq == final.detection_seq), key=lambda i: i.version)
    # What only the killed worker's memory held was applied again: the live run ends where the
    # replay of the whole input ends, event for event.
    assert (got.detection_seq, got.severity, got.evidence_ids) == (
        final.detection_seq, final.severity, final.evidence_ids)


async def test_a_worker_stopped_in_order_writes_its_states_and_the_next_replays_nothing(broker, names, env, spawn):
    lines, _ = shifted_to_now(sample_lines())
    first, rest = lines[:32], lines[32:]

    worker = await held_in_memory(broker, names, env, spawn, first)
    worker.stop()  # SIGTERM
    [written] = [e for e in events(worker, "detector_checkpoints_written") if e["why"] == "shutdown"]
    assert written["municipalities"] == 1

    second = spawn("worker", extra_env=HOLD_EVERYTHING)
    await produce(broker.servers, routed(names, rest))
    await read_until(broker.servers, [names.incidents],
                     lambda rs: sum(1 for i in incidents_of(rs) if i.type == "flame") >= 3)
    assert events(second, "detector_replay_started") == []
