"""What the board shows: the Now list and the HTML pages, as pure functions of data.

Every value that comes from an incident passes through `html.escape` here; the
browser script adds rows with `textContent` only.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Iterable
from datetime import datetime

from dashboards import i18n
from streams.records import JST, Incident

SEVERITY_RANK = {"critical": 0, "high": 1, "medium": 2, "low": 3}


def _timestamp(rfc3339: str) -> float:
    try:
        return datetime.fromisoformat(rfc3339).timestamp()
    except ValueError:
        return math.inf  # an unreadable time sorts last rather than hiding the incident


def now_list(incidents: Iterable[Incident]) -> list[Incident]:
    """Open incidents, most severe first, then the longest-waiting first (board.js sorts alike)."""
    return sorted(
        (i for i in incidents if i.state not in i18n.ENDED_STATES),
        key=lambda i: (SEVERITY_RANK.get(i.severity, len(SEVERITY_RANK)), _timestamp(i.opened_at)),
    )


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def clock(rfc3339: str) -> str:
    """Opening time in Japan time, to the minute (board.js formats alike)."""
    try:
        return datetime.fromisoformat(rfc3339).astimezone(JST).strftime("%m/%d %H:%M")
    except ValueError:
        return rfc3339


def _page(lang: str, title: str, body: str) -> str:
    return f"""<!doctype html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)} | {_e(i18n.text(lang, "app.name"))}</title>
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/static/board.css">
<script src="/static/board.js" defer></script>
</head>
<body>
{body}
</body>
</html>
"""


def _lang_switch(lang: str, path: str) -> str:
    other = i18n.text(lang, "switch.lang")
    return f'<a class="lang" href="{path}?lang={other}" hreflang="{other}">{_e(i18n.text(lang, "switch.label"))}</a>'


def _row(lang: str, incident: Incident, now: float) -> str:
    t = i18n.text
    severity = incident.severity if incident.severity in SEVERITY_RANK else "unknown"
    drill = f' <span class="drill">{_e(t(lang, "now.drill"))}</span>' if incident.drill else ""
    opened = _timestamp(incident.opened_at)
    since = i18n.elapsed(lang, now - opened) if math.isfinite(opened) else ""
    return (
        f'<tr data-id="{_e(incident.incident_id)}" data-version="{incident.version}" '
        f'data-severity="{_e(incident.severity)}" data-opened="{_e(incident.opened_at)}">'
        f'<td data-label="{_e(t(lang, "col.type"))}">{_e(i18n.label(lang, "type", incident.type))}{drill}</td>'
        f'<td data-label="{_e(t(lang, "col.target"))}">{_e(incident.target)}</td>'
        f'<td data-label="{_e(t(lang, "col.severity"))}"><span class="sev sev-{severity}">'
        f'{_e(i18n.label(lang, "severity", incident.severity))}</span></td>'
        f'<td data-label="{_e(t(lang, "col.state"))}">{_e(i18n.label(lang, "state", incident.state))}</td>'
        f'<td data-label="{_e(t(lang, "col.opened_at"))}"><time datetime="{_e(incident.opened_at)}">'
        f"{_e(clock(incident.opened_at))}</time></td>"
        f'<td data-label="{_e(t(lang, "col.elapsed"))}" class="elapsed">{_e(since)}</td>'
        f'<td data-label="{_e(t(lang, "col.summary"))}" class="summary">{_e(incident.summary)}</td>'
        "</tr>"
    )


def now_page(lang: str, incidents: list[Incident], *, now: float, user: str, csrf: str) -> str:
    """現在の状況: the open incidents, server-rendered so the page works before the script runs."""
    t = i18n.text
    columns = ("type", "target", "severity", "state", "opened_at", "elapsed", "summary")
    head = "".join(f'<th scope="col">{_e(t(lang, "col." + c))}</th>' for c in columns)
    rows = "".join(_row(lang, i, now) for i in incidents)
    # The script reads its words from here: a data attribute, since the CSP forbids inline script.
    labels = json.dumps(i18n.TEXT[lang], ensure_ascii=False)
    body = f"""<header>
<h1>{_e(t(lang, "now.title"))}</h1>
<p id="connection" class="conn" data-state="connecting" role="status">{_e(t(lang, "conn.connecting"))}</p>
<nav>
<span class="user">{_e(user)}</span>
{_lang_switch(lang, "/")}
<form method="post" action="/logout"><input type="hidden" name="csrf" value="{_e(csrf)}"><button type="submit">{_e(t(lang, "logout"))}</button></form>
</nav>
</header>
<main id="now" data-lang="{lang}" data-labels="{_e(labels)}">
<p id="empty"{"" if not incidents else " hidden"}>{_e(t(lang, "now.empty"))}</p>
<table>
<thead><tr>{head}</tr></thead>
<tbody id="incidents">{rows}</tbody>
</table>
</main>"""
    return _page(lang, t(lang, "now.title"), body)


def login_page(lang: str, *, csrf: str, error: str = "", user: str = "") -> str:
    t = i18n.text
    message = f'<p class="error" role="alert">{_e(error)}</p>' if error else ""
    body = f"""<main class="login">
<h1>{_e(t(lang, "app.name"))}</h1>
{message}
<form method="post" action="/login">
<input type="hidden" name="csrf" value="{_e(csrf)}">
<label>{_e(t(lang, "login.user"))}<input name="user" autocomplete="username" required value="{_e(user)}"></label>
<label>{_e(t(lang, "login.password"))}<input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">{_e(t(lang, "login.submit"))}</button>
</form>
<p>{_lang_switch(lang, "/login")}</p>
</main>"""
    return _page(lang, t(lang, "login.title"), body)
