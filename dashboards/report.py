"""The monthly report (報告) the guidelines ask for, and the timeline as CSV for records.

Figures per month, by the month an incident opened (Japan time), drills apart:
incidents by type, false positives, time to acknowledge and to resolve, flame-ups
that lasted a week or more (目標 0件), and the average response time — from
detection to the first post the city published on it. Pure.

The figures and the CSV are read from the archive (`dashboards.archive`), which keeps every
incident version and timeline entry however long ago it was published; `ArchiveNote` says on
the page how far the archive has got (監査記録の保存: N 件遅れ) or that it is missing.
"""

from __future__ import annotations

import csv
import html
import io
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

import orjson

from dashboards.state import BoardState, Summary, actor_name, parse_time
from vocabulary.records import Incident, TimelineEntry
from vocabulary.terms import ALL, INCIDENT_TYPES, JST

WEEK_S = 7 * 24 * 3600
CSV_COLUMNS = ("at", "incident_id", "municipality", "actor_kind", "actor_name", "actor_display_name",
               "actor_role", "action", "detail")


def month_of(ts: float) -> str:
    return datetime.fromtimestamp(ts, JST).strftime("%Y-%m")


def parse_month(value: str | None, now: float) -> str:
    """`YYYY-MM`, or this month in Japan time when missing or malformed."""
    if value:
        try:
            return datetime.strptime(value, "%Y-%m").strftime("%Y-%m")
        except ValueError:
            pass
    return month_of(now)


def shift_month(month: str, by: int) -> str:
    year, mon = map(int, month.split("-"))
    index = year * 12 + (mon - 1) + by
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


@dataclass(frozen=True)
class Times:
    count: int
    mean_s: float | None
    median_s: float | None

    @classmethod
    def of(cls, values: list[float]) -> Times:
        if not values:
            return cls(0, None, None)
        return cls(len(values), statistics.fmean(values), statistics.median(values))


@dataclass(frozen=True)
class TypeRow:
    type: str
    incidents: int
    false_positives: int
    still_open: int
    ack: Times
    resolve: Times


@dataclass(frozen=True)
class MonthReport:
    month: str
    rows: list[TypeRow]
    total: int
    drills: int
    ack: Times
    resolve: Times
    response: Times
    week_flames: list[Summary] = field(default_factory=list)
    #: The month's drills, apart: never in the figures above, shown in a section of their own.
    drill_rows: list[TypeRow] = field(default_factory=list)
    drill_response: Times = Times(0, None, None)


def _times(pairs: Iterable[tuple[float | None, float]]) -> list[float]:
    return [end - start for end, start in pairs if end is not None and end >= start]


def type_rows(chosen: list[Summary]) -> list[TypeRow]:
    """The figures by incident type (the four, then any other the summaries hold)."""
    rows = []
    for type_ in INCIDENT_TYPES + tuple(sorted({s.type for s in chosen} - set(INCIDENT_TYPES))):
        of_type = [s for s in chosen if s.type == type_]
        rows.append(TypeRow(
            type=type_, incidents=len(of_type),
            false_positives=sum(s.state == "closed" for s in of_type),
            still_open=sum(s.ended_ts is None for s in of_type),
            ack=Times.of(_times((s.acknowledged_ts, s.opened_ts) for s in of_type)),
            resolve=Times.of(_times((s.ended_ts, s.opened_ts) for s in of_type if s.state == "resolved")),
        ))
    return rows


def monthly(summaries: Iterable[Summary], month: str, municipality: str, now: float) -> MonthReport:
    chosen = [s for s in summaries if month_of(s.opened_ts) == month
              and (municipality == ALL or s.municipality == municipality)]
    real = [s for s in chosen if not s.drill]
    drills = [s for s in chosen if s.drill]
    week = [s for s in real if s.type == "flame" and (s.ended_ts or now) - s.opened_ts >= WEEK_S]
    return MonthReport(
        month=month, rows=type_rows(real), total=len(real), drills=len(drills),
        ack=Times.of(_times((s.acknowledged_ts, s.opened_ts) for s in real)),
        resolve=Times.of(_times((s.ended_ts, s.opened_ts) for s in real if s.state == "resolved")),
        response=Times.of(_times((s.first_post_ts, s.opened_ts) for s in real)),
        week_flames=sorted(week, key=lambda s: s.opened_ts),
        drill_rows=[r for r in type_rows(drills) if r.incidents],
        drill_response=Times.of(_times((s.first_post_ts, s.opened_ts) for s in drills)),
    )


def _cell(value: str) -> str:
    # A cell that starts like a formula would run in a spreadsheet (CSV injection).
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def entry_in(entry: TimelineEntry, month: str, municipality: str) -> bool:
    ts = parse_time(entry.at)
    return ts is not None and month_of(ts) == month and (municipality == ALL or entry.municipality == municipality)


