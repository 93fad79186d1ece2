"""Board sessions in encrypted cookies (AES-256-GCM, keyed from NOROSHI_SECRET_KEY).

The cookie holds a session id, who signed in, when it expires, the session's CSRF token
and a fingerprint of the user record: the browser can neither read nor change it, and a
password reset, a role change or a removed user ends every session from before.

Signing out ends the session on the server too: its id goes into `RevokedSessions`, a
small SQLite table beside the users file (by default in NOROSHI_DATA_DIR; WAL, shared by
every board process on the host — not over a network file system), which every authenticated request consults — one primary-key look-up — so a
copied cookie is refused at once by every process. Entries go once their session would
have expired anyway. A cookie without a session id (from before ids existed) is refused.

A second cookie, the device cookie (OWASP's "device cookies"), says that this browser has
signed in as a user before (90 days, sealed the same way under another label). It is no
session and grants nothing; it only lets that user's sign-in skip the per-name and
per-address limits (see dashboards/ratelimit.py), so a guesser cannot lock them out.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

import orjson
import structlog
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

SESSION_COOKIE = "noroshi_session"
SESSION_TTL = 12 * 60 * 60  # one on-call shift
_AAD = b"noroshi board session v1"
_NONCE = 12
DEVICE_COOKIE = "noroshi_device"
DEVICE_TTL = 90 * 24 * 60 * 60
_DEVICE_AAD = b"noroshi board device v1"  # a device cookie never opens as a session, nor the reverse
REVOKED_FILE = "board-sessions.sqlite3"

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Session:
    user: str
    expires: int
    csrf: str
    fingerprint: str
    sid: str = ""  # the session's id: what signing out revokes


@dataclass(frozen=True)
class Device:
    """A browser that has signed in as `user` before."""

    user: str
    expires: int
    device_id: str


def new_session(user: str, fingerprint: str, now: float, ttl: int = SESSION_TTL) -> Session:
    return Session(user=user, expires=int(now) + ttl, csrf=secrets.token_urlsafe(32), fingerprint=fingerprint,
                   sid=secrets.token_urlsafe(16))


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionCodec:
    """Seals and opens session cookies. Any secret length works: HKDF makes the key. With a
    `revoked` store, a session that was signed out no longer opens."""

    def __init__(self, secret: str, revoked: RevokedSessions | None = None) -> None:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"noroshi-board",
                   info=b"session cookie").derive(secret.encode("utf-8"))
        self._aead = AESGCM(key)
        self.revoked = revoked

    def seal(self, session: Session) -> str:
        nonce = os.urandom(_NONCE)
        claims = orjson.dumps({"u": session.user, "exp": session.expires, "csrf": session.csrf,
                               "fp": session.fingerprint, "sid": session.sid})
        return _b64encode(nonce + self._aead.encrypt(nonce, claims, _AAD))

    def _open_claims(self, value: str, aad: bytes) -> dict[str, object] | None:
        if not value or not value.isascii() or len(value) > 4096:
            return None
        try:
            raw = _b64decode(value)
        except (binascii.Error, ValueError):
            return None
        if len(raw) <= _NONCE:
            return None
        try:
            claims = orjson.loads(self._aead.decrypt(raw[:_NONCE], raw[_NONCE:], aad))
        except (InvalidTag, orjson.JSONDecodeError):
            return None
        return claims if isinstance(claims, dict) else None

    def open(self, value: str, now: float) -> Session | None:
        """The session, or None for a missing, forged, malformed, expired or signed-out cookie."""
        claims = self._open_claims(value, _AAD)
        if claims is None:
            return None
        user, exp, csrf, fp = claims.get("u"), claims.get("exp"), claims.get("csrf"), claims.get("fp")
        sid = claims.get("sid")
        if not (isinstance(user, str) and type(exp) is int and isinstance(csrf, str) and isinstance(fp, str)
                and isinstance(sid, str) and sid):
            return None
        if exp <= now:
            return None
        if self.revoked is not None and self.revoked.is_revoked(sid):
            return None
        return Session(user=user, expires=exp, csrf=csrf, fingerprint=fp, sid=sid)

    def seal_device(self, user: str, now: float, ttl: int = DEVICE_TTL) -> str:
        nonce = os.urandom(_NONCE)
        claims = orjson.dumps({"u": user, "exp": int(now) + ttl, "dev": secrets.token_urlsafe(12)})
        return _b64encode(nonce + self._aead.encrypt(nonce, claims, _DEVICE_AAD))

    def open_device(self, value: str, now: float) -> Device | None:
        claims = self._open_claims(value, _DEVICE_AAD)
        if claims is None:
            return None
        user, exp, dev = claims.get("u"), claims.get("exp"), claims.get("dev")
        if not (isinstance(user, str) and type(exp) is int and isinstance(dev, str) and dev) or exp <= now:
            return None
        return Device(user=user, expires=exp, device_id=dev)

    def revoke(self, session: Session, now: float) -> None:
        """Sign-out: the session no longer opens, in this process or any other sharing the store."""
        if self.revoked is None:
            raise RuntimeError("this codec has no revocation store")
        self.revoked.revoke(session.sid, session.expires, now)


class RevokedSessionsError(RuntimeError):
    """The revocation store could not be read or written; the message says where."""


class RevokedSessions:
    """Ids of sessions signed out before they expired, in SQLite (WAL: readers never wait for
    the one writer, and several board processes share the file). Used from the event loop:
    a look-up is one indexed read, a few microseconds; a sign-out one small write.

    A store that cannot be read fails closed: every session is refused (logged once when it
    starts failing and once when it works again, with the number of refusals in between)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, timeout=5.0, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA busy_timeout = 5000")
        self._prepare(deadline=time.monotonic() + 10.0)
        self._failing = 0  # refusals since the store stopped answering
        self.prune(time.time())

    def _prepare(self, deadline: float) -> None:
        """WAL mode and the table. Two boards starting at once can both be here: switching the
        journal mode takes an exclusive lock and SQLite answers "database is locked" at once
        instead of waiting (the busy timeout does not cover it), so the loser tries again."""
        while True:
            try:
                self._db.execute("PRAGMA journal_mode = WAL")
                self._db.execute("PRAGMA synchronous = NORMAL")
                self._db.execute("CREATE TABLE IF NOT EXISTS revoked_sessions "
                                 "(sid TEXT PRIMARY KEY, expires INTEGER NOT NULL) WITHOUT ROWID")
                self._db.execute("CREATE INDEX IF NOT EXISTS revoked_sessions_expires "
                                 "ON revoked_sessions (expires)")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def is_revoked(self, sid: str) -> bool:
        try:
            found = self._db.execute("SELECT 1 FROM revoked_sessions WHERE sid = ?", (sid,)).fetchone()
        except sqlite3.Error as exc:
            if not self._failing:
                log.error("board_session_store_failed", path=str(self.path), error=str(exc),
                          effect="every session is refused until it can be read again")
            self._failing += 1
            return True
        if self._failing:
            log.warning("board_session_store_recovered", path=str(self.path), refused=self._failing)
            self._failing = 0
        return found is not None

    def revoke(self, sid: str, expires: int, now: float) -> None:
        try:
            with self._db:  # one transaction: the id in, the expired ones out
                self._db.execute("BEGIN IMMEDIATE")
                self._db.execute("INSERT OR IGNORE INTO revoked_sessions (sid, expires) VALUES (?, ?)",
                                 (sid, expires))
                self._db.execute("DELETE FROM revoked_sessions WHERE expires <= ?", (int(now),))
        except sqlite3.Error as exc:
            raise RevokedSessionsError(f"{self.path}: {exc}") from exc

    def prune(self, now: float) -> int:
        try:
            return self._db.execute("DELETE FROM revoked_sessions WHERE expires <= ?", (int(now),)).rowcount
        except sqlite3.Error as exc:
            log.error("board_session_store_failed", path=str(self.path), error=str(exc), effect="not pruned")
            return 0

    def __len__(self) -> int:
        return self._db.execute("SELECT count(*) FROM revoked_sessions").fetchone()[0]

    def close(self) -> None:
        self._db.close()
