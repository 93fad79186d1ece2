"""気象庁防災情報XML: the feed and report parsers on realistic samples, and the poller against a
local server that plays JMA (Last-Modified / 304, a broken report, 503s)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from vocabulary.contract import event_from_dict, profile_from_dict
from streams.detectors.disaster_alerts import EMERGENCY, WARNING, alert_level, seismic_intensity, small_quake
from sources.base import Cursor, MemorySink
from vocabulary.waits import Backoff
from sources.jma import JmaSource, JmaUnavailable
from sources.jma_config import DEFAULT_TYPES, LEGACY_WARNINGS, JmaConfig, Place, municipality_code, with_types
from sources.jma_feed import Entry, JmaXmlError, fresh_entries, parse_feed, type_of
from sources.jma_reports import alert_from_report

DATA = Path(__file__).parent / "data" / "jma"
PROFILE = profile_from_dict({
    "municipality": {"id": "wako", "name": "和光市", "names": ["和光市", "和光", "わこう"],
                     "areas": ["埼玉県南部"], "jma_area_codes": ["1122900"]},
    "accounts": [{"platform": "x", "handle": "wako_city_official", "name": "和光市役所"}],
})
CONFIG = JmaConfig.for_profile(PROFILE)
PLACE = Place.of(PROFILE, CONFIG)
FEED_UPDATED = "Sun, 22 Nov 2026 01:30:14 GMT"

OUR_ALERTS = {  # what the two sample feeds hold for 和光市
    "jma:20261122013000_0_VPWW55_110000",  # レベル３大雨警報
    "jma:20261122012900_0_VXKO61_130000",  # 荒川氾濫危険警報, 和光市 in the 浸水想定地区
    "jma:20261122012800_0_VPOA50_110000",  # 記録的短時間大雨情報 和光市付近
    "jma:20261122012500_0_VXWW50_110000",  # 土砂災害警戒情報
    "jma:20261122011900_0_VXSE53_010000",  # 和光市 震度3
    "jma:20261122011600_0_VXSE51_010000",  # 埼玉県南部 震度4
}
BROKEN = "20261122012600_0_VPWW56_110000.xml"
NOT_WANTED = {"20261122012000_0_VPWS50_010000.xml", "20261122011000_0_VPWW54_110000.xml",
              "20261122012000_0_VFVO51_010000.xml"}


def sample(name: str) -> bytes:
    return (DATA / name).read_bytes()


def entry_for(name: str) -> Entry:
    url = f"https://www.data.jma.go.jp/developer/xml/data/{name}"
    return Entry(id=url, title="", updated="", url=url, author="", type_code=type_of(url, ""))


def alert(name: str, body: bytes | None = None, place: Place = PLACE) -> dict[str, Any] | None:
    found = alert_from_report(sample(name) if body is None else body, entry_for(name), place)
    if found is not None:
        event_from_dict(found)  # every alert keeps to the contract
    return found


# --- the feed ------------------------------------------------------------------------------


def test_a_feed_gives_its_entries_with_type_codes_and_absolute_links() -> None:
    body = sample("extra.xml").replace(b"{base}/developer", b"/developer")  # relative links
    updated, entries = parse_feed(body, "https://www.data.jma.go.jp/developer/xml/feed/extra.xml")
    assert updated == "2026-11-22T01:30:14Z"
    assert [e.type_code for e in entries] == [
        "VPWW55", "VXKO61", "VPOA50", "VPWW56", "VXWW50", "VPWW55", "VPWS50", "VPWW54"]
    first = entries[0]
    assert first.url == "https://www.data.jma.go.jp/developer/xml/data/20261122013000_0_VPWW55_110000.xml"
    assert first.title == "気象警報・注意報（Ｒ０６）（大雨）"
    assert first.author == "熊谷地方気象台"
    assert first.alert_id == "jma:20261122013000_0_VPWW55_110000"


def test_fresh_entries_are_wanted_unseen_and_recent_oldest_first() -> None:
    _, entries = parse_feed(sample("extra.xml").replace(b"{base}", b"https://jma.example"), "https://jma.example/f")
    seen = {entries[1].id}  # the 洪水予報 was read before
    old = Entry(id="old", title="土砂災害警戒情報", updated="2026-11-21T20:00:00Z",
                url="https://jma.example/20261121200000_0_VXWW50_110000.xml", author="", type_code="VXWW50")
    chosen = fresh_entries([*entries, old], "2026-11-22T01:30:14Z", seen=seen, config=CONFIG)
    assert [e.type_code for e in chosen] == ["VPWW55", "VXWW50", "VPWW56", "VPOA50", "VPWW55"]
    assert [e.updated for e in chosen] == sorted(e.updated for e in chosen)
    legacy = with_types(CONFIG, *LEGACY_WARNINGS)
    assert "VPWW54" in [e.type_code for e in fresh_entries(entries, "", seen=set(), config=legacy)]


def test_type_codes_come_from_the_file_name_or_else_the_title() -> None:
    assert type_of("https://x/20261122011600_0_VXSE51_010000.xml", "") == "VXSE51"
    assert type_of("https://x/report.xml", "震源・震度に関する情報") == "VXSE53"
    assert type_of("https://x/report.xml", "気象警報・注意報（Ｒ０６）（土砂）") == "VPWW56"
    assert type_of("https://x/report.xml", "気象警報・注意報（Ｒ０６）（集約通報）") == ""
    assert CONFIG.wants("VXKO61") and CONFIG.wants("VPWW55") and not CONFIG.wants("VPWW54")


# --- reports → alerts ------------------------------------------------------------------------


def test_a_warning_for_our_city_is_a_warning_alert_with_its_level() -> None:
    found = alert("20261122013000_0_VPWW55_110000.xml")
    assert found is not None
    assert found["kind"] == "alert" and found["platform"] == "web" and found["source"] == "jma"
    assert found["ts"] == "2026-11-22T10:30:00+09:00"
    assert found["title"] == "レベル３大雨警報（和光市）"
    assert (found["severity"], found["level"], found["areas"]) == ("warning", 3, ["和光市"])
    assert "土砂災害" in found["text"] and found["jma"]["type"] == "VPWW55"
    assert alert_level(event_from_dict(found)) == WARNING


def test_a_warning_for_other_cities_only_is_not_ours() -> None:
    assert alert("20261122012000_0_VPWW55_120000.xml") is None


def test_a_warning_that_ends_says_so_and_the_detector_drops_it() -> None:
    found = alert("20261122090000_0_VPWW55_110000.xml")
    assert found is not None
    assert found["title"] == "レベル３大雨警報解除・レベル２大雨注意報（和光市）"
    assert (found["severity"], found["level"]) == ("info", 2)
    assert alert_level(event_from_dict(found)) == 0


def test_an_advisory_that_ends_does_not_say_kaijo() -> None:
    body = sample("20261122090000_0_VPWW55_110000.xml").replace(
        "<LastKind><Name>レベル３大雨警報</Name><Code>03</Code></LastKind>\n</Kind>\n<Area><Name>和光市".encode(),
        "</Kind>\n<Kind><Name>雷注意報</Name><Code>14</Code><Status>解除</Status></Kind>\n<Area><Name>和光市".encode(), 1)
    found = alert("20261122090000_0_VPWW55_110000.xml", body)
    assert found is not None
    assert found["title"] == "レベル２大雨注意報（和光市）"  # another report's warning may still stand
    assert found["severity"] == "advisory"


def test_a_special_warning_is_an_emergency() -> None:
    body = sample("20261122013000_0_VPWW55_110000.xml").replace(
        "<Name>レベル３大雨警報</Name>\n<Code>03</Code>".encode(), "<Name>レベル５大雨特別警報</Name>\n<Code>33</Code>".encode(), 1)
    found = alert("20261122013000_0_VPWW55_110000.xml", body)
    assert found is not None
    assert (found["title"], found["severity"], found["level"]) == ("レベル５大雨特別警報（和光市）", "emergency", 5)
    assert alert_level(event_from_dict(found)) == EMERGENCY


def test_the_older_warning_format_reads_the_same_way_strongest_first() -> None:
    found = alert("20261122011000_0_VPWW54_110000.xml")
    assert found is not None
    assert found["title"] == "大雨警報・雷注意報・洪水注意報（和光市）"
    assert (found["severity"], found["level"]) == ("warning", 3)


def test_an_earthquake_report_names_our_own_intensity_not_the_areas() -> None:
    found = alert("20261122011900_0_VXSE53_010000.xml")
    assert found is not None
    assert found["title"] == "震源・震度に関する情報：和光市 震度3"
    assert found["areas"] == ["和光市", "埼玉県南部"]
    assert "東京湾" in found["text"] and "津波の心配はありません" in found["text"]
    assert "震度4" not in found["text"] and "震度5" not in found["text"]  # さいたま, 江東区 are not us
    quake = event_from_dict(found)
    assert seismic_intensity(quake) == 3.0 and small_quake(quake)
    assert found["jma"]["event_id"] == "20261122101423" and found["jma"]["intensity"] == "3"


def test_a_strong_quake_here_is_an_emergency() -> None:
    body = sample("20261122011900_0_VXSE53_010000.xml").replace(
        "<Code>1122900</Code><MaxInt>3</MaxInt>".encode(), "<Code>1122900</Code><MaxInt>6-</MaxInt>".encode())
    found = alert("20261122011900_0_VXSE53_010000.xml", body)
    assert found is not None
    assert (found["title"], found["severity"]) == ("震源・震度に関する情報：和光市 震度6弱", "emergency")
    assert alert_level(event_from_dict(found)) == EMERGENCY


def test_an_intensity_not_yet_received_counts_as_five_lower() -> None:
    body = sample("20261122011900_0_VXSE53_010000.xml").replace(
        "<Code>1122900</Code><MaxInt>3</MaxInt>".encode(), "<Code>1122900</Code><Condition>震度５弱以上未入電</Condition>".encode())
    found = alert("20261122011900_0_VXSE53_010000.xml", body)
    assert found is not None
    assert found["severity"] == "warning" and "震度5弱以上未入電" in found["title"]
    assert alert_level(event_from_dict(found)) == WARNING


def test_a_first_intensity_report_is_read_by_our_area() -> None:
    found = alert("20261122011600_0_VXSE51_010000.xml")
    assert found is not None
    assert (found["title"], found["areas"], found["severity"]) == ("震度速報：埼玉県南部 震度4", ["埼玉県南部"], "info")
    assert seismic_intensity(event_from_dict(found)) == 4.0  # not the 5弱 of 東京都２３区


def test_a_far_quake_is_not_ours() -> None:
    assert alert("20261122012400_0_VXSE53_010000.xml") is None


def test_a_landslide_alert_and_its_end() -> None:
    found = alert("20261122012500_0_VXWW50_110000.xml")
    assert found is not None
    assert (found["title"], found["severity"], found["level"]) == ("土砂災害警戒情報（和光市）", "warning", 4)
    assert alert_level(event_from_dict(found)) == WARNING
    ended = sample("20261122012500_0_VXWW50_110000.xml").replace(
        "<Kind><Name>警戒</Name><Code>3</Code><Status>発表</Status></Kind>".encode(),
        "<Kind><Name>解除</Name><Code>0</Code><Status>解除</Status></Kind>".encode())
    found = alert("20261122012500_0_VXWW50_110000.xml", ended)
    assert found is not None
    assert (found["title"], found["severity"]) == ("土砂災害警戒情報解除（和光市）", "info")
    assert alert_level(event_from_dict(found)) == 0


def test_record_rain_near_our_city() -> None:
    found = alert("20261122012800_0_VPOA50_110000.xml")
    assert found is not None
    assert (found["title"], found["severity"]) == ("記録的短時間大雨情報（和光市）", "warning")
    assert "約１１０ミリ" in found["text"]


def test_a_flood_forecast_takes_its_level_from_the_headline_not_the_water_levels() -> None:
    found = alert("20261122012900_0_VXKO61_130000.xml")
    assert found is not None
    assert (found["title"], found["severity"], found["level"]) == ("荒川氾濫危険警報（和光市）", "warning", 4)
    assert alert_level(event_from_dict(found)) == WARNING


def test_a_flood_forecast_on_one_of_our_rivers_counts_without_our_city() -> None:
    body = sample("20261122012900_0_VXKO61_130000.xml").replace("和光市".encode(), "朝霞市".encode()) \
        .replace(b"1122900", b"1122700")
    assert alert("20261122012900_0_VXKO61_130000.xml", body) is None
    rivers = Place.of(PROFILE, JmaConfig.for_profile(PROFILE, rivers=("荒川",)))
    found = alert("20261122012900_0_VXKO61_130000.xml", body, rivers)
    assert found is not None and found["areas"] == ["荒川"]


def test_our_city_is_found_by_name_when_no_code_is_configured() -> None:
    by_name = Place.of(profile_from_dict({"municipality": {"id": "wako", "name": "和光市"}}), JmaConfig())
    assert by_name.is_city("和光市") and by_name.is_city("和光市付近") and not by_name.is_city("和光町")
    found = alert("20261122013000_0_VPWW55_110000.xml", place=by_name)
    assert found is not None and found["areas"] == ["和光市"]
    saitama = Place.of(profile_from_dict({"municipality": {"id": "saitama", "name": "さいたま市"}}), JmaConfig())
    assert saitama.is_city("さいたま市中央区") and saitama.is_city("さいたま市")
    assert not saitama.is_city("さいたま中央区")  # JMA's short ward names need the codes


def test_with_codes_a_city_of_the_same_name_elsewhere_is_not_ours() -> None:
    namesake = sample("20261122012000_0_VPWW55_120000.xml").replace("千葉市".encode(), "和光市".encode())
    assert alert("20261122012000_0_VPWW55_120000.xml", namesake) is None  # code 1210000 is not ours
    by_name = Place.of(PROFILE, JmaConfig())
    assert alert("20261122012000_0_VPWW55_120000.xml", namesake, by_name) is not None


def test_drills_are_marked_tests_and_cancellations_are_skipped() -> None:
    name = "20261122012500_0_VXWW50_110000.xml"
    drill = alert(name, sample(name).replace("<Status>通常</Status>".encode(), "<Status>訓練</Status>".encode()))
    assert drill is not None and drill["drill"] is True
    assert event_from_dict(drill).drill
    assert alert(name, sample(name).replace("<Status>通常</Status>".encode(), "<Status>試験</Status>".encode())) is None
    assert alert(name, sample(name).replace("<InfoType>発表</InfoType>".encode(), "<InfoType>取消</InfoType>".encode())) is None


@pytest.mark.parametrize(("body", "reason"), [
    (sample(BROKEN), "not well-formed XML"),
    (b'<?xml version="1.0"?><Report><Control/></Report>', "not a 気象庁防災情報XML Report"),
    (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa">]><Report xmlns="http://xml.kishou.go.jp/jmaxml1/"/>',
     "entity declaration"),
    # UTF-16 hides the declarations from a byte search; the entities would expand (a billion laughs)
    (('<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
     '<Report xmlns="http://xml.kishou.go.jp/jmaxml1/"><Control><Title>&b;</Title></Control></Report>'
     ).encode("utf-16"), "entity declaration"),
    (b'<?xml version="1.0"?><!DOCTYPE Report SYSTEM "http://127.0.0.1:1/evil.dtd">'
     b'<Report xmlns="http://xml.kishou.go.jp/jmaxml1/"/>', "DOCTYPE"),
    (b'<Report xmlns="http://xml.kishou.go.jp/jmaxml1/"><Control/><Head><ReportDateTime>soon</ReportDateTime>'
     b'</Head></Report>', "ReportDateTime"),
])
def test_an_unreadable_report_says_why(body: bytes, reason: str) -> None:
    with pytest.raises(JmaXmlError, match=reason):
        alert_from_report(body, entry_for(BROKEN), PLACE)


def test_area_codes_come_from_the_profile_and_are_widened() -> None:
    assert CONFIG.area_codes == ("1122900",)
    assert JmaConfig(area_codes=("11229",)).area_codes == ("1122900",)
    assert municipality_code("１１２２９００") == "1122900"
    with pytest.raises(ValueError, match="7-digit"):
        JmaConfig(area_codes=("112291",))
    assert JmaConfig.for_profile(PROFILE, area_codes=("1122700",)).area_codes == ("1122700",)
    assert "VXKO" in DEFAULT_TYPES


# --- the poller against a local JMA ----------------------------------------------------------


@dataclass
class FakeJma:
    """JMA's feed server: Last-Modified and 304, 503s on request, and a log of what was asked."""

    base: str = ""
    last_modified: str = FEED_UPDATED
    feed_failures: int = 0  # feed requests to answer 503 first
    failing_reports: set[str] = field(default_factory=set)  # reports to answer 503 once each
    feed_answers: list[tuple[str, int, str | None]] = field(default_factory=list)
    report_requests: list[str] = field(default_factory=list)

    async def feed(self, request: web.Request) -> web.Response:
        name, since = request.match_info["name"], request.headers.get("If-Modified-Since")
        if self.feed_failures:
            self.feed_failures -= 1
            self.feed_answers.append((name, 503, since))
            return web.Response(status=503, text="busy")
        if since == self.last_modified:
            self.feed_answers.append((name, 304, since))
            return web.Response(status=304)
        self.feed_answers.append((name, 200, since))
        body = sample(name).replace(b"{base}", self.base.encode())
        return web.Response(body=body, content_type="application/atom+xml",
                            headers={"Last-Modified": self.last_modified})

    async def report(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        self.report_requests.append(name)
        if name in self.failing_reports:
            self.failing_reports.discard(name)
            return web.Response(status=503)
        if not (DATA / name).is_file():
            return web.Response(status=404)
        return web.Response(body=sample(name), content_type="application/xml")

    def feeds(self) -> tuple[str, ...]:
        return (f"{self.base}/developer/xml/feed/extra.xml", f"{self.base}/developer/xml/feed/eqvol.xml")


@pytest.fixture
async def jma() -> AsyncIterator[FakeJma]:
    fake = FakeJma()
    app = web.Application()
    app.router.add_get("/developer/xml/feed/{name}", fake.feed)
    app.router.add_get("/developer/xml/data/{name}", fake.report)
    async with TestServer(app) as server:
        fake.base = str(server.make_url("")).rstrip("/")
        yield fake


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        yield session


def source(jma: FakeJma, *, cursor: Cursor | None = None, **config: Any) -> JmaSource:
    return JmaSource(JmaConfig.for_profile(PROFILE, feeds=jma.feeds(), **config), PROFILE, cursor=cursor,
                     backoff=Backoff(base_s=0.01, cap_s=0.02, rng=random.Random(7)))


async def test_new_entries_become_alerts_for_our_area_only(jma: FakeJma, session: aiohttp.ClientSession) -> None:
    sink = MemorySink()
    assert await source(jma).poll_once(session, sink) == len(OUR_ALERTS)
    assert {e["id"] for e in sink.events} == OUR_ALERTS
    assert [e["id"] for e in sink.events][:2] == ["jma:20261122012500_0_VXWW50_110000",
                                                 "jma:20261122012800_0_VPOA50_110000"]  # oldest first
    assert all({"和光市", "埼玉県南部"} & set(e["areas"]) for e in sink.events)
    assert not NOT_WANTED & set(jma.report_requests)  # 集約通報, Ｈ２７, 火山: never fetched
    assert {"20261122012000_0_VPWW55_120000.xml", "20261122012400_0_VXSE53_010000.xml"} <= set(jma.report_requests)


async def test_a_malformed_report_is_rejected_with_its_reason_and_the_others_published(
        jma: FakeJma, session: aiohttp.ClientSession) -> None:
    sink = MemorySink()
    poller = source(jma)
    await poller.poll_once(session, sink)
    assert len(sink.events) == len(OUR_ALERTS)
    [(raw, reason, origin)] = sink.rejected
    assert origin == "jma" and "not well-formed XML" in reason and raw == sample(BROKEN)
    jma.last_modified = "Sun, 22 Nov 2026 01:31:14 GMT"
    await poller.poll_once(session, sink)
    assert len(sink.rejected) == 1 and jma.report_requests.count(BROKEN) == 1  # not fetched again


async def test_an_unchanged_feed_answers_304_and_nothing_is_fetched(
        jma: FakeJma, session: aiohttp.ClientSession) -> None:
    sink = MemorySink()
    poller = source(jma)
    await poller.poll_once(session, sink)
    fetched = len(jma.report_requests)
    assert await poller.poll_once(session, sink) == 0
    assert jma.feed_answers[-2:] == [("extra.xml", 304, FEED_UPDATED), ("eqvol.xml", 304, FEED_UPDATED)]
    assert len(jma.report_requests) == fetched and len(sink.events) == len(OUR_ALERTS)


async def test_a_feed_read_again_publishes_no_duplicates(jma: FakeJma, session: aiohttp.ClientSession) -> None:
    sink = MemorySink()
    poller = source(jma)
    await poller.poll_once(session, sink)
    fetched = len(jma.report_requests)
    jma.last_modified = "Sun, 22 Nov 2026 01:31:14 GMT"  # a new feed that still lists the same entries
    assert await poller.poll_once(session, sink) == 0
    assert [a[1] for a in jma.feed_answers[-2:]] == [200, 200]
    assert len(jma.report_requests) == fetched and len(sink.events) == len(OUR_ALERTS)


async def test_the_cursor_carries_what_was_read_across_a_restart(
        jma: FakeJma, session: aiohttp.ClientSession, tmp_path: Path) -> None:
    await source(jma, cursor=Cursor(tmp_path, "jma")).poll_once(session, MemorySink())
    fetched = len(jma.report_requests)
    again = MemorySink()  # a new process: the sink remembers nothing
    assert await source(jma, cursor=Cursor(tmp_path, "jma")).poll_once(session, again) == 0
    assert [a[1:] for a in jma.feed_answers[-2:]] == [(304, FEED_UPDATED), (304, FEED_UPDATED)]
    jma.last_modified = "Sun, 22 Nov 2026 01:31:14 GMT"
    assert await source(jma, cursor=Cursor(tmp_path, "jma")).poll_once(session, again) == 0
    assert again.events == [] and len(jma.report_requests) == fetched


async def test_a_report_that_fails_is_retried_and_the_feed_is_read_again(
        jma: FakeJma, session: aiohttp.ClientSession) -> None:
    sink = MemorySink()
    poller = source(jma)
    jma.failing_reports = {"20261122013000_0_VPWW55_110000.xml"}  # the newest entry of extra.xml
    with pytest.raises(JmaUnavailable, match="503"):
        await poller.poll_once(session, sink)
    assert len(sink.events) == 5  # the older entries of extra.xml, and eqvol.xml all the same
    assert await poller.poll_once(session, sink) == 1
    assert jma.feed_answers[2:] == [("extra.xml", 200, None),  # no Last-Modified kept: read in full
                                    ("eqvol.xml", 304, FEED_UPDATED)]
    assert {e["id"] for e in sink.events} == OUR_ALERTS and len(sink.events) == len(OUR_ALERTS)


async def test_a_busy_server_is_waited_out_with_backoff(jma: FakeJma) -> None:
    sink = MemorySink()
    jma.feed_failures = 2
    poller = source(jma, poll_interval_s=30.0)
    stop = asyncio.Event()
    task = asyncio.create_task(poller.run(sink, stop))
    try:
        await sink.wait_for(len(OUR_ALERTS) + 1, timeout=5)  # the alerts and the broken report
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)
    assert [a[1] for a in jma.feed_answers] == [503, 503, 200, 200]
    assert poller.backoff.failures == 0  # reset once a poll worked
    assert {e["id"] for e in sink.events} == OUR_ALERTS
