"""The archive of the audit trail (監査記録): idempotent storage, a batch and its offsets as one,
the report month in Japan time, the CSV order, the lag a reader sees."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import orjson
import pytest

from dashboards import report
from dashboards.archive import (
    STALE_S,
    ArchiveReader,
    ArchiveStore,
    ArchiveUnavailable,
    Record,
    entry_key,
    month_range,
    sha256,
)
from dashboards.state import BoardState
from vocabulary.records import Incident, TimelineEntry

INCIDENTS, TIMELINE = "noroshi.incidents", "noroshi.timeline"
KINDS = {INCIDENTS: "incident", TIMELINE: "timeline"}


def incident(incident_id: str, version: int, *, opened_at: str = "2026-11-20T10:00:00+09:00",
             municipality: str = "wako", state: str = "escalated", updated_at: str | None = None,
             **metrics: object) -> Incident:
    return Incident(incident_id=incident_id, municipality=municipality, type="flame", target="wako_city",
                    opened_at=opened_at, severity="high", evidence_ids=["m1"], summary="批判が急増",
                    state=state, change="updated", updated_at=updated_at or opened_at, version=version,
                    metrics=dict(metrics))


def entry(entry_id: str, incident_id: str, at: str, *, municipality: str = "wako", action: str = "noted") -> TimelineEntry:
    return TimelineEntry(entry_id=entry_id, incident_id=incident_id, municipality=municipality, at=at,
                         actor={"kind": "system", "name": "noroshi"}, action=action, detail={"n": entry_id})


def records(topic: str, items: list[Incident] | list[TimelineEntry], *, partition: int = 0,
            first: int = 0) -> list[Record]:
    return [Record(topic, partition, first + n, item.to_json()) for n, item in enumerate(items)]


@pytest.fixture
def store(tmp_path: Path):
    with ArchiveStore(tmp_path / "archive.sqlite3") as s:
        yield s


@pytest.fixture
def reader(store: ArchiveStore) -> ArchiveReader:
    return ArchiveReader(store.path)


def test_a_redelivered_incident_version_or_timeline_entry_is_stored_once(store, reader) -> None:
    versions = [incident("wako-flame-1", 1), incident("wako-flame-1", 2)]
    entries = [entry("e1", "wako-flame-1", "2026-11-20T10:00:00+09:00"),
               entry("e2", "wako-flame-1", "2026-11-20T10:01:00+09:00")]
    first = store.store(records(INCIDENTS, versions) + records(TIMELINE, entries), KINDS)
    assert (first.incidents, first.entries, first.duplicates) == (2, 2, 0)
    # The worker published them again after a crash: other offsets, the same records.
    again = store.store(records(INCIDENTS, versions, first=2) + records(TIMELINE, entries, partition=1), KINDS)
    assert (again.incidents, again.entries, again.duplicates, again.differing) == (0, 0, 4, [])
    status = reader.status(counts=True)
    assert (status.incident_versions, status.timeline_entries) == (2, 2)
    assert [e.entry_id for e in reader.timeline("2026-11", "wako")] == ["e1", "e2"]


def test_a_copy_that_differs_from_the_stored_one_is_reported_and_the_first_kept(store, reader) -> None:
    store.store(records(TIMELINE, [entry("e1", "i1", "2026-11-20T10:00:00+09:00", action="first")]), KINDS)
    result = store.store(records(TIMELINE, [entry("e1", "i1", "2026-11-20T10:00:00+09:00", action="second")],
                                 first=1), KINDS)
    assert [(d.offset, d.key) for d in result.differing] == [(1, "e1")]
    assert [e.action for e in reader.timeline("2026-11", "*")] == ["first"]


def test_an_entry_without_an_id_is_known_by_the_hash_of_its_canonical_form() -> None:
    a = entry("", "i1", "2026-11-20T10:00:00+09:00")
    same = TimelineEntry.from_dict(orjson.loads(orjson.dumps(dict(reversed(list(a.to_dict().items()))))))
    assert entry_key(a) == entry_key(same) and entry_key(a).startswith("sha256:")
    assert entry_key(a) != entry_key(entry("", "i1", "2026-11-20T10:00:01+09:00"))
    assert entry_key(entry("e9", "i1", "2026-11-20T10:00:00+09:00")) == "e9"


def test_a_batch_and_the_offsets_it_reaches_are_stored_together_or_not_at_all(store, reader) -> None:
    entries = [entry(f"e{n}", "i1", "2026-11-20T10:00:00+09:00") for n in range(3)]
    store.store(records(TIMELINE, entries), KINDS, highs={(TIMELINE, 0): 5})
    [position] = store.positions().values()
    assert (position.next_offset, position.last_sha256, position.high_watermark) == (3, sha256(entries[-1].to_json()), 5)

    def broken_batch():
        yield from records(TIMELINE, [entry("e3", "i1", "2026-11-20T10:00:00+09:00")], first=3)
        raise OSError("the process died mid-batch")

    with pytest.raises(OSError):
        store.store(broken_batch(), KINDS)
    assert store.positions()[(TIMELINE, 0)].next_offset == 3
    assert reader.status(counts=True).timeline_entries == 3


def test_a_record_that_cannot_be_read_is_kept_aside_counted_and_passed(store, reader) -> None:
    batch = [Record(TIMELINE, 0, 0, b"{not json"), *records(TIMELINE, [entry("e1", "i1", "2026-11-20T10:00:00+09:00")],
                                                               first=1)]
    result = store.store(batch, KINDS)
    assert [(s.topic, s.partition, s.offset) for s in result.skipped] == [(TIMELINE, 0, 0)]
    assert result.entries == 1 and store.positions()[(TIMELINE, 0)].next_offset == 2
    assert reader.status(counts=True).skipped == 1


def test_the_report_month_is_a_month_in_japan_time_and_one_municipality(store, reader) -> None:
    late_november = incident("wako-flame-nov", 1, opened_at="2026-11-30T23:30:00+09:00")  # 14:30 UTC
    early_december = incident("wako-flame-dec", 1, opened_at="2026-12-01T00:10:00+09:00")  # still 30 Nov in UTC
    asaka = incident("asaka-flame-1", 1, opened_at="2026-11-10T10:00:00+09:00", municipality="asaka")
    store.store(records(INCIDENTS, [late_november, early_december, asaka]), KINDS)
    november, _ = reader.month("2026-11", "wako")
    assert [i.incident_id for i in november] == ["wako-flame-nov"]
    assert [i.incident_id for i in reader.month("2026-12", "wako")[0]] == ["wako-flame-dec"]
    assert {i.incident_id for i in reader.month("2026-11", "*")[0]} == {"wako-flame-nov", "asaka-flame-1"}
    start, end = month_range("2026-12")
    assert end - start == 31 * 24 * 3600


def test_the_reports_figures_from_archived_versions_are_those_of_the_live_board(store, reader) -> None:
    versions = [incident("wako-flame-1", 1),
                incident("wako-flame-1", 2, updated_at="2026-11-20T10:05:00+09:00", acknowledged_by="sato"),
                incident("wako-flame-1", 3, state="resolved", updated_at="2026-11-20T12:00:00+09:00",
                         acknowledged_by="sato",
                         drafts=[{"status": "posted", "posted_at": "2026-11-20T11:00:00+09:00"}])]
    # Stored out of order, as partitions interleave: the archive gives them back in version order.
    store.store(records(INCIDENTS, [versions[2], versions[0], versions[1]]), KINDS)
    archived = report.summaries(reader.month("2026-11", "wako")[0])
    live = BoardState()
    for version in versions:
        live.add_incident(version)
    assert archived == list(live.summaries.values())
    [summary] = archived
    assert (summary.ended_ts - summary.opened_ts, summary.acknowledged_ts - summary.opened_ts) == (7200, 300)
    figures = report.monthly(archived, "2026-11", "wako", now=summary.ended_ts)
    assert figures.total == 1 and figures.response.mean_s == 3600


def test_the_csv_lists_each_entry_once_in_order_of_time_across_incidents(store, reader) -> None:
    at = "2026-11-20T10:0{}:00+09:00".format
    a = [entry("a1", "inc-a", at(1)), entry("a2", "inc-a", at(3)), entry("a3", "inc-a", at(3))]
    b = [entry("b1", "inc-b", at(2)), entry("b2", "inc-b", at(3)), entry("b3", "inc-b", at(5))]
    other_month = entry("c1", "inc-c", "2026-10-31T23:59:59+09:00")
    # Each incident's entries on its own partition, in order; the partitions read in any order,
    # and a redelivered copy of some.
    store.store(records(TIMELINE, b, partition=1) + records(TIMELINE, [other_month], partition=2), KINDS)
    store.store(records(TIMELINE, a, partition=0) + records(TIMELINE, b[:2], partition=1, first=3), KINDS)
    listed = reader.timeline("2026-11", "*")
    assert [e.entry_id for e in listed] == ["a1", "b1", "a2", "a3", "b2", "b3"]
    body = report.csv_document(listed).decode()
    assert body.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(body.lstrip("\ufeff"))))
    assert [r["incident_id"] for r in rows] == ["inc-a", "inc-b", "inc-a", "inc-a", "inc-b", "inc-b"]
    assert reader.timeline("2026-11", "asaka") == []
    # The board's path without an archive (a topic read whole) gives the same order.
    assert report.month_entries([*b, *a, a[0], other_month], "2026-11", "*") == listed


def test_the_lag_is_what_the_archiver_last_saw_of_the_topics_ends_and_a_silent_archiver_is_stale(store, reader) -> None:
    store.store(records(TIMELINE, [entry("e1", "i1", "2026-11-20T10:00:00+09:00")]), KINDS,
                highs={(TIMELINE, 0): 1, (TIMELINE, 1): 0}, now=1000.0)
    assert reader.status().lag == 0
    store.heartbeat({(TIMELINE, 0): 4, (TIMELINE, 1): 2, (INCIDENTS, 0): 3}, now=1010.0)
    status = reader.status()
    assert status.lag == 3 + 2 + 3 and status.last_write_at == 1000.0 and status.heartbeat_at == 1010.0
    assert not status.stale(1010.0 + STALE_S) and status.stale(1011.0 + STALE_S)
    note = report.ArchiveNote.of(status.lag, status.heartbeat_at, status.stale(1020.0))
    assert "監査記録の保存: 8 件遅れ" in note.html("ja") and "Archive lag: 8 records" in note.html("en")


def test_a_missing_or_damaged_archive_is_an_error_not_an_empty_report(tmp_path: Path) -> None:
    with pytest.raises(ArchiveUnavailable):
        ArchiveReader(tmp_path / "none.sqlite3").timeline("2026-11", "*")
    damaged = tmp_path / "damaged.sqlite3"
    damaged.write_bytes(b"this is not a database" * 100)
    with pytest.raises(ArchiveUnavailable):
        ArchiveReader(damaged).month("2026-11", "*")
