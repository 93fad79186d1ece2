"""ウェブサイト掲載 (website notice): an approved warning or correction published on the city's site.

Two interchangeable channels carry a `Notice`: `WebhookNoticeChannel` posts it as signed JSON
to the site's CMS, `FolderNoticeChannel` writes it as a static page (plus an index of every
notice) into a folder the web server serves. The pages are the 様式 `templates/notice.html.j2`
and `templates/notice_index.html.j2`, which a city may replace (`responders.templating`).
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import hashlib
import hmac
import json
import os
import re
import tempfile
import time
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import aiohttp
import orjson

from vocabulary.settings import Secret
from responders.base import ALWAYS, Permanent, Receipt, Transient, http_error
from responders.templating import NOTICE, NOTICE_INDEX, TemplateProblem, Templates
from vocabulary.terms import DRILL_LABEL, JST

CHANNEL = "website"

NoticeKind = Literal["impersonation_warning", "correction"]
KINDS: tuple[NoticeKind, ...] = ("impersonation_warning", "correction")
DRILL_NOTICE = f"{DRILL_LABEL}このお知らせは訓練のためのものです。実際の事案ではありません。"
INDEX = "index.html"
MANIFEST = "notices.json"  # what the index lists; the pages alone could not be sorted cheaply
LOCK = ".noroshi.lock"
# Write errors that may pass by themselves (a full disk is freed, a network share comes back);
# any other (permissions, a missing or wrong path) needs someone to change the setup.
PASSING_ERRORS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EAGAIN, errno.EBUSY, errno.ESTALE})


@dataclass(frozen=True, slots=True)
class Notice:
    """An approved notice: なりすまし注意喚起 (impersonation warning) or 正しい情報 (correction)."""

    notice_id: str
    municipality: str
    kind: NoticeKind
    title: str
    body: str
    published_at: datetime
    source_url: str | None = None  # the official page with the facts
    drill: bool = False
    municipality_id: str | None = None  # whose own 様式 the page is written with, if it has one

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {self.kind!r}")
        if not (self.notice_id.strip() and self.title.strip() and self.body.strip()):
            raise ValueError("a notice needs an id, a title and a body")
        if self.published_at.tzinfo is None:
            raise ValueError("published_at must carry its time zone")
        if self.source_url is not None and not self.source_url.startswith(("https://", "http://")):
            raise ValueError(f"source_url must be an http(s) URL, not {self.source_url!r}")


def headline(notice: Notice) -> str:
    """The page heading residents see, e.g. 【注意】本市になりすましたアカウントにご注意ください."""
    mark = DRILL_LABEL if notice.drill else ""
    if notice.kind == "impersonation_warning":
        return f"{mark}【注意】本市になりすましたアカウントにご注意ください"
    return f"{mark}【お知らせ】{notice.title.strip()}に関する正しい情報"


def page_name(key: str) -> str:
    """A safe, unique file name for the idempotency key: readable part, then a hash of the whole key."""
    readable = re.sub(r"[^A-Za-z0-9_-]+", "-", key).strip("-")[:60] or "notice"
    return f"{readable}-{hashlib.sha256(key.encode('utf-8')).hexdigest()[:12]}.html"


def notice_page(notice: Notice, *, index_title: str, templates: Templates = Templates()) -> str:
    """The notice as a complete HTML page (the city's 様式 if it has one); every value is escaped."""
    return templates.render(NOTICE, notice_context(notice, index_title=index_title),
                            municipality=notice.municipality_id)


def notice_context(notice: Notice, *, index_title: str) -> dict[str, Any]:
    """What `templates/notice.html.j2` gets."""
    return {"headline": headline(notice), "municipality": notice.municipality, "kind": notice.kind,
            "title": notice.title.strip(), "body": notice.body, "published_at": notice.published_at,
            "source_url": notice.source_url, "drill": notice.drill, "drill_notice": DRILL_NOTICE,
            "index_page": INDEX, "index_title": index_title}


def index_page(entries: list[dict[str, Any]], *, title: str, templates: Templates = Templates()) -> str:
    """The list of every notice's page, newest first (entries as kept in the manifest), with the
    deployment's 様式: the index lists every municipality's notices."""
    return templates.render(NOTICE_INDEX, index_context(entries, title=title))


def index_context(entries: list[dict[str, Any]], *, title: str) -> dict[str, Any]:
    """What `templates/notice_index.html.j2` gets."""
    notices = [{"page": entry["page"], "headline": entry["headline"], "kind": entry.get("kind"),
                "drill": bool(entry.get("drill")), "published_at": datetime.fromisoformat(entry["published_at"])}
               for entry in entries]
    notices.sort(key=lambda notice: (notice["published_at"], notice["page"]), reverse=True)
    return {"title": title, "notices": notices}


def sample_contexts() -> dict[str, list[dict[str, Any]]]:
    """What a city's notice templates are checked with: a warning with a link, a correction as a drill."""
    when = datetime(2026, 11, 22, 10, 0, tzinfo=JST)
    warning = Notice(notice_id="sample", municipality="見本市", kind="impersonation_warning", title="見本の件名",
                     body="見本の本文です。\n\n二段落目です。", published_at=when,
                     source_url="https://www.city.example.lg.jp/")
    correction = replace(warning, kind="correction", source_url=None, drill=True)
    entries = [{"page": "sample.html", "headline": headline(warning), "kind": warning.kind, "drill": False,
                "published_at": when.isoformat()}]
    return {NOTICE: [notice_context(n, index_title="お知らせ一覧") for n in (warning, correction)],
            NOTICE_INDEX: [index_context(entries, title="お知らせ一覧"), index_context([], title="お知らせ一覧")]}


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The `X-Noroshi-Signature` value: HMAC-SHA256 over `{timestamp}.{body}`."""
    digest = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return f"sha256={digest.hexdigest()}"


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    """The CMS endpoint and the secret shared with it. Both stay out of every message."""

    url: str
    secret: Secret
    timeout: float = 10.0


class WebhookNoticeChannel:
    """Posts notices as JSON to the site's webhook, signed and with the key as `Idempotency-Key`."""

    name = CHANNEL
    dedup_window_s = ALWAYS  # the CMS keeps the keys it has seen (the webhook's contract)

    def __init__(self, config: WebhookConfig) -> None:
        self.config = config

    async def send(self, notice: Notice, *, key: str) -> Receipt:
        body = orjson.dumps({
            "notice_id": notice.notice_id,
            "municipality": notice.municipality,
            "kind": notice.kind,
            "title": notice.title,
            "body": notice.body,
            "published_at": notice.published_at.isoformat(),
            "source_url": notice.source_url,
            "drill": notice.drill,
        })
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "X-Noroshi-Timestamp": timestamp,
            "X-Noroshi-Signature": sign(self.config.secret.value, timestamp, body),
            "Idempotency-Key": key,
        }
        # `from None` throughout: aiohttp's own errors name the URL, which may hold a key.
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.config.timeout)) as session:
                async with session.post(self.config.url, data=body, headers=headers, allow_redirects=False) as reply:
                    status, retry_after = reply.status, reply.headers.get("Retry-After")
                    answer, content_type = await reply.read(), reply.content_type
        except aiohttp.InvalidURL:
            raise Permanent(CHANNEL, "the webhook URL is not valid") from None
        except aiohttp.ClientConnectorCertificateError:
            raise Permanent(CHANNEL, "the webhook's TLS certificate is not trusted") from None
        except aiohttp.ClientError as exc:
            raise Transient(CHANNEL, f"the webhook cannot be reached ({type(exc).__name__})") from None
        except TimeoutError:
            raise Transient(CHANNEL, f"the webhook did not answer within {self.config.timeout:g} s") from None
        if not 200 <= status < 300:
            raise http_error(CHANNEL, status, retry_after, "webhook")
        return Receipt(CHANNEL, ref=_returned_url(answer, content_type), detail={"status": status})


