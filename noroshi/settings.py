"""Noroshi's one settings object, read from the environment in one place.

Every process (worker, board, CLI commands) builds a `Settings` with
`Settings.from_env(os.environ)` and passes it down; nothing else reads the
environment, and nothing connects at import time.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

PREFIX = "NOROSHI_"


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


@dataclass(frozen=True)
class Secret:
    """A secret value that never shows itself in repr, str or logs."""

    value: str = field(repr=False)

    def __repr__(self) -> str:
        return "Secret('********')" if self.value else "Secret('')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self.value)


# name, default, meaning: the README's settings table is generated from this list.
DOCUMENTED: tuple[tuple[str, str, str], ...] = (
    ("NOROSHI_BROKER", "(empty: embedded Tansu)",
     "Kafka bootstrap servers, e.g. `kafka://kafka:9092`. Empty starts the embedded broker."),
    ("NOROSHI_BROKER_TANSU", "false (true when embedded)",
     "Set `true` only when NOROSHI_BROKER is a Tansu broker: enables the end-offset correction."),
    ("NOROSHI_PROFILES", "(built-in demo profile)",
     "Municipality profile files or folders of `*.profile.json`, separated by `,`."),
    ("NOROSHI_TOPIC_PREFIX", "noroshi", "Prefix of every topic name."),
    ("NOROSHI_PARTITIONS", "8", "Partitions of every topic Noroshi creates."),
    ("NOROSHI_REPLICATION", "1", "Replication factor of the topics Noroshi creates."),
    ("NOROSHI_FAST_GROUPS", "false (true when embedded)",
     "Short consumer-group timeouts (worker ready in ~4 s). Never on real Kafka in production."),
    ("NOROSHI_DATA_DIR", "./var", "Where the worker keeps its local table files."),
    ("NOROSHI_WORKER_ID", "noroshi", "Faust application id (the consumer group)."),
    ("NOROSHI_BOARD_HOST", "127.0.0.1", "Address the status board listens on."),
    ("NOROSHI_BOARD_PORT", "8080", "Port of the status board."),
    ("NOROSHI_BOARD_URL", "http://HOST:PORT", "Public URL of the board, used in links and Origin checks."),
    ("NOROSHI_SECRET_KEY", "(random per start)",
     "Key that signs board sessions. Set it in production (or NOROSHI_SECRET_KEY_FILE)."),
    ("NOROSHI_BOARD_USER", "demo", "Board sign-in name (until user management lands)."),
    ("NOROSHI_BOARD_PASSWORD", "(random per start)",
     "Board sign-in password, printed by `noroshi run` (or NOROSHI_BOARD_PASSWORD_FILE)."),
    ("NOROSHI_LOG_FORMAT", "auto", "`json`, `console`, or `auto` (console on a terminal, else JSON)."),
    ("NOROSHI_LOG_LEVEL", "INFO", "Log level."),
)


def _truthy(raw: str, name: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise SettingsError(f"{name}={raw!r}: expected true or false")


def _int(raw: str, name: str, *, low: int, high: int) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r}: expected a whole number") from None
    if not low <= value <= high:
        raise SettingsError(f"{name}={value}: must be between {low} and {high}")
    return value


def _secret(env: Mapping[str, str], name: str) -> Secret:
    """A secret from NAME, or from the file named by NAME_FILE (Docker secrets)."""
    path = env.get(name + "_FILE")
    if path:
        try:
            value = Path(path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SettingsError(f"{name}_FILE={path!r}: cannot read: {exc.strerror}") from None
        if not value:
            raise SettingsError(f"{name}_FILE={path!r}: the file is empty")
        return Secret(value)
    return Secret(env.get(name, "").strip())


@dataclass(frozen=True)
class Settings:
    broker: str  # "" means: start the embedded broker
    broker_is_tansu: bool
    profiles: tuple[Path, ...]
    topic_prefix: str
    partitions: int
    replication: int
    fast_groups: bool
    data_dir: Path
    worker_id: str
    board_host: str
    board_port: int
    board_url: str
    secret_key: Secret
    board_user: str
    board_password: Secret
    log_format: str
    log_level: str

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        def get(name: str, default: str = "") -> str:
            return env.get(PREFIX + name, default).strip()

        broker = get("BROKER")
        if broker and "://" not in broker:
            broker = "kafka://" + broker
        host = get("BOARD_HOST", "127.0.0.1")
        port = _int(get("BOARD_PORT", "8080"), "NOROSHI_BOARD_PORT", low=1, high=65535)
        log_format = get("LOG_FORMAT", "auto").lower()
        if log_format not in ("auto", "json", "console"):
            raise SettingsError(f"NOROSHI_LOG_FORMAT={log_format!r}: expected auto, json or console")
        profiles = tuple(Path(p.strip()) for p in get("PROFILES").split(",") if p.strip())
        return cls(
            broker=broker,
            broker_is_tansu=_truthy(get("BROKER_TANSU", "false" if broker else "true"), "NOROSHI_BROKER_TANSU"),
            profiles=profiles,
            topic_prefix=get("TOPIC_PREFIX", "noroshi"),
            partitions=_int(get("PARTITIONS", "8"), "NOROSHI_PARTITIONS", low=1, high=1024),
            replication=_int(get("REPLICATION", "1"), "NOROSHI_REPLICATION", low=1, high=16),
            fast_groups=_truthy(get("FAST_GROUPS", "false" if broker else "true"), "NOROSHI_FAST_GROUPS"),
            data_dir=Path(get("DATA_DIR", "var")),
            worker_id=get("WORKER_ID", "noroshi"),
            board_host=host,
            board_port=port,
            board_url=get("BOARD_URL", f"http://{host}:{port}").rstrip("/"),
            secret_key=_secret(env, PREFIX + "SECRET_KEY") or Secret(secrets.token_urlsafe(32)),
            board_user=get("BOARD_USER", "demo"),
            board_password=_secret(env, PREFIX + "BOARD_PASSWORD") or Secret(secrets.token_urlsafe(9)),
            log_format=log_format,
            log_level=get("LOG_LEVEL", "INFO").upper(),
        )

    @property
    def broker_servers(self) -> str:
        """`host:port[,host:port]` for aiokafka clients."""
        if not self.broker:
            raise SettingsError("no broker configured: start the embedded broker first")
        return self.broker.split("://", 1)[1]

    def with_broker(self, url: str, *, tansu: bool) -> Settings:
        return replace(self, broker=url, broker_is_tansu=tansu)

    def to_env(self) -> dict[str, str]:
        """The environment a child process needs to rebuild these settings exactly."""
        return {
            PREFIX + "BROKER": self.broker,
            PREFIX + "BROKER_TANSU": str(self.broker_is_tansu).lower(),
            PREFIX + "PROFILES": ",".join(str(p) for p in self.profiles),
            PREFIX + "TOPIC_PREFIX": self.topic_prefix,
            PREFIX + "PARTITIONS": str(self.partitions),
            PREFIX + "REPLICATION": str(self.replication),
            PREFIX + "FAST_GROUPS": str(self.fast_groups).lower(),
            PREFIX + "DATA_DIR": str(self.data_dir),
            PREFIX + "WORKER_ID": self.worker_id,
            PREFIX + "BOARD_HOST": self.board_host,
            PREFIX + "BOARD_PORT": str(self.board_port),
            PREFIX + "BOARD_URL": self.board_url,
            PREFIX + "SECRET_KEY": self.secret_key.value,
            PREFIX + "BOARD_USER": self.board_user,
            PREFIX + "BOARD_PASSWORD": self.board_password.value,
            PREFIX + "LOG_FORMAT": self.log_format,
            PREFIX + "LOG_LEVEL": self.log_level,
        }


def child_env(settings: Settings, base: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ if base is None else base)
    env.update(settings.to_env())
    return env
