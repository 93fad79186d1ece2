"""The archive of the audit trail (監査記録): every incident version and every timeline entry,
kept in SQLite (WAL) under NOROSHI_DATA_DIR as they are published, so the monthly report and
the timeline CSV outlive the broker (the embedded one keeps nothing) and topic retention.

`ArchiveStore` is the one writer (the `noroshi archive` process, `dashboards.archiver`); it
stores each batch of records together with the offsets it has reached in one transaction.
Storage is idempotent: an incident version is kept once per (incident_id, version), a timeline
entry once per entry id, however often the topics deliver them. `ArchiveReader` opens the
file read-only, one connection per read, for the board and `noroshi archive --status`.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import orjson

from dashboards.feed import parse_entry, parse_incident
from dashboards.state import parse_time
from vocabulary.records import Incident, TimelineEntry
from vocabulary.terms import ALL, JST

FILE_NAME = "archive.sqlite3"
#: The archiver writes at least this often, even with nothing to store, so a reader can tell
#: a quiet archiver from a stopped one.
HEARTBEAT_S = 5.0
#: No write for this long: the archiver is not running (or cannot write).
STALE_S = 60.0
BUSY_TIMEOUT_S = 10.0

T = TypeVar("T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS incident_versions (
    incident_id  TEXT NOT NULL,
    version      INTEGER NOT NULL,
    municipality TEXT NOT NULL,
    type         TEXT NOT NULL,
    opened_ts    REAL,
    body         BLOB NOT NULL,
    topic        TEXT NOT NULL,
    partition    INTEGER NOT NULL,
    "offset"     INTEGER NOT NULL,
    archived_at  REAL NOT NULL,
    PRIMARY KEY (incident_id, version)
);
CREATE INDEX IF NOT EXISTS incident_versions_opened ON incident_versions (opened_ts);
CREATE TABLE IF NOT EXISTS timeline_entries (
    entry_id     TEXT PRIMARY KEY,
    incident_id  TEXT NOT NULL,
    municipality TEXT NOT NULL,
    at_ts        REAL,
    body         BLOB NOT NULL,
    topic        TEXT NOT NULL,
    partition    INTEGER NOT NULL,
    "offset"     INTEGER NOT NULL,
    archived_at  REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS timeline_entries_at ON timeline_entries (at_ts, incident_id, partition, "offset");
CREATE TABLE IF NOT EXISTS skipped (
    sha256     TEXT NOT NULL,
    topic      TEXT NOT NULL,
    partition  INTEGER NOT NULL,
    "offset"   INTEGER NOT NULL,
    size       INTEGER NOT NULL,
    reason     TEXT NOT NULL,
    skipped_at REAL NOT NULL,
    PRIMARY KEY (topic, sha256)
);
CREATE TABLE IF NOT EXISTS positions (
    topic          TEXT NOT NULL,
    partition      INTEGER NOT NULL,
    next_offset    INTEGER NOT NULL,
    last_sha256    TEXT NOT NULL,
    high_watermark INTEGER,
    updated_at     REAL NOT NULL,
    PRIMARY KEY (topic, partition)
);
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value
);
"""


class ArchiveUnavailable(RuntimeError):
    """The archive file cannot be read (missing, locked, damaged, not an archive)."""


def archive_path(data_dir: Path) -> Path:
    return data_dir / FILE_NAME


def sha256(raw: bytes | None) -> str:
    return hashlib.sha256(raw or b"").hexdigest()


def month_range(month: str) -> tuple[float, float]:
    """The POSIX seconds [start, end) of a `YYYY-MM` month in Japan time."""
    year, mon = map(int, month.split("-"))
    start = datetime(year, mon, 1, tzinfo=JST)
    end = datetime(year + mon // 12, mon % 12 + 1, 1, tzinfo=JST)
    return start.timestamp(), end.timestamp()


def entry_key(entry: TimelineEntry) -> str:
    """The entry's own id; an entry without one is known by a hash of its canonical form."""
    if entry.entry_id:
        return entry.entry_id
    return "sha256:" + sha256(orjson.dumps(entry.to_dict(), option=orjson.OPT_SORT_KEYS))


@dataclass(frozen=True, slots=True)
class Record:
    """One message of the incidents or timeline topic, as the archiver received it."""

    topic: str
    partition: int
    offset: int
    value: bytes | None


@dataclass(frozen=True, slots=True)
class Skipped:
    topic: str
    partition: int
    offset: int
    reason: str


@dataclass(frozen=True, slots=True)
class Differing:
    """A copy whose key is stored already but whose bytes are not the same: the first is kept."""

    topic: str
    partition: int
    offset: int
    key: str


@dataclass(frozen=True)
class Stored:
    """What one batch changed."""

    incidents: int = 0
    entries: int = 0
    duplicates: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    differing: list[Differing] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Position:
    topic: str
    partition: int
    next_offset: int
    last_sha256: str
    high_watermark: int | None
    updated_at: float

    @property
    def lag(self) -> int:
        return max(0, (self.high_watermark or 0) - self.next_offset)


@dataclass(frozen=True)
class ArchiveStatus:
    """How far the archive has got: what the archiver last knew of the topics' ends."""

    positions: list[Position]
    last_write_at: float | None
    heartbeat_at: float | None
    incident_versions: int | None = None
    timeline_entries: int | None = None
    skipped: int | None = None

    @property
    def lag(self) -> int:
        return sum(p.lag for p in self.positions)

    def stale(self, now: float) -> bool:
        return self.heartbeat_at is None or now - self.heartbeat_at > STALE_S


def _connect(path: Path, *, read_only: bool) -> sqlite3.Connection:
    if read_only:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S,
                             isolation_level=None)
        db.execute("PRAGMA query_only = ON")
    else:
        db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    return db


