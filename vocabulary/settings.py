"""Noroshi's one settings object, read from the environment in one place.

Every process (worker, board, CLI commands) builds a `Settings` with
`Settings.from_env(os.environ)` and passes it down; nothing else reads the
environment, and nothing connects at import time.
"""

from __future__ import annotations

import ipaddress
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
    ("NOROSHI_INPUT_RETENTION_DAYS", "30",
     "Days Kafka keeps the agents' inputs (mentions, accounts, alerts, detections, commands, deadlines, effects): longer than any outage the worker must catch up from. Set when `noroshi topics` / `run` create them; `noroshi topics --apply-policies` changes existing ones."),
    ("NOROSHI_DEADLETTER_RETENTION_DAYS", "90", "Days Kafka keeps the dead letters, for inspection and re-drive."),
    ("NOROSHI_BROKER_MEMORY_WARN_MB", "0 (half the machine's memory)",
     "`noroshi run` reads the embedded broker's memory (RSS) every minute and warns, in Japanese and English, once it uses more than this many MiB (again every hour while it does): that broker keeps every message in memory."),
    ("NOROSHI_FAST_GROUPS", "false (true when embedded)",
     "Short consumer-group timeouts (worker ready in ~4 s). Never on real Kafka in production."),
    ("NOROSHI_DATA_DIR", "./var",
     "Where the worker keeps its local table files, and `noroshi archive` the audit trail (`archive.sqlite3`, read by the board)."),
    ("NOROSHI_WORKER_ID", "noroshi", "Faust application id (the consumer group)."),
    ("NOROSHI_BOARD_HOST", "127.0.0.1", "Address the status board listens on."),
    ("NOROSHI_BOARD_PORT", "8080", "Port of the status board."),
    ("NOROSHI_BOARD_URL", "http://HOST:PORT", "Public URL of the board, used in links and Origin checks."),
    ("NOROSHI_BOARD_TRUSTED_PROXIES", "(empty: none)",
     "Reverse proxies in front of the board (addresses or CIDRs, separated by `,`). Only when the direct peer is one of them does `X-Forwarded-For` count: the client is its rightmost address that is not a trusted proxy. Empty: the header is ignored."),
    ("NOROSHI_SECRET_KEY", "(random per start)",
     "Key that encrypts board sessions. Set it in production (or NOROSHI_SECRET_KEY_FILE)."),
    ("NOROSHI_USERS_FILE", "DATA_DIR/board-users.json",
     "The board's users (argon2 hashes, mode 0600), written by `noroshi user add`; the board re-reads it when it changes."),
    ("NOROSHI_BOARD_USER", "demo",
     "Name of the first user: the demo operator `noroshi run` creates, or the admin (広報課, every municipality) the board creates when the users file is empty."),
    ("NOROSHI_BOARD_PASSWORD", "(random per start)",
     "That first user's password, printed by `noroshi run` (or NOROSHI_BOARD_PASSWORD_FILE)."),
    ("NOROSHI_HEARTBEAT_INTERVAL", "60",
     "Seconds between two heartbeats the worker sends through the pipeline (one per input partition in use)."),
    ("NOROSHI_CHECKPOINT_BYTES_PER_EVENT", "512",
     "The worker keeps each municipality's detector state in memory and writes it to its table (a checkpoint) once the events since the last one bring its size to at most this many bytes per event."),
    ("NOROSHI_CHECKPOINT_REPLAY_MAX", "20000",
     "A checkpoint is also written once its partition has moved this many offsets past the first event not yet written: the most a restarted worker reads again per partition."),
    ("NOROSHI_CHECKPOINT_MAX_AGE", "86400",
     "Seconds after which an event not yet written is written in any case. Keep it well under NOROSHI_INPUT_RETENTION_DAYS: the replay reads the input topics."),
    ("NOROSHI_HEARTBEAT_LATE", "180",
     "Seconds after which the board shows the heartbeat as late (監視: 遅延, red)."),
    ("NOROSHI_HTTP_HOST", "127.0.0.1",
     "Address the worker and `noroshi sources` serve /healthz, /readyz and /metrics on."),
    ("NOROSHI_WORKER_HTTP_PORT", "8081", "Port of the worker's /healthz, /readyz and /metrics."),
    ("NOROSHI_SOURCES_HTTP_PORT", "8091", "Port of the /healthz, /readyz and /metrics of `noroshi sources`."),
    ("NOROSHI_WATCHDOG_HTTP_PORT", "8092", "Port of the watchdog's /healthz, /readyz, /metrics and /status (on NOROSHI_HTTP_HOST)."),
    ("NOROSHI_WORKER_URL", "http://HTTP_HOST:WORKER_HTTP_PORT",
     "Where the watchdog and the board's システム状態 page reach the worker's /readyz and /metrics."),
    ("NOROSHI_SOURCES_URL", "http://HTTP_HOST:SOURCES_HTTP_PORT",
     "Where the watchdog and the board reach `noroshi sources`' /readyz and /metrics."),
    ("NOROSHI_WATCHDOG_URL", "http://HTTP_HOST:WATCHDOG_HTTP_PORT",
     "Where the board and `noroshi run` reach the watchdog's /status."),
    ("NOROSHI_BOARD_INTERNAL_URL", "http://BOARD_HOST:BOARD_PORT",
     "Where the watchdog reaches the board's /healthz (the public NOROSHI_BOARD_URL may not be reachable from inside)."),
    ("NOROSHI_READY_MAX_LAG", "10000",
     "The worker's /readyz answers 503 while its consumer lag (messages, all assigned partitions) is above this."),
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
    ("NOROSHI_TEMPLATES_DIR", "(empty: the shipped 様式)",
     "A city's own 様式 for the press release and the website notices: `DIR/<municipality id>/NAME` for one "
     "municipality, `DIR/NAME` for all, replacing the shipped file of the same name (see \"様式 (templates)\")."),
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


