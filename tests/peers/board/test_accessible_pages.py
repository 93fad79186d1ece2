"""Charts as the pages draw them (issue 17, items 13 and 14): a chart that does not apply is not
drawn, counts have whole-number ticks, and every chart's values are in the page as text."""

from __future__ import annotations

import re

from .conftest import Client
from .world import DISASTER, FLAME, IMPERSONATION, World


def charts_of(page: str) -> list[str]:
    return re.findall(r'<svg class="chart[^"]*".*?</svg>', page, re.S)


def tick_labels(svg: str) -> list[str]:
    return re.findall(r'<text class="axis"[^>]*>([^<]*)</text>', svg)


async def test_no_chart_has_half_ticks_or_a_time_label_twice(client_for: Client) -> None:
    http = await client_for("tanaka")
    for path in (f"/incidents/{FLAME}", f"/incidents/{DISASTER}", "/disaster"):
        page = await (await http.get(path)).text()
        for svg in charts_of(page):
            labels = tick_labels(svg)
            assert not any(re.fullmatch(r"\d+\.\d+", label) for label in labels), (path, labels)
            times = [label for label in labels if ":" in label]
            assert len(times) == len(set(times)) >= 2, (path, times)


async def test_an_incident_without_a_measure_draws_no_empty_chart(client_for: Client) -> None:
    http = await client_for("tanaka")
    page = await (await http.get(f"/incidents/{IMPERSONATION}")).text()
    main = page[page.index("<main"):]
    assert "データがありません" not in main and 'class="chart line"' not in main
    assert '<section id="charts">' not in main


async def test_every_chart_on_a_page_has_its_values_as_text(client_for: Client, world: World) -> None:
    http = await client_for("tanaka")
    for path in (f"/incidents/{FLAME}", "/disaster", "/report"):
        page = await (await http.get(path)).text()
        tables = re.findall(r'<table class="sr-only"><caption>([^<]+)</caption><tbody>(.*?)</tbody></table>', page)
        assert len(tables) == len(charts_of(page)) >= 1, path
        for caption, rows in tables:
            assert re.search(r'<th scope="row">[^<]+</th><td>[^<]*\d[^<]*</td>', rows), (path, caption)
    report = await (await http.get("/report")).text()
    first = report[report.index("<caption>種別ごとの件数"):]
    by_type = dict(re.findall(r'<th scope="row">([^<]+)</th><td>([^<]+)</td>', first[:first.index("</table>")]))
    assert by_type["炎上"] in ("1", "2") and by_type["なりすまし"] == "1"


async def test_a_month_without_incidents_says_so_instead_of_three_empty_boxes(client_for: Client) -> None:
    page = await (await (await client_for("tanaka")).get("/report?month=2020-01")).text()
    assert charts_of(page) == []
    assert page.count('<p class="chart-none">') == 3
