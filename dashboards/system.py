"""The システム状態 (System) page, for admins: each component's health, the last heartbeat per
partition, the consumer lag, the sources, the channels and their circuits, the newest dead letters
and who the watchdog alerted about what.

The other processes are read over HTTP only (the worker's and the sources' /readyz and /metrics,
the watchdog's /status), all at once and each within `TIMEOUT_S`: a process that does not answer
is shown as 応答なし with the URL tried, and the page still comes within a few seconds. What the
board knows itself (the feed, the heartbeats, the dead letters) comes from its own state.

`facts()` is pure (answers and state in, plain data out); `view()` turns facts into the page's
sections in one language, which the server renders as HTML and /api/system sends to board.js,
so the page and its refreshes show the same words.
"""

from __future__ import annotations

import asyncio
import html
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
import structlog
from prometheus_client.parser import text_string_to_metric_families

from dashboards import i18n
from dashboards.pages import Frame, age_text, clock, layout
from dashboards.state import DeadLetterSeen, Heartbeat
from vocabulary.metrics import deadletter_reason
from vocabulary.records import iso

log = structlog.get_logger(__name__)

#: Each process has this long to answer (connecting included).
TIMEOUT_S = 2.0
#: How often the open page asks /api/system again (seconds).
REFRESH_S = 5.0
#: More than this of one answer is not read (a /metrics is tens of KiB).
MAX_BODY = 4 * 1024 * 1024

#: Component states: answering and ready, answering but not ready, not answering, not set up.
OK, NOT_READY, DOWN, OFF = "ok", "not_ready", "down", "off"


# --- reading the other processes ----------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Answer:
    """One HTTP answer, or why there was none (`status` None)."""

    url: str
    status: int | None = None
    body: bytes = b""
    error: str = ""
    timed_out: float | None = None  # seconds waited in vain, when that is why there was none

    @property
    def answered(self) -> bool:
        return self.status is not None

    def json(self) -> dict[str, Any] | None:
        try:
            obj = orjson.loads(self.body) if self.answered else None
        except orjson.JSONDecodeError:
            return None
        return obj if isinstance(obj, dict) else None


@dataclass(frozen=True, slots=True)
class Remote:
    """What the other processes answered, all asked at once."""

    worker_ready: Answer
    worker_metrics: Answer
    sources_ready: Answer
    sources_metrics: Answer
    watchdog: Answer


async def fetch(session: aiohttp.ClientSession, url: str, timeout: float = TIMEOUT_S) -> Answer:
    """GET `url` within `timeout` seconds, whatever happens: an Answer, never an exception."""
    try:
        async with asyncio.timeout(timeout):
            async with session.get(url, allow_redirects=False) as response:
                body = bytearray()
                async for chunk in response.content.iter_chunked(64 * 1024):
                    body += chunk
                    if len(body) > MAX_BODY:
                        return Answer(url, error=f"answer larger than {MAX_BODY:,} bytes")
                return Answer(url, response.status, bytes(body))
    except TimeoutError:
        return Answer(url, error=f"no answer within {timeout:g} s", timed_out=timeout)
    except (aiohttp.ClientError, OSError) as exc:
        return Answer(url, error=str(exc) or type(exc).__name__)


