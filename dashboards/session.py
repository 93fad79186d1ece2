"""Board sessions in encrypted cookies (AES-256-GCM, keyed from NOROSHI_SECRET_KEY).

The cookie holds who signed in, when it expires, the session's CSRF token and a
fingerprint of the user record: the browser can neither read nor change it, and a
password reset, a role change or a removed user ends every session from before.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from dataclasses import dataclass

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

SESSION_COOKIE = "noroshi_session"
SESSION_TTL = 12 * 60 * 60  # one on-call shift
_AAD = b"noroshi board session v1"
_NONCE = 12


@dataclass(frozen=True)
class Session:
    user: str
    expires: int
    csrf: str
    fingerprint: str


def new_session(user: str, fingerprint: str, now: float, ttl: int = SESSION_TTL) -> Session:
    return Session(user=user, expires=int(now) + ttl, csrf=secrets.token_urlsafe(32), fingerprint=fingerprint)


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionCodec:
    """Seals and opens session cookies. Any secret length works: HKDF makes the key."""

    def __init__(self, secret: str) -> None:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"noroshi-board",
                   info=b"session cookie").derive(secret.encode("utf-8"))
        self._aead = AESGCM(key)

    def seal(self, session: Session) -> str:
        nonce = os.urandom(_NONCE)
        claims = orjson.dumps({"u": session.user, "exp": session.expires, "csrf": session.csrf,
                               "fp": session.fingerprint})
        return _b64encode(nonce + self._aead.encrypt(nonce, claims, _AAD))

    def open(self, value: str, now: float) -> Session | None:
        """The session, or None for a missing, forged, malformed or expired cookie."""
        if not value or not value.isascii() or len(value) > 4096:
            return None
        try:
            raw = _b64decode(value)
        except (binascii.Error, ValueError):
            return None
        if len(raw) <= _NONCE:
            return None
        try:
            claims = orjson.loads(self._aead.decrypt(raw[:_NONCE], raw[_NONCE:], _AAD))
        except (InvalidTag, orjson.JSONDecodeError):
            return None
        if not isinstance(claims, dict):
            return None
        user, exp, csrf, fp = claims.get("u"), claims.get("exp"), claims.get("csrf"), claims.get("fp")
        if not (isinstance(user, str) and type(exp) is int and isinstance(csrf, str) and isinstance(fp, str)):
            return None
        if exp <= now:
            return None
        return Session(user=user, expires=exp, csrf=csrf, fingerprint=fp)
