"""The status board's web application (状況ボード): sign-in, the pages, the actions (sent to
the playbooks as commands, never applied here), the live SSE stream, the JSON API and
the CSV export, plus `serve()`, the process entry point.

Access: users from the users file (argon2), sessions in AES-GCM cookies, each user
sees only the incidents of their municipality, every form carries a CSRF token, the
SSE stream checks the session and the Origin, sign-in attempts are rate-limited and
every response carries the security headers (CSP without inline anything).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import signal
import time
from collections.abc import Mapping
from typing import Any

import orjson
import structlog
from aiohttp import web

from dashboards import actions, i18n, pages, report, session, system, views
from dashboards import webapp as w
from dashboards.archive import ArchiveReader, ArchiveUnavailable, archive_path
from dashboards.feed import SEND_TIMEOUT_S, Change, CommandNotSent, KafkaFeed, MemoryFeed, sse_frame
from dashboards.incident_page import Flash, evidence_page, incident_page
from dashboards.ratelimit import LoginLimiter, client_address
from dashboards.session import RevokedSessions, RevokedSessionsError, SessionCodec
from dashboards.state import BoardState, visible
from dashboards.users import User, UserError, UserStore, bootstrap
from dashboards.webapp import (
    ARCHIVE, CODEC, CSRF_COOKIE, FEED, KEEPALIVE, KEEPALIVE_SECONDS, LIMITER, OUTCOME_WAIT, PROFILES, SECURITY_HEADERS,
    SETTINGS, SHUTDOWN_TIMEOUT, STATIC, STREAMS, SYSTEM, TOPIC_EXPORT_TIMEOUT, USERS, WATCH_SINCE, WATCHED,
    page_handler,
)
from streams import heartbeat
from vocabulary.metrics import BOARD_SSE_CLIENTS, exposition
from vocabulary.settings import Settings
from vocabulary.terms import ALL
from vocabulary.topics import TopicNames

log = structlog.get_logger(__name__)

# --- signing in --------------------------------------------------------------

def _login(request: web.Request, *, error: str = "", user: str = "", status: int = 200) -> web.Response:
    """The sign-in page, with a double-submit CSRF token (there is no session yet)."""
    token = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(32)
    response = w.html_response(request, pages.login_page(w.lang(request), csrf=token, error=error, user=user), status)
    response.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="Strict", secure=w.secure(request))
    return response


async def login_form(request: web.Request) -> web.Response:
    if w.signed_in(request) is not None:
        return w.redirect("/")
    return _login(request)


async def login(request: web.Request) -> web.Response:
    lang = w.lang(request)
    form = await request.post()
    name, password = w.field(form, "user").strip(), w.field(form, "password")
    if w.foreign(request) or not w.csrf_ok(request.cookies.get(CSRF_COOKIE, ""), form):
        return _login(request, error=i18n.text(lang, "login.expired"), user=name, status=403)
    limiter, now = request.app[LIMITER], time.monotonic()
    address = client_address(request.remote, request.headers.getall("X-Forwarded-For", ()),
                             request.app[SETTINGS].board_trusted_proxies)

    def limited(wait: float) -> web.Response:
        log.warning("board_login_limited", user=name, remote=address, peer=request.remote, retry_after=round(wait))
        response = _login(request, error=i18n.text(lang, "login.limited", m=max(1, round(wait / 60))),
                          user=name, status=429)
        response.headers["Retry-After"] = str(int(wait) + 1)
        return response

    # A browser that has signed in as this name before is not held up by others' failures.
    known = request.app[CODEC].open_device(request.cookies.get(session.DEVICE_COOKIE, ""), time.time())
    device = known.device_id if known is not None and known.user == name else ""
    verdict = limiter.check(name, address, now, device)
    if verdict.wait > 0:
        return limited(verdict.wait)
    users = request.app[USERS]
    if verdict.gated and users.get(name) is None:
        # The address is over its limit: a name nobody has is refused without argon2's cost,
        # but no sooner than a checked password would be, so the answer tells no names apart.
        await asyncio.sleep(limiter.verify_cost)
        user = None
    else:
        # argon2 takes tens of milliseconds on purpose: off the event loop, so streams keep flowing.
        started = time.monotonic()
        user = await asyncio.to_thread(users.verify, name, password)
        limiter.checked(time.monotonic() - started)
    if user is None:
        limiter.failed(name, address, now, device)
        log.info("board_login_failed", user=name, remote=address, gated=verdict.gated, device=bool(device))
        after = limiter.check(name, address, now, device)
        if verdict.gated and (after.wait > 0 or not after.gated):
            return limited(max(after.wait, verdict.address_wait))
        return _login(request, error=i18n.text(lang, "login.failed"), user=name, status=401)
    limiter.succeeded(name, address, device)
    log.info("board_login_succeeded", user=user.name, role=user.role, municipality=user.municipality,
             remote=address, gated=verdict.gated, device=bool(device))
    response = w.redirect("/")
    cookie = request.app[CODEC].seal(session.new_session(user.name, user.fingerprint, time.time()))
    response.set_cookie(session.SESSION_COOKIE, cookie, max_age=session.SESSION_TTL, httponly=True,
                        samesite="Strict", secure=w.secure(request))
    response.set_cookie(session.DEVICE_COOKIE, request.app[CODEC].seal_device(user.name, time.time()),
                        max_age=session.DEVICE_TTL, httponly=True, samesite="Strict", secure=w.secure(request))
    return response


async def logout(request: web.Request) -> web.Response:
    found = w.signed_in(request)
    form = await request.post()
    if found is not None and not w.csrf_ok(found[1].csrf, form):
        return w.message(request, w.frame(request, *found), 403, "error.csrf")
    response = w.redirect("/login")
    if found is not None:
        try:  # ended on the server, for every board process: a copied cookie no longer opens
            request.app[CODEC].revoke(found[1], time.time())
        except RevokedSessionsError as exc:
            log.error("board_logout_failed", user=found[0].name, error=str(exc))
            response = w.html_response(request, pages.message_page(w.frame(request, *found), *_LOGOUT_FAILED), 503)
        else:
            log.info("board_logout", user=found[0].name)
    response.del_cookie(session.SESSION_COOKIE, httponly=True, samesite="Strict", secure=w.secure(request))
    return response


_LOGOUT_FAILED = ("サインアウトをサーバーに記録できませんでした / Sign-out could not be recorded",
                  "この端末からはログイン情報を消しました。他の端末にコピーされたログインはまだ有効な"
                  "可能性があります。管理者に連絡してください。 / This device no longer holds the session, "
                  "but a copy of it may still work: please tell the administrator.")


# --- pages -------------------------------------------------------------------

def _now(request: web.Request, frame: pages.Frame) -> str:
    feed = request.app[FEED]
    return pages.now_page(frame, views.now_rows(feed.state, frame.user.municipality, feed.display_names, feed.who_acts))


def _incident_flash(frame: pages.Frame, entries: list[Any], query: Mapping[str, str]) -> Flash | None:
    command_id, action = query.get("sent", ""), query.get("a", "")
    if not command_id or not actions.known_action(action):
        return None
    label = i18n.label(frame.lang, "action", action)
    outcome = views.command_outcome(entries, command_id)
    if outcome is None:
        return Flash("pending", i18n.text(frame.lang, "flash.pending", action=label), command_id)
    if outcome.action == "command_rejected":
        reason = outcome.detail.get("reason_ja" if frame.lang == "ja" else "reason_en", "")
        return Flash("rejected", i18n.text(frame.lang, "flash.rejected", action=label, reason=reason), command_id)
    return Flash("accepted", i18n.text(frame.lang, "flash.accepted", action=label), command_id)


def _incident(request: web.Request, frame: pages.Frame) -> web.Response | str:
    state = request.app[FEED].state
    incident = state.incident(request.match_info["incident_id"])
    if incident is None or not frame.user.sees(incident.municipality):
        # The same answer whether it exists elsewhere or not at all.
        return w.message(request, frame, 404, "incident.notfound")
    data = state.detail(incident.incident_id)
    entries = state.entries(incident.incident_id)
    raw_page = request.query.get("evidence", "0")
    page = int(raw_page) if raw_page.isdigit() and len(raw_page) < 6 else 0
    shown = evidence_page(incident.evidence_ids, page)
    evidence = [data.evidence[p] for p in shown if data is not None and p in data.evidence]
    return incident_page(frame, incident, entries=entries, trimmed=bool(data and data.trimmed),
                         points=list(data.points) if data else [], evidence=evidence,
                         offers=actions.offers(frame.user, incident),
                         flash=_incident_flash(frame, entries, request.query), rev=data.rev if data else 0,
                         evidence_at=page)


def _outbound(request: web.Request, frame: pages.Frame) -> str:
    return pages.outbound_page(frame, **views.outbound(request.app[FEED].state, frame.user.municipality))


def _disaster(request: web.Request, frame: pages.Frame) -> str:
    state = request.app[FEED].state
    shown = views.disasters(state, frame.user.municipality, actions.may(frame.user, "rescue_handled"))
    flash = ""
    command_id = request.query.get("sent", "")
    if command_id:
        entries = [e for v in shown for e in state.entries(v.incident.incident_id)]
        found = _incident_flash(frame, entries, {"sent": command_id, "a": "rescue_handled"})
        if found is not None:
            role = "alert" if found.kind == "rejected" else "status"
            flash = (f'<p id="flash" class="flash flash-{found.kind}" role="{role}" '
                     f'data-command="{pages._e(command_id)}">{pages._e(found.message)}</p>')
    return pages.disaster_page(frame, shown, flash)


def _oncall(request: web.Request, frame: pages.Frame) -> str:
    rosters = views.rosters(request.app[PROFILES], frame.user.municipality, frame.now,
                            visible(request.app[FEED].latest.values(), frame.user.municipality))
    return pages.oncall_page(frame, rosters)


def _archive(request: web.Request) -> ArchiveReader | None:
    """The archive to read the report from; None when there is none to read (the board's unit
    tests, or no `noroshi archive` has run yet: the page says so)."""
    archive = request.app[ARCHIVE]
    return archive if isinstance(archive, ArchiveReader) and archive.exists() else None


def _archive_failed(request: web.Request, frame: pages.Frame, key: str) -> web.Response:
    title = report.note_text(frame.lang, "title")
    return w.html_response(request, pages.message_page(frame, title, report.note_text(frame.lang, key)), 503)


async def _report(request: web.Request, frame: pages.Frame) -> web.Response | str:
    """The month's figures from the archive, which keeps every incident version: a broker that
    lost its data or a topic's retention takes nothing from the report."""
    month = report.parse_month(request.query.get("month"), frame.now)
    archive = _archive(request)
    if archive is None:
        figures = report.monthly(request.app[FEED].state.summaries.values(), month, frame.user.municipality,
                                 frame.now)
        page = pages.report_page(frame, figures)
        return page if request.app[ARCHIVE] is None else report.with_note(page, report.ArchiveNote("missing"),
                                                                            frame.lang)
    try:
        versions, status = await asyncio.to_thread(archive.month, month, frame.user.municipality)
    except ArchiveUnavailable as exc:
        log.error("board_archive_unreadable", path=str(archive.path), error=str(exc))
        return _archive_failed(request, frame, "unreadable")
    figures = report.monthly(report.summaries(versions), month, frame.user.municipality, frame.now)
    note = report.ArchiveNote.of(status.lag, status.heartbeat_at, status.stale(time.time()))
    return report.with_note(pages.report_page(frame, figures), note, frame.lang)