class ArchiveStore:
    """The writer. One per archive file; every method is one transaction."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = _connect(path, read_only=False)
        self._db.execute("PRAGMA journal_mode = WAL")
        # An audit record: a committed batch survives a power cut, not only a crash.
        self._db.execute("PRAGMA synchronous = FULL")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> ArchiveStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def positions(self) -> dict[tuple[str, int], Position]:
        return {(p.topic, p.partition): p for p in _positions(self._db)}

    def store(self, records: Iterable[Record], kinds: Mapping[str, str], *,
              highs: Mapping[tuple[str, int], int | None] | None = None, now: float | None = None) -> Stored:
        """Store a batch and the offsets it reaches, all or nothing. `kinds` maps each topic
        to "incident" or "timeline"; a record that is neither is kept in `skipped`."""
        now = time.time() if now is None else now
        counts = {"incident": 0, "timeline": 0, "duplicate": 0}
        skipped: list[Skipped] = []
        differing: list[Differing] = []
        reached: dict[tuple[str, int], tuple[int, str]] = {}
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            for record in records:
                digest = sha256(record.value)
                tp = (record.topic, record.partition)
                if tp not in reached or record.offset >= reached[tp][0]:
                    reached[tp] = (record.offset + 1, digest)
                kind = kinds.get(record.topic, "")
                try:
                    key, new = self._insert(kind, record, now)
                except (ValueError, TypeError) as exc:
                    reason = str(exc)[:500] or type(exc).__name__
                    db.execute("INSERT OR IGNORE INTO skipped VALUES (?, ?, ?, ?, ?, ?, ?)",
                               (digest, record.topic, record.partition, record.offset,
                                len(record.value or b""), reason, now))
                    skipped.append(Skipped(record.topic, record.partition, record.offset, reason))
                    continue
                if new:
                    counts[kind] += 1
                else:
                    counts["duplicate"] += 1
                    if self._differs(kind, key, record.value or b""):
                        differing.append(Differing(record.topic, record.partition, record.offset, key))
            for (topic, partition), (next_offset, digest) in reached.items():
                db.execute(
                    "INSERT INTO positions VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (topic, partition) DO UPDATE SET "
                    "next_offset = excluded.next_offset, last_sha256 = excluded.last_sha256, "
                    "high_watermark = excluded.high_watermark, updated_at = excluded.updated_at",
                    (topic, partition, next_offset, digest, (highs or {}).get((topic, partition)), now))
            self._touch(highs or {}, now, wrote=bool(reached))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return Stored(incidents=counts["incident"], entries=counts["timeline"], duplicates=counts["duplicate"],
                      skipped=skipped, differing=differing)

    def _insert(self, kind: str, record: Record, now: float) -> tuple[str, bool]:
        where = (record.topic, record.partition, record.offset, now)
        if kind == "incident":
            incident = parse_incident(record.value)
            key = f"{incident.incident_id}#{incident.version}"
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO incident_versions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (incident.incident_id, incident.version, incident.municipality, incident.type,
                 parse_time(incident.opened_at), record.value, *where))
            return key, cursor.rowcount == 1
        if kind == "timeline":
            entry = parse_entry(record.value)
            key = entry_key(entry)
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO timeline_entries VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (key, entry.incident_id, entry.municipality, parse_time(entry.at), record.value, *where))
            return key, cursor.rowcount == 1
        raise ValueError(f"not an archived topic: {record.topic}")

    def _differs(self, kind: str, key: str, value: bytes) -> bool:
        if kind == "incident":
            incident_id, _, version = key.rpartition("#")
            row = self._db.execute("SELECT body FROM incident_versions WHERE incident_id = ? AND version = ?",
                                   (incident_id, int(version))).fetchone()
        else:
            row = self._db.execute("SELECT body FROM timeline_entries WHERE entry_id = ?", (key,)).fetchone()
        return row is not None and bytes(row[0]) != value

    def _touch(self, highs: Mapping[tuple[str, int], int | None], now: float, *, wrote: bool) -> None:
        for (topic, partition), high in highs.items():
            if high is not None:  # a partition not stored from yet is behind by all of it
                self._db.execute(
                    "INSERT INTO positions VALUES (?, ?, 0, '', ?, ?) ON CONFLICT (topic, partition) "
                    "DO UPDATE SET high_watermark = excluded.high_watermark", (topic, partition, high, now))
        self._db.execute("INSERT OR REPLACE INTO meta VALUES ('heartbeat_at', ?)", (now,))
        if wrote:
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('last_write_at', ?)", (now,))

    def heartbeat(self, highs: Mapping[tuple[str, int], int | None], now: float | None = None) -> None:
        """Nothing new to store: record the topics' ends as last seen, and that the archiver lives."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            self._touch(highs, time.time() if now is None else now, wrote=False)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def forget_position(self, topic: str, partition: int) -> None:
        """The partition's log is not the one the position was taken in (a broker that lost its
        data, a topic made again): read it from the beginning; what is stored stays."""
        self._db.execute("DELETE FROM positions WHERE topic = ? AND partition = ?", (topic, partition))