def _line(values: Iterable[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow([_cell(v) for v in values])
    return buffer.getvalue()


def csv_header() -> str:
    return _line(CSV_COLUMNS)


def csv_row(e: TimelineEntry) -> str:
    """One entry: who did what, when, for which incident (the detail as JSON)."""
    return _line((e.at, e.incident_id, e.municipality, str(e.actor.get("kind", "")),
                  str(e.actor.get("name", "")), actor_name(e.actor), str(e.actor.get("role", "")), e.action,
                  orjson.dumps(e.detail, option=orjson.OPT_SORT_KEYS).decode()))


def csv_document(entries: Iterable[TimelineEntry]) -> bytes:
    """The whole file, built before a byte is sent: complete, or not sent at all. The BOM makes
    Excel read the Japanese as UTF-8."""
    return ("\ufeff" + csv_header() + "".join(map(csv_row, entries))).encode()


def month_entries(entries: Iterable[TimelineEntry], month: str, municipality: str) -> list[TimelineEntry]:
    """The month's entries of one municipality ("*": all), each once (a topic may hold a
    redelivered copy), in order of time across incidents — the archive's order too."""
    rows: dict[str, tuple[float, str, TimelineEntry]] = {}
    for entry in entries:
        if entry.entry_id not in rows and entry_in(entry, month, municipality):
            rows[entry.entry_id] = (parse_time(entry.at) or 0.0, entry.incident_id, entry)
    return [entry for _, _, entry in sorted(rows.values(), key=lambda r: r[:2])]


def summaries(versions: Iterable[Incident]) -> list[Summary]:
    """The report's summaries from archived incident versions (each incident's in version
    order), folded by the same rules as the live board's."""
    state = BoardState(max_summaries=10**9)
    for incident in versions:
        state.add_incident(incident)
    return list(state.summaries.values())


# --- how far the archive has got, on the report page ----------------------------------------

NOTE_TEXT = {
    "ja": {
        "ok": "監査記録の保存: 遅れなし（最終確認 {at}）",
        "lag": "監査記録の保存: {n} 件遅れ（最終確認 {at}）",
        "stale": "監査記録の保存が止まっています（最終確認 {at}、{n} 件遅れ）。noroshi archive とブローカーを確認してください。",
        "missing": "監査記録の保存先がありません。ブローカーにある記録だけで集計しています。noroshi archive を起動してください。",
        "never": "なし",
        "unreadable": "監査記録を読み出せません。しばらくしてからもう一度お試しください。管理者はログ（board_archive_unreadable）を確認してください。",
        "export_failed": "タイムラインを出力できません（記録を最後まで読み出せませんでした）。しばらくしてからもう一度お試しください。",
        "title": "監査記録",
    },
    "en": {
        "ok": "Archive: up to date (checked {at})",
        "lag": "Archive lag: {n} records not yet stored (checked {at})",
        "stale": "The archive has stopped (last checked {at}, {n} records behind). Check noroshi archive and the broker.",
        "missing": "No archive: the report counts only what the broker still holds. Start noroshi archive.",
        "never": "never",
        "unreadable": "The archive cannot be read. Please try again shortly; administrators: see the log "
                      "(board_archive_unreadable).",
        "export_failed": "The timeline cannot be exported (its records could not be read to the end). "
                         "Please try again shortly.",
        "title": "Records",
    },
}


def note_text(lang: str, key: str, **values: object) -> str:
    return NOTE_TEXT.get(lang, NOTE_TEXT["ja"])[key].format(**values)


@dataclass(frozen=True)
class ArchiveNote:
    """The archive's state as the report page shows it: `kind` is ok, lag, stale or missing."""

    kind: str
    lag: int = 0
    checked_at: float | None = None

    @classmethod
    def of(cls, lag: int, heartbeat_at: float | None, stale: bool) -> ArchiveNote:
        return cls("stale" if stale else "lag" if lag else "ok", lag, heartbeat_at)

    def html(self, lang: str) -> str:
        at = (datetime.fromtimestamp(self.checked_at, JST).strftime("%m/%d %H:%M:%S")
              if self.checked_at is not None else note_text(lang, "never"))
        role = "status" if self.kind in ("ok", "lag") else "alert"
        words = note_text(lang, self.kind, n=self.lag, at=at)
        return (f'<p id="archive-status" class="archive-status archive-{self.kind}" role="{role}" '
                f'data-lag="{self.lag}">{html.escape(words)}</p>')


def with_note(page: str, note: ArchiveNote, lang: str) -> str:
    """The report page with the archive's line at the end of its main content."""
    at = page.rfind("</main>")
    return page if at < 0 else page[:at] + note.html(lang) + "\n" + page[at:]
