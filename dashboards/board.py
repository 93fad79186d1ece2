"""The status board's web application (状況ボード): sign-in, the Now page, the live
SSE stream and the JSON API, plus `serve()`, the process entry point.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import signal
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import orjson
import structlog
from aiohttp import web
from yarl import URL

from dashboards import i18n, pages, session
from dashboards.feed import IncidentFeed, MemoryFeed, Subscriber
from noroshi.settings import Settings
from streams.topics import TopicNames

log = structlog.get_logger(__name__)

STATIC = Path(__file__).parent / "static"
CSRF_COOKIE = "noroshi_csrf"
KEEPALIVE_SECONDS = 15.0
SHUTDOWN_TIMEOUT = 10.0  # for ordinary requests; SSE streams are closed at once

SETTINGS = web.AppKey("settings", Settings)
FEED = web.AppKey("feed", MemoryFeed)
STREAMS = web.AppKey("streams", set[Subscriber])
KEEPALIVE = web.AppKey("keepalive", float)

SECURITY_HEADERS = {
    # No inline script or style anywhere: the page's code lives in /static.
    "Content-Security-Policy": (
        "default-src 'self'; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


# --- request helpers ---------------------------------------------------------

def _lang(request: web.Request) -> str:
    return i18n.pick_lang(request.query.get("lang"), request.cookies.get(i18n.LANG_COOKIE))


def _user(request: web.Request) -> str | None:
    cookie = request.cookies.get(session.SESSION_COOKIE)
    if not cookie:
        return None
    return session.verify_session(cookie, request.app[SETTINGS].secret_key.value, time.time())


def _require_user(request: web.Request) -> str:
    user = _user(request)
    if user is None:
        raise web.HTTPUnauthorized(text="sign in first", headers={"WWW-Authenticate": "Cookie"})
    return user


def _secure(request: web.Request) -> bool:
    return request.app[SETTINGS].board_url.startswith("https://")


def _field(form: Mapping[str, object], name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""  # a file upload is not a field we want


def _csrf_ok(request: web.Request, form: Mapping[str, object]) -> bool:
    cookie, token = request.cookies.get(CSRF_COOKIE, ""), _field(form, "csrf")
    return bool(cookie) and secrets.compare_digest(cookie.encode(), token.encode())


def _page(request: web.Request, render: Callable[[str], str], status: int = 200) -> web.Response:
    """An HTML page whose forms carry the double-submit CSRF token `render` is given;
    a `?lang=` choice is remembered here too."""
    token = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(32)
    response = web.Response(text=render(token), status=status, content_type="text/html", charset="utf-8")
    response.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="Strict", secure=_secure(request))
    lang = request.query.get("lang")
    if lang in i18n.LANGS:
        response.set_cookie(i18n.LANG_COOKIE, lang, max_age=365 * 24 * 3600, httponly=True,
                            samesite="Lax", secure=_secure(request))
    return response


def _redirect(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})


def _json(data: object) -> web.Response:
    return web.Response(body=orjson.dumps(data), content_type="application/json")


# --- handlers ----------------------------------------------------------------

async def login_form(request: web.Request) -> web.Response:
    lang = _lang(request)
    return _page(request, lambda csrf: pages.login_page(lang, csrf=csrf))


async def login(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    lang = _lang(request)
    form = await request.post()
    user, password = _field(form, "user"), _field(form, "password")
    if not _csrf_ok(request, form):
        error = i18n.text(lang, "login.expired")
        return _page(request, lambda csrf: pages.login_page(lang, csrf=csrf, error=error, user=user), 403)
    if not session.check_password(user, password, expected_user=settings.board_user,
                                  expected_password=settings.board_password.value):
        log.info("board_login_failed", user=user, remote=request.remote)
        error = i18n.text(lang, "login.failed")
        return _page(request, lambda csrf: pages.login_page(lang, csrf=csrf, error=error, user=user), 401)
    log.info("board_login_succeeded", user=user, remote=request.remote)
    response = _redirect("/")
    response.set_cookie(
        session.SESSION_COOKIE, session.sign_session(user, settings.secret_key.value, time.time()),
        max_age=session.SESSION_TTL, httponly=True, samesite="Strict", secure=_secure(request),
    )
    return response


async def logout(request: web.Request) -> web.Response:
    form = await request.post()
    if not _csrf_ok(request, form):
        raise web.HTTPForbidden(text="missing or wrong CSRF token")
    response = _redirect("/login")
    response.del_cookie(session.SESSION_COOKIE, httponly=True, samesite="Strict", secure=_secure(request))
    return response


async def now(request: web.Request) -> web.Response:
    user = _user(request)
    if user is None:
        return _redirect("/login")
    lang = _lang(request)
    incidents = pages.now_list(request.app[FEED].latest.values())
    return _page(request, lambda csrf: pages.now_page(lang, incidents, now=time.time(), user=user, csrf=csrf))


async def api_incidents(request: web.Request) -> web.Response:
    _require_user(request)
    return _json([i.to_dict() for i in pages.now_list(request.app[FEED].latest.values())])


async def healthz(request: web.Request) -> web.Response:
    feed = request.app[FEED]
    return _json({"ok": True, "feed": {"incidents": len(feed.latest), "connected": feed.connected}})


def _sse(event: str, data: object) -> bytes:
    # orjson never emits a newline, so one `data:` line carries the whole record.
    return b"event: " + event.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


async def events(request: web.Request) -> web.StreamResponse:
    """Server-sent events: a snapshot of the Now list, then every change as it happens."""
    user = _require_user(request)
    origin = request.headers.get("Origin")
    if origin is not None and origin != str(URL(request.app[SETTINGS].board_url).origin()):
        raise web.HTTPForbidden(text="foreign origin")
    feed, streams = request.app[FEED], request.app[STREAMS]
    # Subscribe and snapshot with no await in between, so no change falls in a gap.
    queue = feed.subscribe()
    snapshot = [i.to_dict() for i in pages.now_list(feed.latest.values())]
    streams.add(queue)
    response = web.StreamResponse(headers={
        "Content-Type": "text/event-stream; charset=utf-8",
        "X-Accel-Buffering": "no",  # a buffering proxy would hold events back
    })
    log.info("sse_client_connected", user=user, clients=len(streams))
    try:
        await response.prepare(request)
        await response.write(b"retry: 3000\n" + _sse("snapshot", snapshot))
        while True:
            try:
                async with asyncio.timeout(request.app[KEEPALIVE]):
                    incident = await queue.get()
            except TimeoutError:
                # Also how a vanished browser is noticed: the write fails.
                await response.write(b": keep-alive\n\n")
                continue
            if incident is None:  # dropped as too slow, or the board is shutting down
                break
            await response.write(_sse("incident", incident.to_dict()))
    except ConnectionResetError:
        pass
    finally:
        feed.unsubscribe(queue)
        streams.discard(queue)
        log.info("sse_client_disconnected", user=user, clients=len(streams))
    return response


# --- app ---------------------------------------------------------------------

async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.update(SECURITY_HEADERS)
    if not request.path.startswith("/static/"):
        response.headers.setdefault("Cache-Control", "no-store")


async def _close_streams(app: web.Application) -> None:
    # Runs before aiohttp waits for handlers to finish, so an open SSE never holds
    # up shutdown: each stream's reader gets the None sentinel and returns.
    for queue in list(app[STREAMS]):
        app[FEED].disconnect(queue)


def create_app(settings: Settings, feed: MemoryFeed, *, keepalive: float = KEEPALIVE_SECONDS) -> web.Application:
    app = web.Application()
    app[SETTINGS] = settings
    app[FEED] = feed
    app[STREAMS] = set()
    app[KEEPALIVE] = keepalive
    app.router.add_get("/", now)
    app.router.add_get("/login", login_form)
    app.router.add_post("/login", login)
    app.router.add_post("/logout", logout)
    app.router.add_get("/events", events)
    app.router.add_get("/api/incidents", api_incidents)
    app.router.add_get("/healthz", healthz)
    app.router.add_static("/static", STATIC)
    app.on_response_prepare.append(_security_headers)
    app.on_shutdown.append(_close_streams)
    return app


async def serve(settings: Settings) -> None:
    """Run the board until SIGTERM or SIGINT (or until cancelled), then stop cleanly."""
    feed = IncidentFeed(settings.broker_servers, TopicNames(settings.topic_prefix).incidents)
    runner = web.AppRunner(create_app(settings, feed), shutdown_timeout=SHUTDOWN_TIMEOUT)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    await feed.start()
    try:
        await runner.setup()
        await web.TCPSite(runner, settings.board_host, settings.board_port).start()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        log.info("board_started", url=settings.board_url, host=settings.board_host,
                 port=settings.board_port, topic=feed.topic)
        await stop.wait()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
        await runner.cleanup()
        await feed.stop()
        log.info("board_stopped")