def _admin(user: User) -> bool:
    return user.role == "admin"


async def _system_view(request: web.Request, user: User, lang: str) -> dict[str, Any]:
    """The システム状態 page's facts and sections: the other processes asked at once (each within
    the reader's timeout), the rest from the board's own state."""
    app, settings = request.app, request.app[SETTINGS]
    feed, reader = app[FEED], app[SYSTEM]
    remote = await reader.read()
    status = feed.status()
    own = system.Own(feed_live=status.live, feed_last_fetch=status.last_fetch, feed_error=status.error,
                     broker=getattr(feed, "servers", ""), board_url=settings.board_url, streams=len(app[STREAMS]),
                     beats=dict(feed.state.heartbeats), expected=app[WATCHED], since=app[WATCH_SINCE],
                     late_after=settings.heartbeat_late_s, deadletters=tuple(feed.state.deadletters()),
                     sources_enabled=settings.sources.enabled)
    # Raw content only to admins, and of the municipalities they may see (defence in depth:
    # both routes already refuse everyone else).
    facts = system.facts(remote, own, time.time(), raw_for=lambda m: _admin(user) and user.sees(m))
    reader.note(facts)
    return {**system.view(facts, lang), "facts": facts}


async def _system(request: web.Request, frame: pages.Frame) -> web.Response | str:
    """システム状態: admins only (403 for everyone else, and nothing is asked of the other processes)."""
    if not _admin(frame.user):
        log.warning("board_page_forbidden", user=frame.user.name, role=frame.user.role, path=request.path)
        return w.message(request, frame, 403, "error.forbidden")
    return system.system_page(frame, await _system_view(request, frame.user, frame.lang))