class Reader:
    """The board's HTTP client for the other processes (one connection pool), and what it last
    saw of each component, so that a change is logged once rather than at every refresh."""

    def __init__(self, worker_url: str, sources_url: str, watchdog_url: str, *, timeout: float = TIMEOUT_S) -> None:
        self.worker_url, self.sources_url, self.watchdog_url = worker_url, sources_url, watchdog_url
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None
        self.seen: dict[str, str] = {}  # component → its state at the last look
        self.unreadable: dict[str, str] = {}  # a /metrics URL → why its answer could not be read

    async def read(self) -> Remote:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(headers={"Accept": "application/json, text/plain"})
        urls = (self.worker_url + "/readyz", self.worker_url + "/metrics", self.sources_url + "/readyz",
                self.sources_url + "/metrics", self.watchdog_url + "/status")
        answers = await asyncio.gather(*(fetch(self._session, url, self.timeout) for url in urls))
        return Remote(*answers)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def note(self, facts: Mapping[str, Any]) -> None:
        """Log each component whose state changed since the last look, and each /metrics that became
        unreadable (once per change, not at every refresh)."""
        for url, error in facts["unreadable"].items():
            if self.unreadable.get(url) != error:
                log.warning("system_metrics_unreadable", url=url, error=error)
        self.unreadable = dict(facts["unreadable"])
        for c in facts["components"]:
            before = self.seen.get(c["name"])
            if before == c["state"]:
                continue
            self.seen[c["name"]] = c["state"]
            if c["state"] in (DOWN, NOT_READY):
                log.warning("system_component_unhealthy", component=c["name"], state=c["state"], url=c["url"],
                            detail=c["detail_en"], before=before)
            elif before is not None:
                log.info("system_component_recovered", component=c["name"], state=c["state"], url=c["url"],
                         before=before)


Samples = list[tuple[str, dict[str, str], float]]


def _objects(value: object) -> list[dict[str, Any]]:
    """The JSON objects of a list another process sent (anything else in it, or instead of it, is
    passed over: a wrong shape must not take the page down)."""
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def parse_metrics(answer: Answer, unreadable: dict[str, str]) -> Samples | None:
    """(sample name, labels, value) of a Prometheus text answer; None when there is none to read
    (and why, in `unreadable`, when the process answered something that is not Prometheus text)."""
    if answer.status != 200:
        return None
    try:
        return [(s.name, dict(s.labels), float(s.value))
                for family in text_string_to_metric_families(answer.body.decode("utf-8", "replace"))
                for s in family.samples if math.isfinite(s.value)]  # NaN: a gauge with nothing to say
    except Exception as exc:  # noqa: BLE001 - a process's broken text is shown as unreadable, not a 500
        unreadable[answer.url] = repr(exc)
        return None


def _named(samples: Samples, name: str) -> list[tuple[dict[str, str], float]]:
    return [(labels, value) for n, labels, value in samples if n == name]


# --- the facts ------------------------------------------------------------------------------

def _tried(answer: Answer) -> tuple[str, str]:
    """(ja, en) for an answer that was not a usable one."""
    if answer.timed_out is not None:
        return f"{answer.timed_out:g} 秒以内に応答がありません", answer.error
    if not answer.answered:
        return f"接続できません（{answer.error}）", f"cannot connect ({answer.error})"
    return f"HTTP {answer.status} が返りました", f"answered HTTP {answer.status}"


def _component(name: str, state: str, url: str | None, ja: str, en: str) -> dict[str, Any]:
    return {"name": name, "state": state, "url": url, "detail_ja": ja, "detail_en": en}


def _readiness(name: str, answer: Answer, *, off_when_silent: bool = False) -> dict[str, Any]:
    """A process from its /readyz: ready (200), not ready (503 with the failing checks), or down."""
    body = answer.json()
    if answer.status in (200, 503) and body is not None and isinstance(body.get("ready"), bool):
        if body["ready"]:
            return _component(name, OK, answer.url, "準備完了", "ready")
        failing = [c for c in _objects(body.get("checks")) if not c.get("ok")]
        ja = "、".join(str(c.get("ja") or c.get("name")) for c in failing) or "準備未完了"
        en = "; ".join(str(c.get("en") or c.get("name")) for c in failing) or "not ready"
        return _component(name, NOT_READY, answer.url, ja, en)
    if off_when_silent and not answer.answered:
        return _component(name, OFF, answer.url, "未設定（NOROSHI_SOURCES が空で、応答もありません）",
                          "not set up (NOROSHI_SOURCES is empty and nothing answers)")
    return _component(name, DOWN, answer.url, *_tried(answer))


def _watchdog(answer: Answer) -> tuple[dict[str, Any], dict[str, Any] | None]:
    status = answer.json() if answer.status == 200 else None
    if status is None:
        ja, en = _tried(answer)
        return _component("watchdog", DOWN, answer.url, f"{ja} — 自己監視の通知は送られていません",
                          f"{en} — self-alerts are not being sent"), None
    checked = status.get("checked_at")
    return _component("watchdog", OK, answer.url, f"最終確認 {clock(checked, seconds=True)}",
                      f"last check {clock(checked, seconds=True)}"), status