def _networks(raw: str, name: str) -> tuple[str, ...]:
    """Addresses or CIDRs separated by `,`, each written as a network (`10.0.0.1` → `10.0.0.1/32`)."""
    out = []
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        try:
            out.append(str(ipaddress.ip_network(part, strict=False)))
        except ValueError:
            raise SettingsError(f"{name}: {part!r} is not an address or a CIDR such as 10.0.0.0/8") from None
    return tuple(dict.fromkeys(out))


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
    templates_dir: Path | None = None
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
            templates_dir=Path(get("TEMPLATES_DIR")) if get("TEMPLATES_DIR") else None,
            retry_attempts=_int(get("RETRY_ATTEMPTS", "4"), "NOROSHI_RETRY_ATTEMPTS", low=1, high=20),
            raw=raw,
        )


#: The sources' settings (`noroshi sources`, started by `noroshi run` when any is enabled).
SOURCE_DOCUMENTED: tuple[tuple[str, str, str], ...] = (
    ("NOROSHI_SOURCES", "(empty: none)",
     "Sources to run, separated by `,`: `jetstream`, `mastodon`, `x`, `discovery`, `jma`, `hooks`."),
    ("NOROSHI_JETSTREAM_URL", "wss://jetstream2.us-east.bsky.network/subscribe", "Bluesky Jetstream websocket."),
    ("NOROSHI_BLUESKY_APPVIEW_URL", "https://public.api.bsky.app",
     "Bluesky AppView for handle look-ups and account discovery."),
    ("NOROSHI_MASTODON_INSTANCES", "(empty)", "Mastodon servers to follow, separated by `,` (hashtags from the profile)."),
    ("NOROSHI_MASTODON_PUBLIC", "false", "Also follow each server's public timeline (kept only when it concerns the city)."),
    ("NOROSHI_MASTODON_TOKEN", "(empty)", "Access token for the Mastodon servers (or …_FILE), when they want one."),
    ("NOROSHI_X_BEARER_TOKEN", "(empty)", "X API bearer token for the filtered stream and account search (or …_FILE)."),
    ("NOROSHI_X_API_URL", "https://api.x.com", "X API base URL."),
    ("NOROSHI_DISCOVERY_INTERVAL", "900", "Seconds between two account-discovery rounds."),
    ("NOROSHI_JMA_FEEDS", "(JMA's extra.xml and eqvol.xml)", "気象庁 Atom feeds to poll, separated by `,`."),
    ("NOROSHI_JMA_POLL", "60", "Seconds between two polls of the JMA feeds."),
    ("NOROSHI_HOOKS_HOST", "127.0.0.1", "Address the webhook receiver listens on."),
    ("NOROSHI_HOOKS_PORT", "8090", "Port of the webhook receiver."),
    ("NOROSHI_HOOKS_SECRET", "(empty)", "HMAC secret of `POST /hooks/events` (or …_FILE); empty: endpoint off."),
    ("NOROSHI_HOOKS_MUNICIPALITY", "(the only profile)", "Municipality of events that do not name one."),
    ("NOROSHI_HOOKS_PUBLISH_TIMEOUT", "10",
     "Seconds a webhook request waits for the broker; an event not confirmed by then is answered `failed` (503) for the client to send again."),
    ("NOROSHI_HOOKS_REMEMBER", "86400",
     "Seconds the webhook receiver remembers a published event id (in DATA_DIR/webhook.sqlite3, across restarts); at least 600."),
    ("NOROSHI_LINE_CHANNEL_SECRET", "(empty)", "LINE channel secret for `POST /hooks/line` (or …_FILE); empty: off."),
    ("NOROSHI_LINE_USER_SALT", "(the channel secret)", "Key of the pseudonyms given to LINE users (or …_FILE)."),
    ("NOROSHI_LINE_ACCOUNT", "(empty)", "Handle of the official LINE account in the profile (messages count as replies to it)."),
)
DOCUMENTED = DOCUMENTED + SOURCE_DOCUMENTED