async def api_system(request: web.Request) -> web.Response:
    """The システム状態 page's data, for its refreshes (board.js) and for admins' tools."""
    user, _ = w.require(request)
    if not _admin(user):
        log.warning("board_page_forbidden", user=user.name, role=user.role, path=request.path)
        raise web.HTTPForbidden(text="admins only")
    return w.json_response(await _system_view(request, user, w.lang(request)))


async def _topic_entries(request: web.Request, month: str, scope: str) -> list[Any]:
    async with asyncio.timeout(TOPIC_EXPORT_TIMEOUT):
        return report.month_entries([e async for e in request.app[FEED].timeline_records()], month, scope)


async def _timeline_csv(request: web.Request, frame: pages.Frame) -> web.Response:
    """The month's timeline for records (監査記録), from the archive (else the whole topic): each
    entry once, in order of time across incidents. The file is built from one read before a byte
    is sent, so it is complete — or a 503 that says so in the user's language."""
    month = report.parse_month(request.query.get("month"), frame.now)
    scope = frame.user.municipality
    archive = _archive(request)
    try:
        if archive is not None:
            entries = await asyncio.to_thread(archive.timeline, month, scope)
        else:
            entries = await _topic_entries(request, month, scope)
    except ArchiveUnavailable as exc:
        log.error("board_archive_unreadable", path=str(archive.path if archive else ""), error=str(exc))
        return _archive_failed(request, frame, "unreadable")
    except Exception as exc:  # noqa: BLE001 - the broker went away mid-read: nothing half-sent
        log.error("board_timeline_export_failed", user=frame.user.name, month=month, error=repr(exc))
        return _archive_failed(request, frame, "export_failed")
    name = f"noroshi-timeline-{'all' if scope == ALL else scope}-{month}.csv"
    response = web.Response(body=report.csv_document(entries), headers={
        "Content-Type": "text/csv; charset=utf-8",
        "Content-Disposition": f'attachment; filename="{name}"',
    })
    log.info("board_timeline_exported", user=frame.user.name, month=month, entries=len(entries),
             source="archive" if archive is not None else "topic")
    return response