def _heartbeats(beats: Mapping[int, Heartbeat], expected: Mapping[int, str], since: float | None,
                now: float, late_after: float) -> list[dict[str, Any]]:
    rows = []
    for p in sorted(set(beats) | set(expected)):
        beat = beats.get(p)
        if beat is not None:
            age = max(0.0, now - beat.sent_ts)
            rows.append({"partition": p, "municipality": beat.municipality, "sent_at": beat.sent_at,
                         "detected_at": beat.detected_at, "played_at": beat.played_at, "age_s": round(age, 1),
                         "late": age > late_after, "never": False})
        else:
            age = max(0.0, now - since) if since is not None else 0.0
            rows.append({"partition": p, "municipality": expected[p], "sent_at": None, "detected_at": "",
                         "played_at": "", "age_s": round(age, 1), "late": age > late_after, "never": True})
    return rows


def _lag(samples: Samples | None) -> list[dict[str, Any]] | None:
    if samples is None:
        return None
    rows = [{"group": labels.get("group", ""), "topic": labels.get("topic", ""),
             "partition": int(labels["partition"]) if labels.get("partition", "").isdigit() else labels.get("partition"),
             "lag": int(value)} for labels, value in _named(samples, "noroshi_consumer_lag_messages")]
    return sorted(rows, key=lambda r: (r["group"], r["topic"], str(r["partition"]).zfill(6)))


def _channels(samples: Samples | None) -> list[dict[str, Any]] | None:
    """Each channel's circuit and its deliveries summed per outcome (over the failure codes)."""
    if samples is None:
        return None
    rows: dict[str, dict[str, Any]] = {}

    def row(channel: str) -> dict[str, Any]:
        return rows.setdefault(channel, {"channel": channel, "circuit_open": None,
                                         "delivered": 0, "failed": 0, "possibly_sent": 0, "failures": {}})

    for labels, value in _named(samples, "noroshi_circuit_open"):
        row(labels.get("channel", "?"))["circuit_open"] = value >= 1
    for labels, value in _named(samples, "noroshi_deliveries_total"):
        r, outcome = row(labels.get("channel", "?")), labels.get("outcome", "")
        if outcome in ("delivered", "failed", "possibly_sent"):
            r[outcome] += int(value)
        code = labels.get("code", "none")
        if outcome != "delivered" and code != "none" and value:
            r["failures"][code] = r["failures"].get(code, 0) + int(value)
    return [rows[c] for c in sorted(rows)]


def _sources(ready: Answer, metrics: Samples | None, enabled: Iterable[str]) -> dict[str, Any]:
    body = ready.json() if ready.status in (200, 503) else None
    listed = [s for s in _objects((body or {}).get("sources")) if isinstance(s.get("name"), str)]
    connected = {labels.get("source"): value >= 1 for labels, value in _named(metrics or [], "noroshi_source_connected")}
    ages = {labels.get("source"): value for labels, value in _named(metrics or [], "noroshi_source_last_event_age_seconds")}
    names = list(dict.fromkeys([s["name"] for s in listed] + sorted(k for k in connected if k)))
    by_name = {s["name"]: s for s in listed}
    rows = []
    for name in names:
        s = by_name.get(name, {})
        rows.append({"name": name, "running": s.get("running") if isinstance(s.get("running"), bool) else None,
                     "connected": connected.get(name, s.get("connected") if isinstance(s.get("connected"), bool) else None),
                     "last_event_age_s": round(ages[name], 1) if name in ages else None})
    jma = _named(metrics or [], "noroshi_jma_last_poll_age_seconds")
    return {"answered": body is not None, "configured": list(enabled), "rows": rows,
            "jma_last_poll_age_s": round(jma[0][1], 1) if jma else None}