#: The watchdog's settings (`noroshi watchdog`, lookout/): how often it looks, when a condition fires.
WATCHDOG_DOCUMENTED: tuple[tuple[str, str, str], ...] = (
    ("NOROSHI_WATCHDOG_INTERVAL", "15",
     "Seconds between two rounds of the watchdog's checks (each HTTP probe times out within min(5, this))."),
    ("NOROSHI_WATCHDOG_GRACE", "120",
     "Seconds after the watchdog starts during which a component never seen is `unknown`, not down, and nothing is resolved."),
    ("NOROSHI_WATCHDOG_DOWN_FOR", "60",
     "Seconds a component (worker, sources, board) must not answer, or the broker be unreachable, before the alert fires."),
    ("NOROSHI_WATCHDOG_LAG_MAX", "10000", "Consumer lag (messages, all partitions) above which the lag rule holds."),
    ("NOROSHI_WATCHDOG_LAG_FOR", "300", "Seconds the lag must stay above NOROSHI_WATCHDOG_LAG_MAX before the alert fires."),
    ("NOROSHI_WATCHDOG_CIRCUIT_FOR", "120", "Seconds a channel's circuit must stay open before the alert fires."),
    ("NOROSHI_WATCHDOG_SOURCE_FOR", "300", "Seconds a source must stay disconnected before the alert fires."),
    ("NOROSHI_WATCHDOG_SOURCE_SILENT", "1800",
     "Least silence (seconds) that counts as a source gone quiet; the bound is 3 × the longest of its last 100 gaps when larger."),
    ("NOROSHI_WATCHDOG_DEADLETTER_MAX", "20", "Dead letters within NOROSHI_WATCHDOG_DEADLETTER_WINDOW above which the spike rule holds."),
    ("NOROSHI_WATCHDOG_DEADLETTER_WINDOW", "300", "Seconds over which dead letters are counted."),
    ("NOROSHI_WATCHDOG_GROUP_WAIT", "10",
     "Seconds the watchdog waits after a condition fires (or ends) for others to join it in one notification."),
    ("NOROSHI_WATCHDOG_REPEAT", "3600", "Seconds between two reminders while conditions keep firing."),
    ("NOROSHI_WATCHDOG_CONTACTS", "(empty)",
     "More contacts for the watchdog's alerts, separated by `,`, as in a roster: `email:ops@city.example.jp`, `webhook:ops`, `slack:ops`."),
)
DOCUMENTED = DOCUMENTED + WATCHDOG_DOCUMENTED