# --- actions -----------------------------------------------------------------

async def act(request: web.Request) -> web.StreamResponse:
    """One action form → one BoardCommand on the commands topic (keyed by incident id). The
    answer waits a moment for the playbook's first timeline entry on it, so the page shows
    the outcome — or its refusal — at once."""
    found = w.signed_in(request)
    if found is None:
        return w.redirect("/login")
    user, sess = found
    frame = w.frame(request, user, sess)
    form = await request.post()
    if w.foreign(request) or not w.csrf_ok(sess.csrf, form):
        return w.message(request, frame, 403, "error.csrf")
    feed = request.app[FEED]
    incident = feed.state.incident(request.match_info["incident_id"])
    if incident is None or not user.sees(incident.municipality):
        return w.message(request, frame, 404, "incident.notfound")
    action = w.field(form, "action")
    if not actions.known_action(action):
        return w.message(request, frame, 400, "error.bad_form", what="action")
    if not actions.may(user, action, actions.draft_of(incident, w.field(form, "draft_id"))):
        log.warning("board_action_forbidden", user=user.name, role=user.role, action=action,
                    incident_id=incident.incident_id)
        return w.message(request, frame, 403, "error.forbidden")
    try:
        order = actions.command_for(action, form, [v for v in form.getall("code", []) if isinstance(v, str)])
    except actions.FormError as exc:
        return w.message(request, frame, 400, "error.bad_form", what=str(exc))
    command = actions.command(user, incident, order, time.time())
    outcome = feed.expect(command.command_id)
    try:
        await feed.send_command(command.incident_id, command.to_json())
        log.info("board_command_sent", user=user.name, action=action, incident_id=incident.incident_id,
                 command_id=command.command_id)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(request.app[OUTCOME_WAIT]):
                await outcome
    except CommandNotSent as exc:  # the broker did not take it in time: say so, and what to do
        log.warning("board_command_not_sent", user=user.name, action=action, incident_id=incident.incident_id,
                    command_id=command.command_id, reason=str(exc), unsent=feed.unsent)
        return _unsent(request, w.frame(request, user, sess), action, incident.incident_id)
    except Exception:  # noqa: BLE001 - never pretend it was sent
        log.exception("board_command_failed", action=action, incident_id=incident.incident_id)
        return _unsent(request, w.frame(request, user, sess), action, incident.incident_id)
    finally:
        feed.forget(command.command_id)
    back = "/disaster" if w.field(form, "back") == "disaster" else f"/incidents/{incident.incident_id}"
    return w.redirect(f"{back}?sent={command.command_id}&a={action}")


