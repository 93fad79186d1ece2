"""The audit trail (監査記録) outlives the broker: real processes — the embedded broker, a
`noroshi worker`, a `noroshi archive` killed with SIGKILL mid-way and started again, then the
broker stopped for good (its memory gone) and a `noroshi board` that still shows every incident
in the report and every timeline entry in the CSV."""

from __future__ import annotations

import asyncio
import csv
import io
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import aiohttp
import orjson
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import ConsumerRecord

from dashboards import report
from dashboards.archive import ArchiveReader, ArchiveUnavailable, archive_path
from dashboards.feed import parse_entry, parse_incident
from vocabulary.profile_files import load_profile
from tools.replay import replay_lines

from .board_client import sign_in, start_board
from .conftest import SAMPLE_PROFILE, produce, read_until, sample_lines

pytestmark = pytest.mark.integration


async def read_all(servers: str, topics: list[str]) -> list[ConsumerRecord]:
    """Every record of `topics` as they are now: up to each partition's high watermark as the
    fetches report it (Tansu's ListOffsets answer is wrong)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=servers, group_id=None, enable_auto_commit=False,
                                auto_offset_reset="earliest")
    await consumer.start()
    try:
        await consumer.topics()
        partitions = [TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or ())]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        records: list[ConsumerRecord] = []
        remaining = set(partitions)
        async with asyncio.timeout(30):
            while remaining:
                batch = await consumer.getmany(*remaining, timeout_ms=300)
                for recs in batch.values():
                    records.extend(recs)
                for tp in list(remaining):
                    high = consumer.highwater(tp)
                    if high is not None and await consumer.position(tp) >= high:
                        remaining.discard(tp)
        return records
    finally:
        await consumer.stop()


async def until(check: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    try:
        async with asyncio.timeout(timeout):
            while not check():
                await asyncio.sleep(0.1)
    except TimeoutError:
        raise AssertionError(f"never happened: {what}") from None


def archived(reader: ArchiveReader) -> tuple[set[tuple[str, int]], set[str]] | None:
    """(incident versions, timeline entry ids) in the archive, or None while it cannot be read yet."""
    def query(db):
        versions = set(db.execute("SELECT incident_id, version FROM incident_versions").fetchall())
        return versions, {row[0] for row in db.execute("SELECT entry_id FROM timeline_entries")}
    if not reader.exists():
        return None
    try:
        return reader.read(query)
    except ArchiveUnavailable:
        return None


def month_of_entry(raw: bytes) -> str | None:
    from dashboards.state import parse_time

    ts = parse_time(parse_entry(raw).at)
    return None if ts is None else report.month_of(ts)


async def test_the_audit_trail_survives_a_killed_archiver_and_then_the_broker_itself(
        broker, names, spawn, env, tmp_path: Path) -> None:
    reader = ArchiveReader(archive_path(Path(env["NOROSHI_DATA_DIR"])))
    lines = sample_lines()
    first = [line for line in lines if orjson.loads(line)["ts"] < "2026-11-20T10:30"]  # the flame-up
    rest = lines[len(first):]
    # By type: which of two topics' events a live worker reads first may move an opening by a few
    # events (and so its id), but the day still opens one incident of each type.
    expected = {i.type for i in replay_lines(lines, load_profile(SAMPLE_PROFILE)).incidents.values()}
    assert len(expected) == 4

    def to_topic(line: bytes) -> tuple[str, bytes, bytes]:
        return (names.mentions if b'"mention"' in line else names.accounts, b"wako", line)

    worker = spawn("worker")
    archiver = spawn("archive")
    await produce(broker.servers, [to_topic(line) for line in first])
    await until(lambda: bool((got := archived(reader)) and got[0] and got[1]),
                "the archiver stored the flame-up's first versions and entries")

    # kill -9 while the worker is publishing; the rest of the day arrives while it is down.
    archiver.kill()
    at_kill = archived(reader)
    assert at_kill is not None
    await produce(broker.servers, [to_topic(line) for line in rest])
    await read_until(broker.servers, [names.incidents],
                     lambda rs: expected <= {parse_incident(r.value).type for r in rs}, timeout=60)
    worker.stop()  # the topics now hold what they will hold

    # A crashed worker publishes some records again (at-least-once): copies, same keys.
    published = await read_all(broker.servers, [names.incidents, names.timeline])
    copies = [r for r in published if r.topic == names.incidents][:3] + \
             [r for r in published if r.topic == names.timeline][:5]
    await produce(broker.servers, [(r.topic, r.key, r.value) for r in copies])
    published = await read_all(broker.servers, [names.incidents, names.timeline])
    versions = {(i.incident_id, i.version) for i in
                (parse_incident(r.value) for r in published if r.topic == names.incidents)}
    entries = [r.value for r in published if r.topic == names.timeline]
    entry_ids = {parse_entry(raw).entry_id for raw in entries}
    assert len(entries) > len(entry_ids)  # the topic holds copies
    assert at_kill[0] < versions and at_kill[1] < entry_ids  # the kill left work for the restart

    restarted = spawn("archive")
    await until(lambda: archived(reader) == (versions, entry_ids),
                "the restarted archiver holds every version and entry of the topics")
    status = reader.status(counts=True)
    assert (status.incident_versions, status.timeline_entries) == (len(versions), len(entry_ids))  # each once
    assert status.lag == 0
    logged = [e["event"] for e in restarted.log_lines()]
    assert "archive_duplicates_ignored" in logged
    assert "archive_log_changed" not in logged  # it resumed where its last commit got, in the same log

    # The broker goes for good: every topic, every offset, gone.
    broker.stop()
    shown = subprocess.run([sys.executable, "-m", "noroshi", "archive", "--status"], env=env,
                           capture_output=True, text=True, timeout=30)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert f"タイムライン / timeline entries: {len(entry_ids)}" in shown.stdout and "遅れ / lag: 0 件" in shown.stdout

    _, base = await start_board(spawn)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        assert (await sign_in(http, base, "demo", env["NOROSHI_BOARD_PASSWORD"])).status == 303

        # The report: every incident of the month, by type, from the archive.
        page = await (await http.get(base + "/report?month=2026-11")).text()
        table = page[page.index('<table class="report">'):]
        for label in ("炎上", "なりすまし", "デマ", "災害"):
            row = table[table.index(f">{label}</td>"):]
            assert row.split("</td>", 2)[1].endswith(">1"), label
        assert '<strong>4</strong>' in table
        assert 'id="archive-status"' in page

        # The CSV: every entry once, in order of time across incidents, month by month.
        months = {m for raw in entries if (m := month_of_entry(raw))}
        rows = 0
        for month in sorted(months):
            response = await http.get(f"{base}/report/timeline.csv?month={month}")
            assert response.status == 200
            body = await response.read()
            month_entries = report.month_entries([parse_entry(raw) for raw in entries], month, "*")
            assert body == report.csv_document(month_entries)
            rows += len(list(csv.DictReader(io.StringIO(body.decode().lstrip("\ufeff")))))
        assert rows == len(entry_ids)


async def test_the_csv_is_a_clear_503_before_any_byte_when_the_archive_or_the_broker_cannot_be_read(
        broker, spawn, env, tmp_path: Path) -> None:
    path = archive_path(Path(env["NOROSHI_DATA_DIR"]))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"not an archive, a damaged file " * 200)
    board, base = await start_board(spawn)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        assert (await sign_in(http, base, "demo", env["NOROSHI_BOARD_PASSWORD"])).status == 303
        for lang, words in (("ja", "監査記録を読み出せません"), ("en", "The archive cannot be read")):
            response = await http.get(f"{base}/report/timeline.csv?month=2026-11&lang={lang}")
            assert response.status == 503
            assert response.headers["Content-Type"].startswith("text/html")
            assert words in await response.text()
        assert (await http.get(f"{base}/report?month=2026-11")).status == 503

        # No archive at all (no archiver has run): the CSV is read from the topic, and a broker
        # gone mid-way is the same clear 503, never a 200 with half a file.
        path.unlink()
        await asyncio.to_thread(broker.stop)
        response = await http.get(f"{base}/report/timeline.csv?month=2026-11&lang=ja")
        assert response.status == 503 and "タイムラインを出力できません" in await response.text()
        page = await (await http.get(f"{base}/report?month=2026-11&lang=ja")).text()
        assert "監査記録の保存先がありません" in page  # the report says what it is counting from
    # Said in the log (stderr is flushed line by line, before the answer left).
    events = [e["event"] for e in board.log_lines()]
    assert "board_archive_unreadable" in events and "board_timeline_export_failed" in events


def timeline_items(prefix: str, count: int) -> list[tuple[str, bytes, bytes]]:
    from vocabulary.records import TimelineEntry

    items = []
    for n in range(count):
        incident_id = f"wako-flame-{prefix}{n % 3}"
        entry = TimelineEntry(entry_id=f"{incident_id}:{n}:noted", incident_id=incident_id, municipality="wako",
                              at=f"2026-11-20T10:{n:02d}:00+09:00", actor={"kind": "system", "name": "noroshi"},
                              action="noted", detail={"n": n})
        items.append(("noroshi.timeline", incident_id.encode(), entry.to_json()))
    return items


def entry_ids(reader: ArchiveReader) -> set[str]:
    return got[1] if (got := archived(reader)) else set()


async def test_an_archiver_that_meets_a_broker_which_lost_its_data_reads_it_again_from_the_start(
        broker, spawn, env) -> None:
    from noroshi.broker import EmbeddedBroker
    from vocabulary.topics import TopicNames
    from streams.topics import ensure_topics

    from .conftest import PARTITIONS

    reader = ArchiveReader(archive_path(Path(env["NOROSHI_DATA_DIR"])))
    before = timeline_items("a", 20)
    archiver = spawn("archive")
    await produce(broker.servers, before)
    await until(lambda: len(entry_ids(reader)) == 20, "the first broker's entries archived")
    archiver.stop()

    # A new broker on the same address, empty, then more records than the archive had reached:
    # at the stored offsets there are other records now.
    await asyncio.to_thread(broker.stop)
    again = await asyncio.to_thread(EmbeddedBroker(port=broker.port).start)
    try:
        await ensure_topics(again.servers, TopicNames("noroshi"), PARTITIONS, 1)
        after = timeline_items("b", 40)
        await produce(again.servers, after)
        restarted = spawn("archive")
        await until(lambda: len(entry_ids(reader)) == 60, "the new broker's entries archived too, none skipped")
        changed = [e for e in restarted.log_lines() if e["event"] == "archive_log_changed"]
        assert {(e["topic"], e["partition"]) for e in changed} == {("noroshi.timeline", p) for p in range(PARTITIONS)}

        # And while it runs: the broker loses everything again and starts with fewer records
        # than the archive had reached (the embedded broker answers such a position with nothing).
        await asyncio.to_thread(again.stop)
        again = await asyncio.to_thread(EmbeddedBroker(port=broker.port).start)
        await ensure_topics(again.servers, TopicNames("noroshi"), PARTITIONS, 1)
        await produce(again.servers, timeline_items("c", 3))
        await until(lambda: len(entry_ids(reader)) == 63, "the entries of the third broker archived")
        changed_again = [e for e in restarted.log_lines() if e["event"] == "archive_log_changed"][len(changed):]
        assert changed_again and {e["reason"] for e in changed_again} == {"the log ends before it"}
    finally:
        await asyncio.to_thread(again.stop)