@dataclass(frozen=True)
class WatchdogSettings:
    """When the watchdog's rules hold and how its notifications are grouped (lookout/)."""

    interval_s: float = 15.0
    grace_s: float = 120.0
    down_for_s: float = 60.0
    lag_max: int = 10_000
    lag_for_s: float = 300.0
    circuit_for_s: float = 120.0
    source_for_s: float = 300.0
    source_silent_s: float = 1800.0
    deadletter_max: int = 20
    deadletter_window_s: float = 300.0
    group_wait_s: float = 10.0
    repeat_s: float = 3600.0
    contacts: tuple[str, ...] = ()
    raw: tuple[tuple[str, str], ...] = field(default=(), repr=False)  # the variables, for child processes

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> WatchdogSettings:
        def seconds(name: str, default: int, low: int = 0, high: int = 7 * 86400) -> float:
            return float(_int(env.get(PREFIX + name, str(default)).strip() or str(default), PREFIX + name,
                              low=low, high=high))

        contacts = tuple(dict.fromkeys(c.strip() for c in env.get(PREFIX + "WATCHDOG_CONTACTS", "").split(",")
                                       if c.strip()))
        bad = [c for c in contacts if not (c.partition(":")[0] and c.partition(":")[2].strip())]
        if bad:
            raise SettingsError(f"NOROSHI_WATCHDOG_CONTACTS: {bad[0]!r} is not kind:address (e.g. email:ops@example.jp)")
        names = {n for n, _d, _m in WATCHDOG_DOCUMENTED}
        return cls(
            interval_s=seconds("WATCHDOG_INTERVAL", 15, low=1, high=3600),
            grace_s=seconds("WATCHDOG_GRACE", 120),
            down_for_s=seconds("WATCHDOG_DOWN_FOR", 60),
            lag_max=int(seconds("WATCHDOG_LAG_MAX", 10_000, high=10**12)),
            lag_for_s=seconds("WATCHDOG_LAG_FOR", 300),
            circuit_for_s=seconds("WATCHDOG_CIRCUIT_FOR", 120),
            source_for_s=seconds("WATCHDOG_SOURCE_FOR", 300),
            source_silent_s=seconds("WATCHDOG_SOURCE_SILENT", 1800, low=1),
            deadletter_max=int(seconds("WATCHDOG_DEADLETTER_MAX", 20, high=10**9)),
            deadletter_window_s=seconds("WATCHDOG_DEADLETTER_WINDOW", 300, low=1),
            group_wait_s=seconds("WATCHDOG_GROUP_WAIT", 10, high=3600),
            repeat_s=seconds("WATCHDOG_REPEAT", 3600, low=1),
            contacts=contacts,
            raw=tuple(sorted((k, v) for k, v in env.items() if k in names)),
        )


JETSTREAM_URL = "wss://jetstream2.us-east.bsky.network/subscribe"
SOURCE_KINDS = ("jetstream", "mastodon", "x", "discovery", "jma", "hooks")


