"""A city's own closure days (閉庁日, the profile's `closure_days`): business hours and the deadlines that
wait for them skip them, and a malformed entry refuses the profile naming the file and the field."""

from __future__ import annotations

import shutil
from datetime import date, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from noroshi.cli import main
from noroshi.stack import read_usable_profiles
from playbooks.engine import default_rules
from playbooks.policy import JST, NO_CLOSURES, ClosureDays, in_business_hours, is_business_day, next_business_open
from playbooks.profile import ProfileFieldError, closure_days_from_profile
from tests.unit.builders import SAMPLE_PROFILE, at
from tests.unit.test_cli import clean_environment  # noqa: F401 - main() configures logging; put back after
from tests.unit.test_playbooks import OWNER, PROFILE, Play, awaiting_approval, flame_opened

FRIDAY_18 = 9 * 60  # 2026-11-20 18:00 JST; Monday 11-23 is 勤労感謝の日


def jst(y: int, m: int, d: int, hour: int = 12, minute: int = 0) -> float:
    return datetime(y, m, d, hour, minute, tzinfo=JST).timestamp()


def test_a_profile_names_single_days_and_days_closed_every_year() -> None:
    closed = closure_days_from_profile({"closure_days": ["2027-05-06", "10-01", "02-29"]})

    assert closed == ClosureDays(frozenset({date(2027, 5, 6)}), frozenset({(10, 1), (2, 29)}))
    assert date(2027, 5, 6) in closed and date(2028, 5, 6) not in closed
    assert date(2026, 10, 1) in closed and date(2031, 10, 1) in closed
    assert closure_days_from_profile({}) == NO_CLOSURES == closure_days_from_profile({"closure_days": []})


def test_a_city_closure_day_is_not_a_business_day() -> None:
    closed = closure_days_from_profile({"closure_days": ["2027-05-06"]})  # a Thursday

    assert is_business_day(date(2027, 5, 6)) and in_business_hours(jst(2027, 5, 6, 10))
    assert not is_business_day(date(2027, 5, 6), closed) and not in_business_hours(jst(2027, 5, 6, 10), closed)
    assert is_business_day(date(2027, 5, 7), closed)


def test_the_next_opening_moves_past_a_city_closure_day_after_a_weekend_and_a_holiday() -> None:
    friday_evening = jst(2026, 11, 20, 18)

    assert next_business_open(friday_evening) == jst(2026, 11, 24, 8, 30)  # Monday is a national holiday
    closed = closure_days_from_profile({"closure_days": ["11-24"]})
    assert next_business_open(friday_evening, closed) == jst(2026, 11, 25, 8, 30)


def queued_statement(profile: dict[str, Any]) -> str:
    """When the playbook, with the real rules, queues a statement approved on a Friday evening."""
    play = Play(flame_opened(opened_at=at(FRIDAY_18), at=at(FRIDAY_18)), profile)
    play.rules = default_rules()
    play.open()
    play.send(play.command("acknowledge", FRIDAY_18 + 5))
    awaiting_approval(play, FRIDAY_18 + 10)
    queued = play.send(play.command("approve", FRIDAY_18 + 20, who=OWNER, draft_id=play.draft_id(1)))
    assert play.at_state == "queued", queued.rejection
    [deadline] = [d for d in queued.deadlines if d.name == "business_open"]
    return deadline.due_at


def test_a_post_queued_over_a_city_closure_day_waits_for_the_day_after_it() -> None:
    assert queued_statement(PROFILE) == "2026-11-24T08:30:00+09:00"
    assert queued_statement({**PROFILE, "closure_days": ["2026-11-24"]}) == "2026-11-25T08:30:00+09:00"


@pytest.mark.parametrize(("value", "field", "shown"), [
    (["2027-02-30"], "closure_days[0]", "'2027-02-30'"),
    (["10-01", "2027/05/06"], "closure_days[1]", "'2027/05/06'"),
    (["13-01"], "closure_days[0]", "'13-01'"),
    ([20270506], "closure_days[0]", "20270506"),
    ("2027-05-06", "closure_days", "'2027-05-06'"),
])
def test_a_malformed_closure_day_is_refused_naming_the_field_japanese_first(value: Any, field: str, shown: str) -> None:
    with pytest.raises(ProfileFieldError) as caught:
        closure_days_from_profile({"closure_days": value})

    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")
    assert shown in str(caught.value) and f" / {field}: " in str(caught.value)


def write_profile(folder: Path, name: str, **extra: Any) -> Path:
    raw = orjson.loads(SAMPLE_PROFILE.read_bytes())
    raw["municipality"] = {**raw["municipality"], "id": name}
    path = folder / f"{name}.profile.json"
    path.write_bytes(orjson.dumps({**raw, **extra}))
    return path


def test_a_profile_with_a_malformed_closure_day_is_refused_by_file_and_field_and_the_others_load(
        tmp_path: Path) -> None:
    bad = write_profile(tmp_path, "kiri", closure_days=["2027-05-06", "5月6日"])
    write_profile(tmp_path, "wako", closure_days=["2027-05-06"])

    loaded = read_usable_profiles([tmp_path])

    assert list(loaded.profiles) == ["wako"]
    [refused] = loaded.refused
    assert refused.path == bad
    assert refused.ja.startswith("項目を読めません（closure_days[1]: '5月6日' は日付として読めません")
    assert "closure_days[1]: '5月6日' is not a date" in refused.en


def test_profiles_check_refuses_a_malformed_closure_day_and_exits_1(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = write_profile(tmp_path, "kiri", closure_days=["12-32"])
    shutil.copy(SAMPLE_PROFILE, tmp_path / "wako.profile.json")

    status = main(["profiles", "check", str(tmp_path)])

    rows = dict(line.split("\t", 1) for line in capsys.readouterr().out.splitlines())
    assert status == 1
    assert rows[str(bad)].startswith("却下 refused\t項目を読めません（closure_days[0]: '12-32'")
    assert rows[str(tmp_path / "wako.profile.json")].startswith("OK\twako")