def _deadletter(letter: DeadLetterSeen, show_raw: bool) -> dict[str, Any]:
    out = {"at": letter.at, "reason": letter.reason, "word": deadletter_reason(letter.reason),
           "topic": letter.topic, "partition": letter.partition, "offset": letter.offset,
           "municipality": letter.municipality, "size": letter.size}
    if show_raw:
        out.update(raw=letter.raw, clipped=letter.clipped)
    return out


@dataclass(frozen=True)
class Own:
    """What the board knows itself."""

    feed_live: bool
    feed_last_fetch: float | None
    feed_error: str
    broker: str  # the servers the feed reads ("": an in-memory feed)
    board_url: str
    streams: int  # browsers on the live feed
    beats: Mapping[int, Heartbeat]
    expected: Mapping[int, str] = field(default_factory=dict)  # partitions in use → municipality
    since: float | None = None  # when the board started waiting for heartbeats
    late_after: float = 180.0
    deadletters: tuple[DeadLetterSeen, ...] = ()
    sources_enabled: tuple[str, ...] = ()


def facts(remote: Remote, own: Own, now: float, *, raw_for: Any = lambda _: False) -> dict[str, Any]:
    """Everything the page shows, as plain data with Japanese and English text; a dead letter's raw
    content only where `raw_for(municipality)` is true (admins who may see it)."""
    unreadable: dict[str, str] = {}
    worker_metrics = parse_metrics(remote.worker_metrics, unreadable)
    sources_metrics = parse_metrics(remote.sources_metrics, unreadable)
    watchdog, status = _watchdog(remote.watchdog)
    last = clock(iso(own.feed_last_fetch), seconds=True) if own.feed_last_fetch is not None else None
    if own.feed_live:  # the board's feed is its client of the broker: answering within its live window
        broker = _component("broker", OK, own.broker or None, "受信中" + (f"（最終受信 {last}）" if last else ""),
                            "fetching" + (f" (last answer {last})" if last else ""))
    else:
        broker = _component("broker", DOWN, own.broker or None,
                            f"ボードがブローカーから受信できていません（最終受信 {last or 'なし'}）: {own.feed_error}",
                            f"the board cannot fetch from the broker (last answer {last or 'never'}): {own.feed_error}")
    components = [
        _component("board", OK, own.board_url, f"このページを表示しています（ライブ画面 {own.streams}）",
                   f"serving this page ({own.streams} live pages)"),
        broker,
        _readiness("worker", remote.worker_ready),
        _readiness("sources", remote.sources_ready, off_when_silent=not own.sources_enabled),
        watchdog,
    ]
    return {
        "checked_at": iso(now),
        "components": components,
        "heartbeats": _heartbeats(own.beats, own.expected, own.since, now, own.late_after),
        "heartbeat_late_s": own.late_after,
        "lag": _lag(worker_metrics),
        "channels": _channels(worker_metrics),
        "sources": _sources(remote.sources_ready, sources_metrics, own.sources_enabled),
        "deadletters": [_deadletter(d, bool(raw_for(d.municipality))) for d in own.deadletters],
        "watchdog": None if status is None else {
            "checked_at": status.get("checked_at"),
            "components": _objects(status.get("components")),
            "conditions": _objects(status.get("conditions")),
            "notifications": [{**n, "recipients": _objects(n.get("recipients"))}
                              for n in _objects(status.get("notifications"))][:50],
            # None: a watchdog too old to say (the page then says nothing of it).
            "recipients": ([str(r) for r in status["recipients"]]
                           if isinstance(status.get("recipients"), list) else None),
            "unroutable": [str(u.get("contact", "")) for u in _objects(status.get("unroutable"))],
        },
        "unreadable": unreadable,
        "urls": {"worker": remote.worker_ready.url.removesuffix("/readyz"),
                 "sources": remote.sources_ready.url.removesuffix("/readyz"),
                 "watchdog": remote.watchdog.url.removesuffix("/status")},
    }


# --- the view: sections of rows of cells, in one language -----------------------------------

def _t(lang: str, key: str, **values: object) -> str:
    return i18n.text(lang, f"system.{key}", **values)


def _cell(text: object, css: str = "") -> dict[str, str]:
    return {"text": "" if text is None else str(text), "css": css}


