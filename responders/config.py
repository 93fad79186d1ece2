"""Build the delivery channels from the settings: the one place that knows every adapter."""

from __future__ import annotations

from collections.abc import Mapping
from email.utils import parseaddr
from pathlib import Path
from urllib.parse import unquote, urlsplit

import orjson
import structlog

from vocabulary.settings import ResponderSettings, Secret, Settings, SettingsError
from responders.chat import (LineWorksBotChannel, LineWorksConfig, SignedWebhookChannel, SlackWebhookChannel,
                             TeamsWorkflowChannel)
from responders.email import EmailChannel, SmtpConfig
from responders.posts import (BlueskyConfig, MastodonConfig, OAuth1Keys, XConfig, channel_for)
from responders.reliability import RetryPolicy
from responders.responder import Channel, Channels, Responder
from vocabulary.contract import Profile
from responders.templating import PRESS_HTML, PRESS_TEXT, TemplateProblem, Templates
from responders.website import FolderNoticeChannel, WebhookConfig, WebhookNoticeChannel

log = structlog.get_logger(__name__)


def smtp_config(settings: ResponderSettings) -> SmtpConfig | None:
    if not settings.smtp_url:
        return None
    url = urlsplit(settings.smtp_url)
    if not url.hostname:
        raise SettingsError("NOROSHI_SMTP_URL: no host")
    name, address = parseaddr(settings.mail_from)
    if not address:
        raise SettingsError(f"NOROSHI_MAIL_FROM={settings.mail_from!r}: no address")
    plain = url.scheme == "smtp+plain"
    return SmtpConfig(host=url.hostname, port=url.port or (25 if plain else 587),
                      username=unquote(url.username or ""), password=settings.smtp_password,
                      from_addr=address, from_name=name or "狼煙 Noroshi", starttls=not plain,
                      ca_file=settings.smtp_ca_file)


_X_OAUTH1 = ("consumer_key", "consumer_secret", "access_token", "access_token_secret")


def post_channels(credentials: Secret) -> dict[str, Channel]:
    """NOROSHI_POST_CREDENTIALS → a posting channel per official account.

    A JSON object keyed by `platform:handle` (as the profile's `official_accounts`), e.g.

        {"x:wako_city": {"bearer_token": "…"},
         "x:wako_bousai": {"consumer_key": "…", "consumer_secret": "…",
                           "access_token": "…", "access_token_secret": "…"},
         "bluesky:wako-city.bsky.social": {"app_password": "…", "pds_url": "https://bsky.social"},
         "mastodon:wako_city": {"instance_url": "https://social.example.jp", "access_token": "…"}}

    Errors name the account and the field, never a value.
    """
    if not credentials:
        return {}
    try:
        table = orjson.loads(credentials.value)
    except orjson.JSONDecodeError:
        raise SettingsError("NOROSHI_POST_CREDENTIALS: not valid JSON") from None
    if not isinstance(table, dict):
        raise SettingsError("NOROSHI_POST_CREDENTIALS: expected a JSON object keyed by platform:handle")
    channels: dict[str, Channel] = {}
    for key, fields in table.items():
        platform, _, handle = str(key).partition(":")
        platform, handle = platform.lower(), handle.lstrip("@").lower()
        where = f"NOROSHI_POST_CREDENTIALS[{key!r}]"
        if not handle or platform not in ("x", "bluesky", "mastodon"):
            raise SettingsError(f"{where}: expected the key x:HANDLE, bluesky:HANDLE or mastodon:HANDLE")
        if not isinstance(fields, dict) or not all(isinstance(v, (str, int)) for v in fields.values()):
            raise SettingsError(f"{where}: expected an object of strings")

        def text(name: str, *, required: bool = True, where: str = where, fields: dict = fields) -> str:
            value = str(fields.get(name) or "").strip()
            if required and not value:
                raise SettingsError(f"{where}: {name} is missing")
            return value

        config: XConfig | BlueskyConfig | MastodonConfig
        if platform == "x":
            extra = {"api_url": text("api_url")} if fields.get("api_url") else {}
            if fields.get("bearer_token"):
                config = XConfig(account=handle, bearer_token=Secret(text("bearer_token")), **extra)
            elif all(fields.get(n) for n in _X_OAUTH1):
                config = XConfig(account=handle, oauth1=OAuth1Keys(*(Secret(text(n)) for n in _X_OAUTH1)), **extra)
            else:
                raise SettingsError(f"{where}: give bearer_token, or {', '.join(_X_OAUTH1)}")
        elif platform == "bluesky":
            extra = {"pds_url": text("pds_url")} if fields.get("pds_url") else {}
            config = BlueskyConfig(account=handle, app_password=Secret(text("app_password")), **extra)
        else:
            limit = fields.get("max_characters", 500)
            if not isinstance(limit, int) or limit < 100:
                raise SettingsError(f"{where}: max_characters must be a whole number of at least 100")
            config = MastodonConfig(account=handle, instance_url=text("instance_url"),
                                    access_token=Secret(text("access_token")), max_characters=limit)
        channels[f"{platform}:{handle}"] = channel_for(platform, config)  # type: ignore[arg-type]
    return channels


