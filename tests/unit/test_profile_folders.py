"""Profiles at scale: a folder of many profile files loads, a broken file is refused with its name
and reason (Japanese first), the others load, and `noroshi profiles check` lists each file."""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson
import pytest
from structlog.testing import capture_logs

from noroshi.cli import main
from noroshi.stack import resolve_profiles
from tools.profiles import JAPAN, generate_profiles, profile_dicts
from vocabulary.contract import ContractError, profile_from_dict
from vocabulary.profile_files import load_profiles, read_profiles
from vocabulary.settings import Settings

SAMPLE_PROFILE = Path(__file__).resolve().parents[1] / "data" / "wako-sample.profile.json"


def mixed_folder(folder: Path) -> Path:
    """Two good profiles, and one file broken in each way: bad JSON, a required field missing,
    one municipality in two files."""
    generate_profiles(folder, 2, seed=3)
    (folder / "broken.profile.json").write_text('{"municipality": {"id": "kiri', encoding="utf-8")
    (folder / "noname.profile.json").write_bytes(orjson.dumps({"municipality": {"id": "noname"}}))
    shutil.copy(SAMPLE_PROFILE, folder / "wako.profile.json")
    shutil.copy(SAMPLE_PROFILE, folder / "wako-old.profile.json")
    return folder


def test_the_good_profiles_of_a_folder_load_and_each_broken_file_is_refused_by_name(tmp_path: Path) -> None:
    folder = mixed_folder(tmp_path)
    good = sorted(p["municipality"]["id"] for p in profile_dicts(2, seed=3))

    loaded = read_profiles([folder])

    assert sorted(loaded.profiles) == good
    assert {m: p.name for m, p in loaded.files.items()} == {m: f"{m}.profile.json" for m in good}
    refused = {r.path.name: r for r in loaded.refused}
    assert sorted(refused) == ["broken.profile.json", "noname.profile.json", "wako-old.profile.json",
                               "wako.profile.json"]
    assert refused["broken.profile.json"].ja.startswith("JSON として正しくありません")
    assert "not valid JSON" in refused["broken.profile.json"].en
    assert "municipality.name: missing" in refused["noname.profile.json"].en
    assert refused["noname.profile.json"].reason.startswith("必須の項目がないか")
    # The same id twice: neither is loaded, and each names the other.
    assert "wako" not in loaded.profiles
    assert "wako-old.profile.json" in refused["wako.profile.json"].ja
    assert "'wako' is defined twice" in refused["wako-old.profile.json"].en


def test_a_file_named_twice_is_read_once_and_a_missing_path_is_refused(tmp_path: Path) -> None:
    shutil.copy(SAMPLE_PROFILE, tmp_path / "wako.profile.json")

    loaded = read_profiles([tmp_path, tmp_path / "wako.profile.json", tmp_path / "gone.profile.json"])

    assert list(loaded.profiles) == ["wako"]
    [refused] = loaded.refused
    assert refused.path.name == "gone.profile.json"
    assert refused.reason == "ファイルもフォルダもありません / no such file or folder"


def test_the_strict_loader_names_every_broken_file(tmp_path: Path) -> None:
    folder = mixed_folder(tmp_path)

    with pytest.raises(ContractError) as refused:
        load_profiles([folder])

    for name in ("broken.profile.json", "noname.profile.json", "wako.profile.json", "wako-old.profile.json"):
        assert name in str(refused.value)


def test_japans_1741_generated_profiles_load_distinct_and_valid(tmp_path: Path) -> None:
    paths = generate_profiles(tmp_path, JAPAN, seed=1)

    loaded = read_profiles([tmp_path])

    assert len(paths) == len(loaded.profiles) == JAPAN
    assert loaded.refused == ()
    handles = [(a.platform, a.handle) for p in loaded.profiles.values() for a in p.accounts]
    assert len(set(handles)) == len(handles)
    assert len({p.name for p in loaded.profiles.values()}) == JAPAN
    assert {len(p.accounts) for p in loaded.profiles.values()} == {1, 2, 3}
    assert {a.platform for p in loaded.profiles.values() for a in p.accounts} == {"x", "bluesky", "mastodon"}


def test_the_generator_writes_the_same_profiles_for_the_same_seed() -> None:
    assert profile_dicts(50, seed=7) == profile_dicts(50, seed=7) != profile_dicts(50, seed=8)
    assert all(profile_from_dict(p).id for p in profile_dicts(50, seed=7))


def test_a_process_logs_each_refused_file_once_and_runs_the_others(tmp_path: Path) -> None:
    settings = Settings.from_env({"NOROSHI_PROFILES": str(mixed_folder(tmp_path))})

    with capture_logs() as logs:
        profiles = resolve_profiles(settings)
        resolve_profiles(settings, quiet=True)

    assert len(profiles) == 2
    refused = [entry for entry in logs if entry["event"] == "profile_refused"]
    assert sorted(Path(entry["file"]).name for entry in refused) == [
        "broken.profile.json", "noname.profile.json", "wako-old.profile.json", "wako.profile.json"]
    assert all(entry["message"].startswith("自治体プロファイル") for entry in refused)


def test_a_process_whose_every_profile_is_broken_stops_with_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "broken.profile.json").write_text("{", encoding="utf-8")
    settings = Settings.from_env({"NOROSHI_PROFILES": str(tmp_path)})

    with capture_logs(), pytest.raises(ContractError, match="読み込める自治体プロファイルがありません") as error:
        resolve_profiles(settings)

    assert "broken.profile.json" in str(error.value)


def test_profiles_check_lists_each_file_with_its_status_japanese_first(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = mixed_folder(tmp_path)

    status = main(["profiles", "check", str(folder)])

    out, err = capsys.readouterr()
    rows = dict(line.split("\t", 1) for line in out.splitlines())
    assert status == 1
    assert len(rows) == 6
    assert rows[str(folder / "broken.profile.json")].startswith("却下 refused\tJSON として正しくありません")
    good = [row for row in rows.values() if row.startswith("OK\t")]
    assert len(good) == 2
    assert "2 件を読み込めます、4 件は読み込めません / 2 loaded, 4 refused" in err


def test_profiles_check_of_a_sound_folder_exits_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    generate_profiles(tmp_path, 3, seed=2)

    assert main(["profiles", "check", str(tmp_path)]) == 0
    assert "3 loaded, 0 refused" in capsys.readouterr().err