def _section(lang: str, ident: str, columns: list[str], rows: list[dict[str, Any]], empty: str,
             note: str = "") -> dict[str, Any]:
    return {"id": ident, "title": _t(lang, f"{ident}.title"), "columns": [_t(lang, f"col.{c}") for c in columns],
            "rows": rows, "empty": empty, "note": note}


def _row(cells: list[dict[str, str]], css: str = "") -> dict[str, Any]:
    return {"css": css, "cells": cells}


def _yes_no(lang: str, value: bool | None, yes: str, no: str) -> dict[str, str]:
    if value is None:
        return _cell("—")
    return _cell(_t(lang, yes), "good") if value else _cell(_t(lang, no), "bad")


def _judged(lang: str, f: Mapping[str, Any], name: str) -> dict[str, str]:
    """How the watchdog sees a component from outside (its own /status), and since when."""
    seen = next((c for c in ((f["watchdog"] or {}).get("components") or ())
                 if isinstance(c, dict) and c.get("name") == name), None)
    if seen is None:
        return _cell("—")
    since = _t(lang, "judged.since", t=clock(seen["since"], seconds=True)) if seen.get("since") else ""
    return _cell(i18n.label(lang, "system.state", seen.get("state")) + since,
                 "good" if seen.get("state") == OK else "bad" if seen.get("state") in (DOWN, NOT_READY) else "")


def _components(lang: str, f: Mapping[str, Any]) -> dict[str, Any]:
    text = "detail_ja" if lang == "ja" else "detail_en"
    rows = [_row([_cell(_t(lang, f"component.{c['name']}")), _cell(_t(lang, f"state.{c['state']}"), "state"),
                  _cell(c[text], "detail"), _cell(c["url"] or "—", "url"), _judged(lang, f, c["name"])],
                 f"sys-{c['state']}")
            for c in f["components"]]
    return _section(lang, "components", ["component", "state", "detail", "url", "judged"], rows, "")


def _heartbeat_rows(lang: str, f: Mapping[str, Any]) -> dict[str, Any]:
    rows = []
    for h in f["heartbeats"]:
        age = age_text(lang, h["age_s"])
        when = _t(lang, "heartbeat.never", age=age) if h["never"] else age
        rows.append(_row([_cell(h["partition"]), _cell(h["municipality"]), _cell(when, "age"),
                          _cell(clock(h["sent_at"], seconds=True) if h["sent_at"] else "—"),
                          _cell(clock(h["detected_at"], seconds=True) if h["detected_at"] else "—"),
                          _cell(clock(h["played_at"], seconds=True) if h["played_at"] else "—")],
                         "late" if h["late"] else ""))
    return _section(lang, "heartbeats", ["partition", "municipality", "age", "sent", "detected", "played"], rows,
                    _t(lang, "heartbeats.none"), _t(lang, "heartbeats.note", late=f"{f['heartbeat_late_s']:g}"))


def _unreadable(lang: str, what: str, url: str) -> str:
    return _t(lang, "unreadable", what=_t(lang, f"component.{what}"), url=url)


def _lag_rows(lang: str, f: Mapping[str, Any]) -> dict[str, Any]:
    lag = f["lag"]
    rows = [_row([_cell(r["group"]), _cell(r["topic"]), _cell(r["partition"]), _cell(f"{r['lag']:,}", "number")])
            for r in lag or ()]
    total = sum(r["lag"] for r in lag or ())
    empty = _unreadable(lang, "worker", f["urls"]["worker"] + "/metrics") if lag is None else _t(lang, "lag.none")
    return _section(lang, "lag", ["group", "topic", "partition", "lag"], rows, empty,
                    _t(lang, "lag.total", n=f"{total:,}") if rows else "")


