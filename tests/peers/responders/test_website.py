"""ウェブサイト掲載: notices through a real signed webhook on loopback, and as static pages in a folder."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import socket
import stat
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from vocabulary.settings import Secret
from responders.base import Permanent, Transient
from responders.templating import Templates
from responders.website import (
    FolderNoticeChannel,
    Notice,
    WebhookConfig,
    WebhookNoticeChannel,
    headline,
    page_name,
)

SECRET = "shared-webhook-secret-0123456789"
HOOK_PATH = "/hooks/cms/tok-9f8e7d"  # a URL that carries a key: it must not show in errors
JST = timezone(timedelta(hours=9))
SCRIPT = '<script>alert("x")</script>'


def warning(**changes: Any) -> Notice:
    notice = Notice(
        notice_id="inc-7/website",
        municipality="岩橋市",
        kind="impersonation_warning",
        title="X（旧Twitter）で本市の公式アカウントを装うアカウントが確認されました",
        body="本市の公式アカウントは @iwahashi_city のみです。\n\n不審なアカウントには返信しないでください。",
        published_at=datetime(2026, 11, 22, 10, 0, tzinfo=JST),
        source_url="https://www.city.iwahashi.example.lg.jp/sns/accounts.html",
    )
    return replace(notice, **changes)


def correction(**changes: Any) -> Notice:
    notice = warning(
        notice_id="inc-8/website",
        kind="correction",
        title="給水所の開設",
        body="給水所は市役所前広場に開設しています。中央公園には開設していません。",
        published_at=datetime(2026, 11, 23, 8, 30, tzinfo=JST),
    )
    return replace(notice, **changes)


@dataclass
class Hook:
    """A CMS webhook that checks the signature and answers as the test tells it."""

    url: str
    received: list[tuple[dict[str, str], dict[str, Any]]] = field(default_factory=list)
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    answer: dict[str, Any] | None = None

    async def handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        timestamp = request.headers.get("X-Noroshi-Timestamp", "")
        expected = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + raw, hashlib.sha256).hexdigest()
        signature = request.headers.get("X-Noroshi-Signature", "")
        if not hmac.compare_digest(signature, f"sha256={expected}"):
            return web.Response(status=401, text=f"bad signature; secret is {SECRET}")
        if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > 300:
            return web.Response(status=401, text="stale timestamp")
        self.received.append((dict(request.headers), json.loads(raw)))
        if self.answer is not None:
            return web.json_response(self.answer, status=self.status, headers=self.headers)
        return web.Response(status=self.status, headers=self.headers, text=f"status {self.status}")


@pytest.fixture
async def hook() -> AsyncIterator[Hook]:
    app = web.Application()
    runner = web.AppRunner(app)
    hook = Hook(url="")
    app.router.add_post(HOOK_PATH, hook.handle)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    hook.url = f"http://{host}:{port}{HOOK_PATH}"
    try:
        yield hook
    finally:
        await runner.cleanup()


def webhook(url: str, secret: str = SECRET) -> WebhookNoticeChannel:
    return WebhookNoticeChannel(WebhookConfig(url=url, secret=Secret(secret), timeout=5.0))


def assert_no_secret(error: Exception) -> None:
    assert SECRET not in str(error) and "tok-9f8e7d" not in str(error)


# The webhook


async def test_the_webhook_receives_the_signed_notice_with_the_idempotency_key(hook: Hook) -> None:
    hook.answer = {"url": "https://www.city.iwahashi.example.lg.jp/news/2026/1122.html"}

    receipt = await webhook(hook.url).send(warning(drill=True), key="inc-7/website")

    headers, payload = hook.received[0]
    assert headers["Idempotency-Key"] == "inc-7/website"
    assert headers["Content-Type"].startswith("application/json")
    assert payload == {
        "notice_id": "inc-7/website",
        "municipality": "岩橋市",
        "kind": "impersonation_warning",
        "title": "X（旧Twitter）で本市の公式アカウントを装うアカウントが確認されました",
        "body": "本市の公式アカウントは @iwahashi_city のみです。\n\n不審なアカウントには返信しないでください。",
        "published_at": "2026-11-22T10:00:00+09:00",
        "source_url": "https://www.city.iwahashi.example.lg.jp/sns/accounts.html",
        "drill": True,
    }
    assert receipt.channel == "website"
    assert receipt.ref == "https://www.city.iwahashi.example.lg.jp/news/2026/1122.html"


async def test_a_webhook_answer_without_a_url_is_accepted_without_a_reference(hook: Hook) -> None:
    receipt = await webhook(hook.url).send(correction(), key="k")

    assert receipt.ref is None and receipt.detail == {"status": 200}
    assert hook.received[0][1]["kind"] == "correction"


async def test_a_wrong_secret_is_refused_by_the_site_and_permanent(hook: Hook) -> None:
    with pytest.raises(Permanent, match="HTTP 401") as caught:
        await webhook(hook.url, secret="the-wrong-secret").send(warning(), key="k")

    assert_no_secret(caught.value)
    assert "the-wrong-secret" not in str(caught.value)
    assert hook.received == []


async def test_a_server_error_is_transient(hook: Hook) -> None:
    hook.status = 500

    with pytest.raises(Transient, match="HTTP 500") as caught:
        await webhook(hook.url).send(warning(), key="k")

    assert caught.value.retry_after is None
    assert_no_secret(caught.value)


async def test_a_429_is_transient_with_the_wait_the_site_asks_for(hook: Hook) -> None:
    hook.status, hook.headers = 429, {"Retry-After": "120"}

    with pytest.raises(Transient, match="HTTP 429") as caught:
        await webhook(hook.url).send(warning(), key="k")

    assert caught.value.retry_after == 120.0


async def test_a_redirect_is_not_followed_and_is_permanent(hook: Hook) -> None:
    hook.status, hook.headers = 301, {"Location": "http://127.0.0.1:9/elsewhere"}

    with pytest.raises(Permanent, match="HTTP 301"):
        await webhook(hook.url).send(warning(), key="k")


async def test_a_webhook_that_is_not_listening_is_transient_and_does_not_show_its_url() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    with pytest.raises(Transient) as caught:
        await webhook(f"http://127.0.0.1:{port}{HOOK_PATH}").send(warning(), key="k")

    assert_no_secret(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


# The folder


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


async def test_the_folder_gets_the_page_and_an_index(tmp_path: Path) -> None:
    receipt = await FolderNoticeChannel(tmp_path).send(warning(), key="inc-7/website")

    page = Path(str(receipt.ref))
    assert page.parent == tmp_path and page.name == page_name("inc-7/website")
    text = read(page)
    assert text.startswith("<!DOCTYPE html>\n<html lang=\"ja\">") and '<meta charset="utf-8">' in text
    assert "<h1>【注意】本市になりすましたアカウントにご注意ください</h1>" in text
    assert "<title>【注意】本市になりすましたアカウントにご注意ください</title>" in text
    assert "<strong>X（旧Twitter）で本市の公式アカウントを装うアカウントが確認されました</strong>" in text
    assert "<p>本市の公式アカウントは @iwahashi_city のみです。</p>\n<p>不審なアカウントには返信しないでください。</p>" in text
    assert '<time datetime="2026-11-22T10:00:00+09:00">2026年11月22日（日）10時00分</time>' in text
    assert '<a href="https://www.city.iwahashi.example.lg.jp/sns/accounts.html">' in text
    assert "訓練" not in text
    index = read(tmp_path / "index.html")
    assert f'<a href="{page.name}">【注意】本市になりすましたアカウントにご注意ください</a>' in index
    assert receipt.detail == {"index": str(tmp_path / "index.html")}
    assert stat.S_IMODE(page.stat().st_mode) == 0o644  # the web server can read it
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([".noroshi.lock", "index.html", "notices.json", page.name])


async def test_a_correction_is_headed_with_its_title(tmp_path: Path) -> None:
    receipt = await FolderNoticeChannel(tmp_path).send(correction(), key="inc-8/website")

    assert "<h1>【お知らせ】給水所の開設に関する正しい情報</h1>" in read(Path(str(receipt.ref)))


async def test_sending_a_key_again_rewrites_its_one_page(tmp_path: Path) -> None:
    channel = FolderNoticeChannel(tmp_path)

    first = await channel.send(correction(body="初版の本文です。"), key="inc-8/website")
    second = await channel.send(correction(body="改訂した本文です。"), key="inc-8/website")

    assert first.ref == second.ref
    assert "改訂した本文です。" in read(Path(str(second.ref))) and "初版" not in read(Path(str(second.ref)))
    assert len(list(tmp_path.glob("*.html"))) == 2  # the page and the index
    assert read(tmp_path / "index.html").count("<li>") == 1


async def test_the_index_lists_every_notice_newest_first(tmp_path: Path) -> None:
    channel = FolderNoticeChannel(tmp_path, index_title="岩橋市からの緊急のお知らせ")

    await channel.send(correction(), key="newest")  # 11月23日
    await channel.send(warning(published_at=datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)), key="oldest")
    await channel.send(warning(), key="middle")  # 11月22日

    index = read(tmp_path / "index.html")
    assert "<h1>岩橋市からの緊急のお知らせ</h1>" in index
    positions = [index.index(page_name(key)) for key in ("newest", "middle", "oldest")]
    assert positions == sorted(positions)
    assert "2026年11月20日（金）18時00分" in index  # shown in Japan time


async def test_concurrent_sends_all_reach_the_index(tmp_path: Path) -> None:
    channel = FolderNoticeChannel(tmp_path)

    await asyncio.gather(*(channel.send(warning(notice_id=f"n{i}"), key=f"key-{i}") for i in range(12)))

    index = read(tmp_path / "index.html")
    assert all(page_name(f"key-{i}") in index for i in range(12))
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]


async def test_a_hostile_key_cannot_leave_the_folder_or_replace_the_index(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    channel = FolderNoticeChannel(site)

    for key in ("../../etc/passwd", "/abs/path", "index.html", "..", "通知/なりすまし", ""):
        receipt = await channel.send(warning(), key=key)
        page = Path(str(receipt.ref))
        assert page.parent == site and page.suffix == ".html" and page.name != "index.html"
        assert "/" not in page.name and not page.name.startswith(".")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]
    assert read(site / "index.html").count("<li>") == 6


async def test_every_value_is_escaped_on_the_page_and_in_the_index(tmp_path: Path) -> None:
    notice = correction(municipality=SCRIPT, title=SCRIPT, body=SCRIPT)

    receipt = await FolderNoticeChannel(tmp_path, index_title=SCRIPT).send(notice, key="k")

    for path in (Path(str(receipt.ref)), tmp_path / "index.html"):
        text = read(path)
        assert "<script" not in text
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in text


async def test_a_drill_notice_is_marked(tmp_path: Path) -> None:
    notice = warning(drill=True)

    receipt = await FolderNoticeChannel(tmp_path).send(notice, key="k")

    assert headline(notice) == "【訓練】【注意】本市になりすましたアカウントにご注意ください"
    page = read(Path(str(receipt.ref)))
    assert '<p class="drill" role="note">【訓練】このお知らせは訓練のためのものです。' in page
    assert "<h1>【訓練】【注意】" in page and ">【訓練】【注意】" in read(tmp_path / "index.html")


async def test_a_citys_own_page_template_is_used_for_its_notices_only(tmp_path: Path) -> None:
    site, own = tmp_path / "site", tmp_path / "templates"
    site.mkdir()
    (own / "iwahashi").mkdir(parents=True)
    (own / "iwahashi" / "notice.html.j2").write_text("<h1>{{ headline }}</h1>\n{{ body|paragraphs }}\n", encoding="utf-8")
    channel = FolderNoticeChannel(site, templates=Templates(own))

    mine = await channel.send(warning(municipality_id="iwahashi"), key="k1")
    other = await channel.send(warning(municipality_id="toda"), key="k2")

    assert read(Path(str(mine.ref))).startswith("<h1>【注意】本市になりすましたアカウントにご注意ください</h1>\n<p>")
    assert read(Path(str(other.ref))).startswith("<!DOCTYPE html>")


async def test_a_broken_city_template_is_permanent_and_writes_nothing(tmp_path: Path) -> None:
    site, own = tmp_path / "site", tmp_path / "templates"
    site.mkdir()
    (own / "iwahashi").mkdir(parents=True)
    (own / "iwahashi" / "notice.html.j2").write_text("<h1>{{ headline }}</h1>\n{{ bdy }}\n", encoding="utf-8")

    with pytest.raises(Permanent) as caught:
        await FolderNoticeChannel(site, templates=Templates(own)).send(warning(municipality_id="iwahashi"), key="k")

    assert caught.value.code == "config"
    assert "notice.html.j2 の 2 行目" in str(caught.value) and "'bdy' is undefined" in str(caught.value)
    assert [p.name for p in site.iterdir()] == [".noroshi.lock"]  # no page, no index, no manifest


async def test_a_missing_folder_is_refused_loudly(tmp_path: Path) -> None:
    with pytest.raises(Permanent, match="does not exist"):
        await FolderNoticeChannel(tmp_path / "nowhere").send(warning(), key="k")
    assert not (tmp_path / "nowhere").exists()


async def test_an_unreadable_notice_list_stops_publishing_instead_of_being_replaced(tmp_path: Path) -> None:
    (tmp_path / "notices.json").write_text("{not json", encoding="utf-8")

    with pytest.raises(Permanent, match="notices.json"):
        await FolderNoticeChannel(tmp_path).send(warning(), key="k")

    assert read(tmp_path / "notices.json") == "{not json"
    assert not (tmp_path / "index.html").exists()


async def test_a_folder_that_cannot_be_written_is_permanent(tmp_path: Path) -> None:
    (tmp_path / ".noroshi.lock").mkdir()  # where the lock file must go: even root cannot open it for writing

    with pytest.raises(Permanent, match="cannot write"):
        await FolderNoticeChannel(tmp_path).send(warning(), key="k")


def test_malformed_notices_are_refused_when_made() -> None:
    with pytest.raises(ValueError, match="kind"):
        warning(kind="apology")
    with pytest.raises(ValueError, match="time zone"):
        warning(published_at=datetime(2026, 11, 22, 10, 0))
    with pytest.raises(ValueError, match="source_url"):
        warning(source_url="javascript:alert(1)")
    with pytest.raises(ValueError, match="title"):
        warning(title="  ")


def test_page_names_are_stable_and_distinct() -> None:
    assert page_name("inc-7/website") == page_name("inc-7/website")
    assert page_name("a/b") != page_name("a:b")
    assert page_name("inc-7/website").startswith("inc-7-website-")
    assert os.sep not in page_name("../" * 50)
