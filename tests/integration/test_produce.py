"""`noroshi produce`: a scenario file onto the input topics, stamped with event time."""

from __future__ import annotations

import subprocess
import sys

import orjson
import pytest

from vocabulary.contract import parse_event
from vocabulary.records import DeadLetter

from .conftest import SAMPLE, read_until, sample_lines

pytestmark = pytest.mark.integration


async def test_produce_keys_by_municipality_stamps_event_time_and_dead_letters_bad_lines_then_exits_non_zero(
        broker, names, env, tmp_path):
    scenario = tmp_path / "wako-sample.jsonl"
    lines = sample_lines()
    scenario.write_bytes(b"\n".join([*lines[:3], b"{broken", *lines[3:]]) + b"\n")
    (tmp_path / "wako-sample.profile.json").write_bytes(SAMPLE.with_name("wako-sample.profile.json").read_bytes())

    done = subprocess.run([sys.executable, "-m", "noroshi", "produce", str(scenario)], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stderr  # something was rejected: the run says so
    assert f"{len(lines)} events published for wako, 1 rejected (sent to dead letters)" in done.stdout
    assert "wako-sample.jsonl:4: 却下 rejected: contract: not valid JSON" in done.stderr
    assert done.stderr.count("not valid JSON") == 1, "the rejected line was reported more than once"

    records = await read_until(broker.servers, [*names.inputs, names.deadletters],
                               lambda rs: len(rs) >= len(lines) + 1)
    inputs = [r for r in records if r.topic != names.deadletters]
    assert {r.key for r in records} == {b"wako"}
    for record in inputs:
        event = parse_event(record.value)
        assert record.topic == names.for_kind(event.kind)
        assert record.timestamp == int(event.ts * 1000)
    [letter] = [DeadLetter.from_json(r.value) for r in records if r.topic == names.deadletters]
    assert (letter.raw, letter.offset, letter.topic) == (b"{broken", 4, "file:wako-sample.jsonl")
    assert orjson.loads(lines[0])["id"] in {parse_event(r.value).id for r in inputs}


async def test_produce_of_a_clean_file_exits_zero(broker, names, env, tmp_path):
    scenario = tmp_path / "wako-sample.jsonl"
    scenario.write_bytes(b"\n".join(sample_lines()[:5]) + b"\n")
    (tmp_path / "wako-sample.profile.json").write_bytes(SAMPLE.with_name("wako-sample.profile.json").read_bytes())

    done = subprocess.run([sys.executable, "-m", "noroshi", "produce", str(scenario)], env=env,
                          capture_output=True, text=True, timeout=60)

    assert done.returncode == 0, done.stderr
    assert "5 events published for wako, 0 rejected" in done.stdout and "却下 rejected" not in done.stderr


async def test_produce_now_re_times_a_training_scenario_onto_the_real_clock(broker, names, env, tmp_path):
    """`--now --speed 600`: the scenario starts now, squeezed 600×; a broken line is still refused
    with its own line number."""
    import time

    scenario = tmp_path / "wako-sample.jsonl"
    lines = sample_lines()[:20]
    scenario.write_bytes(b"\n".join([*lines[:3], b"{broken", *lines[3:]]) + b"\n")
    (tmp_path / "wako-sample.profile.json").write_bytes(SAMPLE.with_name("wako-sample.profile.json").read_bytes())
    stamps = [parse_event(line).ts for line in lines]
    started = time.time()

    done = subprocess.run([sys.executable, "-m", "noroshi", "produce", str(scenario), "--now", "--speed", "600"],
                          env=env, capture_output=True, text=True, timeout=60)

    assert done.returncode == 1, done.stderr
    assert "wako-sample.jsonl:4: 却下 rejected: contract: not valid JSON" in done.stderr
    records = await read_until(broker.servers, names.inputs, lambda rs: len(rs) >= len(lines))
    sent = sorted(parse_event(r.value).ts for r in records)
    assert started - 1 <= sent[0] <= started + 5  # it starts now
    assert sent[-1] - sent[0] == pytest.approx((max(stamps) - min(stamps)) / 600, abs=1.0)  # squeezed 600× (stamps are whole seconds)
    assert all(r.timestamp == int(parse_event(r.value).ts * 1000) for r in records)
    assert max(r.timestamp for r in records) / 1000 <= time.time()  # none was ahead of the clock
