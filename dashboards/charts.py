"""Small SVG charts drawn on the server: no script, no external library, nothing inline
that the CSP forbids (presentation attributes only, the colours come from board.css).
Every label passes through `html.escape`."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from datetime import datetime

from vocabulary.terms import JST


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _f(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def sparkline(values: Sequence[float], *, label: str, width: int = 96, height: int = 24) -> str:
    """A tiny line of the last values (the Now page's 件数の推移); board.js draws the same. Its
    name for screen readers carries the values: 件数の推移: 3, 5, 9."""
    pad = 2
    if values:
        label = f"{label}: {', '.join(_f(v) for v in values)}"
    if not values:
        return f'<svg class="spark" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" aria-label="{_e(label)}"></svg>'
    low, high = min(values), max(values)
    span = high - low or 1.0
    step = (width - 2 * pad) / max(1, len(values) - 1)
    points = " ".join(
        f"{_f(pad + i * step)},{_f(height - pad - (v - low) / span * (height - 2 * pad))}"
        for i, v in enumerate(values))
    if len(values) == 1:
        points += f" {_f(width - pad)},{_f(height - pad - (values[0] - low) / span * (height - 2 * pad))}"
    return (f'<svg class="spark" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
            f'role="img" aria-label="{_e(label)}"><polyline points="{points}"/></svg>')


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def count_ticks(high: float, most: int = 4) -> list[int]:
    """Whole-number ticks from 0 for counts (no 0.5 posts): 0, 1, 2 for a high of 2; at most
    `most` steps, each 1, 2 or 5 times a power of ten."""
    magnitude = 1
    while True:
        for m in (1, 2, 5):
            step = m * magnitude
            if math.ceil(max(high, 1) / step) <= most:
                return [step * i for i in range(math.ceil(max(high, 1) / step) + 1)]
        magnitude *= 10


def _clock(ts: float, span: float) -> str:
    local = datetime.fromtimestamp(ts, JST)
    return local.strftime("%m/%d %H:%M" if span > 20 * 3600 else "%H:%M")


def time_ticks(t0: float, t1: float, most: int = 3) -> list[tuple[float, str]]:
    """Up to `most` times along the x axis, each label said once: a short span gives fewer labels
    rather than 10:00, 10:00, 10:01."""
    span = t1 - t0
    out: list[tuple[float, str]] = []
    for i in range(most):
        ts = t0 + span * i / max(1, most - 1)
        text = _clock(ts, span)
        if text not in (label for _, label in out):
            out.append((ts, text))
    return out


def _values_table(title: str, rows: Sequence[tuple[str, str]]) -> str:
    """The chart's values for screen readers (and anyone reading without the picture)."""
    body = "".join(f'<tr><th scope="row">{_e(k)}</th><td>{_e(v)}</td></tr>' for k, v in rows)
    return f'<table class="sr-only"><caption>{_e(title)}</caption><tbody>{body}</tbody></table>'


def _none(empty: str) -> str:
    """A chart with nothing to show is a sentence, not an empty box."""
    return f'<p class="chart-none">{_e(empty)}</p>'


def line_chart(points: Sequence[tuple[float, float]], *, title: str, empty: str,
               percent: bool = False, width: int = 360, height: int = 170) -> str:
    """Values over (event) time, with a y axis from 0 and times in Japan time; counts (whole
    values) get whole-number ticks. The picture is hidden from screen readers, which read the
    same values from a table beside it."""
    if not points:
        return _none(empty)
    left, right, top, bottom = 40, 10, 10, 24
    inner_w, inner_h = width - left - right, height - top - bottom
    t0, t1 = points[0][0], points[-1][0]
    if t1 - t0 < 60:
        t0, t1 = t0 - 60, t1 + 60
    high = max(v for _, v in points)
    if percent:
        ticks: list[float] = [i / 4 for i in range(5)]
    elif all(float(v).is_integer() for _, v in points):
        ticks = [float(v) for v in count_ticks(high)]
    else:
        ticks = [_nice_max(high) * i / 4 for i in range(5)]
    top_value = ticks[-1]

    def x(ts: float) -> float:
        return left + (ts - t0) / (t1 - t0) * inner_w

    def y(v: float) -> float:
        return top + inner_h - v / top_value * inner_h

    def shown(v: float) -> str:
        return f"{round(v * 100)}%" if percent else _f(v)

    parts = [f'<svg class="chart line" viewBox="0 0 {width} {height}" aria-hidden="true" focusable="false">']
    for value in ticks:
        parts.append(f'<line class="grid" x1="{left}" x2="{width - right}" y1="{_f(y(value))}" y2="{_f(y(value))}"/>'
                     f'<text class="axis" x="{left - 4}" y="{_f(y(value) + 4)}" text-anchor="end">{_e(shown(value))}</text>')
    labels = time_ticks(t0, t1)
    for i, (ts, text) in enumerate(labels):
        anchor = "start" if i == 0 else ("end" if i == len(labels) - 1 else "middle")
        parts.append(f'<text class="axis" x="{_f(x(ts))}" y="{height - 6}" text-anchor="{anchor}">{_e(text)}</text>')
    coords = " ".join(f"{_f(x(t))},{_f(y(v))}" for t, v in points)
    parts.append(f'<polyline class="series" points="{coords}"/>')
    if len(points) <= 60:
        parts.extend(f'<circle class="dot" cx="{_f(x(t))}" cy="{_f(y(v))}" r="2.5"/>' for t, v in points)
    parts.append("</svg>")
    rows = [(datetime.fromtimestamp(t, JST).strftime("%m/%d %H:%M"), shown(v)) for t, v in points]
    return "".join(parts) + _values_table(title, rows)


def bar_chart(items: Sequence[tuple[str, float | None, str]], *, title: str, empty: str,
              value_label: object = None, width: int = 360) -> str:
    """Horizontal bars: (label, value, css class). A value of None (nothing to measure, e.g. no
    incident of that type to time) is left out; a chart left with nothing above zero is a sentence.
    `value_label(value)` formats the numbers; a table beside the picture gives them to screen readers."""
    fmt = value_label if callable(value_label) else _f
    items = [(label, value, css) for label, value, css in items if value is not None]
    if not any(v for _, v, _ in items):
        return _none(empty)
    row, label_w, top = 26, 104, 6
    height = top * 2 + row * len(items)
    biggest = max(v or 0.0 for _, v, _ in items) or 1.0
    bar_w = width - label_w - 70
    parts = [f'<svg class="chart bars" viewBox="0 0 {width} {height}" aria-hidden="true" focusable="false">']
    for i, (label, value, css) in enumerate(items):
        y = top + i * row
        w = max(1.0, value / biggest * bar_w) if value else 0.0
        parts.append(f'<text class="label" x="{label_w - 6}" y="{y + 17}" text-anchor="end">{_e(label)}</text>'
                     f'<rect class="bar {_e(css)}" x="{label_w}" y="{y + 4}" width="{_f(w)}" height="{row - 8}"/>'
                     f'<text class="value" x="{_f(label_w + w + 4)}" y="{y + 17}">{_e(fmt(value))}</text>')
    parts.append("</svg>")
    return "".join(parts) + _values_table(title, [(label, str(fmt(value))) for label, value, _ in items])