@dataclass(frozen=True)
class SourceSettings:
    """Which sources run and how to reach them; nothing runs unless NOROSHI_SOURCES names it."""

    enabled: tuple[str, ...] = ()
    jetstream_url: str = JETSTREAM_URL
    bluesky_appview_url: str = "https://public.api.bsky.app"
    mastodon_instances: tuple[str, ...] = ()
    mastodon_public: bool = False
    mastodon_token: Secret = Secret("")
    x_bearer_token: Secret = Secret("")
    x_api_url: str = "https://api.x.com"
    discovery_interval_s: float = 900.0
    jma_feeds: tuple[str, ...] = ()
    jma_poll_s: float = 60.0
    hooks_host: str = "127.0.0.1"
    hooks_port: int = 8090
    hooks_secret: Secret = Secret("")
    hooks_municipality: str = ""
    hooks_publish_timeout_s: float = 10.0
    hooks_remember_s: float = 86_400.0
    line_channel_secret: Secret = Secret("")
    line_user_salt: Secret = Secret("")
    line_account: str = ""
    raw: tuple[tuple[str, str], ...] = field(default=(), repr=False)  # the variables, for child processes

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> SourceSettings:
        def get(name: str, default: str = "") -> str:
            return env.get(PREFIX + name, default).strip()

        def listed(name: str) -> tuple[str, ...]:
            return tuple(dict.fromkeys(p.strip() for p in get(name).split(",") if p.strip()))

        enabled = tuple(k.lower() for k in listed("SOURCES"))
        unknown = [k for k in enabled if k not in SOURCE_KINDS]
        if unknown:
            raise SettingsError(f"NOROSHI_SOURCES: unknown {', '.join(unknown)} (known: {', '.join(SOURCE_KINDS)})")
        for name in ("BLUESKY_APPVIEW_URL", "X_API_URL"):
            if get(name) and not get(name).startswith(("https://", "http://")):
                raise SettingsError(f"NOROSHI_{name}={get(name)!r}: expected an http(s) URL")
        instances = listed("MASTODON_INSTANCES")
        feeds = listed("JMA_FEEDS")
        for name, urls in (("MASTODON_INSTANCES", instances), ("JMA_FEEDS", feeds)):
            bad = [u for u in urls if not u.startswith(("https://", "http://"))]
            if bad:
                raise SettingsError(f"NOROSHI_{name}: {bad[0]!r} is not an http(s) URL")
        settings = cls(
            enabled=enabled,
            jetstream_url=get("JETSTREAM_URL", JETSTREAM_URL),
            bluesky_appview_url=get("BLUESKY_APPVIEW_URL", "https://public.api.bsky.app"),
            mastodon_instances=instances,
            mastodon_public=_truthy(get("MASTODON_PUBLIC", "false"), "NOROSHI_MASTODON_PUBLIC"),
            mastodon_token=_secret(env, PREFIX + "MASTODON_TOKEN"),
            x_bearer_token=_secret(env, PREFIX + "X_BEARER_TOKEN"),
            x_api_url=get("X_API_URL", "https://api.x.com"),
            discovery_interval_s=float(_int(get("DISCOVERY_INTERVAL", "900"), "NOROSHI_DISCOVERY_INTERVAL",
                                            low=30, high=86400)),
            jma_feeds=feeds,
            jma_poll_s=float(_int(get("JMA_POLL", "60"), "NOROSHI_JMA_POLL", low=10, high=3600)),
            hooks_host=get("HOOKS_HOST", "127.0.0.1"),
            hooks_port=_int(get("HOOKS_PORT", "8090"), "NOROSHI_HOOKS_PORT", low=1, high=65535),
            hooks_secret=_secret(env, PREFIX + "HOOKS_SECRET"),
            hooks_municipality=get("HOOKS_MUNICIPALITY"),
            hooks_publish_timeout_s=float(_int(get("HOOKS_PUBLISH_TIMEOUT", "10"), "NOROSHI_HOOKS_PUBLISH_TIMEOUT",
                                               low=1, high=120)),
            hooks_remember_s=float(_int(get("HOOKS_REMEMBER", "86400"), "NOROSHI_HOOKS_REMEMBER",
                                        low=600, high=30 * 86400)),
            line_channel_secret=_secret(env, PREFIX + "LINE_CHANNEL_SECRET"),
            line_user_salt=_secret(env, PREFIX + "LINE_USER_SALT"),
            line_account=get("LINE_ACCOUNT"),
            raw=tuple(sorted((k, v) for k, v in env.items() if k in {n for n, _d, _m in SOURCE_DOCUMENTED}
                             or (k.endswith("_FILE") and k[:-5] in {n for n, _d, _m in SOURCE_DOCUMENTED}))),
        )
        settings.check()
        return settings

    def check(self) -> None:
        """What each enabled source needs, named by the variable to set."""
        needs = {
            "mastodon": (bool(self.mastodon_instances), "NOROSHI_MASTODON_INSTANCES"),
            "x": (bool(self.x_bearer_token), "NOROSHI_X_BEARER_TOKEN"),
            "hooks": (bool(self.hooks_secret or self.line_channel_secret),
                      "NOROSHI_HOOKS_SECRET or NOROSHI_LINE_CHANNEL_SECRET"),
        }
        for kind in self.enabled:
            ok, variable = needs.get(kind, (True, ""))
            if not ok:
                raise SettingsError(f"NOROSHI_SOURCES names {kind}: set {variable}")


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
    users_file: Path = Path("var/board-users.json")
    board_trusted_proxies: tuple[str, ...] = ()  # networks, e.g. ("10.0.0.0/8",); see _networks
    responders: ResponderSettings = field(default_factory=ResponderSettings)
    sources: SourceSettings = field(default_factory=SourceSettings)
    heartbeat_interval_s: float = 60.0  # the worker's heartbeat through the pipeline (streams/heartbeat.py)
    heartbeat_late_s: float = 180.0  # the board's 監視: 遅延 past this age
    # The detector-state checkpoints (streams/stage.py CheckpointPolicy)
    checkpoint_bytes_per_event: int = 512
    checkpoint_replay_max: int = 20_000
    checkpoint_max_age_s: float = 86_400.0
    http_host: str = "127.0.0.1"  # the worker's and the sources' /healthz /readyz /metrics
    worker_http_port: int = 8081
    sources_http_port: int = 8091
    ready_max_lag: int = 10_000  # the worker is not ready while its consumer lag is above this
    watchdog_http_port: int = 8092
    #: Where the other processes are reached (the watchdog, the board's System page, `noroshi run`).
    worker_url: str = "http://127.0.0.1:8081"
    sources_url: str = "http://127.0.0.1:8091"
    watchdog_url: str = "http://127.0.0.1:8092"
    board_internal_url: str = "http://127.0.0.1:8080"
    watchdog: WatchdogSettings = field(default_factory=WatchdogSettings)
    input_retention_days: int = 30  # retention.ms of the agents' input topics on Kafka
    deadletter_retention_days: int = 90
    broker_memory_warn_mb: int = 0  # 0: half the machine's memory (noroshi.stack)

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
        http_host = get("HTTP_HOST", "127.0.0.1")
        worker_port = _int(get("WORKER_HTTP_PORT", "8081"), "NOROSHI_WORKER_HTTP_PORT", low=1, high=65535)
        sources_port = _int(get("SOURCES_HTTP_PORT", "8091"), "NOROSHI_SOURCES_HTTP_PORT", low=1, high=65535)
        watchdog_port = _int(get("WATCHDOG_HTTP_PORT", "8092"), "NOROSHI_WATCHDOG_HTTP_PORT", low=1, high=65535)
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
            users_file=Path(get("USERS_FILE") or Path(get("DATA_DIR", "var")) / "board-users.json"),
            board_trusted_proxies=_networks(get("BOARD_TRUSTED_PROXIES"), "NOROSHI_BOARD_TRUSTED_PROXIES"),
            responders=ResponderSettings.from_env(env),
            sources=SourceSettings.from_env(env),
            heartbeat_interval_s=float(_int(get("HEARTBEAT_INTERVAL", "60"), "NOROSHI_HEARTBEAT_INTERVAL",
                                            low=1, high=3600)),
            heartbeat_late_s=float(_int(get("HEARTBEAT_LATE", "180"), "NOROSHI_HEARTBEAT_LATE", low=1, high=86400)),
            checkpoint_bytes_per_event=_int(get("CHECKPOINT_BYTES_PER_EVENT", "512"),
                                            "NOROSHI_CHECKPOINT_BYTES_PER_EVENT", low=0, high=1 << 40),
            checkpoint_replay_max=_int(get("CHECKPOINT_REPLAY_MAX", "20000"), "NOROSHI_CHECKPOINT_REPLAY_MAX",
                                       low=1, high=10**9),
            checkpoint_max_age_s=float(_int(get("CHECKPOINT_MAX_AGE", "86400"), "NOROSHI_CHECKPOINT_MAX_AGE",
                                            low=1, high=30 * 86400)),
            http_host=http_host,
            worker_http_port=worker_port,
            sources_http_port=sources_port,
            ready_max_lag=_int(get("READY_MAX_LAG", "10000"), "NOROSHI_READY_MAX_LAG", low=0, high=10**12),
            watchdog_http_port=watchdog_port,
            worker_url=get("WORKER_URL", f"http://{http_host}:{worker_port}").rstrip("/"),
            sources_url=get("SOURCES_URL", f"http://{http_host}:{sources_port}").rstrip("/"),
            watchdog_url=get("WATCHDOG_URL", f"http://{http_host}:{watchdog_port}").rstrip("/"),
            board_internal_url=get("BOARD_INTERNAL_URL", f"http://{host}:{port}").rstrip("/"),
            watchdog=WatchdogSettings.from_env(env),
            input_retention_days=_int(get("INPUT_RETENTION_DAYS", "30"), "NOROSHI_INPUT_RETENTION_DAYS",
                                      low=1, high=36500),
            deadletter_retention_days=_int(get("DEADLETTER_RETENTION_DAYS", "90"),
                                           "NOROSHI_DEADLETTER_RETENTION_DAYS", low=1, high=36500),
            broker_memory_warn_mb=_int(get("BROKER_MEMORY_WARN_MB", "0"), "NOROSHI_BROKER_MEMORY_WARN_MB",
                                       low=0, high=10**9),
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
            PREFIX + "USERS_FILE": str(self.users_file),
            PREFIX + "BOARD_TRUSTED_PROXIES": ",".join(self.board_trusted_proxies),
            PREFIX + "HEARTBEAT_INTERVAL": str(int(self.heartbeat_interval_s)),
            PREFIX + "HEARTBEAT_LATE": str(int(self.heartbeat_late_s)),
            PREFIX + "CHECKPOINT_BYTES_PER_EVENT": str(self.checkpoint_bytes_per_event),
            PREFIX + "CHECKPOINT_REPLAY_MAX": str(self.checkpoint_replay_max),
            PREFIX + "CHECKPOINT_MAX_AGE": str(int(self.checkpoint_max_age_s)),
            PREFIX + "HTTP_HOST": self.http_host,
            PREFIX + "WORKER_HTTP_PORT": str(self.worker_http_port),
            PREFIX + "SOURCES_HTTP_PORT": str(self.sources_http_port),
            PREFIX + "READY_MAX_LAG": str(self.ready_max_lag),
            PREFIX + "WATCHDOG_HTTP_PORT": str(self.watchdog_http_port),
            PREFIX + "INPUT_RETENTION_DAYS": str(self.input_retention_days),
            PREFIX + "DEADLETTER_RETENTION_DAYS": str(self.deadletter_retention_days),
            PREFIX + "BROKER_MEMORY_WARN_MB": str(self.broker_memory_warn_mb),
            # The URLs are not passed on: a child derives them from the ports it is given (or reads
            # the NOROSHI_*_URL it inherits from the environment).
            **dict(self.responders.raw),
            **dict(self.sources.raw),
            **dict(self.watchdog.raw),
        }


def child_env(settings: Settings, base: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ if base is None else base)
    env.update(settings.to_env())
    return env
