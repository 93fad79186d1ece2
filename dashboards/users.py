"""The board's users (利用者): name, display name, role, municipality and an argon2id
password hash, kept in one JSON file (mode 0600, replaced atomically) that
`noroshi user add` writes and the board re-reads whenever it changes.

Board roles map onto the roles the playbooks check: a viewer takes no action, an
operator (当番) acts as "operator", an approver (所属長・運用管理責任者) as "owner" and
the 広報課 admin as "pr_head". Each user belongs to one municipality; only an admin
may have "*", every municipality of the deployment.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import orjson
import structlog
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from vocabulary.terms import ALL

log = structlog.get_logger(__name__)

ROLES = ("viewer", "operator", "owner", "admin")
#: Other names people use for the same roles (the issue says approver / 広報課 admin).
ROLE_ALIASES = {"approver": "owner", "pr_head": "admin", "koho": "admin"}
#: The actor role a board role acts as in a BoardCommand (a viewer sends none).
ACTOR_ROLES: Mapping[str, str | None] = {
    "viewer": None, "operator": "operator", "owner": "owner", "admin": "pr_head",
}
FILE_VERSION = 1
MIN_PASSWORD = 12
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
_MUNICIPALITY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


class UserError(ValueError):
    """A user record or the users file is not valid; the message says what to fix."""


@dataclass(frozen=True)
class User:
    name: str  # the sign-in name, unique; also the actor name in commands (承認者・起案者)
    display_name: str
    role: str
    municipality: str  # a municipality id, or "*" (admin only)
    password_hash: str = field(repr=False)
    #: Created by `noroshi run` for the local demo; its password is reset at each start.
    seeded: bool = False

    @property
    def actor_role(self) -> str | None:
        return ACTOR_ROLES[self.role]

    def sees(self, municipality: str) -> bool:
        return self.municipality == ALL or self.municipality == municipality

    def actor(self) -> dict[str, str]:
        """Who a command comes from, as the playbooks read it."""
        role = self.actor_role
        assert role is not None, "a viewer sends no commands"
        return {"name": self.name, "role": role, "display_name": self.display_name}

    @property
    def fingerprint(self) -> str:
        """Changes when the password or the role does: a session from before is no longer valid."""
        material = f"{self.password_hash}|{self.role}|{self.municipality}".encode()
        return hashlib.blake2b(material, digest_size=9).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        if not self.seeded:
            del out["seeded"]
        return out


def normal_role(role: str) -> str:
    role = role.strip().lower()
    role = ROLE_ALIASES.get(role, role)
    if role not in ROLES:
        raise UserError(f"role {role!r}: expected one of {', '.join(ROLES)} (or approver, pr_head)")
    return role


def check_user(name: str, role: str, municipality: str) -> None:
    if not _NAME.match(name):
        raise UserError(f"user name {name!r}: 1–64 letters, digits, '.', '_', '@' or '-'")
    if role not in ROLES:
        raise UserError(f"role {role!r}: expected one of {', '.join(ROLES)}")
    if municipality == ALL:
        if role != "admin":
            raise UserError("municipality '*' (every municipality) is for the admin role (広報課) only")
    elif not _MUNICIPALITY.match(municipality):
        raise UserError(f"municipality {municipality!r}: expected a municipality id such as 'wako', or '*'")


def _user_from(raw: Any, where: str) -> User:
    if not isinstance(raw, dict):
        raise UserError(f"{where}: expected an object")
    try:
        user = User(name=str(raw["name"]), display_name=str(raw.get("display_name") or raw["name"]),
                    role=str(raw["role"]), municipality=str(raw["municipality"]),
                    password_hash=str(raw["password_hash"]), seeded=raw.get("seeded") is True)
    except KeyError as exc:
        raise UserError(f"{where}: missing {exc.args[0]}") from None
    check_user(user.name, user.role, user.municipality)
    if not user.password_hash.startswith("$argon2"):
        raise UserError(f"{where}: password_hash is not an argon2 hash")
    return user


def parse_users(raw: bytes, source: str = "users file") -> dict[str, User]:
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise UserError(f"{source}: not JSON ({exc})") from None
    if not isinstance(obj, dict) or not isinstance(obj.get("users"), list):
        raise UserError(f'{source}: expected {{"version": 1, "users": [...]}}')
    users: dict[str, User] = {}
    for i, item in enumerate(obj["users"]):
        user = _user_from(item, f"{source}: users[{i}]")
        if user.name in users:
            raise UserError(f"{source}: user {user.name!r} appears twice")
        users[user.name] = user
    return users


def dump_users(users: Iterable[User]) -> bytes:
    listed = sorted(users, key=lambda u: u.name)
    return orjson.dumps({"version": FILE_VERSION, "users": [u.to_dict() for u in listed]},
                        option=orjson.OPT_INDENT_2) + b"\n"


def write_atomically(path: Path, data: bytes) -> None:
    """Readers see the old file or the new one, never half of one; only the owner can read it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # the rename itself is durable only once the folder is synced
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def generate_password() -> str:
    return secrets.token_urlsafe(12)  # 16 characters, 96 bits