def _source_rows(lang: str, f: Mapping[str, Any]) -> dict[str, Any]:
    s = f["sources"]
    rows = []
    for r in s["rows"]:
        age = r["last_event_age_s"]
        rows.append(_row([_cell(r["name"]), _yes_no(lang, r["running"], "running", "stopped"),
                          _yes_no(lang, r["connected"], "connected", "disconnected"),
                          _cell(age_text(lang, age) if age is not None else _t(lang, "sources.no_event"))],
                         "trouble" if r["running"] is False or r["connected"] is False else ""))
    if rows:
        empty = ""
    elif s["answered"]:
        empty = _t(lang, "sources.none")
    elif not s["configured"]:
        empty = _t(lang, "sources.off")
    else:
        empty = _unreadable(lang, "sources", f["urls"]["sources"] + "/readyz")
    poll = s["jma_last_poll_age_s"]
    note = _t(lang, "sources.jma", age=age_text(lang, poll)) if poll is not None else ""
    return _section(lang, "sources", ["source", "running", "connected", "last_event"], rows, empty, note)


def _channel_rows(lang: str, f: Mapping[str, Any]) -> dict[str, Any]:
    channels = f["channels"]
    rows = []
    for c in channels or ():
        codes = _t(lang, "sep").join(f"{code} {n:,}" for code, n in sorted(c["failures"].items()))
        failed = f"{c['failed']:,}" + (f" ({codes})" if codes else "")
        circuit = (_cell("—") if c["circuit_open"] is None else
                   _cell(_t(lang, "circuit.open"), "bad") if c["circuit_open"] else _cell(_t(lang, "circuit.closed"), "good"))
        rows.append(_row([_cell(c["channel"]), circuit, _cell(f"{c['delivered']:,}", "number"),
                          _cell(failed, "number"), _cell(f"{c['possibly_sent']:,}", "number")],
                         "trouble" if c["circuit_open"] else ""))
    empty = _unreadable(lang, "worker", f["urls"]["worker"] + "/metrics") if channels is None else _t(lang, "channels.none")
    return _section(lang, "channels", ["channel", "circuit", "delivered", "failed", "possibly_sent"], rows, empty)


def _deadletter_rows(lang: str, f: Mapping[str, Any]) -> dict[str, Any]:
    rows = []
    for d in f["deadletters"]:
        word = i18n.label(lang, "system.reason", d["word"])
        where = f"{d['topic']} #{d['partition']} @{d['offset']}"
        if "raw" in d:
            raw = d["raw"] + (" …" + _t(lang, "deadletters.clipped") if d["clipped"] else "")
        else:
            raw = _t(lang, "deadletters.hidden")
        rows.append(_row([_cell(clock(d["at"], seconds=True)), _cell(f"{word} — {d['reason']}", "detail"),
                          _cell(where, "url"), _cell(d["municipality"] or "—"),
                          _cell(_t(lang, "bytes", n=f"{d['size']:,}"), "number"), _cell(raw, "raw")]))
    return _section(lang, "deadletters", ["at", "reason", "origin", "municipality", "size", "content"], rows,
                    _t(lang, "deadletters.none"), _t(lang, "deadletters.note", n=len(rows)))


