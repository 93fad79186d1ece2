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
    """A tiny line of the last values (the Now page's 件数の推移); board.js draws the same."""
    pad = 2
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


def _clock(ts: float, span: float) -> str:
    local = datetime.fromtimestamp(ts, JST)
    return local.strftime("%m/%d %H:%M" if span > 20 * 3600 else "%H:%M")


def line_chart(points: Sequence[tuple[float, float]], *, title: str, empty: str,
               percent: bool = False, width: int = 360, height: int = 170) -> str:
    """Values over (event) time, with a y axis from 0 and times in Japan time."""
    left, right, top, bottom = 40, 10, 10, 24
    inner_w, inner_h = width - left - right, height - top - bottom
    head = (f'<svg class="chart line" viewBox="0 0 {width} {height}" role="img" '
            f'aria-label="{_e(title)}"><title>{_e(title)}</title>')
    if not points:
        return (head + f'<text class="empty" x="{width / 2}" y="{height / 2}" text-anchor="middle">'
                f"{_e(empty)}</text></svg>")
    t0, t1 = points[0][0], points[-1][0]
    if t1 - t0 < 60:
        t0, t1 = t0 - 60, t1 + 60
    top_value = 1.0 if percent else _nice_max(max(v for _, v in points))

    def x(ts: float) -> float:
        return left + (ts - t0) / (t1 - t0) * inner_w

    def y(v: float) -> float:
        return top + inner_h - v / top_value * inner_h

    parts = [head]
    for i in range(5):
        value = top_value * i / 4
        label = f"{round(value * 100)}%" if percent else _f(value)
        parts.append(f'<line class="grid" x1="{left}" x2="{width - right}" y1="{_f(y(value))}" y2="{_f(y(value))}"/>'
                     f'<text class="axis" x="{left - 4}" y="{_f(y(value) + 4)}" text-anchor="end">{_e(label)}</text>')
    span = t1 - t0
    for i in range(3):
        ts = t0 + span * i / 2
        anchor = ("start", "middle", "end")[i]
        parts.append(f'<text class="axis" x="{_f(x(ts))}" y="{height - 6}" text-anchor="{anchor}">'
                     f"{_e(_clock(ts, span))}</text>")
    coords = " ".join(f"{_f(x(t))},{_f(y(v))}" for t, v in points)
    parts.append(f'<polyline class="series" points="{coords}"/>')
    if len(points) <= 60:
        parts.extend(f'<circle class="dot" cx="{_f(x(t))}" cy="{_f(y(v))}" r="2.5"/>' for t, v in points)
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(items: Sequence[tuple[str, float | None, str]], *, title: str, empty: str,
              value_label: object = None, width: int = 360) -> str:
    """Horizontal bars: (label, value, css class); a value of None (no data) shows as "—".
    `value_label(value)` formats the numbers."""
    fmt = value_label if callable(value_label) else _f
    row, label_w, top = 26, 104, 6
    height = top * 2 + row * max(1, len(items))
    head = (f'<svg class="chart bars" viewBox="0 0 {width} {height}" role="img" '
            f'aria-label="{_e(title)}"><title>{_e(title)}</title>')
    if not items or not any(v for _, v, _ in items):
        return (head + f'<text class="empty" x="{width / 2}" y="{height / 2 + 4}" text-anchor="middle">'
                f"{_e(empty)}</text></svg>")
    biggest = max(v or 0.0 for _, v, _ in items) or 1.0
    bar_w = width - label_w - 70
    parts = [head]
    for i, (label, value, css) in enumerate(items):
        y = top + i * row
        w = max(1.0, value / biggest * bar_w) if value else 0.0
        shown = "—" if value is None else fmt(value)
        parts.append(f'<text class="label" x="{label_w - 6}" y="{y + 17}" text-anchor="end">{_e(label)}</text>'
                     f'<rect class="bar {_e(css)}" x="{label_w}" y="{y + 4}" width="{_f(w)}" height="{row - 8}"/>'
                     f'<text class="value" x="{_f(label_w + w + 4)}" y="{y + 17}">{_e(shown)}</text>')
    parts.append("</svg>")
    return "".join(parts)
