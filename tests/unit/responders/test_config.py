"""The channels as the settings build them: posting credentials, SMTP, notices, dry run by default."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from vocabulary.settings import ResponderSettings, Secret, SettingsError
from responders.config import build_channels, post_channels, smtp_config
from responders.posts import BlueskyChannel, DryRunChannel, MastodonChannel, XChannel
from responders.website import FolderNoticeChannel, WebhookNoticeChannel

TOKEN = "x-bearer-do-not-show"


def creds(table: object) -> Secret:
    return Secret(orjson.dumps(table).decode())


def test_each_platform_gets_its_real_channel_keyed_as_the_profile_names_the_account() -> None:
    channels = post_channels(creds({
        "x:@Wako_City": {"bearer_token": TOKEN},
        "x:wako_bousai": {"consumer_key": "ck", "consumer_secret": "cs", "access_token": "at",
                          "access_token_secret": "ats"},
        "bluesky:wako-city.bsky.social": {"app_password": "abcd-efgh-ijkl-mnop"},
        "mastodon:wako_city": {"instance_url": "https://social.example.jp", "access_token": "m",
                               "max_characters": 1000},
    }))
    assert set(channels) == {"x:wako_city", "x:wako_bousai", "bluesky:wako-city.bsky.social", "mastodon:wako_city"}
    assert isinstance(channels["x:wako_city"], XChannel) and isinstance(channels["x:wako_bousai"], XChannel)
    assert isinstance(channels["bluesky:wako-city.bsky.social"], BlueskyChannel)
    assert isinstance(channels["mastodon:wako_city"], MastodonChannel)
    assert TOKEN not in repr(channels)


@pytest.mark.parametrize(("table", "says"), [
    ({"x:wako": {}}, "bearer_token"),
    ({"x:wako": {"consumer_key": TOKEN}}, "bearer_token"),
    ({"myspace:wako": {"token": TOKEN}}, "x:HANDLE"),
    ({"bluesky:wako.bsky.social": {"password": TOKEN}}, "app_password is missing"),
    ({"mastodon:wako": {"access_token": TOKEN}}, "instance_url is missing"),
    ({"mastodon:wako": {"access_token": TOKEN, "instance_url": "https://m.example", "max_characters": 5}},
     "max_characters"),
    (["x:wako", TOKEN], "JSON object"),
])
def test_a_wrong_credentials_table_is_refused_naming_the_field_never_the_value(table: object, says: str) -> None:
    with pytest.raises(SettingsError) as caught:
        post_channels(creds(table))
    assert says in str(caught.value) and TOKEN not in str(caught.value)


def test_credentials_that_are_not_json_are_refused_without_being_repeated() -> None:
    with pytest.raises(SettingsError, match="not valid JSON") as caught:
        post_channels(Secret('{"x:wako": {"bearer_token": "' + TOKEN))
    assert TOKEN not in str(caught.value)


def test_without_any_setting_posts_are_dry_runs_notices_go_to_a_folder_and_mail_is_off(tmp_path: Path) -> None:
    channels = build_channels(ResponderSettings(), tmp_path)
    assert channels.email is None and channels.posts == {} and channels.chat == {}
    assert isinstance(channels.notice, FolderNoticeChannel) and (tmp_path / "notices").is_dir()
    assert channels.dry_run_posts is not None and isinstance(channels.dry_run_posts("x"), DryRunChannel)


def test_the_settings_choose_the_notice_webhook_and_the_mail_server(tmp_path: Path) -> None:
    settings = ResponderSettings.from_env({
        "NOROSHI_SMTP_URL": "smtp://noroshi%40city@mail.city.example.jp:587",
        "NOROSHI_SMTP_PASSWORD": "pw",
        "NOROSHI_MAIL_FROM": "和光市 狼煙 <noroshi@city.example.jp>",
        "NOROSHI_NOTICE_WEBHOOK_URL": "https://cms.city.example.jp/hooks/notice",
        "NOROSHI_NOTICE_WEBHOOK_SECRET": "s",
    })
    channels = build_channels(settings, tmp_path)
    assert isinstance(channels.notice, WebhookNoticeChannel)
    smtp = smtp_config(settings)
    assert smtp is not None and (smtp.host, smtp.port, smtp.username, smtp.starttls) == (
        "mail.city.example.jp", 587, "noroshi@city", True)
    assert (smtp.from_name, smtp.from_addr) == ("和光市 狼煙", "noroshi@city.example.jp")


def test_a_plain_smtp_relay_has_no_tls_and_port_25() -> None:
    smtp = smtp_config(ResponderSettings.from_env({"NOROSHI_SMTP_URL": "smtp+plain://127.0.0.1"}))
    assert smtp is not None and (smtp.port, smtp.starttls) == (25, False)
