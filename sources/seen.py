"""What the webhook receiver remembers across restarts of `noroshi sources`: the event ids it
has published and the signed requests it has answered, in one small SQLite file (stdlib
`sqlite3`, `DATA_DIR/webhook.sqlite3`), each row pruned by age and the whole bounded in rows.

A client that retries, or anyone who replays a recorded request inside the signature window,
is answered `duplicate` after a restart just as before it: nothing is published twice. An id
is written here only once the broker has confirmed its event, so a publish that failed is
never remembered as done. Rows are written in WAL mode with `synchronous=NORMAL`: they survive
the process being killed; a power cut may lose the last few, and then a retry publishes an
event a second time (the worker's detectors count each id once).
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson
import structlog

log = structlog.get_logger(__name__)

MAX_IDS = 500_000  # rows of published ids kept at most (oldest go first)
MAX_ANSWERS = 20_000  # answered requests kept at most
PRUNE_EVERY_S = 60.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS seen_ids (key TEXT PRIMARY KEY, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS seen_ids_at ON seen_ids (at);
CREATE TABLE IF NOT EXISTS answered (signature TEXT PRIMARY KEY, at REAL NOT NULL, answer BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS answered_at ON answered (at);
"""


def _digest(signature: str) -> str:
    return hashlib.sha256(signature.strip().lower().encode("utf-8", "replace")).hexdigest()


class ReceiverMemory:
    """Published ids (kept `keep_ids_s`) and answered signed requests (kept `keep_answers_s`).

    `path=None` keeps them in memory only (tests, or a receiver without a data folder)."""

    def __init__(self, path: Path | None, *, keep_ids_s: float, keep_answers_s: float,
                 max_ids: int = MAX_IDS, max_answers: int = MAX_ANSWERS) -> None:
        self.path = path
        self.keep_ids_s, self.keep_answers_s = keep_ids_s, keep_answers_s
        self.max_ids, self.max_answers = max_ids, max_answers
        self._pruned_at = float("-inf")
        self._db = self._open()

    def _open(self) -> sqlite3.Connection:
        if self.path is None:
            return self._prepared(sqlite3.connect(":memory:", isolation_level=None))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            return self._prepared(sqlite3.connect(self.path, isolation_level=None, timeout=5))
        except sqlite3.DatabaseError as exc:
            # A file that is not a database cannot be read: keep it for a person, start afresh.
            broken = self.path.with_name(self.path.name + ".unreadable")
            self.path.replace(broken)
            log.error("webhook_memory_unreadable", path=str(self.path), moved_to=str(broken), error=str(exc))
            return self._prepared(sqlite3.connect(self.path, isolation_level=None, timeout=5))

    @staticmethod
    def _prepared(db: sqlite3.Connection) -> sqlite3.Connection:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(_SCHEMA)
        return db

    # --- published ids -----------------------------------------------------------------

    def seen(self, key: str, now: float) -> bool:
        row = self._db.execute("SELECT at FROM seen_ids WHERE key = ?", (key,)).fetchone()
        return row is not None and row[0] >= now - self.keep_ids_s

    def remember(self, keys: Iterable[str], now: float) -> None:
        rows = [(key, now) for key in keys]
        if rows:
            with self._db:  # one transaction (one commit) for a whole request's ids
                self._db.execute("BEGIN")
                self._db.executemany("INSERT OR REPLACE INTO seen_ids (key, at) VALUES (?, ?)", rows)
        self._prune(now)

    # --- answered requests -------------------------------------------------------------

    def answer_for(self, signature: str, now: float) -> dict[str, Any] | None:
        row = self._db.execute("SELECT at, answer FROM answered WHERE signature = ?",
                               (_digest(signature),)).fetchone()
        if row is None or row[0] < now - self.keep_answers_s:
            return None
        answer = orjson.loads(row[1])
        return answer if isinstance(answer, dict) else None

    def remember_answer(self, signature: str, answer: dict[str, Any], now: float) -> None:
        self._db.execute("INSERT OR REPLACE INTO answered (signature, at, answer) VALUES (?, ?, ?)",
                         (_digest(signature), now, orjson.dumps(answer)))
        self._prune(now)

    # --- bounds --------------------------------------------------------------------------

    def _prune(self, now: float) -> None:
        if now - self._pruned_at < PRUNE_EVERY_S:
            return
        self._pruned_at = now
        self.prune(now)

    def prune(self, now: float) -> None:
        """Forget what is older than its keep time, then the oldest rows beyond the bounds."""
        with self._db:
            self._db.execute("BEGIN")
            self._db.execute("DELETE FROM seen_ids WHERE at < ?", (now - self.keep_ids_s,))
            self._db.execute("DELETE FROM answered WHERE at < ?", (now - self.keep_answers_s,))
            for table, cap in (("seen_ids", self.max_ids), ("answered", self.max_answers)):
                (count,) = self._db.execute(f"SELECT count(*) FROM {table}").fetchone()  # noqa: S608
                if count > cap:
                    self._db.execute(f"DELETE FROM {table} WHERE rowid IN "  # noqa: S608
                                     f"(SELECT rowid FROM {table} ORDER BY at LIMIT ?)", (count - cap,))

    def counts(self) -> dict[str, int]:
        ids = self._db.execute("SELECT count(*) FROM seen_ids").fetchone()[0]
        answers = self._db.execute("SELECT count(*) FROM answered").fetchone()[0]
        return {"ids": int(ids), "answers": int(answers)}

    def close(self) -> None:
        self._db.close()
