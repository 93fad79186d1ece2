"""The board's SVG charts (issue 17, item 13): whole-number ticks for counts, each time label
once, a sentence instead of an empty box, and the values in a table for screen readers."""

from __future__ import annotations

import re
from datetime import datetime

from dashboards import charts
from vocabulary.terms import JST

T0 = datetime(2026, 12, 7, 10, 0, 5, tzinfo=JST).timestamp()


def y_ticks(svg: str) -> list[str]:
    return re.findall(r'<text class="axis" x="36" [^>]*>([^<]*)</text>', svg)


def x_labels(svg: str) -> list[str]:
    return re.findall(r'<text class="axis" x="[^"]*" y="164"[^>]*>([^<]*)</text>', svg)


def values_table(html: str) -> list[tuple[str, str]]:
    table = html[html.index('<table class="sr-only">'):]
    return re.findall(r'<th scope="row">([^<]*)</th><td>([^<]*)</td>', table)


def test_small_counts_get_whole_number_ticks() -> None:
    for high, expected in ((1, ["0", "1"]), (2, ["0", "1", "2"]), (3, ["0", "1", "2", "3"]),
                           (4, ["0", "1", "2", "3", "4"]), (5, ["0", "2", "4", "6"]), (9, ["0", "5", "10"]),
                           (41, ["0", "20", "40", "60"])):
        svg = charts.line_chart([(T0, 0.0), (T0 + 600, float(high))], title="件数", empty="")
        assert y_ticks(svg) == expected, high
        assert not any("." in tick for tick in y_ticks(svg))


def test_a_share_keeps_its_percent_ticks() -> None:
    svg = charts.line_chart([(T0, 0.2), (T0 + 600, 0.6)], title="割合", empty="", percent=True)
    assert y_ticks(svg) == ["0%", "25%", "50%", "75%", "100%"]


def test_no_time_label_is_said_twice_on_a_short_span() -> None:
    # 10:00:05 to 10:01:05: the start, middle and end fall in two minutes only.
    svg = charts.line_chart([(T0, 1.0), (T0 + 60, 2.0)], title="件数", empty="")
    labels = x_labels(svg)
    assert labels == ["10:00", "10:01"]
    for span in (10, 90, 3 * 3600, 2 * 86400):
        labels = x_labels(charts.line_chart([(T0, 1.0), (T0 + span, 2.0)], title="件数", empty=""))
        assert len(labels) == len(set(labels)) >= 2, (span, labels)


def test_a_chart_with_nothing_to_show_is_a_sentence_not_an_empty_box() -> None:
    assert charts.line_chart([], title="件数", empty="データがありません") == '<p class="chart-none">データがありません</p>'
    for items in ([], [("炎上", None, "a")], [("炎上", 0.0, "a"), ("デマ", None, "b")]):
        out = charts.bar_chart(items, title="種別", empty="この月の事案はありません")
        assert out == '<p class="chart-none">この月の事案はありません</p>' and "<svg" not in out


def test_every_chart_gives_its_values_to_screen_readers() -> None:
    line = charts.line_chart([(T0, 3.0), (T0 + 300, 7.0)], title="件数（累計）", empty="")
    assert '<svg class="chart line"' in line and 'aria-hidden="true"' in line  # the picture is not read
    assert "<caption>件数（累計）</caption>" in line
    assert values_table(line) == [("12/07 10:00", "3"), ("12/07 10:05", "7")]
    share = charts.line_chart([(T0, 0.25)], title="割合", empty="", percent=True)
    assert values_table(share) == [("12/07 10:00", "25%")]
    bars = charts.bar_chart([("炎上", 2.0, "a"), ("なりすまし", 0.0, "b"), ("デマ", None, "c")], title="種別",
                            empty="", value_label=lambda v: f"{int(v)}件")
    assert "<caption>種別</caption>" in bars
    assert values_table(bars) == [("炎上", "2件"), ("なりすまし", "0件")]  # デマ: nothing measured, left out
    assert 'aria-label="件数の推移: 1, 4, 9"' in charts.sparkline([1, 4, 9], label="件数の推移")