def _positions(db: sqlite3.Connection) -> list[Position]:
    rows = db.execute("SELECT topic, partition, next_offset, last_sha256, high_watermark, updated_at "
                      "FROM positions ORDER BY topic, partition").fetchall()
    return [Position(*row) for row in rows]


def _meta(db: sqlite3.Connection, key: str) -> Any:
    row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return row[0] if row else None


def _status(db: sqlite3.Connection, *, counts: bool) -> ArchiveStatus:
    extra: dict[str, int] = {}
    if counts:
        extra = {name: db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608 - fixed names
                 for name, table in (("incident_versions", "incident_versions"),
                                     ("timeline_entries", "timeline_entries"), ("skipped", "skipped"))}
    return ArchiveStatus(positions=_positions(db), last_write_at=_meta(db, "last_write_at"),
                         heartbeat_at=_meta(db, "heartbeat_at"), **extra)


def _scope(municipality: str) -> tuple[str, tuple[str, ...]]:
    return ("", ()) if municipality == ALL else (" AND municipality = ?", (municipality,))


def incident_versions(db: sqlite3.Connection, month: str, municipality: str) -> list[Incident]:
    """Every stored version of the incidents opened in `month` (Japan time), per incident in
    version order."""
    start, end = month_range(month)
    where, args = _scope(municipality)
    rows = db.execute("SELECT body FROM incident_versions WHERE opened_ts >= ? AND opened_ts < ?" + where
                      + " ORDER BY incident_id, version", (start, end, *args))
    return [Incident.from_json(bytes(body)) for (body,) in rows]


def timeline(db: sqlite3.Connection, month: str, municipality: str) -> list[TimelineEntry]:
    """The month's timeline entries, each once, in order of time across incidents (and, within
    one incident at one time, in the order they were published)."""
    start, end = month_range(month)
    where, args = _scope(municipality)
    rows = db.execute("SELECT body FROM timeline_entries WHERE at_ts >= ? AND at_ts < ?" + where
                      + ' ORDER BY at_ts, incident_id, partition, "offset"', (start, end, *args))
    return [TimelineEntry.from_json(bytes(body)) for (body,) in rows]


class ArchiveReader:
    """Reads the archive read-only; each `read` is one transaction on a fresh connection, so it
    can run in a worker thread and always sees one consistent state."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def exists(self) -> bool:
        return self.path.is_file()

    def read(self, query: Callable[[sqlite3.Connection], T]) -> T:
        try:
            db = _connect(self.path, read_only=True)
        except sqlite3.Error as exc:
            raise ArchiveUnavailable(f"{self.path}: {exc}") from exc
        try:
            db.execute("BEGIN")
            try:
                return query(db)
            finally:
                db.execute("COMMIT")
        except (sqlite3.Error, ValueError) as exc:  # a damaged row is a damaged archive
            raise ArchiveUnavailable(f"{self.path}: {exc}") from exc
        finally:
            db.close()

    def status(self, *, counts: bool = False) -> ArchiveStatus:
        return self.read(lambda db: _status(db, counts=counts))

    def month(self, month: str, municipality: str) -> tuple[list[Incident], ArchiveStatus]:
        """The report's incidents and the archive's state, from one read."""
        return self.read(lambda db: (incident_versions(db, month, municipality), _status(db, counts=False)))

    def timeline(self, month: str, municipality: str) -> list[TimelineEntry]:
        return self.read(lambda db: timeline(db, month, municipality))