class FolderNoticeChannel:
    """Writes each notice as a static page into `folder` and keeps `index.html` listing them all.

    The folder must exist. Pages are named from the key, so sending a key again rewrites its one
    page. Files are replaced atomically, and a lock file serialises writers across processes.
    """

    name = CHANNEL
    dedup_window_s = ALWAYS  # the page is named by the key: a repeat rewrites the same page

    def __init__(self, folder: Path | str, *, index_title: str = "お知らせ一覧",
                 templates: Templates = Templates()) -> None:
        self.folder = Path(folder)
        self.index_title = index_title
        self.templates = templates

    async def send(self, notice: Notice, *, key: str) -> Receipt:
        if not self.folder.is_dir():
            raise Permanent(CHANNEL, f"the folder {self.folder} does not exist")
        try:
            page = await asyncio.to_thread(self._publish, notice, key)
        except OSError as exc:
            error_type = Transient if exc.errno in PASSING_ERRORS else Permanent
            raise error_type(CHANNEL, f"cannot write into {self.folder}: {exc.strerror}") from None
        except TemplateProblem as exc:  # the city's 様式 must be mended; the shipped one is not used instead
            raise Permanent(CHANNEL, str(exc), code="config") from None
        return Receipt(CHANNEL, ref=str(page), detail={"index": str(self.folder / INDEX)})

    def _publish(self, notice: Notice, key: str) -> Path:
        page = self.folder / page_name(key)
        with open(self.folder / LOCK, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
            entries = [entry for entry in self._entries() if entry["page"] != page.name]
            entries.append({
                "page": page.name,
                "key": key,
                "notice_id": notice.notice_id,
                "kind": notice.kind,
                "headline": headline(notice),
                "published_at": notice.published_at.isoformat(),
                "drill": notice.drill,
            })
            # Both pages are rendered before anything is written: a broken 様式 leaves the folder as it was.
            text = notice_page(notice, index_title=self.index_title, templates=self.templates)
            index = index_page(entries, title=self.index_title, templates=self.templates)
            _write_atomically(page, text)
            _write_atomically(self.folder / MANIFEST, json.dumps(entries, ensure_ascii=False, indent=1) + "\n")
            _write_atomically(self.folder / INDEX, index)
        return page

    def _entries(self) -> list[dict[str, Any]]:
        """The manifest's entries; an unreadable one stops publishing rather than being replaced."""
        path = self.folder / MANIFEST
        try:
            entries = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except (ValueError, UnicodeDecodeError):
            entries = None
        if not isinstance(entries, list) or not all(map(_is_entry, entries)):
            raise Permanent(CHANNEL, f"{path} is not a notice list: repair or remove it, then send again")
        return entries


def _is_entry(entry: object) -> bool:
    if not isinstance(entry, dict) or not all(isinstance(entry.get(k), str) for k in ("page", "headline", "published_at")):
        return False
    try:
        return datetime.fromisoformat(entry["published_at"]).tzinfo is not None
    except ValueError:
        return False


def _returned_url(answer: bytes, content_type: str) -> str | None:
    """The page URL a webhook may answer with as `{"url": ...}`; anything else is no reference."""
    if content_type != "application/json":
        return None
    try:
        data = orjson.loads(answer)
    except orjson.JSONDecodeError:
        return None
    url = data.get("url") if isinstance(data, dict) else None
    return url if isinstance(url, str) else None


def _write_atomically(path: Path, text: str) -> None:
    """Replace `path` so that readers see the old file or the new one, never a part (durable on return)."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o644)  # mkstemp makes it private; the web server must read it
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
