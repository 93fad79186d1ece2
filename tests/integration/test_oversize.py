"""Issue 12, findings 1 and 2, through real processes: a message of any size never costs
its neighbours anything, and the detector state never grows past one Kafka message.

The embedded broker, a real `noroshi worker` and `noroshi produce` as a subprocess; the
faults come in as a foreign producer would send them (aiokafka with a larger request size).
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from vocabulary.contract import parse_event
from vocabulary.records import DEAD_LETTER_MAX_BYTES, DEAD_LETTER_RAW_BYTES, DeadLetter, iso
from streams.stage import STATE_MAX_BYTES, STATE_TOO_LARGE

from .conftest import SAMPLE_PROFILE, processed, read_until, sample_lines

pytestmark = pytest.mark.integration

STATE = "noroshi-detector-state-changelog"  # the detector-state table's changelog (Faust: APP-TABLE-changelog)
START = 1_790_000_000.0


def reply(n: int, *, id_chars: int = 0) -> bytes:
    """A critical reply to the official account; with `id_chars`, its ids are that long."""
    event_id = f"x:{n}:".ljust(id_chars, "9") if id_chars else f"x:{n}"
    author = f"x:u:{n}:".ljust(id_chars, "9") if id_chars else f"x:u:{n}"
    return orjson.dumps({
        "kind": "mention", "id": event_id, "platform": "x", "ts": iso(START + n),
        "author": {"id": author, "handle": f"u{n}", "followers": 10},
        "text": "謝罪しろ、税金の無駄です",
        "reply_to": {"post_id": "x:p1", "account": "wako_city_official"}})


async def send(servers: str, topic: str, values: list[bytes]) -> None:
    """As a foreign producer would: up to 4 MB a message, all keyed by the municipality."""
    producer = AIOKafkaProducer(bootstrap_servers=servers, max_request_size=4_000_000, linger_ms=20)
    await producer.start()
    try:
        futures = [await producer.send(topic, value, key=b"wako") for value in values]
        for future in futures:
            await future
    finally:
        await producer.stop()


def states(records: list[Any]) -> list[dict[str, Any]]:
    return [orjson.loads(r.value) for r in records if r.topic == STATE and r.key == b"wako" and r.value]


def letters(records: list[Any], topic: str) -> list[DeadLetter]:
    return [DeadLetter.from_json(r.value) for r in records if r.topic == topic]


async def test_a_1_2_MB_message_between_two_mentions_is_dead_lettered_bounded_and_both_neighbours_are_processed(
        broker, names, spawn):
    big = b'{"kind": "mention", "text": "' + "炎".encode() * 400_000 + b'"}'  # 1.2 MB
    before, after = reply(1), reply(2)
    worker = spawn("worker")

    await send(broker.servers, names.mentions, [before, big, after])
    records = await read_until(
        broker.servers, [names.deadletters, STATE],
        lambda rs: letters(rs, names.deadletters)
        and any({"x:1", "x:2"} <= set(s["detectors"]["seen"]) for s in states(rs)))

    [letter] = letters(records, names.deadletters)
    assert "above the contract's limit of 262,144" in letter.reason
    assert (letter.size, letter.truncated) == (len(big), True)
    assert letter.sha256 == hashlib.sha256(big).hexdigest()
    assert letter.raw == big[:DEAD_LETTER_RAW_BYTES]
    assert letter.topic == names.mentions
    [raw_letter] = [r for r in records if r.topic == names.deadletters]
    assert len(raw_letter.value) <= DEAD_LETTER_MAX_BYTES
    # Both neighbours were applied, in the same state as the offset of the big one.
    last = states(records)[-1]
    assert {"x:1", "x:2"} <= set(last["detectors"]["seen"])
    assert last["offsets"] == {f"{names.mentions}:{letter.partition}": letter.offset + 1}
    assert worker.proc is not None and worker.proc.poll() is None, "the worker died"
    logged = [line for line in worker.log_lines() if line["event"] == "event_dead_lettered"]
    assert [(d["offset"], d["sha256"], d["truncated"]) for d in logged] == [
        (letter.offset, letter.sha256, True)]
    assert not [line for line in worker.log_lines() if line["event"] == "dead_letter_send_failed"]


async def test_four_mentions_with_300_KB_ids_are_rejected_with_the_reason_and_the_worker_stays_alive(
        broker, names, spawn):
    huge = [reply(n, id_chars=300_000) for n in range(1, 5)]
    long_id = orjson.dumps({**orjson.loads(reply(6)), "id": "x:" + "6" * 100_000})  # under 256 KiB in all
    worker = spawn("worker")

    await send(broker.servers, names.mentions, [reply(0), *huge, long_id, reply(5)])
    records = await read_until(
        broker.servers, [names.deadletters, STATE],
        lambda rs: len(letters(rs, names.deadletters)) >= 5
        and any("x:5" in s["detectors"]["seen"] for s in states(rs)))

    rejected = letters(records, names.deadletters)
    assert len(rejected) == 5
    assert all("bytes, above the contract's limit of 262,144" in d.reason for d in rejected[:4])
    assert sorted(hashlib.sha256(v).hexdigest() for v in huge) == sorted(d.sha256 for d in rejected[:4])
    assert "mention.id: 100,002 characters, above the contract's limit of 256" in rejected[4].reason
    assert rejected[4].raw == long_id and not rejected[4].truncated
    last = states(records)[-1]
    assert {"x:0", "x:5"} <= set(last["detectors"]["seen"])
    assert max(len(r.value) for r in records if r.topic == STATE) < 20_000, "a huge id reached the state"
    assert worker.proc is not None and worker.proc.poll() is None, "the worker died"


async def test_a_state_that_would_outgrow_one_message_is_cut_down_reported_and_the_worker_goes_on(
        broker, names, env, spawn):
    # Every id as long as the contract allows: within the caps, the state would pass 1 MB.
    flood = [reply(n, id_chars=256) for n in range(4_000)]
    last_id = parse_event(flood[-1]).id
    worker = spawn("worker")

    await send(broker.servers, names.mentions, flood)
    await processed(env, len(flood))
    assert worker.proc is not None and worker.proc.poll() is None, "the worker died"
    # The state is checkpointed now and then (streams/stage.py); stopped in order, the worker writes
    # the one it holds, cut down to fit like every checkpoint.
    worker.stop()
    records = await read_until(
        broker.servers, [names.deadletters, STATE],
        lambda rs: any(last_id in s["detectors"]["seen"] for s in states(rs)))

    cuts = [d for d in letters(records, names.deadletters) if d.reason.startswith(STATE_TOO_LARGE)]
    assert cuts, "the state never needed cutting: the test proves nothing"
    assert "古い記録を削除しました" in cuts[0].reason and cuts[0].topic == names.mentions
    sizes = [len(r.value) for r in records if r.topic == STATE]
    assert max(sizes) <= STATE_MAX_BYTES
    logged = [line for line in worker.log_lines() if line["event"] == "detector_state_cut"]
    assert len(logged) == len(cuts)
    assert all(line["level"] == "error" and line["bytes_before"] > STATE_MAX_BYTES for line in logged)
    assert states(records)[-1]["offsets"] == {f"{names.mentions}:{cuts[0].partition}": 3_999}
    assert worker.proc is not None and worker.proc.returncode == 0, "the worker did not stop in order"


async def test_produce_goes_on_past_an_oversize_and_a_broken_line_reports_each_and_exits_non_zero(
        broker, names, env, tmp_path):
    scenario = tmp_path / "wako-sample.jsonl"
    lines = sample_lines()
    big = b'{"kind": "mention", "id": "x:big", "text": "' + b"x" * 1_200_000 + b'"}'
    scenario.write_bytes(b"\n".join([*lines[:3], big, *lines[3:6], b"{broken", *lines[6:]]) + b"\n")
    (tmp_path / "wako-sample.profile.json").write_bytes(SAMPLE_PROFILE.read_bytes())

    done = subprocess.run([sys.executable, "-m", "noroshi", "produce", str(scenario)], env=env,
                          capture_output=True, text=True, timeout=60)

    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    rejected = [line for line in done.stderr.splitlines() if ": 却下 rejected: " in line]
    assert [line.split(":")[1] for line in rejected] == ["4", "8"]
    assert "above the contract's limit of 262,144" in rejected[0] and "not valid JSON" in rejected[1]
    assert f"{len(lines)} events published for wako, 2 rejected" in done.stdout
    assert f"{len(lines)} 件を送信、2 件を却下" in done.stdout
    records = await read_until(broker.servers, [*names.inputs, names.deadletters],
                               lambda rs: len(rs) >= len(lines) + 2)
    published = {parse_event(r.value).id for r in records if r.topic != names.deadletters}
    assert published == {orjson.loads(line)["id"] for line in lines}
    by_line = {d.offset: d for d in letters(records, names.deadletters)}
    assert (by_line[4].size, by_line[4].truncated, by_line[4].sha256) == (
        len(big), True, hashlib.sha256(big).hexdigest())
    assert (by_line[8].raw, by_line[8].truncated) == (b"{broken", False)
