"""The watchdog's memory in SQLite (DATA_DIR/watchdog.sqlite3): its conditions (the whole `Book`)
and the notification log, which is also the outbox — a notification is written in the same
transaction as the book that made it, and its recipients' outcomes when it has been sent, so a
watchdog restarted in between sends it then (with the same idempotency key), never twice from
scratch and never not at all."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import orjson

from lookout.alerts import Book, Notification, iso

FILE = "watchdog.sqlite3"
#: How many notifications /status lists.
LISTED = 50


class Store:
    def __init__(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.path = data_dir / FILE
        self.db = sqlite3.connect(self.path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("CREATE TABLE IF NOT EXISTS book (id INTEGER PRIMARY KEY CHECK (id = 1), body BLOB NOT NULL)")
        self.db.execute("""CREATE TABLE IF NOT EXISTS notifications (
            number INTEGER PRIMARY KEY, at REAL NOT NULL, kind TEXT NOT NULL, keys BLOB NOT NULL,
            title_ja TEXT NOT NULL, title_en TEXT NOT NULL, text TEXT NOT NULL,
            recipients BLOB, sent_at REAL)""")

    def close(self) -> None:
        self.db.close()

    def book(self) -> Book:
        row = self.db.execute("SELECT body FROM book WHERE id = 1").fetchone()
        return Book.from_dict(orjson.loads(row[0])) if row else Book()

    def save(self, book: Book, made: list[Notification]) -> None:
        """The book and the notifications it just made, at once."""
        with self.db:
            self.db.execute("BEGIN")
            self.db.execute("INSERT OR REPLACE INTO book (id, body) VALUES (1, ?)", (orjson.dumps(book.to_dict()),))
            self.db.executemany(
                "INSERT OR IGNORE INTO notifications (number, at, kind, keys, title_ja, title_en, text)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(n.number, n.at, n.kind, orjson.dumps(list(n.keys)), n.title_ja, n.title_en, n.text) for n in made])

    def unsent(self) -> list[Notification]:
        rows = self.db.execute("SELECT number, at, kind, keys, title_ja, title_en, text FROM notifications"
                               " WHERE recipients IS NULL ORDER BY number").fetchall()
        return [Notification(r[0], r[1], r[2], tuple(orjson.loads(r[3])), r[4], r[5], r[6]) for r in rows]

    def sent(self, number: int, recipients: list[dict[str, Any]], at: float) -> None:
        self.db.execute("UPDATE notifications SET recipients = ?, sent_at = ? WHERE number = ?",
                        (orjson.dumps(recipients), at, number))

    def listed(self, limit: int = LISTED) -> list[dict[str, Any]]:
        """Newest first, as /status shows them (recipients empty while the sending is under way)."""
        rows = self.db.execute("SELECT at, kind, keys, title_ja, title_en, recipients FROM notifications"
                               " ORDER BY number DESC LIMIT ?", (limit,)).fetchall()
        return [{"at": iso(r[0]), "kind": r[1], "keys": orjson.loads(r[2]), "title_ja": r[3], "title_en": r[4],
                 "recipients": orjson.loads(r[5]) if r[5] is not None else []} for r in rows]
