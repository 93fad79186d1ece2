"""The records Noroshi publishes: one JSON form each, the contract's incident line, dead letters."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import orjson
import pytest

from vocabulary.records import (
    Actor,
    BoardCommand,
    DeadLetter,
    Detection,
    Incident,
    TimelineEntry,
    incident_id_for,
    iso,
)
from tests.unit.builders import detection

CONTRACT_INCIDENT_KEYS = {"incident_id", "type", "target", "opened_at", "severity", "evidence_ids", "summary"}

INCIDENT = Incident(
    incident_id="wako-flame-abc", municipality="wako", type="flame", target="wako_city_official",
    opened_at="2026-11-20T10:05:30+09:00", severity="medium", evidence_ids=["x:1", "x:2"],
    summary="@wako_city_official への批判的な返信が 15 件", state="open", change="updated",
    updated_at="2026-11-20T10:20:00+09:00", version=2, metrics={"critical": 15, "reach": 750}, drill=True,
)
RECORDS = [
    detection(metrics={"critical": 5, "nested": {"by_hour": [1, 2]}}, drill=True),
    INCIDENT,
    Actor(kind="person", name="広報課 佐藤"),
    TimelineEntry(entry_id="wako-flame-abc:v1:incident_opened", incident_id="wako-flame-abc",
                  municipality="wako", at="2026-11-20T10:05:30+09:00",
                  actor={"kind": "detector", "name": "noroshi"}, action="incident_opened",
                  detail={"severity": "low", "evidence": 5}),
    BoardCommand(command_id="cmd-1", incident_id="wako-flame-abc", municipality="wako",
                 action="acknowledge", actor={"kind": "person", "name": "kouhou"},
                 at="2026-11-20T10:07:00+09:00", payload={"note": "確認しました"}),
    DeadLetter.of(reason="contract: not valid JSON", topic="noroshi.events", partition=1, offset=7,
                  key=b"wako", raw=b"\xff{", failed_at="2026-11-20T10:07:00+09:00"),
]


@pytest.mark.parametrize("record", RECORDS, ids=lambda r: type(r).__name__)
def test_every_record_round_trips_through_json(record: object) -> None:
    cls = type(record)

    assert cls.from_json(record.to_json()) == record  # type: ignore[attr-defined]
    assert cls.from_dict(orjson.loads(record.to_json())) == record  # type: ignore[attr-defined]


def test_japanese_text_is_written_as_utf8_not_escapes() -> None:
    assert "への批判的な返信".encode() in INCIDENT.to_json()


def test_fields_a_newer_writer_added_are_ignored_when_reading() -> None:
    obj = orjson.loads(INCIDENT.to_json()) | {"assignee": "広報課長"}

    assert Incident.from_dict(obj) == INCIDENT


def test_fields_with_defaults_may_be_absent_when_reading() -> None:
    obj = orjson.loads(detection().to_json())
    del obj["metrics"], obj["drill"]

    read = Detection.from_dict(obj)

    assert read.metrics == {} and read.drill is False


def test_the_incident_contract_line_has_exactly_the_contracts_keys() -> None:
    line = INCIDENT.contract_line()

    assert set(line) == CONTRACT_INCIDENT_KEYS
    assert {k: line[k] for k in CONTRACT_INCIDENT_KEYS} == {k: getattr(INCIDENT, k) for k in CONTRACT_INCIDENT_KEYS}
    line["evidence_ids"].append("x:99")
    assert INCIDENT.evidence_ids == ["x:1", "x:2"]


def test_iso_gives_rfc3339_in_japan_time() -> None:
    instant = datetime(2026, 11, 20, 1, 5, 30, tzinfo=timezone.utc).timestamp()

    assert iso(instant) == "2026-11-20T10:05:30+09:00"
    assert iso(instant + 0.9) == "2026-11-20T10:05:30+09:00"
    assert datetime.fromisoformat(iso(instant)).timestamp() == instant


def test_iso_can_write_another_offset() -> None:
    instant = datetime(2026, 11, 20, 1, 5, 30, tzinfo=timezone.utc).timestamp()

    assert iso(instant, timezone.utc) == "2026-11-20T01:05:30+00:00"
    assert iso(instant, timezone(timedelta(hours=-5))) == "2026-11-19T20:05:30-05:00"


def test_a_dead_letter_keeps_the_raw_bytes_exactly_even_when_not_utf8() -> None:
    raw = bytes(range(256))

    letter = DeadLetter.of(reason="r", topic="t", partition=0, offset=1, key="wako", raw=raw, failed_at="f")

    assert letter.raw == raw
    assert DeadLetter.from_json(letter.to_json()).raw == raw


def test_a_dead_letter_decodes_bytes_keys() -> None:
    utf8 = DeadLetter.of(reason="r", topic="t", partition=0, offset=1, key="和光".encode(), raw=b"", failed_at="f")
    broken = DeadLetter.of(reason="r", topic="t", partition=0, offset=1, key=b"wa\xffko", raw=b"", failed_at="f")

    assert utf8.key == "和光"
    assert broken.key == "wa\ufffdko"


def test_a_dead_letter_without_a_value_or_key_keeps_empty_bytes() -> None:
    letter = DeadLetter.of(reason="r", topic="t", partition=0, offset=1, key=None, raw=None, failed_at="f")

    assert letter.raw == b"" and letter.key is None


def test_incident_ids_are_deterministic_and_depend_on_every_part() -> None:
    base = incident_id_for("wako", "flame", "wako_city_official", 1_795_000_000.0)

    assert base == incident_id_for("wako", "flame", "wako_city_official", 1_795_000_000.0)
    assert base.startswith("wako-flame-") and len(base.removeprefix("wako-flame-")) == 12
    others = {
        incident_id_for("toda", "flame", "wako_city_official", 1_795_000_000.0),
        incident_id_for("wako", "impersonation", "wako_city_official", 1_795_000_000.0),
        incident_id_for("wako", "flame", "wako_clty_official", 1_795_000_000.0),
        incident_id_for("wako", "flame", "wako_city_official", 1_795_000_001.0),
    }
    assert base not in others and len(others) == 4