def _unsent(request: web.Request, frame: pages.Frame, action: str, incident_id: str) -> web.Response:
    lang = frame.lang
    page = pages.message_page(
        frame, i18n.text(lang, "error.unsent_title"),
        i18n.text(lang, "error.unsent", action=i18n.label(lang, "action", action), s=f"{SEND_TIMEOUT_S:g}"),
        todo=i18n.text(lang, "error.unsent_todo"), back=f"/incidents/{incident_id}",
        back_label=i18n.text(lang, "error.unsent_back"))
    return w.html_response(request, page, 503)


# --- API and live updates ------------------------------------------------------

async def api_incidents(request: web.Request) -> web.Response:
    user, _ = w.require(request)
    feed = request.app[FEED]
    return w.json_response(views.now_rows(feed.state, user.municipality, feed.display_names, feed.who_acts))


async def healthz(request: web.Request) -> web.Response:
    """Alive: the process answers (what `noroshi run` waits for); the body tells the feed's truth."""
    feed = request.app[FEED]
    return w.json_response({"ok": True, "feed": {**feed.status().as_json(), "commands_unsent": feed.unsent}})


async def readyz(request: web.Request) -> web.Response:
    """Ready: the feed is fetching from the broker now (503 while it is not)."""
    status = request.app[FEED].status()
    response = w.json_response({"ready": status.live, "feed": status.as_json()})
    response.set_status(200 if status.live else 503)
    return response


async def metrics(request: web.Request) -> web.Response:
    """Prometheus text, without sign-in like /healthz: in production, let only the monitoring
    network reach it (the reverse proxy's ACL)."""
    body, content_type = exposition()
    return web.Response(body=body, headers={"Content-Type": content_type})


