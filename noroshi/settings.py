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

#: The responders' settings (delivery channels), documented and parsed apart from the core.
RESPONDER_DOCUMENTED: tuple[tuple[str, str, str], ...] = (
    ("NOROSHI_SMTP_URL", "(empty: no e-mail)",
     "Mail server as `smtp://user@host:587` (STARTTLS) or `smtp+plain://host:25` (no TLS, loopback relays only)."),
    ("NOROSHI_SMTP_PASSWORD", "(empty)", "Password of the SMTP user (or NOROSHI_SMTP_PASSWORD_FILE)."),
    ("NOROSHI_SMTP_CA_FILE", "(system CAs)", "A private CA (PEM) the mail server's certificate is signed by."),
    ("NOROSHI_MAIL_FROM", "noroshi@localhost", "Sender of notifications and press releases, `名前 <addr>` or `addr`."),
    ("NOROSHI_PRESS_TO", "(empty)",
     "報道提供 recipients, separated by `,` (added to each profile's `press.recipients`)."),
    ("NOROSHI_SLACK_WEBHOOK", "(empty)",
     "Slack-compatible incoming-webhook URL for `slack:` contacts (secret; or NOROSHI_SLACK_WEBHOOK_FILE)."),
    ("NOROSHI_TEAMS_WEBHOOK", "(empty)",
     "Microsoft Teams Workflows webhook URL for `teams:` contacts (secret; or NOROSHI_TEAMS_WEBHOOK_FILE)."),
    ("NOROSHI_LINEWORKS", "(empty)",
     "LINE WORKS bot as `client_id,service_account,bot_id` for `lineworks:USER` or `lineworks:channel/ID` contacts."),
    ("NOROSHI_LINEWORKS_CLIENT_SECRET", "(empty)", "LINE WORKS app client secret (or …_FILE)."),
    ("NOROSHI_LINEWORKS_PRIVATE_KEY", "(empty)", "LINE WORKS service-account private key, PEM (or …_FILE)."),
    ("NOROSHI_WEBHOOK_URL", "(empty)", "Generic JSON webhook for `webhook:` contacts, signed with HMAC-SHA256."),
    ("NOROSHI_WEBHOOK_SECRET", "(empty)", "Shared secret of that webhook's signature (or …_FILE)."),
    ("NOROSHI_POST_CREDENTIALS", "(empty: dry run)",
     "JSON of posting credentials per official account (or …_FILE); accounts without any are posted in dry run."),
    ("NOROSHI_NOTICE_DIR", "DATA_DIR/notices", "Folder the website notices are written to as static HTML."),
    ("NOROSHI_NOTICE_WEBHOOK_URL", "(empty)", "The site's CMS webhook for notices; when set, used instead of the folder."),
    ("NOROSHI_NOTICE_WEBHOOK_SECRET", "(empty)", "Shared secret that signs notice webhooks (or …_FILE)."),
    ("NOROSHI_RETRY_ATTEMPTS", "4", "Attempts per delivery before the playbook is told it failed."),
)
DOCUMENTED = DOCUMENTED + RESPONDER_DOCUMENTED


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
class ResponderSettings:
    """Where notifications, posts, notices and press releases go. Empty means not configured:
    the responder then reports the effect as failed (never skips it), except posts, which
    fall back to a dry run that records what would have been posted."""

    smtp_url: str = ""
    smtp_password: Secret = Secret("")
    smtp_ca_file: Path | None = None
    mail_from: str = "noroshi@localhost"
    press_to: tuple[str, ...] = ()
    slack_webhook: Secret = Secret("")
    teams_webhook: Secret = Secret("")
    lineworks: tuple[str, str, str] | None = None  # client_id, service_account, bot_id
    lineworks_client_secret: Secret = Secret("")
    lineworks_private_key: Secret = Secret("")
    webhook_url: str = ""
    webhook_secret: Secret = Secret("")
    post_credentials: Secret = Secret("")
    notice_dir: Path | None = None
    notice_webhook_url: str = ""
    notice_webhook_secret: Secret = Secret("")
    retry_attempts: int = 4
    raw: tuple[tuple[str, str], ...] = field(default=(), repr=False)  # the variables, for child processes

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ResponderSettings:
        def get(name: str, default: str = "") -> str:
            return env.get(PREFIX + name, default).strip()

        lineworks = None
        if get("LINEWORKS"):
            parts = tuple(p.strip() for p in get("LINEWORKS").split(","))
            if len(parts) != 3 or not all(parts):
                raise SettingsError("NOROSHI_LINEWORKS: expected client_id,service_account,bot_id")
            lineworks = (parts[0], parts[1], parts[2])
        smtp_url = get("SMTP_URL")
        if smtp_url and not smtp_url.startswith(("smtp://", "smtp+plain://")):
            raise SettingsError(f"NOROSHI_SMTP_URL={smtp_url!r}: expected smtp://user@host:port or smtp+plain://host:port")
        for name in ("WEBHOOK_URL", "NOTICE_WEBHOOK_URL"):
            if get(name) and not get(name).startswith(("https://", "http://")):
                raise SettingsError(f"NOROSHI_{name}={get(name)!r}: expected an http(s) URL")
        names = {n for n, _d, _m in RESPONDER_DOCUMENTED}
        raw = tuple(sorted((k, v) for k, v in env.items()
                           if k in names or (k.endswith("_FILE") and k[:-5] in names)))
        return cls(
            smtp_url=smtp_url,
            smtp_password=_secret(env, PREFIX + "SMTP_PASSWORD"),
            smtp_ca_file=Path(get("SMTP_CA_FILE")) if get("SMTP_CA_FILE") else None,
            mail_from=get("MAIL_FROM", "noroshi@localhost"),
            press_to=tuple(a.strip() for a in get("PRESS_TO").split(",") if a.strip()),
            slack_webhook=_secret(env, PREFIX + "SLACK_WEBHOOK"),
            teams_webhook=_secret(env, PREFIX + "TEAMS_WEBHOOK"),
            lineworks=lineworks,
            lineworks_client_secret=_secret(env, PREFIX + "LINEWORKS_CLIENT_SECRET"),
            lineworks_private_key=_secret(env, PREFIX + "LINEWORKS_PRIVATE_KEY"),
            webhook_url=get("WEBHOOK_URL"),
            webhook_secret=_secret(env, PREFIX + "WEBHOOK_SECRET"),
            post_credentials=_secret(env, PREFIX + "POST_CREDENTIALS"),
            notice_dir=Path(get("NOTICE_DIR")) if get("NOTICE_DIR") else None,
            notice_webhook_url=get("NOTICE_WEBHOOK_URL"),
            notice_webhook_secret=_secret(env, PREFIX + "NOTICE_WEBHOOK_SECRET"),
            retry_attempts=_int(get("RETRY_ATTEMPTS", "4"), "NOROSHI_RETRY_ATTEMPTS", low=1, high=20),
            raw=raw,
        )


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
    responders: ResponderSettings = field(default_factory=ResponderSettings)

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
            responders=ResponderSettings.from_env(env),
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
            **dict(self.responders.raw),
        }


def child_env(settings: Settings, base: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ if base is None else base)
    env.update(settings.to_env())
    return env
