"""The timeline in the reader's language: no `実行: responder`, no `kind: disaster_mode · drill: True`
(issue 17, item 4)."""

from __future__ import annotations

import re

import pytest

from dashboards.incident_page import describe, who
from vocabulary.records import TimelineEntry


def entry(action: str, **detail: object) -> TimelineEntry:
    return TimelineEntry(entry_id="e:1", incident_id="wako-disaster-1", municipality="wako",
                         at="2026-12-07T10:00:00+09:00", actor={"kind": "system"}, action=action, detail=dict(detail))


@pytest.mark.parametrize(("name", "ja", "en"), [
    ("responder", "実行: 通知・投稿の処理", "Responder: notifications and posts"),
    ("board", "実行: 状況ボード", "Responder: status board"),
    ("outbound", "実行: 発信", "Responder: outbound"),
    ("x:dry-run", "実行: X（ドライラン・未投稿）", "Responder: X (dry run, not posted)"),
    ("webhook:ops", "実行: webhook:ops", "Responder: webhook:ops"),  # the roster's own address, as written
])
def test_a_responder_is_named_in_words(name: str, ja: str, en: str) -> None:
    actor = {"kind": "responder", "name": name}
    assert who("ja", actor) == ja and who("en", actor) == en


def test_an_entry_without_a_line_of_its_own_is_said_in_words_not_as_raw_fields() -> None:
    e = entry("disaster_mode_changed", kind="disaster_mode", drill=True, on=True, effect_id="x:1")
    assert describe("ja", e) == "災害モード · 訓練 · 開始"
    assert describe("en", e) == "Disaster mode · Drill · on"
    said = describe("ja", entry("something_new", kind="disaster_mode", deliveries=2, attempt=1, drill=False))
    assert said == "災害モード · 配信数: 2 · 試行: 1"
    assert not re.search(r"\b(kind|drill|on|True|False):?", said)