def _page_stale(state: BoardState, user: User, query: Mapping[str, str]) -> bool:
    """Whether the incident page asking (`?incident=ID&rev=N`) shows an older revision than
    the board has: a change that arrived between drawing the page and opening its stream."""
    incident_id = query.get("incident")
    if not incident_id:
        return False
    data = state.detail(incident_id)
    if data is None or data.incident is None or not user.sees(data.incident.municipality):
        return False
    return query.get("rev") != str(data.rev)


async def events(request: web.Request) -> web.StreamResponse:
    """Server-sent events: a snapshot of the Now list, then each change of the user's
    municipality as it happens; the session is checked again at every keep-alive."""
    user, sess = w.require(request)
    if w.foreign(request):
        raise web.HTTPForbidden(text="foreign origin")
    feed, streams = request.app[FEED], request.app[STREAMS]
    # Subscribe and snapshot with no await in between, so no change falls in a gap.
    queue = feed.subscribe()
    snapshot = views.now_rows(feed.state, user.municipality, feed.display_names, feed.who_acts)
    stale = _page_stale(feed.state, user, request.query)
    streams.add(queue)
    BOARD_SSE_CLIENTS.set(len(streams))
    response = web.StreamResponse(headers={
        "Content-Type": "text/event-stream; charset=utf-8",
        "X-Accel-Buffering": "no",  # a buffering proxy would hold events back
    })
    log.info("sse_client_connected", user=user.name, clients=len(streams))
    try:
        await response.prepare(request)
        await response.write(b"retry: 3000\n" + b"event: snapshot\ndata: " + orjson.dumps(snapshot) + b"\n\n")
        if stale:  # the incident page was drawn before a change the stream will not repeat
            await response.write(b"event: stale\ndata: {}\n\n")
        told_live = feed.status().live  # what this browser knows: a snapshot means live unless told
        if not told_live:
            await response.write(sse_frame("feed", feed.status().as_event()))  # 最新ではありません
        while True:
            try:
                async with asyncio.timeout(request.app[KEEPALIVE]):
                    change: Change | None = await queue.get()
            except TimeoutError:
                if w.signed_in(request) is None:  # expired, signed out elsewhere, or password reset
                    break
                # Also how a vanished browser is noticed: the write fails.
                await response.write(b": keep-alive\n\n")
                continue
            if change is None:  # dropped as too slow, or the board is shutting down
                break
            if change.kind == "feed":  # every municipality's, but only news to this browser
                if change.live is not None and change.live != told_live:
                    told_live = change.live
                    await response.write(change.frame)
            elif change.kind == "heartbeat":  # for every page's 監視 indicator (no municipality in it)
                await response.write(change.frame)
            elif user.sees(change.municipality):
                await response.write(change.frame)
    except ConnectionResetError:
        pass
    finally:
        feed.unsubscribe(queue)
        streams.discard(queue)
        BOARD_SSE_CLIENTS.set(len(streams))
        log.info("sse_client_disconnected", user=user.name, clients=len(streams))
    return response


# --- app ---------------------------------------------------------------------

async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.update(SECURITY_HEADERS)
    if w.secure(request):
        response.headers["Strict-Transport-Security"] = "max-age=31536000"
    if not request.path.startswith("/static/"):
        response.headers.setdefault("Cache-Control", "no-store")


async def _close_system_reader(app: web.Application) -> None:
    await app[SYSTEM].close()


async def _close_session_store(app: web.Application) -> None:
    if app[CODEC].revoked is not None:
        app[CODEC].revoked.close()


async def _close_streams(app: web.Application) -> None:
    # Runs before aiohttp waits for handlers to finish, so an open SSE never holds
    # up shutdown: each stream's reader gets the None sentinel and returns.
    for queue in list(app[STREAMS]):
        app[FEED].disconnect(queue)


