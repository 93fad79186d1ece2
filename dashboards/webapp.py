"""The board's application keys, settings and request helpers: what every handler of the
status board shares (who is signed in, the frame every page is drawn in, the security headers,
the CSRF and Origin checks). `dashboards.board` holds the handlers and the app itself.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web
from yarl import URL

from dashboards import i18n, pages, session, system, views
from dashboards.feed import MemoryFeed, Subscriber
from dashboards.ratelimit import LoginLimiter
from dashboards.session import Session, SessionCodec
from dashboards.state import visible, watch
from dashboards.users import User, UserStore
from vocabulary.settings import Settings

STATIC = Path(__file__).parent / "static"
CSRF_COOKIE = "noroshi_csrf"  # before sign-in only; afterwards the token lives in the session
KEEPALIVE_SECONDS = 15.0
SHUTDOWN_TIMEOUT = 10.0  # for ordinary requests; SSE streams are closed at once

SETTINGS = web.AppKey("settings", Settings)
FEED = web.AppKey("feed", MemoryFeed)
STREAMS = web.AppKey("streams", set[Subscriber])
KEEPALIVE = web.AppKey("keepalive", float)
USERS = web.AppKey("users", UserStore)
LIMITER = web.AppKey("limiter", LoginLimiter)
CODEC = web.AppKey("codec", SessionCodec)
PROFILES = web.AppKey("profiles", dict)
OUTCOME_WAIT = web.AppKey("outcome_wait", float)
#: The input partitions in use (partition → the municipality whose key carries its heartbeat), and
#: since when the board waits for their heartbeats: the 監視 indicator (streams/heartbeat.py).
WATCHED = web.AppKey("watched", dict)
WATCH_SINCE = web.AppKey("watch_since", float)
#: The システム状態 page's HTTP client for the worker, the sources and the watchdog.
SYSTEM = web.AppKey("system", system.Reader)
ARCHIVE = web.AppKey("archive", object)  # ArchiveReader, or None: the report reads the feed (tests)
#: The CSV from the topic (no archive file yet) gives up after this long, with a 503.
TOPIC_EXPORT_TIMEOUT = 30.0

SECURITY_HEADERS = {
    # No inline script or style anywhere: the page's code lives in /static.
    "Content-Security-Policy": (
        "default-src 'self'; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


# --- request helpers ---------------------------------------------------------

def lang(request: web.Request) -> str:
    return i18n.pick_lang(request.query.get("lang"), request.cookies.get(i18n.LANG_COOKIE))


def secure(request: web.Request) -> bool:
    return request.app[SETTINGS].board_url.startswith("https://")


def origin(request: web.Request) -> str:
    return str(URL(request.app[SETTINGS].board_url).origin())


def field(form: Mapping[str, object], name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""  # a file upload is not a field we want


def signed_in(request: web.Request) -> tuple[User, Session] | None:
    """The user and session of a valid cookie whose user still exists unchanged."""
    cookie = request.cookies.get(session.SESSION_COOKIE)
    if not cookie:
        return None
    opened = request.app[CODEC].open(cookie, time.time())
    if opened is None:
        return None
    user = request.app[USERS].get(opened.user)
    if user is None or not secrets.compare_digest(user.fingerprint, opened.fingerprint):
        return None
    return user, opened


def require(request: web.Request) -> tuple[User, Session]:
    """For the API and the stream: 401, not a redirect."""
    found = signed_in(request)
    if found is None:
        raise web.HTTPUnauthorized(text="sign in first", headers={"WWW-Authenticate": "Cookie"})
    return found


def foreign(request: web.Request) -> bool:
    theirs = request.headers.get("Origin")
    return theirs is not None and theirs != origin(request)


def csrf_ok(expected: str, form: Mapping[str, object]) -> bool:
    token = field(form, "csrf")
    return bool(expected) and bool(token) and secrets.compare_digest(expected.encode(), token.encode())


def remember_lang(request: web.Request, response: web.StreamResponse) -> None:
    lang = request.query.get("lang")
    if lang in i18n.LANGS:
        response.set_cookie(i18n.LANG_COOKIE, lang, max_age=365 * 24 * 3600, httponly=True,
                            samesite="Lax", secure=secure(request))


def html_response(request: web.Request, text: str, status: int = 200) -> web.Response:
    response = web.Response(text=text, status=status, content_type="text/html", charset="utf-8")
    remember_lang(request, response)
    return response


def redirect(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})


def json_response(data: object) -> web.Response:
    return web.Response(body=orjson.dumps(data), content_type="application/json")


def frame(request: web.Request, user: User, sess: Session) -> pages.Frame:
    incidents = visible(request.app[FEED].latest.values(), user.municipality)
    status = request.app[FEED].status()  # not live: every page says 最新ではありません
    now, late, watched = time.time(), request.app[SETTINGS].heartbeat_late_s, request.app[WATCHED]
    beats = request.app[FEED].state.heartbeats
    return pages.Frame(lang=lang(request), user=user, csrf=sess.csrf, path=request.path, now=time.time(),
                       query=dict(request.query), disasters=views.disaster_active(incidents),
                       names=request.app[FEED].display_names, who=request.app[FEED].who_acts, feed_live=status.live,
                       last_fetch=status.last_fetch,
                       notices=request.app[FEED].state.notices_for(user.municipality),
                       watch=watch(beats, now, late, expected=watched, since=request.app[WATCH_SINCE]),
                       watch_late=late, watch_since=request.app[WATCH_SINCE],
                       watch_missing={p: m for p, m in watched.items() if p not in beats})


def page_handler(render: Callable[[web.Request, pages.Frame], Any]) -> Callable[[web.Request], Any]:
    """A signed-in page: sign-in first if there is no session, then `render(request, frame)`."""
    async def handler(request: web.Request) -> web.StreamResponse:
        found = signed_in(request)
        if found is None:
            return redirect("/login")
        result = render(request, frame(request, *found))
        if asyncio.iscoroutine(result):
            result = await result
        if isinstance(result, web.StreamResponse):
            return result
        return html_response(request, result)
    return handler


def message(request: web.Request, frame: pages.Frame, status: int, key: str, **values: object) -> web.Response:
    title = i18n.text(frame.lang, key, **values)
    return html_response(request, pages.message_page(frame, title, title), status)
