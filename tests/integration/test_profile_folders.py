"""A worker started on a folder of profiles where one file is broken: it says which file and why,
once, and serves the other municipalities."""

from __future__ import annotations

import shutil

import pytest

from tools.profiles import generate_profiles
from vocabulary.records import Incident

from .conftest import SAMPLE_PROFILE, produce, read_until, sample_lines, shifted_to_now

pytestmark = pytest.mark.integration


async def test_a_worker_with_one_broken_profile_refuses_it_by_name_and_serves_the_others(
        broker, names, spawn, tmp_path):
    folder = tmp_path / "profiles"
    generate_profiles(folder, 20, seed=5)
    shutil.copy(SAMPLE_PROFILE, folder / "wako.profile.json")
    (folder / "broken.profile.json").write_text('{"municipality": {"id": "broken"', encoding="utf-8")
    lines, _ = shifted_to_now(sample_lines())

    worker = spawn("worker", extra_env={"NOROSHI_PROFILES": str(folder)})
    await produce(broker.servers, [(names.mentions if b'"mention"' in line else names.accounts, b"wako", line)
                                   for line in lines])
    records = await read_until(
        broker.servers, [names.incidents],
        lambda rs: any(Incident.from_json(r.value).type == "flame" for r in rs))

    assert {Incident.from_json(r.value).municipality for r in records} == {"wako"}
    assert worker.proc is not None and worker.proc.poll() is None, "the worker stopped"
    refused = [line for line in worker.log_lines() if line.get("event") == "profile_refused"]
    assert [line["file"] for line in refused] == [str(folder / "broken.profile.json")]
    assert refused[0]["message"].startswith("自治体プロファイル")
    assert "JSON として正しくありません" in refused[0]["message"]