def _watchdog_rows(lang: str, f: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    w = f["watchdog"]
    down = _t(lang, "watchdog.down", url=f["urls"]["watchdog"] + "/status")
    summary = "summary_ja" if lang == "ja" else "summary_en"
    title = "title_ja" if lang == "ja" else "title_en"
    conditions = [_row([_cell(c.get("key")), _cell(i18n.label(lang, "system.condition", c.get("state"))),
                        _cell(clock(c.get("since"), seconds=True)), _cell(c.get(summary) or c.get("rule"), "detail")],
                       "trouble" if c.get("state") == "firing" else "")
                  for c in (w or {}).get("conditions") or ()]
    sent = []
    for n in (w or {}).get("notifications") or ():
        people = "\n".join(
            f"{r.get('contact')}: {i18n.label(lang, 'system.outcome', r.get('outcome'))}"
            + (f" ({r['error']})" if r.get("error") else "")
            for r in n["recipients"])
        failed = any(r.get("outcome") != "delivered" for r in n["recipients"])
        sent.append(_row([_cell(clock(n.get("at"), seconds=True)), _cell(i18n.label(lang, "system.kind", n.get("kind"))),
                          _cell(n.get(title), "detail"), _cell(people or _t(lang, "sending"), "lines")],
                         f"kind-{n.get('kind')}" + (" trouble" if failed else "")))
    return (_section(lang, "conditions", ["condition", "state", "since", "summary"], conditions,
                     down if w is None else _t(lang, "conditions.none")),
            _section(lang, "notifications", ["at", "kind", "title", "recipients"], sent,
                     down if w is None else _t(lang, "notifications.none")))


def _alerts(lang: str, f: Mapping[str, Any]) -> list[str]:
    """What an admin must not miss, at the top of the page."""
    by_name = {c["name"]: c for c in f["components"]}
    out = []
    if by_name["watchdog"]["state"] != OK:
        out.append(_t(lang, "alert.watchdog", url=by_name["watchdog"]["url"]))
    elif f["watchdog"] is not None and f["watchdog"].get("recipients") == []:
        out.append(_t(lang, "alert.no_recipients"))
    if f["watchdog"] is not None and f["watchdog"].get("unroutable"):
        out.append(_t(lang, "alert.unroutable", contacts=_t(lang, "sep").join(f["watchdog"]["unroutable"])))
    for name in ("broker", "worker", "sources"):
        if by_name[name]["state"] in (DOWN, NOT_READY):
            out.append(_t(lang, f"alert.{by_name[name]['state']}", component=_t(lang, f"component.{name}")))
    late = [h for h in f["heartbeats"] if h["late"]]
    if late:
        out.append(_t(lang, "alert.heartbeat", parts=_t(lang, "sep").join(
            f"{h['partition']} ({h['municipality']})" if h["municipality"] else str(h["partition"]) for h in late)))
    open_circuits = [c["channel"] for c in f["channels"] or () if c["circuit_open"]]
    if open_circuits:
        out.append(_t(lang, "alert.circuit", channels=_t(lang, "sep").join(open_circuits)))
    return out


def view(f: Mapping[str, Any], lang: str) -> dict[str, Any]:
    """The page in `lang`: the line saying when it was checked, the alerts, and the sections."""
    conditions, notifications = _watchdog_rows(lang, f)
    return {"lang": lang, "checked_at": f["checked_at"],
            "updated": _t(lang, "updated", t=clock(f["checked_at"], seconds=True), s=f"{REFRESH_S:g}"),
            "alerts": _alerts(lang, f),
            "sections": [_components(lang, f), _heartbeat_rows(lang, f), _lag_rows(lang, f), _source_rows(lang, f),
                         _channel_rows(lang, f), conditions, notifications, _deadletter_rows(lang, f)]}


# --- HTML -----------------------------------------------------------------------------------

def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _section_html(section: Mapping[str, Any]) -> str:
    columns = section["columns"]
    head = "".join(f'<th scope="col">{_e(c)}</th>' for c in columns)
    body = "".join(
        f'<tr class="{_e(row["css"])}">' + "".join(
            f'<td data-label="{_e(columns[i])}" class="{_e(cell["css"])}">{_e(cell["text"])}</td>'
            for i, cell in enumerate(row["cells"])) + "</tr>"
        for row in section["rows"])
    rows = bool(section["rows"])
    return (f'<section id="sys-{_e(section["id"])}" class="system">'
            f'<h2>{_e(section["title"])}</h2>'
            f'<p class="note"{"" if section["note"] else " hidden"}>{_e(section["note"])}</p>'
            f'<table class="system"{"" if rows else " hidden"}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
            f'<p class="empty"{" hidden" if rows else ""}>{_e(section["empty"])}</p></section>')


def system_page(frame: Frame, page: Mapping[str, Any]) -> str:
    lang = frame.lang
    alerts = "".join(f"<li>{_e(a)}</li>" for a in page["alerts"])
    main = (f'<h1>{_e(_t(lang, "title"))}</h1>'
            f'<p id="system-updated" class="muted">{_e(page["updated"])}</p>'
            f'<div role="alert"><ul id="system-alerts" class="system-alerts"{"" if alerts else " hidden"}>{alerts}</ul></div>'
            + "".join(_section_html(s) for s in page["sections"]))
    return layout(frame, _t(lang, "title"), main, page="system", live=True, labels=True,
                  attrs={"data-refresh": f"{REFRESH_S:g}"})
