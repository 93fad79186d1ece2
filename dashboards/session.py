"""Signed board sessions and the sign-in check, stdlib only.

A placeholder until user management (argon2, roles, municipalities) replaces it:
the board only calls `check_password`, `sign_session` and `verify_session`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json

SESSION_COOKIE = "noroshi_session"
SESSION_TTL = 12 * 60 * 60  # one on-call shift


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(payload: str, key: str) -> str:
    return _b64encode(hmac.new(key.encode(), payload.encode("ascii"), hashlib.sha256).digest())


def check_password(user: str, password: str, *, expected_user: str, expected_password: str) -> bool:
    # Both compared in constant time, and both always compared, so timing tells nothing.
    user_ok = hmac.compare_digest(user.encode(), expected_user.encode())
    password_ok = hmac.compare_digest(password.encode(), expected_password.encode())
    return user_ok and password_ok


def sign_session(user: str, key: str, now: float, ttl: int = SESSION_TTL) -> str:
    """The cookie value: base64(json{user, exp}) "." base64(HMAC-SHA256)."""
    payload = _b64encode(json.dumps({"user": user, "exp": int(now) + ttl}).encode())
    return f"{payload}.{_signature(payload, key)}"


def verify_session(value: str, key: str, now: float) -> str | None:
    """The signed-in user, or None for a missing, forged, malformed or expired cookie."""
    payload, dot, signature = value.partition(".")
    if not dot or not payload.isascii() or not signature.isascii():
        return None
    if not hmac.compare_digest(signature.encode(), _signature(payload, key).encode()):
        return None
    try:
        claims = json.loads(_b64decode(payload))
    except (binascii.Error, ValueError):
        return None
    user, exp = claims.get("user"), claims.get("exp")
    if not isinstance(user, str) or not isinstance(exp, int) or exp <= now:
        return None
    return user
