"""`noroshi archive`: copies the incidents and timeline topics into the archive
(`dashboards.archive`) as they are published, so the audit trail (監査記録) outlives the broker.

A plain consumer (no group: one archiver per archive file) that resumes from the offsets the
archive holds. Each batch and the offsets it reaches are committed to SQLite in one
transaction; nothing is acknowledged anywhere before that commit, so a kill -9 at any moment
loses nothing and the storage being idempotent makes any redelivery harmless. A position that
no longer matches the partition's log (the embedded broker lost everything, a topic was made
again) is noticed — the record just before it is not the one stored, or the log ends before
it — said once, and that partition is read again from the beginning.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from typing import Any

import structlog

from dashboards.archive import (
    HEARTBEAT_S,
    ArchiveReader,
    ArchiveStatus,
    ArchiveStore,
    ArchiveUnavailable,
    Position,
    Record,
    archive_path,
    sha256,
)
from vocabulary.settings import Settings
from vocabulary.topics import TopicNames
from streams.topics import assign_every_partition

log = structlog.get_logger(__name__)

BATCH = 2000
#: How often the lag is written to the log while the archive is behind.
LAG_LOG_S = 60.0
#: No fetch answer for this long: the broker is away (said once).
SILENT_S = 30.0


#: How long the check of the stored positions waits for the broker before trying again.
RESUME_CHECK_S = 30.0


class Stopped(Exception):
    """Asked to stop while checking where to resume: leave everything as it is."""


async def _stop(consumer: Any) -> None:
    # With the broker away, aiokafka's fetcher lets its own task's cancellation out of stop();
    # that is not ours to pass on (ours shows in `cancelling()`).
    task = asyncio.current_task()
    try:
        await consumer.stop()
    except asyncio.CancelledError:
        if task is not None and task.cancelling():
            raise


class Archiver:
    def __init__(self, servers: str, names: TopicNames, store: ArchiveStore, *,
                 retry_delay: float = 1.0, max_retry_delay: float = 30.0) -> None:
        self.servers = servers
        self.store = store
        self.kinds = {names.incidents: "incident", names.timeline: "timeline"}
        self._retry_delay = retry_delay
        self._max_retry_delay = max_retry_delay
        self._positions: dict[tuple[str, int], int] = {}
        self._last_lag: int | None = None
        self._lag_logged_at = 0.0
        self._connected_at = time.time()
        self._silent = False
        self.stored = 0

    async def run(self, stop: asyncio.Event) -> None:
        from aiokafka.errors import KafkaError

        delay = self._retry_delay
        while not stop.is_set():
            try:
                await self._consume(stop)
                return
            except Stopped:
                return
            except (KafkaError, OSError, LookupError) as exc:
                log.warning("archive_broker_unavailable", servers=self.servers, error=repr(exc), retry_in=delay)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await stop.wait()
            delay = min(delay * 2, self._max_retry_delay)

    async def _consume(self, stop: asyncio.Event) -> None:
        from aiokafka import AIOKafkaConsumer
        from aiokafka.errors import OffsetOutOfRangeError

        consumer = AIOKafkaConsumer(bootstrap_servers=self.servers, group_id=None, enable_auto_commit=False,
                                    auto_offset_reset="none", max_partition_fetch_bytes=4 * 1024 * 1024)
        await consumer.start()
        try:
            partitions = await assign_every_partition(consumer, self.kinds)
            await self._resume(consumer, partitions, stop)
            log.info("archive_connected", servers=self.servers, partitions=len(partitions),
                     path=str(self.store.path))
            self._connected_at = time.time()
            beat = 0.0
            while not stop.is_set():
                try:
                    batch = await consumer.getmany(timeout_ms=1000, max_records=BATCH)
                except OffsetOutOfRangeError as exc:
                    await self._out_of_range(consumer, list(exc.args[0]) if exc.args else partitions)
                    continue
                highs = {(tp.topic, tp.partition): consumer.highwater(tp) for tp in partitions}
                records = [Record(r.topic, r.partition, r.offset, r.value) for rs in batch.values() for r in rs]
                now = time.time()
                # The last answer from the broker, not the clock: with the broker away, aiokafka
                # keeps retrying inside getmany, and the archive must not look up to date.
                heard = max((consumer.last_poll_timestamp(tp) or 0 for tp in partitions), default=0) / 1000
                self._say_if_silent(now - heard if heard else now - self._connected_at)
                if records:
                    self._store(records, highs, now)
                    beat = now
                elif heard > beat and now - beat >= HEARTBEAT_S:
                    self.store.heartbeat(highs, heard)
                    beat = heard
                self._check_went_back(consumer, highs)
                self._log_lag(highs, now)
        finally:
            await _stop(consumer)

    async def _resume(self, consumer: Any, partitions: list[Any], stop: asyncio.Event) -> None:
        """Seek each partition to where the archive got, once the record just before that point
        is shown to be the one stored; else from the beginning."""
        stored = self.store.positions()
        checks: dict[Any, Position] = {}
        for tp in partitions:
            position = stored.get((tp.topic, tp.partition))
            if position is not None and position.next_offset > 0:
                checks[tp] = position
                consumer.seek(tp, position.next_offset - 1)
            else:
                await consumer.seek_to_beginning(tp)
        self._positions = {}
        verdicts = await self._last_records(consumer, checks, stop)
        for tp, position in checks.items():
            found = verdicts.get(tp)
            if found is not None and sha256(found) == position.last_sha256:
                consumer.seek(tp, position.next_offset)
                self._positions[(tp.topic, tp.partition)] = position.next_offset
                continue
            log.error("archive_log_changed", topic=tp.topic, partition=tp.partition,
                      offset=position.next_offset - 1,
                      reason="the log ends before it" if found is None else "another record at that offset",
                      detail="監査記録の保存位置がブローカーのログと合いません。先頭から読み直します（保存済みの記録は重複しません）。")
            self.store.forget_position(tp.topic, tp.partition)
            await consumer.seek_to_beginning(tp)

    async def _last_records(self, consumer: Any, checks: dict[Any, Position],
                            stop: asyncio.Event) -> dict[Any, bytes | None]:
        """The value at each partition's stored `next_offset - 1`, or None where the log no
        longer reaches it. No verdict without an answer from the broker: then nothing changes."""
        from aiokafka.errors import OffsetOutOfRangeError

        found: dict[Any, bytes | None] = {}
        pending = dict(checks)
        deadline = time.monotonic() + RESUME_CHECK_S
        while pending:
            if stop.is_set():
                raise Stopped()
            if time.monotonic() > deadline:
                raise LookupError(f"no answer for {len(pending)} partitions within {RESUME_CHECK_S:.0f} s")
            try:
                batch = await consumer.getmany(*pending, timeout_ms=1000, max_records=len(pending) * 50)
            except OffsetOutOfRangeError as exc:
                for tp in (exc.args[0] if exc.args else pending):
                    if tp in pending:
                        found[tp] = None
                        del pending[tp]
                continue
            for tp, records in batch.items():
                if tp in pending and records:
                    first = records[0]
                    found[tp] = first.value if first.offset == pending[tp].next_offset - 1 else None
                    del pending[tp]
            for tp in list(pending):
                high = consumer.highwater(tp)
                if high is not None and high < pending[tp].next_offset:
                    found[tp] = None
                    del pending[tp]
        return found

    async def _out_of_range(self, consumer: Any, partitions: list[Any]) -> None:
        """Real Kafka: the position is before the log's start (retention deleted what was not
        archived yet: said loudly) or after its end (the log was made again)."""
        starts = await consumer.beginning_offsets(partitions)
        for tp in partitions:
            position = self._positions.get((tp.topic, tp.partition), 0)
            if position < starts[tp]:
                log.error("archive_records_lost_to_retention", topic=tp.topic, partition=tp.partition,
                          offset=position, lost=starts[tp] - position,
                          detail="保存前に保持期限で消えた記録があります。")
            else:
                log.error("archive_log_changed", topic=tp.topic, partition=tp.partition, offset=position,
                          reason="the log ends before it",
                          detail="監査記録の保存位置がブローカーのログと合いません。先頭から読み直します（保存済みの記録は重複しません）。")
            self.store.forget_position(tp.topic, tp.partition)
            self._positions.pop((tp.topic, tp.partition), None)
            await consumer.seek_to_beginning(tp)

    def _check_went_back(self, consumer: Any, highs: dict[tuple[str, int], int | None]) -> None:
        """The embedded broker answers a position past its end with nothing, not an error: a
        high watermark below where the archive got means the log was lost and begun again."""
        for tp in consumer.assignment():
            key = (tp.topic, tp.partition)
            high, position = highs.get(key), self._positions.get(key, 0)
            if high is not None and high < position:
                log.error("archive_log_changed", topic=tp.topic, partition=tp.partition, offset=position,
                          high_watermark=high, reason="the log ends before it",
                          detail="監査記録の保存位置がブローカーのログと合いません。先頭から読み直します（保存済みの記録は重複しません）。")
                self.store.forget_position(tp.topic, tp.partition)
                self._positions.pop(key, None)
                consumer.seek(tp, 0)

    def _store(self, records: list[Record], highs: dict[tuple[str, int], int | None], now: float) -> None:
        result = self.store.store(records, self.kinds, highs=highs, now=now)
        for record in records:
            key = (record.topic, record.partition)
            self._positions[key] = max(self._positions.get(key, 0), record.offset + 1)
        for skipped in result.skipped:
            log.warning("archive_record_skipped", topic=skipped.topic, partition=skipped.partition,
                        offset=skipped.offset, reason=skipped.reason)
        for copy in result.differing:
            log.warning("archive_copy_differs", topic=copy.topic, partition=copy.partition, offset=copy.offset,
                        key=copy.key, kept="the first copy stored")
        self.stored += result.incidents + result.entries
        log.debug("archive_batch_stored", records=len(records), incidents=result.incidents,
                  entries=result.entries, duplicates=result.duplicates, skipped=len(result.skipped))
        if result.duplicates:
            log.info("archive_duplicates_ignored", count=result.duplicates,
                     first=f"{records[0].topic}/{records[0].partition}/{records[0].offset}")

    def _say_if_silent(self, silent_for: float) -> None:
        """Once when the broker stops answering (the archive falls behind unseen), once when it is back."""
        if silent_for > SILENT_S and not self._silent:
            self._silent = True
            log.error("archive_broker_silent", servers=self.servers, seconds=round(silent_for),
                      detail="ブローカーから応答がありません。監査記録の保存が止まっています。")
        elif silent_for <= SILENT_S and self._silent:
            self._silent = False
            log.info("archive_broker_answering", servers=self.servers)

    def _log_lag(self, highs: dict[tuple[str, int], int | None], now: float) -> None:
        lag = sum(max(0, (high or 0) - self._positions.get(key, 0)) for key, high in highs.items())
        caught_up = lag == 0 and self._last_lag not in (0, None)
        if caught_up or (lag and now - self._lag_logged_at >= LAG_LOG_S) or self._last_lag is None:
            log.info("archive_lag", lag=lag, stored=self.stored,
                     detail=f"監査記録の保存: {lag} 件遅れ" if lag else "監査記録の保存: 遅れなし")
            self._lag_logged_at = now
        self._last_lag = lag


async def run_archiver(settings: Settings) -> int:
    """The `noroshi archive` process: until SIGTERM or SIGINT."""
    path = archive_path(settings.data_dir)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    with ArchiveStore(path) as store:
        log.info("archive_started", path=str(path), servers=settings.broker_servers)
        await Archiver(settings.broker_servers, TopicNames(settings.topic_prefix), store).run(stop)
    log.info("archive_stopped", path=str(path))
    return 0


def status_lines(status: ArchiveStatus, path: str, now: float) -> list[str]:
    def when(ts: float | None) -> str:
        if ts is None:
            return "なし / never"
        return f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(ts))} ({now - ts:.0f} s ago)"

    lines = [
        f"監査記録の保存 / archive: {path}",
        f"  事案の版 / incident versions: {status.incident_versions}   "
        f"タイムライン / timeline entries: {status.timeline_entries}   読めない記録 / unreadable: {status.skipped}",
        f"  遅れ / lag: {status.lag} 件 / records not yet stored",
        f"  最終書き込み / last write: {when(status.last_write_at)}",
        f"  最終確認 / last heartbeat: {when(status.heartbeat_at)}",
    ]
    lines += [f"  {p.topic}[{p.partition}]: {p.next_offset} / {p.high_watermark if p.high_watermark is not None else '?'}"
              for p in status.positions]
    if status.stale(now):
        lines.append("  停止しています / the archiver is not running (no heartbeat for over a minute)")
    return lines


def print_status(settings: Settings) -> int:
    """`noroshi archive --status`: 0 when the archiver is alive, 1 when it is not or the archive
    cannot be read (a container health check can use it)."""
    path = archive_path(settings.data_dir)
    reader = ArchiveReader(path)
    if not reader.exists():
        print(f"監査記録の保存先がありません / no archive at {path}")
        return 1
    try:
        status = reader.status(counts=True)
    except ArchiveUnavailable as exc:
        print(f"監査記録を読み出せません / the archive cannot be read: {exc}")
        return 1
    now = time.time()
    print("\n".join(status_lines(status, str(path), now)))
    return 1 if status.stale(now) else 0