class UserStore:
    """The users file. Reads are cheap (a `stat` per call, a parse only when it changed);
    a broken file keeps the last good users and says so in the log."""

    def __init__(self, path: Path, *, hasher: PasswordHasher | None = None) -> None:
        self.path = path
        self.hasher = hasher or PasswordHasher()
        self._users: dict[str, User] = {}
        self._signature: tuple[int, int, int] | None = None
        self._dummy: str | None = None

    # -- reading -------------------------------------------------------------
    def _stat(self) -> tuple[int, int, int] | None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def users(self) -> dict[str, User]:
        signature = self._stat()
        if signature != self._signature:
            if signature is None:
                self._users = {}
            else:
                try:
                    self._users = parse_users(self.path.read_bytes(), str(self.path))
                except (UserError, OSError) as exc:
                    log.error("board_users_unreadable", path=str(self.path), error=str(exc))
                    return self._users
            self._signature = signature
        return self._users

    def load_strict(self) -> dict[str, User]:
        """For the command line: a broken file is an error, not something to work around."""
        if not self.path.exists():
            return {}
        return parse_users(self.path.read_bytes(), str(self.path))

    def get(self, name: str) -> User | None:
        return self.users().get(name)

    # -- passwords -----------------------------------------------------------
    def hash(self, password: str) -> str:
        return self.hasher.hash(password)

    def verify(self, name: str, password: str) -> User | None:
        """The user if the password is theirs. Slow on purpose (argon2): run it off the event
        loop. An unknown name costs the same as a wrong password, so timing tells nothing."""
        user = self.users().get(name)
        if user is None:
            if self._dummy is None:
                self._dummy = self.hasher.hash(secrets.token_urlsafe(16))
            with contextlib.suppress(VerificationError, InvalidHashError):
                self.hasher.verify(self._dummy, password)
            return None
        try:
            self.hasher.verify(user.password_hash, password)
        except (VerificationError, InvalidHashError):
            return None
        return user

    # -- writing (the command line, and `noroshi run`'s demo users) -----------
    def put(self, user: User) -> User:
        check_user(user.name, user.role, user.municipality)
        users = self.load_strict()
        users[user.name] = user
        write_atomically(self.path, dump_users(users.values()))
        return user

    def add(self, name: str, *, role: str, municipality: str, password: str,
            display_name: str = "", seeded: bool = False) -> User:
        role = normal_role(role)
        check_user(name, role, municipality)
        if not password:
            raise UserError("the password is empty")
        return self.put(User(name=name, display_name=display_name.strip() or name, role=role,
                             municipality=municipality, password_hash=self.hash(password),
                             seeded=seeded))

    def remove(self, name: str) -> bool:
        users = self.load_strict()
        if users.pop(name, None) is None:
            return False
        write_atomically(self.path, dump_users(users.values()))
        return True

    def set_password(self, user: User, password: str) -> User:
        return self.put(replace(user, password_hash=self.hash(password)))


def bootstrap(store: UserStore, name: str, password: str) -> User | None:
    """A first admin (広報課, every municipality) from NOROSHI_BOARD_USER/PASSWORD when the
    users file has nobody yet, so that a fresh deployment can be signed in to at all."""
    if store.load_strict():
        return None
    user = store.add(name, role="admin", municipality=ALL, password=password,
                     display_name=name)
    log.warning("board_user_bootstrapped", user=name, path=str(store.path),
                advice="create named users with `noroshi user add`, then remove this one")
    return user


def seed_demo(store: UserStore, *, municipality: str, operator: str,
              operator_password: str) -> list[tuple[User, str]]:
    """`noroshi run`: a demo operator and an account owner for `municipality`. Created on the
    first start; at later starts their passwords are reset (so the printed ones work) —
    only theirs: users created with `noroshi user add` are never touched."""
    users = store.load_strict()
    wanted = [(operator, "operator", "当番（デモ）", operator_password),
              (f"{operator}-owner", "owner", "所属長（デモ）", generate_password())]
    out = []
    for name, role, display, password in wanted:
        existing = users.get(name)
        if existing is not None and not existing.seeded:
            continue  # someone made this user by hand: leave it alone
        user = store.add(name, role=role, municipality=municipality, password=password,
                         display_name=display, seeded=True)
        out.append((user, password))
    return out
