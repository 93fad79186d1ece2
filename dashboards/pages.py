"""The board's HTML, as pure functions of data: the frame every page shares (navigation,
the disaster banner, who is signed in, the 監視 heartbeat indicator), sign-in, Now, Outbound, Disaster mode, On call
and Report. The Incident page is in `incident_page`.

Every value that comes from a record passes through `html.escape` here (`_e`); the
browser script adds rows with `textContent` only, and there is no inline script or
style anywhere (the CSP forbids both).
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from dashboards import charts, i18n
from dashboards.report import MonthReport, Times, month_of, shift_month
from dashboards.state import HEARTBEAT_LATE_S, Notice, Watch, parse_time
from dashboards.users import User
from dashboards.views import Delivery, DisasterView, DraftRef, Hold, Queued, RosterView, Who, nobody, subject
from vocabulary.records import Incident
from vocabulary.terms import ALL, INCIDENT_TYPES, JST, SEVERITIES

PAGES = (("now", "/"), ("outbound", "/outbound"), ("disaster", "/disaster"),
         ("oncall", "/oncall"), ("report", "/report"))
#: Pages only admins (広報課) reach: the システム状態 page.
ADMIN_PAGES = (("system", "/system"),)


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def t(lang: str, key: str, **values: object) -> str:
    return i18n.text(lang, key, **values)


def clock(rfc3339: object, *, seconds: bool = False) -> str:
    """A time in Japan time, to the minute (board.js formats alike)."""
    ts = parse_time(rfc3339)
    if ts is None:
        return str(rfc3339 or "")
    return datetime.fromtimestamp(ts, JST).strftime("%m/%d %H:%M:%S" if seconds else "%m/%d %H:%M")


def time_tag(rfc3339: object, *, seconds: bool = False) -> str:
    return f'<time datetime="{_e(rfc3339)}">{_e(clock(rfc3339, seconds=seconds))}</time>'


def severity_badge(lang: str, severity: str) -> str:
    css = severity if severity in SEVERITIES else "unknown"
    return f'<span class="sev sev-{css}">{_e(i18n.label(lang, "severity", severity))}</span>'


def incident_link(lang: str, incident: Incident, text: str | None = None) -> str:
    words = text if text is not None else f"{i18n.label(lang, 'type', incident.type)} {subject(incident)}"
    return f'<a href="/incidents/{_e(incident.incident_id)}">{_e(words)}</a>'


def csrf_field(csrf: str) -> str:
    return f'<input type="hidden" name="csrf" value="{_e(csrf)}">'


# --- the frame ------------------------------------------------------------------------

@dataclass(frozen=True)
class Frame:
    """What every signed-in page needs besides its own content."""

    lang: str
    user: User
    csrf: str
    path: str
    now: float
    query: Mapping[str, str] = field(default_factory=dict)
    disasters: Sequence[Incident] = ()  # active disaster modes the user may see (the banner)
    names: Callable[[str], str] = str  # sign-in name → display name
    who: Who = nobody  # who must take an incident's next step now (対応待ち)
    feed_live: bool = True  # False: the board's data is not live (the 最新ではありません banner)
    last_fetch: float | None = None  # when the broker last answered the board's feed
    notices: Sequence[Notice] = ()  # the workers' notices this user may see (a banner each)
    watch: Watch | None = None  # the pipeline's heartbeat (監視: 正常 · 12秒前); None: not shown
    watch_late: float = HEARTBEAT_LATE_S  # seconds after which the heartbeat is late
    watch_since: float | None = None  # when the board started waiting for heartbeats
    watch_missing: Mapping[int, str] = field(default_factory=dict)  # partitions in use never heard from


def age_text(lang: str, seconds: float) -> str:
    """12秒前 / 4分前 / 2時間前 (board.js says it alike)."""
    s = int(max(0.0, seconds))
    if s < 60:
        return t(lang, "watch.s", n=s)
    if s < 3600:
        return t(lang, "watch.m", n=s // 60)
    return t(lang, "watch.h", n=s // 3600)


def _part(lang: str, partition: int, municipality: str) -> str:
    return t(lang, "watch.part", p=partition, m=municipality) if municipality else t(
        lang, "watch.part_only", p=partition)


def watch_text(lang: str, watch: Watch, sees: Callable[[str], bool] = lambda _: True) -> str:
    """監視: 正常 · 12秒前, 監視: 遅延 · 4分前 — パーティション 1（wako）の心拍が届いていません, 監視: 心拍待ち.
    A municipality is named only to those who may see it (`sees`)."""
    if watch.state == "waiting":
        return t(lang, "watch.waiting")
    head = t(lang, f"watch.{watch.state}", age=age_text(lang, watch.age)) if watch.age is not None \
        else t(lang, "watch.late_never")
    if watch.state != "late":
        return head
    parts = t(lang, "watch.sep").join(_part(lang, p, m if sees(m) else "") for p, m in watch.late)
    return head + t(lang, "watch.missing", parts=parts)


def watch_indicator(frame: Frame) -> str:
    """The header's 監視 indicator; board.js keeps its age ticking from the data attributes
    (and moves it with the stream's `heartbeat` events), so it turns red by itself."""
    if frame.watch is None:
        return ""
    lang, watch, sees = frame.lang, frame.watch, frame.user.sees
    beats = [{"p": b.partition, "at": b.sent_at, "m": b.municipality if sees(b.municipality) else ""}
             for b in watch.beats]
    missing = [{"p": p, "m": m if sees(m) else ""} for p, m in sorted(frame.watch_missing.items())]
    words = {k: v for k, v in i18n.TEXT[lang].items() if k.startswith("watch.")}
    since = "" if frame.watch_since is None else datetime.fromtimestamp(frame.watch_since, JST).isoformat()
    attrs = {"data-state": watch.state, "data-late-after": f"{frame.watch_late:g}",
             "data-beats": json.dumps(beats), "data-missing": json.dumps(missing), "data-since": since,
             "data-words": json.dumps(words, ensure_ascii=False)}
    title = t(lang, "watch.title", late=f"{frame.watch_late:g}")
    return (f'<p id="watch" class="watch" role="status" title="{_e(title)}"'
            + "".join(f' {k}="{_e(v)}"' for k, v in attrs.items())
            + f'>{_e(watch_text(lang, watch, sees))}</p>')


def _lang_href(lang: str, path: str, query: Mapping[str, str]) -> str:
    other = i18n.text(lang, "switch.lang")
    params = {k: v for k, v in query.items() if k != "lang"}
    params["lang"] = other
    return f"{path}?{urlencode(params)}"


def _lang_switch(lang: str, path: str, query: Mapping[str, str] | None = None) -> str:
    other = i18n.text(lang, "switch.lang")
    return (f'<a class="lang" href="{_e(_lang_href(lang, path, query or {}))}" hreflang="{other}">'
            f'{_e(t(lang, "switch.label"))}</a>')


def _document(lang: str, title: str, body: str, *, page: str) -> str:
    return f"""<!doctype html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)} | {_e(t(lang, "app.name"))}</title>
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/static/board.css">
<script src="/static/board.js" defer></script>
</head>
<body data-page="{_e(page)}">
{body}
</body>
</html>
"""


def disaster_banner(lang: str, disasters: Sequence[Incident]) -> str:
    """災害モード中 with its hashtags; 訓練 when every one of them is a drill, and beside each that is.
    Not an ARIA alert: board.js announces disaster mode as it starts, not on every page drawn."""
    drill = t(lang, "banner.drill")
    tags = "、".join(f"#{d.target}" + (f"（{drill}）" if d.drill else "") for d in disasters)
    hidden = "" if disasters else " hidden"
    drill_hidden = "" if disasters and all(d.drill for d in disasters) else " hidden"
    return (f'<div id="disaster-banner" class="banner"{hidden}>'
            f'<strong>{_e(t(lang, "banner.disaster"))}</strong> '
            f'<span class="drill"{drill_hidden}>{_e(drill)}</span> '
            f'<span class="tags">{_e(tags)}</span> '
            f'<span class="detail">{_e(t(lang, "banner.disaster_detail"))}</span> '
            f'<a href="/disaster">{_e(t(lang, "nav.disaster"))} →</a></div>')


def stale_banner(lang: str, live: bool, last_fetch: float | None) -> str:
    """最新ではありません: always in the page (hidden while live), so the live script can show it
    when the stream says the feed went stale or the stream itself is lost."""
    when = (t(lang, "stale.since", t=datetime.fromtimestamp(last_fetch, JST).strftime("%m/%d %H:%M:%S"))
            if last_fetch is not None else t(lang, "stale.never"))
    hidden = " hidden" if live else ""
    return (f'<div id="stale-banner" class="banner banner-stale" role="alert"{hidden}>'
            f'<strong>{_e(t(lang, "stale.title"))}</strong> '
            f'<span class="detail">{_e(t(lang, "stale.feed"))}</span> '
            f'<span class="since">{_e(when)}</span></div>')


#: Banners whose id a script or test already looks for; the others are `notice-<kind>-<municipality>`.
NOTICE_IDS = {("broker_log_lost", ALL): "broker-lost-banner"}


def notice_banners(lang: str, notices: Sequence[Notice]) -> str:
    """A worker's notice (ブローカーのデータが失われました, 検知器の状態の削減 …): shown from the
    notice on, on every page of those it concerns; the words are `notice.<kind>[.at|.detail]`."""
    out = []
    for n in notices:
        title = f"notice.{n.kind}.reset" if n.reset else f"notice.{n.kind}"
        at = t(lang, f"notice.{n.kind}.at", t=clock(n.at, seconds=True), where=f"{n.topic}:{n.partition}",
               municipality=n.municipality)
        ident = NOTICE_IDS.get((n.kind, n.municipality), f"notice-{n.kind}-{n.municipality}")
        out.append(f'<div id="{_e(ident)}" class="banner banner-notice" role="alert" data-notice="{_e(n.kind)}" '
                   f'data-municipality="{_e(n.municipality)}">'
                   f'<strong>{_e(t(lang, title))}</strong> '
                   f'<span class="since">{_e(at)}</span> '
                   f'<span class="detail">{_e(t(lang, f"notice.{n.kind}.detail"))}</span></div>')
    return "\n".join(out)


def live_regions(lang: str) -> str:
    """Where board.js says what changed, for screen readers: politely (a new incident), or at once
    (disaster mode has started). Empty in the page as drawn, so nothing is read out on load; and
    the note that the page has news it holds back while someone is typing in one of its forms."""
    return (f'<div id="announce" class="sr-only" role="status" aria-live="polite" '
            f'aria-label="{_e(t(lang, "announce.label"))}"></div>'
            f'<div id="announce-urgent" class="sr-only" role="alert" aria-live="assertive"></div>'
            f'<p id="update-note" class="flash flash-pending" hidden>{_e(t(lang, "live.pending"))} '
            f'<button type="button" id="update-apply">{_e(t(lang, "live.apply"))}</button></p>')


def layout(frame: Frame, title: str, main: str, *, page: str, live: bool = True,
           labels: bool = True, attrs: Mapping[str, str] | None = None) -> str:
    """Every signed-in page: live (board.js follows the stream, keeps the banners and the page's own
    content current in place) unless `live` is False; `labels` gives the script the words."""
    lang, user = frame.lang, frame.user
    current = ' aria-current="page"'
    nav = "".join(
        f'<a href="{href}"{current if name == page else ""}>{_e(t(lang, "nav." + name))}</a>'
        for name, href in PAGES + (ADMIN_PAGES if user.role == "admin" else ()))
    scope = t(lang, "scope.all") if user.municipality == ALL else user.municipality
    connection = (f'<p id="connection" class="conn" data-state="connecting" role="status">'
                  f'{_e(t(lang, "conn.connecting"))}</p>') if live else ""
    data = ""
    if labels:
        # ASCII (\uXXXX): the words are data for the script, not the page's text to find by searching it.
        words = json.dumps(i18n.TEXT[lang])
        data = f' data-lang="{lang}" data-labels="{_e(words)}" data-scope="{_e(user.municipality)}"'
    data += "".join(f' {name}="{_e(value)}"' for name, value in (attrs or {}).items())
    body = f"""<a class="skip" href="#{_e(page)}">{_e(t(lang, "skip.main"))}</a>
<header class="top">
<a class="brand" href="/">{_e(t(lang, "app.name"))}</a>
{connection}
{watch_indicator(frame)}
<div class="who">
<span class="user">{_e(user.display_name)} <small>{_e(i18n.label(lang, "role", user.role))} · {_e(scope)}</small></span>
{_lang_switch(lang, frame.path, frame.query)}
<form method="post" action="/logout">{csrf_field(frame.csrf)}<button type="submit">{_e(t(lang, "logout"))}</button></form>
</div>
<nav aria-label="{_e(t(lang, "nav.label"))}">{nav}</nav>
</header>
{stale_banner(lang, frame.feed_live, frame.last_fetch)}
{notice_banners(lang, frame.notices)}
{disaster_banner(lang, frame.disasters)}
{live_regions(lang) if live else ""}
<main id="{_e(page)}" class="page-{_e(page)}" tabindex="-1"{data}>
{main}
</main>"""
    return _document(lang, title, body, page=page)


def login_page(lang: str, *, csrf: str, error: str = "", user: str = "") -> str:
    message = f'<p class="error" role="alert">{_e(error)}</p>' if error else ""
    body = f"""<main class="login">
<h1>{_e(t(lang, "app.name"))}</h1>
{message}
<form method="post" action="/login">
{csrf_field(csrf)}
<label>{_e(t(lang, "login.user"))}<input name="user" autocomplete="username" autocapitalize="none" required value="{_e(user)}"></label>
<label>{_e(t(lang, "login.password"))}<input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit" class="primary">{_e(t(lang, "login.submit"))}</button>
</form>
<p>{_lang_switch(lang, "/login")}</p>
</main>"""
    return _document(lang, t(lang, "login.title"), body, page="login")


def message_page(frame: Frame, title: str, message: str, *, todo: str = "", back: str = "/",
                 back_label: str = "") -> str:
    advice = f'<p class="todo">{_e(todo)}</p>' if todo else ""
    main = (f'<h1>{_e(title)}</h1><p class="error" role="alert">{_e(message)}</p>{advice}'
            f'<p><a href="{_e(back)}">{_e(back_label or t(frame.lang, "incident.back"))}</a></p>')
    return layout(frame, title, main, page="message")


# --- Now --------------------------------------------------------------------------------

def ack_cell(lang: str, row: Mapping[str, Any], now: float) -> str:
    if row.get("acknowledged_by"):
        return t(lang, "ack.done", name=row["acknowledged_by"])
    due = parse_time(row.get("ack_due"))
    if due is None:
        return t(lang, "ack.none")
    left = due - now
    return t(lang, "ack.left" if left >= 0 else "ack.over", t=i18n.countdown(lang, left))


def awaiting_html(lang: str, row: Mapping[str, Any]) -> str:
    """対応待ち: the step, and under it who must take it now (board.js draws it alike)."""
    if not row.get("awaiting"):
        return _e(t(lang, "awaiting.none"))
    step = _e(i18n.label(lang, "action", row["awaiting"]))
    role = row.get("awaiting_role")
    if not role:
        return step
    people = row.get("awaiting_people") or []
    who = (t(lang, "awaiting.who", role=i18n.label(lang, "contact.role", role), people=t(lang, "list.sep").join(people))
           if people else t(lang, "awaiting.nobody", role=i18n.label(lang, "contact.role", role)))
    return f'<span>{step}<br><small class="who">{_e(who)}</small></span>'  # one box in a phone's card


def now_row(lang: str, row: Mapping[str, Any], now: float, *, show_municipality: bool) -> str:
    opened = parse_time(row["opened_at"])
    since = i18n.elapsed(lang, now - opened) if opened is not None else ""
    due = parse_time(row.get("ack_due"))
    overdue = " overdue" if due is not None and not row.get("acknowledged_by") and due < now else ""
    drill = f' <span class="drill">{_e(t(lang, "now.drill"))}</span>' if row.get("drill") else ""
    muni = f'<small class="muni">{_e(row["municipality"])}</small> ' if show_municipality else ""
    spark = charts.sparkline(row.get("volume") or [], label=t(lang, "col.volume"))

    def cell(column: str, content: str, css: str = "") -> str:
        klass = f' class="{css}"' if css else ""
        return f'<td data-label="{_e(t(lang, "col." + column))}"{klass}>{content}</td>'

    return (
        f'<tr data-id="{_e(row["incident_id"])}" data-version="{_e(row["version"])}" '
        f'data-severity="{_e(row["severity"])}" data-opened="{_e(row["opened_at"])}" '
        f'data-ack-due="{_e(row.get("ack_due") or "")}" data-ack-by="{_e(row.get("acknowledged_by") or "")}">'
        + cell("severity", severity_badge(lang, row["severity"]), "sev-cell")
        + cell("type", f'<a class="open" href="/incidents/{_e(row["incident_id"])}">'
                       f'{_e(i18n.label(lang, "type", row["type"]))}</a>{drill}', "type")
        + cell("target", muni + _e(row["target"]), "target")
        + cell("state", _e(i18n.label(lang, "state", row["state"])), "state")
        + cell("awaiting", awaiting_html(lang, row), "awaiting")
        + cell("elapsed", _e(since), "elapsed")
        + cell("ack_due", _e(ack_cell(lang, row, now)), "ack" + overdue)
        + cell("volume", spark, "volume")
        + cell("summary", _e(row["summary"]), "summary")
        + "</tr>"
    )


NOW_COLUMNS = ("severity", "type", "target", "state", "awaiting", "elapsed", "ack_due", "volume", "summary")


def now_page(frame: Frame, rows: list[Mapping[str, Any]]) -> str:
    """現在の状況: the open incidents, server-rendered so the page works before the script runs."""
    lang = frame.lang
    head = "".join(f'<th scope="col">{_e(t(lang, "col." + c))}</th>' for c in NOW_COLUMNS)
    multi = frame.user.municipality == ALL
    body = "".join(now_row(lang, r, frame.now, show_municipality=multi) for r in rows)
    main = f"""<h1>{_e(t(lang, "now.title"))}</h1>
<p id="empty" class="empty"{"" if not rows else " hidden"}>{_e(t(lang, "now.empty"))}</p>
<table class="incidents" data-multi="{str(multi).lower()}">
<thead><tr>{head}</tr></thead>
<tbody id="incidents">{body}</tbody>
</table>"""
    return layout(frame, t(lang, "now.title"), main, page="now", live=True, labels=True)


# --- Outbound ---------------------------------------------------------------------------

def _excerpt(text: object, limit: int = 80) -> str:
    s = str(text or "")
    return s if len(s) <= limit else s[:limit] + "…"


def _table(lang: str, columns: Sequence[str], rows: Iterable[Sequence[str]], *, css: str = "") -> str:
    """A table whose cells are already HTML; each cell is labelled for the phone layout."""
    body = "".join(
        "<tr>" + "".join(f'<td data-label="{_e(c)}">{v}</td>' for c, v in zip(columns, row)) + "</tr>"
        for row in rows)
    if not body:
        return f'<p class="empty">{_e(t(lang, "outbound.none"))}</p>'
    head = "".join(f'<th scope="col">{_e(c)}</th>' for c in columns)
    klass = f' class="{css}"' if css else ""
    return f"<table{klass}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def posted_to(lang: str, deliveries: Sequence[Delivery]) -> str:
    """発信先: each account with what became of the post there; a dry run says 未投稿 plainly."""
    if not deliveries:
        return f'<span class="muted">{_e(t(lang, "post.pending"))}</span>'
    lines = []
    for d in deliveries:
        account = f'{_e(i18n.label(lang, "platform", d.platform))} @{_e(d.handle)}'
        outcome = _e(t(lang, "post." + d.outcome))
        if d.outcome == "posted" and d.url:
            outcome = f'<a href="{_e(d.url)}" rel="noopener noreferrer">{outcome}</a>'
        css = {"dry_run": "dry-run", "failed": "trouble", "possibly_sent": "trouble"}.get(d.outcome, "")
        lines.append(f'<span class="delivery {css}">{account} · {outcome}</span>')
    return "<br>".join(lines)


def outbound_page(frame: Frame, *, waiting: list[DraftRef], holds: list[Hold], queued: list[Queued],
                  posted: list[DraftRef]) -> str:
    lang = frame.lang

    def kind(d: Mapping[str, Any]) -> str:
        return _e(i18n.label(lang, "draft.kind", d.get("kind")))

    def who(person: object) -> str:
        return _e(frame.names(str(person.get("name", ""))) if isinstance(person, Mapping) else "")

    waiting_rows = [(incident_link(lang, r.incident), kind(r.draft),
                     _e(i18n.label(lang, "draft.status", r.draft.get("status"))), who(r.draft.get("drafter")),
                     time_tag(r.draft.get("at")), _e(_excerpt((r.draft.get("texts") or {}).get("ja"))))
                    for r in waiting]
    hold_rows = [(f"@{_e(h.handle)} <small>{_e(h.platform)}</small>", incident_link(lang, h.incident),
                  time_tag(h.at), _e(h.reason)) for h in holds]
    queued_rows = [(incident_link(lang, q.incident), kind(q.draft),
                    who({"name": (q.draft.get("approval") or {}).get("approver", "")}),
                    time_tag(q.until) if q.until else "—", _e(_excerpt((q.draft.get("texts") or {}).get("ja"))))
                   for q in queued]
    posted_rows = [(time_tag(r.draft.get("posted_at")), incident_link(lang, r.incident) + _drill_badge(lang, r.incident),
                    kind(r.draft), posted_to(lang, r.deliveries),
                    who({"name": (r.draft.get("approval") or {}).get("approver", "")}),
                    _e(_excerpt((r.draft.get("texts") or {}).get("ja"))))
                   for r in posted]
    col = {k: t(lang, k) for k in ("incident.title", "form.kind", "disaster.status", "draft.by",
                                   "timeline.when", "form.text_ja", "draft.approved_by", "form.reason")}
    main = f"""<h1>{_e(t(lang, "outbound.title"))}</h1>
<section><h2>{_e(t(lang, "outbound.drafts"))} <span class="count">{len(waiting)}</span></h2>
{_table(lang, [col["incident.title"], col["form.kind"], col["disaster.status"], col["draft.by"], col["timeline.when"], col["form.text_ja"]], waiting_rows)}</section>
<section><h2>{_e(t(lang, "outbound.holds"))} <span class="count">{len(holds)}</span></h2>
{_table(lang, [t(lang, "col.target"), col["incident.title"], col["timeline.when"], col["form.reason"]], hold_rows)}</section>
<section><h2>{_e(t(lang, "outbound.queued"))} <span class="count">{len(queued)}</span></h2>
{_table(lang, [col["incident.title"], col["form.kind"], col["draft.approved_by"], t(lang, "deadline.business_open"), col["form.text_ja"]], queued_rows)}</section>
<section><h2>{_e(t(lang, "outbound.posted"))}</h2>
{_table(lang, [col["timeline.when"], col["incident.title"], col["form.kind"], t(lang, "outbound.to"), col["draft.approved_by"], col["form.text_ja"]], posted_rows, css="posts-table")}</section>"""
    return layout(frame, t(lang, "outbound.title"), main, page="outbound")


# --- Disaster mode ----------------------------------------------------------------------

def _metric(m: Mapping[str, Any], key: str) -> str:
    value = m.get(key)
    return _e(value) if isinstance(value, int | float) and not isinstance(value, bool) else "—"


def _drill_badge(lang: str, incident: Incident) -> str:
    return f' <span class="drill">{_e(t(lang, "now.drill"))}</span>' if incident.drill else ""


def disaster_page(frame: Frame, views: list[DisasterView], flash: str = "") -> str:
    lang = frame.lang
    if not views:
        main = f'<h1>{_e(t(lang, "disaster.title"))}</h1>{flash}<p class="empty">{_e(t(lang, "disaster.off"))}</p>'
        return layout(frame, t(lang, "disaster.title"), main, page="disaster")
    volume_rows = []
    for v in views:
        m = v.incident.metrics
        baseline = m.get("baseline_per_window")
        volume_rows.append((
            f'<a href="#d-{_e(v.incident.incident_id)}">#{_e(v.incident.target)}</a>{_drill_badge(lang, v.incident)}',
            _e(i18n.label(lang, "state", v.incident.state)),
            _metric(m, "posts"), _metric(m, "authors"),
            _e(round(baseline, 1)) if isinstance(baseline, int | float) else "—",
            charts.sparkline([p for _, p in v.points][-30:], label=t(lang, "col.volume"))))
    sections = []
    for v in views:
        i = v.incident
        alerts = [a for a in i.metrics.get("alerts") or () if isinstance(a, (str, dict))]
        alert_items = "".join(
            f"<li>{_e(a if isinstance(a, str) else a.get('title') or a.get('id') or '')}</li>" for a in alerts)
        rows = []
        for r in v.rescues:
            done = v.handled.get(r["request_id"])
            if done:
                status = f'<span class="ok">{_e(t(lang, "rescue.handled", name=done.get("by", "")))}</span>'
            elif v.may_handle:
                status = (f'<span class="open">{_e(t(lang, "rescue.open"))}</span>'
                          f'<form method="post" action="/incidents/{_e(i.incident_id)}/actions" class="inline">'
                          f'{csrf_field(frame.csrf)}<input type="hidden" name="action" value="rescue_handled">'
                          f'<input type="hidden" name="request_id" value="{_e(r["request_id"])}">'
                          f'<input type="hidden" name="back" value="disaster">'
                          f'<button type="submit">{_e(t(lang, "action.rescue_handled"))}</button></form>')
            else:
                status = f'<span class="open">{_e(t(lang, "rescue.open"))}</span>'
            copies = f' <small>{_e(t(lang, "disaster.copies", n=r["copies"]))}</small>' if r.get("copies") else ""
            rows.append((time_tag(r.get("at")), f"<strong>{_e(r.get('place') or '—')}</strong>",
                         _e(i18n.label(lang, "rescue.kind", r.get("kind") or "help")),
                         f"<span>{_e(r.get('text'))}{copies}</span>", f"<span>{status}</span>"))
        rescue_table = _table(lang, [t(lang, "timeline.when"), t(lang, "disaster.place"), t(lang, "form.kind"),
                                     t(lang, "disaster.text"), t(lang, "disaster.status")],
                              rows, css="rescues") if rows else f'<p class="empty">{_e(t(lang, "disaster.rescues_none"))}</p>'
        open_count = sum(1 for r in v.rescues if r["request_id"] not in v.handled)
        sections.append(f"""<section id="d-{_e(i.incident_id)}" class="disaster">
<h2>#{_e(i.target)}{_drill_badge(lang, i)} {severity_badge(lang, i.severity)} <small>{incident_link(lang, i, i18n.label(lang, "state", i.state))}</small></h2>
<p class="summary">{_e(i.summary)}</p>
{f'<h3>{_e(t(lang, "disaster.alerts"))}</h3><ul class="alerts">{alert_items}</ul>' if alert_items else ""}
<h3>{_e(t(lang, "disaster.rescues"))} <span class="count">{open_count} / {len(v.rescues)}</span></h3>
{rescue_table}
{f'<h3>{_e(t(lang, "chart.volume"))}</h3>' if v.points else ""}
{charts.line_chart(v.points, title=t(lang, "chart.volume"), empty="") if v.points else ""}
</section>""")
    main = f"""<h1>{_e(t(lang, "disaster.title"))}</h1>
{flash}
<section><h2>{_e(t(lang, "disaster.hashtags"))}</h2>
{_table(lang, [t(lang, "col.target"), t(lang, "col.state"), t(lang, "disaster.posts"), t(lang, "disaster.authors"), t(lang, "disaster.baseline"), t(lang, "col.volume")], volume_rows)}
</section>
{"".join(sections)}"""
    return layout(frame, t(lang, "disaster.title"), main, page="disaster")


# --- On call ----------------------------------------------------------------------------

def oncall_page(frame: Frame, rosters: list[RosterView]) -> str:
    lang = frame.lang
    sections = []
    for r in rosters:
        if r.error:
            sections.append(f'<section><h2>{_e(r.name)}</h2><p class="error">{_e(r.error)}</p></section>')
            continue
        hours = (t(lang, "oncall.business_open") if r.business_open else
                 t(lang, "oncall.business_closed", t=datetime.fromtimestamp(r.next_open or 0, JST).strftime("%m/%d %H:%M")))
        normal = "、".join(r.normal_now) or t(lang, "oncall.nobody")
        urgent = "、".join(r.urgent_now) or t(lang, "oncall.nobody")
        groups = []
        for level in (1, 2, 3, 0):
            people = [c for c in r.contacts if c.level == level]
            if not people:
                continue
            rows = []
            for c in people:
                quiet = "—"
                if c.quiet_hours:
                    quiet = _e(t(lang, "oncall.quiet_hours", s=c.quiet_hours[0], e=c.quiet_hours[1]))
                    if c.quiet_now:
                        quiet += f' <span class="muted">{_e(t(lang, "oncall.quiet_now"))}</span>'
                channels = "<br>".join(_e(ch) for ch in c.channels) or _e(t(lang, "oncall.board_only"))
                rows.append((f"<strong>{_e(c.name)}</strong>", _e(i18n.label(lang, "contact.role", c.role)),
                             channels, quiet))
            groups.append(f'<h3>{_e(t(lang, f"oncall.level.{level}"))}</h3>'
                          + _table(lang, [t(lang, "oncall.name"), t(lang, "oncall.role"),
                                          t(lang, "oncall.channels"), t(lang, "oncall.quiet")], rows, css="fixed"))
        acked = "".join(f"<li>{incident_link(lang, i)} — {_e(frame.names(str(i.metrics.get('acknowledged_by') or '')))}</li>"
                        for i in r.acknowledged)
        sections.append(f"""<section class="roster">
<h2>{_e(r.name)} <small>{_e(r.municipality)}</small></h2>
<p class="hours">{_e(hours)}</p>
<div class="duty">
<h3>{_e(t(lang, "oncall.now"))}</h3>
<dl><dt>{_e(t(lang, "oncall.now_normal"))}</dt><dd class="on-duty">{_e(normal)}</dd>
<dt>{_e(t(lang, "oncall.now_urgent"))}</dt><dd class="on-duty">{_e(urgent)}</dd></dl>
</div>
{"".join(groups)}
{f'<h3>{_e(t(lang, "oncall.acknowledged"))}</h3><ul>{acked}</ul>' if acked else ""}
</section>""")
    if not sections:
        sections.append(f'<p class="empty">{_e(t(lang, "oncall.no_profile"))}</p>')
    main = f'<h1>{_e(t(lang, "oncall.title"))}</h1>' + "".join(sections)
    return layout(frame, t(lang, "oncall.title"), main, page="oncall")


# --- Report -----------------------------------------------------------------------------

def _times_cells(lang: str, times: Times) -> tuple[str, str]:
    return _e(i18n.duration(lang, times.mean_s)), _e(i18n.duration(lang, times.median_s))


#: How many months back the report's month list goes (any month can still be asked for by URL).
REPORT_MONTHS = 24


def report_page(frame: Frame, report: MonthReport) -> str:
    lang = frame.lang
    month = report.month
    types = [r for r in report.rows if r.incidents or r.type in INCIDENT_TYPES]
    count_rows = [(_e(i18n.label(lang, "type", r.type)), _e(r.incidents), _e(r.false_positives), _e(r.still_open),
                   *_times_cells(lang, r.ack), *_times_cells(lang, r.resolve)) for r in types]
    count_rows.append((f"<strong>{_e(t(lang, 'report.total'))}</strong>", f"<strong>{report.total}</strong>",
                       _e(sum(r.false_positives for r in types)), _e(sum(r.still_open for r in types)),
                       *_times_cells(lang, report.ack), *_times_cells(lang, report.resolve)))
    columns = [t(lang, "col.type"), t(lang, "report.incidents"), t(lang, "report.false_positives"),
               t(lang, "report.open_now"), t(lang, "report.ack_mean"), t(lang, "report.ack_median"),
               t(lang, "report.resolve_mean"), t(lang, "report.resolve_median")]

    def minutes(times: Times) -> float | None:
        return None if times.mean_s is None else times.mean_s / 60

    def figure(title: str, svg: str) -> str:
        return f"<figure><figcaption>{_e(title)}</figcaption>{svg}</figure>"

    by_type = charts.bar_chart([(i18n.label(lang, "type", r.type), float(r.incidents), f"type-{r.type}") for r in types],
                               title=t(lang, "report.by_type"), empty=t(lang, "report.none"),
                               value_label=lambda v: str(int(v)))
    ack = charts.bar_chart([(i18n.label(lang, "type", r.type), minutes(r.ack), f"type-{r.type}") for r in types],
                           title=t(lang, "report.ack_mean"), empty=t(lang, "chart.nodata"),
                           value_label=lambda v: i18n.duration(lang, v * 60))
    resolve = charts.bar_chart([(i18n.label(lang, "type", r.type), minutes(r.resolve), f"type-{r.type}") for r in types],
                               title=t(lang, "report.resolve_mean"), empty=t(lang, "chart.nodata"),
                               value_label=lambda v: i18n.duration(lang, v * 60))
    week = len(report.week_flames)
    week_items = "".join(f"<li>{_e(s.target)} — {_e(clock(s.opened_at))}</li>" for s in report.week_flames)
    prev, nxt = shift_month(month, -1), shift_month(month, 1)
    latest = month_of(frame.now)
    months = sorted({month, *(shift_month(latest, -k) for k in range(REPORT_MONTHS))}, reverse=True)
    options = "".join(f'<option value="{_e(m)}"{" selected" if m == month else ""}>{_e(i18n.month(lang, m))}</option>'
                      for m in months)
    main = f"""<h1>{_e(t(lang, "report.title"))} <span class="month">{_e(i18n.month(lang, month))}</span></h1>
<form method="get" action="/report" class="month-picker">
<label>{_e(t(lang, "report.month"))} <select name="month">{options}</select></label>
<button type="submit">{_e(t(lang, "report.show"))}</button>
<span class="months"><a href="/report?month={_e(prev)}" rel="prev">← {_e(i18n.month(lang, prev))}</a> <a href="/report?month={_e(nxt)}" rel="next">{_e(i18n.month(lang, nxt))} →</a></span>
</form>
<p class="muted">{_e(t(lang, "report.basis"))}</p>
<div class="figures">
<div class="figure"><span class="label">{_e(t(lang, "report.incidents"))}</span><span class="value">{report.total}</span></div>
<div class="figure {"bad" if week else "good"}"><span class="label">{_e(t(lang, "report.week_flames"))}</span><span class="value">{week}</span><span class="note">{_e(t(lang, "report.target_zero"))}</span></div>
<div class="figure"><span class="label">{_e(t(lang, "report.response"))}</span><span class="value">{_e(i18n.duration(lang, report.response.mean_s))}</span><span class="note">{_e(t(lang, "report.count"))} {report.response.count}</span></div>
<div class="figure"><span class="label">{_e(t(lang, "report.ack_mean"))}</span><span class="value">{_e(i18n.duration(lang, report.ack.mean_s))}</span></div>
<div class="figure"><span class="label">{_e(t(lang, "report.resolve_mean"))}</span><span class="value">{_e(i18n.duration(lang, report.resolve.mean_s))}</span></div>
<div class="figure"><span class="label">{_e(t(lang, "report.drills"))}</span><span class="value">{report.drills}</span></div>
</div>
{f'<ul class="week-flames">{week_items}</ul>' if week_items else ""}
<section><h2>{_e(t(lang, "report.by_type"))}</h2>
<div class="charts">{figure(t(lang, "report.by_type"), by_type)}{figure(t(lang, "report.ack_mean"), ack)}{figure(t(lang, "report.resolve_mean"), resolve)}</div>
<div class="scroll" tabindex="0" role="region" aria-label="{_e(t(lang, "report.by_type"))}">{_table(lang, columns, count_rows, css="report")}</div>
</section>
{_drill_section(lang, report, columns)}
<p><a class="button" href="/report/timeline.csv?month={_e(month)}" download>{_e(t(lang, "report.csv"))}</a></p>"""
    return layout(frame, t(lang, "report.title"), main, page="report")


def _drill_section(lang: str, report: MonthReport, columns: Sequence[str]) -> str:
    """訓練の記録: the month's drills by type, apart from the figures (which leave them out), so a
    month of drills alone — the demo's — still shows what the report measures."""
    if not report.drill_rows:
        return ""
    rows = [(_e(i18n.label(lang, "type", r.type)), _e(r.incidents), _e(r.false_positives), _e(r.still_open),
             *_times_cells(lang, r.ack), *_times_cells(lang, r.resolve)) for r in report.drill_rows]
    alone = f'<p class="note">{_e(t(lang, "report.drills_only"))}</p>' if not report.total else ""
    return (f'<section class="drills"><h2>{_e(t(lang, "report.drill_section"))} '
            f'<span class="drill">{_e(t(lang, "now.drill"))}</span></h2>{alone}'
            f'<p class="muted">{_e(t(lang, "report.drill_basis", n=report.drills))} '
            f'{_e(t(lang, "report.response"))}: {_e(i18n.duration(lang, report.drill_response.mean_s))}</p>'
            f'<div class="scroll" tabindex="0" role="region" aria-label="{_e(t(lang, "report.drill_section"))}">'
            f'{_table(lang, columns, rows, css="report")}</div></section>')