def create_app(settings: Settings, feed: MemoryFeed, *, users: UserStore | None = None,
               profiles: Mapping[str, Any] | None = None, limiter: LoginLimiter | None = None,
               keepalive: float = KEEPALIVE_SECONDS, outcome_wait: float = 4.0,
               archive: ArchiveReader | None = None, system_timeout: float = system.TIMEOUT_S) -> web.Application:
    app = web.Application(client_max_size=256 * 1024)
    app[SETTINGS] = settings
    app[FEED] = feed
    app[STREAMS] = set()
    app[KEEPALIVE] = keepalive
    app[USERS] = users or UserStore(settings.users_file)
    app[LIMITER] = limiter or LoginLimiter()
    # Beside the users file (by default in NOROSHI_DATA_DIR): every board process that shares
    # the users shares the signed-out sessions, and it is kept where the users are kept.
    app[CODEC] = SessionCodec(settings.secret_key.value,
                              RevokedSessions(settings.users_file.parent / session.REVOKED_FILE))
    app.on_cleanup.append(_close_session_store)
    app[PROFILES] = dict(profiles or {})
    app[WATCHED] = heartbeat.targets(app[PROFILES], settings.partitions)
    app[WATCH_SINCE] = time.time()
    app[OUTCOME_WAIT] = outcome_wait
    app[ARCHIVE] = archive
    app[SYSTEM] = system.Reader(settings.worker_url, settings.sources_url, settings.watchdog_url,
                                timeout=system_timeout)
    app.on_cleanup.append(_close_system_reader)
    store = app[USERS]

    def display_name(name: str) -> str:
        user = store.get(name)
        return user.display_name if user is not None else name

    feed.display_names = display_name
    feed.who_acts = views.Rosters(app[PROFILES], time.time)
    app.router.add_get("/", page_handler(_now))
    app.router.add_get("/incidents/{incident_id}", page_handler(_incident))
    app.router.add_post("/incidents/{incident_id}/actions", act)
    app.router.add_get("/outbound", page_handler(_outbound))
    app.router.add_get("/disaster", page_handler(_disaster))
    app.router.add_get("/oncall", page_handler(_oncall))
    app.router.add_get("/report", page_handler(_report))
    app.router.add_get("/report/timeline.csv", page_handler(_timeline_csv))
    app.router.add_get("/system", page_handler(_system))
    app.router.add_get("/login", login_form)
    app.router.add_post("/login", login)
    app.router.add_post("/logout", logout)
    app.router.add_get("/events", events)
    app.router.add_get("/api/incidents", api_incidents)
    app.router.add_get("/api/system", api_system)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    app.router.add_static("/static", STATIC)
    app.on_response_prepare.append(_security_headers)
    app.on_shutdown.append(_close_streams)
    return app


async def serve(settings: Settings, profiles: Mapping[str, Any], *, feed: MemoryFeed | None = None) -> None:
    """Run the board until SIGTERM or SIGINT (or until cancelled), then stop cleanly.

    `profiles` are the municipalities' profiles by id, resolved by the caller (the
    composition root), so the board never reads the profile settings itself."""
    feed = feed or KafkaFeed(settings.broker_servers, TopicNames(settings.topic_prefix))
    users = UserStore(settings.users_file)
    try:
        await asyncio.to_thread(bootstrap, users, settings.board_user, settings.board_password.value)
    except (UserError, OSError) as exc:
        log.error("board_users_unwritable", path=str(settings.users_file), error=str(exc))
    app = create_app(settings, feed, users=users, profiles=dict(profiles),
                     archive=ArchiveReader(archive_path(settings.data_dir)))
    runner = web.AppRunner(app, shutdown_timeout=SHUTDOWN_TIMEOUT)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    await feed.start()
    try:
        await runner.setup()
        await web.TCPSite(runner, settings.board_host, settings.board_port).start()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        log.info("board_started", url=settings.board_url, host=settings.board_host,
                 port=settings.board_port, users_file=str(settings.users_file))
        await stop.wait()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
        await runner.cleanup()
        await feed.stop()
        log.info("board_stopped")
