"""気象庁防災情報XML (JMA disaster-information XML): the municipality's official warnings and
earthquake reports as contract `alert` events, the ones that can suggest disaster mode.

`JmaSource` polls JMA's Atom feeds — `extra.xml` (随時: 警報・注意報, 土砂災害警戒情報,
記録的短時間大雨情報, 指定河川洪水予報) and `eqvol.xml` (地震・火山) by default — with
`If-Modified-Since`, reads the entries it has not seen, fetches the detail XML of the kinds
below and publishes one `alert` per report that concerns the municipality:

| types          | report                                 | ours when                                |
|----------------|----------------------------------------|------------------------------------------|
| VPWW55–VPWW61  | 気象警報・注意報（Ｒ０６）, one per phenomenon | a 市町村等 item is our city            |
| VXSE51         | 震度速報                                | a 震度 is reported in one of our areas     |
| VXSE53         | 震源・震度に関する情報                    | our city has a 震度 (else one of our areas) |
| VXWW50         | 土砂災害警戒情報                         | our city is listed                        |
| VPOA50         | 記録的短時間大雨情報                      | our city is named (「和光市付近」)          |
| VXKO50–VXKO89  | 指定河川洪水予報                         | our city is in a 浸水想定地区, or the river is one of `rivers` |

The R06 warnings (in use since 2026-05-29) name the level in the kind (レベル４大雨危険警報).
VPWW53 / VPWW54 (気象特別警報・警報・注意報, 気象警報・注意報（Ｈ２７）), still sent in the
transition, repeat them with the older names; the same parser reads them, but they are off
by default (`with_types(config, *LEGACY_WARNINGS)` turns them on) so that one warning is not
three alerts. The high-frequency feeds hold about ten minutes; after a longer outage, add
the long feed (`extra_l.xml`) to `feeds` to catch up (`max_age_s` bounds how far back).

"Our city" is an area whose code is one of `JmaConfig.area_codes` (7-digit 市町村 codes, e.g.
1122900 for 和光市; a 5-digit 全国地方公共団体コード is widened with "00"; for a 政令市 list
the wards' codes too, since earthquake reports name wards 「さいたま中央区」). Without codes, an
area whose name is the profile's name or one of its names (a ward 「さいたま市中央区」 or part
「静岡市南部」 of it counts) — set the codes: some names exist in two prefectures. The
contract's profile carries no JMA code, so `JmaConfig.for_profile` also reads an optional
`municipality.jma_area_codes` list (and `jma_rivers`) from the profile file.

Each alert has `source: "jma"`, `platform: "web"`, `ts` = the report's `ReportDateTime`, a
`title` the disaster detector reads (the kinds in effect 「レベル３大雨警報・雷注意報（和光市）」,
「…解除」 when no warning is left, 「震源・震度に関する情報：和光市 震度4」), `severity`
(`emergency` 特別警報・震度6弱以上・氾濫発生, `warning`, `advisory` 注意報, `info`), `areas`,
`text`, and extra fields: `level` (警戒レベル相当 1–5 where JMA gives one, else null),
`url` (the detail XML) and `jma` (`type`, `event_id`, `serial`, `info_type`, `office`).
Earthquake texts name only our own 震度, since the detector reads the largest 震度 in them.
A JMA 訓練 report gets `drill: true`; 試験 reports and 取消 (cancellations, which carry no
area) are skipped.

The id is the detail file's name, `jma:<yyyymmddhhmmss>_<n>_<type>_<office>` — one report,
one id — so a feed entry read again is never published twice; the ids already fetched are
also kept (bounded) in the source's `Cursor`, with each feed's `Last-Modified`. A detail XML
that is not well formed, or not a JMA report, goes to the dead letters with the reason and
the other entries go on. A feed or detail that cannot be fetched (network, 5xx) is retried
with `Backoff`, from the first entry not yet done.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp
import structlog

from vocabulary.contract import Profile
from sources.base import Backoff, Cursor, Sink, Unusable, sleep_or_stop

log = structlog.get_logger(__name__)

SOURCE = "jma"
FEED_BASE = "https://www.data.jma.go.jp/developer/xml/feed/"
EXTRA_FEED = FEED_BASE + "extra.xml"  # 随時: warnings, 土砂, 記録的短時間大雨, 洪水予報 (high-frequency)
EQVOL_FEED = FEED_BASE + "eqvol.xml"  # 地震・火山 (high-frequency)

ATOM = "{http://www.w3.org/2005/Atom}"
JMX = "http://xml.kishou.go.jp/jmaxml1/"  # the Report element; Head and Body have their own
                                          # namespaces (informationBasis1, body/meteorology1, body/seismology1)

R06_WARNINGS = tuple(f"VPWW{n}" for n in range(55, 62))
LEGACY_WARNINGS = ("VPWW53", "VPWW54")
DEFAULT_TYPES = (*R06_WARNINGS, "VXSE51", "VXSE53", "VXWW50", "VPOA50", "VXKO")
#: Feed titles for entries whose link has no type code in its file name.
TYPES_BY_TITLE = {
    "震度速報": "VXSE51", "震源・震度に関する情報": "VXSE53", "土砂災害警戒情報": "VXWW50",
    "記録的短時間大雨情報": "VPOA50", "指定河川洪水予報": "VXKO", "気象特別警報・警報・注意報": "VPWW53",
    "気象警報・注意報（Ｈ２７）": "VPWW54",
}
_R06_BY_TITLE = {"大雨": "VPWW55", "土砂": "VPWW56", "高潮": "VPWW57"}
_FILE = re.compile(r"^(\d{14})_(\d+)_([A-Z]{4}\d{2})_(\d{6})\.xml$")
_TYPE_IN_NAME = re.compile(r"_([A-Z]{4}\d{2})_")
_LEVEL_IN_NAME = re.compile(r"レベル\s*([1-5])")

SEVERITIES = ("info", "advisory", "warning", "emergency")  # low → high
#: Kind/Status of a warning that has ended, and of an area with nothing in effect.
ENDED = frozenset({"解除"})
NOTHING = frozenset({"発表警報・注意報はなし", "なし"})
#: 震度 as JMA writes it (MaxInt) → as people say it, in rising order.
INTENSITIES = {"1": "1", "2": "2", "3": "3", "4": "4", "5-": "5弱", "5+": "5強", "6-": "6弱", "6+": "6強", "7": "7"}
_INTENSITY_RANK = {code: rank for rank, code in enumerate(INTENSITIES)}


class JmaXmlError(Unusable):
    """A feed or report that cannot be read; `str()` is the reason for the dead letters."""


class JmaUnavailable(Exception):
    """JMA's server did not answer usefully (network, 5xx, 429): try again after a backoff."""

    def __init__(self, message: str, retry_after: float = 0.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


# --- configuration -----------------------------------------------------------------------


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip()


def municipality_code(code: str) -> str:
    """JMA's 7-digit 市町村 code: 1122900 as is, a 5-digit 全国地方公共団体コード 11229 widened."""
    code = _fold(code)
    if not code.isdigit() or len(code) not in (5, 7):
        raise ValueError(f"{code!r}: expected a 7-digit JMA 市町村 code or a 5-digit municipality code")
    return code + "00" if len(code) == 5 else code


@dataclass(frozen=True)
class JmaConfig:
    """What to poll and what counts as ours."""

    feeds: tuple[str, ...] = (EXTRA_FEED, EQVOL_FEED)
    area_codes: tuple[str, ...] = ()  # 7-digit 市町村 codes of the municipality (5-digit ones widened)
    rivers: tuple[str, ...] = ()  # 指定河川 names (荒川) whose 洪水予報 always concern us
    types: tuple[str, ...] = DEFAULT_TYPES  # type codes, or 4-letter prefixes such as "VXKO"
    poll_interval_s: float = 60.0  # the high-frequency feeds change at most once a minute
    timeout_s: float = 20.0
    max_age_s: float = 3 * 3600  # entries older than this (against the feed's own <updated>) are skipped
    seen_cap: int = 5000  # entry ids remembered in the cursor
    max_bytes: int = 8 * 1024 * 1024  # a feed or report larger than this is refused
    user_agent: str = "noroshi-jma/0.1 (+municipal incident response)"

    def __post_init__(self) -> None:
        object.__setattr__(self, "area_codes", tuple(municipality_code(c) for c in self.area_codes))
        if self.poll_interval_s <= 0 or self.timeout_s <= 0 or self.seen_cap <= 0:
            raise ValueError("poll_interval_s, timeout_s and seen_cap must be positive")

    @classmethod
    def for_profile(cls, profile: Profile, **overrides: Any) -> JmaConfig:
        """A config whose area codes (and rivers) come from the profile's optional
        `municipality.jma_area_codes` (and `municipality.jma_rivers`) unless given."""
        muni = profile.raw.get("municipality") if isinstance(profile.raw, dict) else None
        muni = muni if isinstance(muni, dict) else {}
        found = {"area_codes": muni.get("jma_area_codes"), "rivers": muni.get("jma_rivers")}
        for key, value in found.items():
            if key not in overrides and isinstance(value, list) and all(isinstance(v, str) for v in value):
                overrides[key] = tuple(value)
        return cls(**overrides)

    def wants(self, type_code: str) -> bool:
        return any(type_code == t or (len(t) == 4 and type_code.startswith(t)) for t in self.types)


@dataclass(frozen=True)
class Place:
    """What "our area" is: municipality codes and names, and the wider areas of the profile
    (地震情報／細分区域 such as 埼玉県南部)."""

    codes: frozenset[str]
    names: tuple[str, ...]
    regions: frozenset[str]
    rivers: frozenset[str] = frozenset()

    @classmethod
    def of(cls, profile: Profile, config: JmaConfig) -> Place:
        names = tuple(dict.fromkeys(_fold(n) for n in (profile.name, *profile.names) if n and n.strip()))
        return cls(codes=frozenset(config.area_codes), names=names,
                   regions=frozenset(_fold(a) for a in profile.areas if a.strip()),
                   rivers=frozenset(_fold(r) for r in config.rivers if r.strip()))

    def is_city(self, name: str, code: str = "") -> bool:
        """Our city by its code when both sides have codes (25 city names exist in two
        prefectures: 府中市, 伊達市, …), else by its name."""
        if code and self.codes:
            return _fold(code) in self.codes
        name = _fold(name)
        for own in self.names:
            if name == own:
                return True
            rest = name[len(own):] if name.startswith(own) and own[-1:] in "市区町村" else ""
            if rest and (rest.endswith(("区", "部")) and len(rest) <= 6 or rest == "付近"):
                return True  # さいたま市中央区, 静岡市南部, 和光市付近
        return False

    def is_region(self, name: str) -> bool:
        return _fold(name) in self.regions


# --- XML helpers (elements are matched by local name: the Body namespace depends on the kind) --


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _kids(el: ET.Element | None, name: str) -> list[ET.Element]:
    return [] if el is None else [c for c in el if _local(c.tag) == name]


def _kid(el: ET.Element | None, name: str) -> ET.Element | None:
    return next(iter(_kids(el, name)), None)


def _all(el: ET.Element | None, name: str) -> Iterator[ET.Element]:
    return iter(()) if el is None else (e for e in el.iter() if _local(e.tag) == name)


def _text(el: ET.Element | None, *path: str) -> str:
    for name in path:
        el = _kid(el, name)
    return (el.text or "").strip() if el is not None else ""


def _xml(body: bytes, what: str) -> ET.Element:
    head = body[:2048]
    if b"<!DOCTYPE" in head or b"<!ENTITY" in body:
        raise JmaXmlError(f"{what}: a DOCTYPE or entity declaration, which JMA XML never has")
    try:
        return ET.fromstring(body)
    except ET.ParseError as exc:
        raise JmaXmlError(f"{what}: not well-formed XML: {exc}") from None


# --- the Atom feed -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Entry:
    """One <entry> of a JMA Atom feed."""

    id: str
    title: str
    updated: str
    url: str  # the detail XML
    author: str
    type_code: str

    @property
    def alert_id(self) -> str:
        """`jma:<file name without .xml>`, or a digest of the entry id when the name is unusual."""
        name = PurePosixPath(urlsplit(self.url).path).name
        if _FILE.match(name):
            return f"{SOURCE}:{name[:-4]}"
        return f"{SOURCE}:{hashlib.sha256(self.id.encode()).hexdigest()[:24]}"


def type_of(url: str, title: str) -> str:
    """The report's type code, from its file name (…_VXSE53_010000.xml) or else its title."""
    found = _TYPE_IN_NAME.search(PurePosixPath(urlsplit(url).path).name)
    if found:
        return found.group(1)
    title = title.strip()
    if title.startswith("気象警報・注意報（Ｒ０６）（"):
        phenomenon = title.removeprefix("気象警報・注意報（Ｒ０６）（").rstrip("）")
        return _R06_BY_TITLE.get(phenomenon, "")
    return TYPES_BY_TITLE.get(title, "")


def _timestamp(value: str) -> float | None:
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.timestamp() if parsed.tzinfo is not None else None


def parse_feed(body: bytes, feed_url: str) -> tuple[str, list[Entry]]:
    """A JMA Atom feed → its <updated> and its entries (links made absolute)."""
    root = _xml(body, "feed")
    if root.tag != f"{ATOM}feed":
        raise JmaXmlError(f"feed: the root is {_local(root.tag)!r}, not an Atom feed")
    entries = []
    for item in root.findall(f"{ATOM}entry"):
        entry_id = (item.findtext(f"{ATOM}id") or "").strip()
        title = (item.findtext(f"{ATOM}title") or "").strip()
        links = item.findall(f"{ATOM}link")
        link = next((ln for ln in links if ln.get("type") == "application/xml"), links[0] if links else None)
        href = (link.get("href") or "").strip() if link is not None else ""
        if not entry_id or not href:
            continue  # nothing to fetch; JMA always gives both
        url = urljoin(feed_url, href)
        entries.append(Entry(
            id=entry_id, title=title, updated=(item.findtext(f"{ATOM}updated") or "").strip(), url=url,
            author=(item.findtext(f"{ATOM}author/{ATOM}name") or "").strip(), type_code=type_of(url, title)))
    return (root.findtext(f"{ATOM}updated") or "").strip(), entries


def fresh_entries(entries: Iterable[Entry], feed_updated: str, *, seen: Mapping[str, Any] | set[str],
                  config: JmaConfig) -> list[Entry]:
    """The entries to fetch, oldest first: of a wanted type, not seen, not too old."""
    newest = _timestamp(feed_updated)
    chosen = []
    for entry in entries:
        if entry.id in seen or not config.wants(entry.type_code):
            continue
        updated = _timestamp(entry.updated)
        if newest is not None and updated is not None and newest - updated > config.max_age_s:
            continue
        chosen.append(entry)
    return sorted(chosen, key=lambda e: (_timestamp(e.updated) or 0.0, e.id))


# --- reports → alerts (pure) -----------------------------------------------------------------


@dataclass(frozen=True)
class Report:
    """The Control and Head of a JMA report, and its Body element."""

    root: ET.Element
    title: str  # Control/Title
    status: str  # 通常, 訓練, 試験
    office: str
    head_title: str
    reported_at: str  # Head/ReportDateTime, with its offset
    target_at: str
    event_id: str
    info_type: str  # 発表, 訂正, 取消, 遅延
    serial: str
    headline: str
    head: ET.Element | None
    body: ET.Element | None


def read_report(body: bytes) -> Report:
    root = _xml(body, "report")
    if root.tag != f"{{{JMX}}}Report":
        raise JmaXmlError(f"report: the root is {root.tag!r}, not a 気象庁防災情報XML Report")
    control, head = _kid(root, "Control"), _kid(root, "Head")
    if control is None or head is None:
        raise JmaXmlError("report: no Control or no Head")
    reported_at = _text(head, "ReportDateTime")
    if _timestamp(reported_at) is None:
        raise JmaXmlError(f"report: Head/ReportDateTime {reported_at!r} is not a time with an offset")
    return Report(
        root=root, title=_text(control, "Title"), status=_text(control, "Status"),
        office=_text(control, "PublishingOffice") or _text(control, "EditorialOffice"),
        head_title=_text(head, "Title"), reported_at=reported_at, target_at=_text(head, "TargetDateTime"),
        event_id=_text(head, "EventID"), info_type=_text(head, "InfoType"), serial=_text(head, "Serial"),
        headline=_text(head, "Headline", "Text"), head=head, body=_kid(root, "Body"))


@dataclass(frozen=True, slots=True)
class Finding:
    """What a report says about our area, before it becomes an alert."""

    title: str
    severity: str
    areas: tuple[str, ...]
    text: str
    level: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _highest(severities: Iterable[str]) -> str:
    return max(severities, key=SEVERITIES.index, default="info")


def warning_class(kind: str) -> str:
    """emergency 特別警報, warning 警報 (危険警報 too), advisory 注意報, else info."""
    kind = _fold(kind)
    if "特別警報" in kind:
        return "emergency"
    if "警報" in kind:
        return "warning"
    if "注意報" in kind:
        return "advisory"
    return "info"


def warning_level(kind: str) -> int | None:
    """警戒レベル相当: written in R06 names (レベル４大雨危険警報); for the older names of
    大雨・洪水・高潮・土砂 特別警報 5, 危険警報 4, 警報 3, 注意報 2; none for the others."""
    kind = _fold(kind)
    found = _LEVEL_IN_NAME.search(kind)
    if found:
        return int(found.group(1))
    if not any(word in kind for word in ("大雨", "洪水", "高潮", "土砂")):
        return None
    if "特別警報" in kind:
        return 5
    if "危険警報" in kind:
        return 4
    return 3 if "警報" in kind else 2 if "注意報" in kind else None


def _items_for_city(warning: ET.Element, place: Place) -> Iterator[tuple[str, ET.Element]]:
    for item in _kids(warning, "Item"):
        for area in [*_kids(item, "Area"), *(a for group in _kids(item, "Areas") for a in _kids(group, "Area"))]:
            name = _text(area, "Name")
            if place.is_city(name, _text(area, "Code")):
                yield name, item
                break


def weather_warning(report: Report, place: Place) -> Finding | None:
    """気象警報・注意報 (R06 VPWW55–61, VPWW53/54): the kinds in effect for our city."""
    blocks = [w for w in _kids(report.body, "Warning") if (w.get("type") or "").endswith("（市町村等）")]
    city, effective, ended, lines = "", [], [], []
    for block in blocks:
        for name, item in _items_for_city(block, place):
            city = city or name
            for kind in _kids(item, "Kind"):
                kind_name, status = _text(kind, "Name"), _text(kind, "Status")
                if status in NOTHING or not kind_name:
                    continue
                lines.append(f"{kind_name}（{status}）" if status else kind_name)
                if kind_name in ENDED:  # 「解除」 as the kind: everything for the area has ended
                    ended.append("警報・注意報")
                    continue
                if status in ENDED:
                    ended.append(kind_name)
                    continue
                effective.append(kind_name)
                last = _text(kind, "LastKind", "Name")
                if "から" in status and last and SEVERITIES.index(warning_class(last)) > SEVERITIES.index(
                        warning_class(kind_name)):
                    ended.append(last)  # 警報から注意報: the warning has ended
    if not city:
        return None
    effective = sorted(dict.fromkeys(effective), key=lambda k: -SEVERITIES.index(warning_class(k)))
    # Only a warning's end is news: 「…解除」 makes the detector drop its warning, so an
    # advisory's end must not say it (another report's warning may still be in effect).
    ended = [k for k in dict.fromkeys(ended) if warning_class(k) in ("emergency", "warning")]
    top = _highest(warning_class(k) for k in effective)
    if top in ("emergency", "warning") or (effective and not ended):
        title, severity = "・".join(effective), top
    elif ended:
        title = "・".join(ended) + "解除" + "".join(f"・{k}" for k in effective)
        severity = "info"
    else:
        return None
    levels = [lv for lv in map(warning_level, effective) if lv is not None]
    text = f"{city}：" + "、".join(dict.fromkeys(lines))
    if report.headline:
        text += "\n" + report.headline
    return Finding(title=f"{title}（{city}）", severity=severity, areas=(city,), text=text,
                   level=max(levels) if levels else None,
                   extra={"kinds": effective, "ended": ended})


def _quake_severity(max_int: str) -> str:
    rank = _INTENSITY_RANK.get(max_int, -1)
    if rank >= _INTENSITY_RANK["6-"]:
        return "emergency"
    if rank >= _INTENSITY_RANK["5-"]:
        return "warning"
    return "info"


def _observation(report: Report) -> ET.Element | None:
    return _kid(_kid(report.body, "Intensity"), "Observation")


def _local_intensity(report: Report, place: Place, *, cities: bool) -> tuple[str, str, tuple[str, ...]] | None:
    """(place, MaxInt or condition, areas) of the highest 震度 in our city — or, when no city
    of ours is listed, in one of our regions."""
    best: tuple[int, str, str, tuple[str, ...]] | None = None
    fallback: tuple[int, str, str, tuple[str, ...]] | None = None
    for pref in _kids(_observation(report), "Pref"):
        for area in _kids(pref, "Area"):
            area_name = _text(area, "Name")
            if cities:
                for city in _kids(area, "City"):
                    name = _text(city, "Name")
                    if not place.is_city(name, _text(city, "Code")):
                        continue
                    value = _text(city, "MaxInt") or _fold(_text(city, "Condition"))
                    rank = _INTENSITY_RANK.get(value, _INTENSITY_RANK["5-"])  # 震度５弱以上未入電
                    if best is None or rank > best[0]:
                        best = (rank, name, value, (name, area_name))
            if place.is_region(area_name):
                value = _text(area, "MaxInt")
                rank = _INTENSITY_RANK.get(value, -1)
                if rank >= 0 and (fallback is None or rank > fallback[0]):
                    fallback = (rank, area_name, value, (area_name,))
    chosen = best or fallback
    return None if chosen is None else chosen[1:]


def _said(value: str) -> str:
    return f"震度{INTENSITIES[value]}" if value in INTENSITIES else value


def _when(value: str) -> str:
    """「22日10時14分ころ」 from an RFC 3339 time, or "" when there is none."""
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return ""
    return f"{at.day}日{at.hour}時{at.minute:02d}分ころ"


def earthquake(report: Report, place: Place, *, cities: bool) -> Finding | None:
    """震度速報 (areas only) and 震源・震度に関する情報 (cities too): our own 震度.

    The text names our 震度 and no other, since the detector takes the largest it reads."""
    found = _local_intensity(report, place, cities=cities)
    if found is None:
        return None
    where, value, areas = found
    said = _said(value)
    quake = _kid(report.body, "Earthquake")
    parts = []
    if quake is not None:
        hypocenter = _kid(_kid(quake, "Hypocenter"), "Area")
        coordinate = next((c.get("description", "") for c in _all(hypocenter, "Coordinate")), "")
        magnitude = next((m.get("description", "") for m in _all(quake, "Magnitude")), "")
        details = "、".join(d for d in (coordinate, magnitude) if d)
        parts.append(f"{_when(_text(quake, 'OriginTime'))}、{_text(hypocenter, 'Name')}"
                     + (f"（{details}）" if details else "") + "を震源とする地震がありました。")
    elif report.target_at:
        parts.append(f"{_when(report.target_at)}、強い揺れを観測しました。")
    parts.append(f"{where}で{said}を観測しました。" if value in INTENSITIES else f"{where}：{said}。")
    comment = _text(_kid(report.body, "Comments"), "ForecastComment", "Text")
    if comment:
        parts.append(comment)
    severity = _quake_severity(value) if value in INTENSITIES else "warning"
    return Finding(title=f"{report.title}：{where} {said}", severity=severity, areas=areas,
                   text="".join(parts), extra={"intensity": INTENSITIES.get(value, value)})


def landslide(report: Report, place: Place) -> Finding | None:
    """土砂災害警戒情報 (警戒レベル４相当) for our city, or its 解除."""
    for warning in _kids(report.body, "Warning"):
        for city, item in _items_for_city(warning, place):
            kinds = [(_text(k, "Name"), _text(k, "Status")) for k in _kids(item, "Kind")]
            if not kinds or all(name in NOTHING or status in NOTHING for name, status in kinds):
                return None
            ended = all(name in ENDED or status in ENDED for name, status in kinds)
            text = report.headline or f"{city}に土砂災害警戒情報が発表されています。"
            if ended:
                return Finding(title=f"土砂災害警戒情報解除（{city}）", severity="info", areas=(city,), text=text)
            return Finding(title=f"土砂災害警戒情報（{city}）", severity="warning", areas=(city,), text=text, level=4)
    return None


def _areas_named(root: ET.Element, place: Place) -> list[str]:
    """Names of our city among every <Area> of the report (Name/Code, or City/CityCode of a
    浸水想定地区)."""
    found = []
    for area in _all(root, "Area"):
        for name_tag, code_tag in (("Name", "Code"), ("City", "CityCode")):
            name = _text(area, name_tag)
            if (name or _text(area, code_tag)) and place.is_city(name, _text(area, code_tag)):
                found.append(name)
                break
    return list(dict.fromkeys(found))


def record_rain(report: Report, place: Place) -> Finding | None:
    """記録的短時間大雨情報 naming our city (the 危険 of キキクル is already there)."""
    found = _areas_named(report.root, place)
    if not found:
        return None
    return Finding(title=f"{report.title}（{found[0]}）", severity="warning", areas=tuple(found),
                   text=report.headline or report.head_title)


def _flood_level(kind: str, code: str) -> int | None:
    """指定河川洪水予報: the first digit of Kind/Code is the level, 1 being 解除."""
    kind = _fold(kind)
    if "解除" in kind:
        return 1
    found = _LEVEL_IN_NAME.search(kind)
    if found:
        return int(found.group(1))
    for word, level in (("氾濫発生", 5), ("氾濫特別警報", 5), ("氾濫危険", 4), ("氾濫警戒", 3), ("氾濫警報", 3),
                        ("氾濫注意", 2)):
        if word in kind:
            return level
    return int(code[0]) if len(code) == 2 and code.isdigit() and code[0] in "12345" else None


def flood(report: Report, place: Place) -> Finding | None:
    """指定河川洪水予報 whose 浸水想定地区 holds our city, or on one of our rivers."""
    cities = _areas_named(report.root, place)
    rivers = [_text(a, "Name") for a in _all(report.root, "Area") if _fold(_text(a, "Name")) in place.rivers]
    if not cities and not rivers:
        return None
    # The level is in the Headline's items (Kind/Code 40: 氾濫危険); the Body's kinds
    # also name water levels (氾濫危険水位) that are not the forecast's own.
    kinds = [k for info in _kids(_kid(report.head, "Headline"), "Information")
             for item in _kids(info, "Item") for k in _kids(item, "Kind")]
    if not kinds:
        kinds = [k for w in _kids(report.body, "Warning") for item in _kids(w, "Item") for k in _kids(item, "Kind")]
    levels = [lv for kind in kinds if (lv := _flood_level(_text(kind, "Name"), _text(kind, "Code"))) is not None]
    level = max(levels, default=None)
    title = report.head_title or report.title
    if level == 1:
        severity, level = "info", None
        if "解除" not in title:
            title += "解除"
    else:
        severity = {5: "emergency", 4: "warning", 3: "warning", 2: "advisory"}.get(level or 0, "info")
    areas = tuple(dict.fromkeys([*cities, *rivers]))
    return Finding(title=f"{title}（{areas[0]}）", severity=severity, areas=areas,
                   text=report.headline or title, level=level)


def finding_of(type_code: str, report: Report, place: Place) -> Finding | None:
    if type_code.startswith("VPWW"):
        return weather_warning(report, place)
    if type_code == "VXSE51":
        return earthquake(report, place, cities=False)
    if type_code == "VXSE53":
        return earthquake(report, place, cities=True)
    if type_code == "VXWW50":
        return landslide(report, place)
    if type_code == "VPOA50":
        return record_rain(report, place)
    if type_code.startswith("VXKO"):
        return flood(report, place)
    return None


def alert_from_report(body: bytes, entry: Entry, place: Place) -> dict[str, Any] | None:
    """A detail XML → the contract alert for our area, or None when it does not concern us
    (or is a 試験 report or a 取消). Raises `JmaXmlError` when it cannot be read."""
    report = read_report(body)
    if report.status == "試験" or report.info_type == "取消":
        return None
    type_code = entry.type_code or type_of(entry.url, report.title)
    found = finding_of(type_code, report, place)
    if found is None:
        return None
    alert: dict[str, Any] = {
        "kind": "alert", "id": entry.alert_id, "platform": "web", "ts": report.reported_at,
        "source": SOURCE, "title": found.title, "severity": found.severity, "areas": list(found.areas),
        "text": found.text, "level": found.level, "url": entry.url,
        "jma": {"type": type_code, "event_id": report.event_id, "serial": report.serial,
                "info_type": report.info_type, "office": report.office, **found.extra},
    }
    if report.status == "訓練":
        alert["drill"] = True
    return alert


# --- the poller ----------------------------------------------------------------------------


def _retry_after(value: str | None) -> float:
    try:
        return max(0.0, float(value)) if value else 0.0
    except ValueError:
        return 0.0


class JmaSource:
    """Polls the feeds and publishes alerts: `await JmaSource(config, profile).run(sink, stop)`."""

    name = SOURCE

    def __init__(self, config: JmaConfig, profile: Profile, *, cursor: Cursor | None = None,
                 session: aiohttp.ClientSession | None = None, backoff: Backoff | None = None) -> None:
        self.config = config
        self.place = Place.of(profile, config)
        self.cursor = cursor or Cursor(None, SOURCE)
        self.backoff = backoff or Backoff(base_s=5.0, cap_s=600.0)
        self._session = session
        state = self.cursor.load()
        seen = state.get("seen")
        self.seen: dict[str, None] = dict.fromkeys(s for s in seen if isinstance(s, str)) \
            if isinstance(seen, list) else {}
        modified = state.get("last_modified")
        self.last_modified: dict[str, str] = {k: v for k, v in modified.items() if isinstance(v, str)} \
            if isinstance(modified, dict) else {}

    def _remember(self, entry_id: str) -> None:
        self.seen[entry_id] = None
        while len(self.seen) > self.config.seen_cap:
            del self.seen[next(iter(self.seen))]

    def _save(self) -> None:
        self.cursor.save({"seen": list(self.seen), "last_modified": self.last_modified})

    async def _get(self, session: aiohttp.ClientSession, url: str,
                   headers: Mapping[str, str] | None = None) -> tuple[int, bytes, str | None]:
        """(status, body, Last-Modified); JmaUnavailable for what a retry may cure."""
        try:
            async with session.get(url, headers=headers or {}, allow_redirects=True) as resp:
                if resp.status == 429 or resp.status >= 500:
                    raise JmaUnavailable(f"HTTP {resp.status} from {url}",
                                         _retry_after(resp.headers.get("Retry-After")))
                if resp.status != 200:
                    return resp.status, b"", None
                if (resp.content_length or 0) > self.config.max_bytes:
                    raise JmaXmlError(f"{url}: larger than {self.config.max_bytes} bytes")
                chunks, size = [], 0
                async for chunk in resp.content.iter_chunked(65536):
                    size += len(chunk)
                    if size > self.config.max_bytes:
                        raise JmaXmlError(f"{url}: larger than {self.config.max_bytes} bytes")
                    chunks.append(chunk)
                return resp.status, b"".join(chunks), resp.headers.get("Last-Modified")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise JmaUnavailable(f"{url}: {type(exc).__name__}: {exc}") from None

    async def poll_once(self, session: aiohttp.ClientSession, sink: Sink) -> int:
        """Read each feed once and publish what is new; the number of alerts published.

        A feed that fails does not hold up the others (an earthquake report must not wait
        for a warning); the first failure is raised once all have been tried."""
        published, failure = 0, None
        try:
            for feed_url in self.config.feeds:
                try:
                    published += await self._poll_feed(session, sink, feed_url)
                except JmaUnavailable as exc:
                    failure = failure or exc
        finally:
            self._save()
        if failure is not None:
            raise failure
        return published

    async def _poll_feed(self, session: aiohttp.ClientSession, sink: Sink, feed_url: str) -> int:
        headers = {"If-Modified-Since": self.last_modified[feed_url]} if feed_url in self.last_modified else {}
        try:
            status, body, modified = await self._get(session, feed_url, headers)
        except JmaXmlError as exc:
            raise JmaUnavailable(str(exc)) from None
        if status == 304:
            return 0
        if status != 200:
            raise JmaUnavailable(f"HTTP {status} from {feed_url}")
        try:
            updated, entries = parse_feed(body, feed_url)
        except JmaXmlError as exc:
            raise JmaUnavailable(f"{feed_url}: {exc}") from None  # a feed half-written: read it again later
        published = 0
        for entry in fresh_entries(entries, updated, seen=self.seen, config=self.config):
            published += await self._take(session, sink, entry)
            self._remember(entry.id)
        if modified:
            self.last_modified[feed_url] = modified  # only once every entry is done
        return published

    async def _take(self, session: aiohttp.ClientSession, sink: Sink, entry: Entry) -> int:
        try:
            status, body, _ = await self._get(session, entry.url)
        except JmaXmlError as exc:  # too large
            return await self._reject(sink, entry, entry.url.encode(), str(exc))
        if status != 200:  # gone (404): a retry will not bring it back
            return await self._reject(sink, entry, entry.url.encode(), f"{entry.url}: HTTP {status}")
        try:
            alert = alert_from_report(body, entry, self.place)
        except JmaXmlError as exc:
            return await self._reject(sink, entry, body, str(exc))
        if alert is None or not await sink.publish(alert):
            return 0
        log.info("jma_alert_published", alert_id=alert["id"], title=alert["title"], severity=alert["severity"])
        return 1

    async def _reject(self, sink: Sink, entry: Entry, raw: bytes, reason: str) -> int:
        log.warning("jma_report_rejected", entry=entry.id, reason=reason)
        await sink.reject(raw, f"{SOURCE}: {reason}", SOURCE)
        return 0

    async def run(self, sink: Sink, stop: asyncio.Event) -> None:
        """Poll until `stop` is set; after a failure wait with `Backoff`, then go on."""
        session = self._session or aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.config.timeout_s),
            headers={"User-Agent": self.config.user_agent})
        try:
            while not stop.is_set():
                try:
                    await self.poll_once(session, sink)
                except JmaUnavailable as exc:
                    delay = self.backoff.next_delay(exc.retry_after)
                    log.warning("jma_poll_failed", reason=str(exc), retry_in_s=round(delay, 1))
                except Exception:  # noqa: BLE001 — a source keeps going; the log has the trace
                    delay = self.backoff.next_delay()
                    log.exception("jma_poll_crashed", retry_in_s=round(delay, 1))
                else:
                    self.backoff.reset()
                    delay = self.config.poll_interval_s
                if await sleep_or_stop(delay, stop):
                    break
        finally:
            if self._session is None:
                await session.close()


def with_types(config: JmaConfig, *extra: str) -> JmaConfig:
    """`config` also taking `extra` type codes (e.g. `*LEGACY_WARNINGS` where R06 is not yet read)."""
    return replace(config, types=tuple(dict.fromkeys((*config.types, *extra))))