def templates_for(settings: ResponderSettings) -> Templates:
    """The 様式: NOROSHI_TEMPLATES_DIR's files before the shipped ones. A folder that is not there is a
    settings error, not a quiet return to the shipped 様式."""
    folder = settings.templates_dir
    if folder is not None and not folder.is_dir():
        raise SettingsError(f"NOROSHI_TEMPLATES_DIR={str(folder)!r}: フォルダがありません / no such folder")
    return Templates(folder)


def check_templates(templates: Templates, municipality: str | None) -> list[TemplateProblem]:
    """Every problem of the 様式 `municipality` would be sent with, found by filling each document as the
    senders do (`noroshi profiles check`, and the worker's start)."""
    from responders.press import sample_contexts as press_samples
    from responders.website import sample_contexts as notice_samples

    return templates.check(municipality, {PRESS_TEXT: press_samples(), PRESS_HTML: press_samples(),
                                          **notice_samples()})


def build_channels(settings: ResponderSettings, data_dir: Path) -> Channels:
    """Every configured adapter; posts without credentials fall back to a dry run."""
    from responders.posts import DryRunChannel

    smtp = smtp_config(settings)
    chat: dict[str, Channel] = {}
    if settings.slack_webhook:
        chat["slack"] = SlackWebhookChannel(settings.slack_webhook)
    if settings.teams_webhook:
        chat["teams"] = TeamsWorkflowChannel(settings.teams_webhook)
    if settings.webhook_url:
        if not settings.webhook_secret:
            raise SettingsError("NOROSHI_WEBHOOK_URL is set but NOROSHI_WEBHOOK_SECRET is empty")
        chat["webhook"] = SignedWebhookChannel(settings.webhook_url, settings.webhook_secret)
    lineworks = None
    if settings.lineworks is not None:
        client_id, service_account, bot_id = settings.lineworks

        def lineworks(target: str) -> Channel:
            room = target.removeprefix("channel/") if target.startswith("channel/") else None
            return LineWorksBotChannel(LineWorksConfig(
                client_id=client_id, client_secret=settings.lineworks_client_secret,
                service_account=service_account, private_key=settings.lineworks_private_key, bot_id=bot_id,
                channel_id=room, user_id=None if room else target))
    if settings.notice_webhook_url:
        notice: Channel = WebhookNoticeChannel(WebhookConfig(settings.notice_webhook_url,
                                                             settings.notice_webhook_secret))
    else:
        folder = settings.notice_dir or data_dir / "notices"
        folder.mkdir(parents=True, exist_ok=True)
        notice = FolderNoticeChannel(folder, templates=templates_for(settings))
    return Channels(email=EmailChannel(smtp) if smtp else None, chat=chat,
                    posts=post_channels(settings.post_credentials), dry_run_posts=DryRunChannel,
                    notice=notice, press_to=settings.press_to, lineworks=lineworks)


def responder_for(settings: Settings, profiles: Mapping[str, Profile]) -> Responder:
    """The worker's responder: channels from the settings, retries as configured. A city's broken 様式 is
    logged now (`template_check_failed`); its documents then fail when sent, and a person is told."""
    channels = build_channels(settings.responders, settings.data_dir)
    templates = templates_for(settings.responders)
    for muni in profiles if templates.folder is not None else ():
        for problem in check_templates(templates, muni):
            log.error("template_check_failed", municipality=muni, file=problem.path, line=problem.line,
                      message=str(problem))
    return Responder(channels, profiles={muni: p.raw for muni, p in profiles.items()},
                     board_url=settings.board_url,
                     policy=RetryPolicy(attempts=settings.responders.retry_attempts), templates=templates)


__all__ = ["build_channels", "check_templates", "post_channels", "responder_for", "smtp_config", "templates_for"]
