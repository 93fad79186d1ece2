"""JMA detail reports → contract alerts, pure: warnings (R06 and legacy), earthquake reports,
土砂災害警戒情報, 記録的短時間大雨情報 and 指定河川洪水予報, each read for our area only.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sources.jma_config import SOURCE, Place, nfkc
from sources.jma_feed import (
    Entry,
    JmaXmlError,
    child,
    children,
    descendants,
    parse_timestamp,
    parse_xml,
    text_at,
    type_of,
)

JMX = "http://xml.kishou.go.jp/jmaxml1/"  # the Report element; Head and Body have their own
                                          # namespaces (informationBasis1, body/meteorology1, body/seismology1)
_LEVEL_IN_NAME = re.compile(r"レベル\s*([1-5])")

#: JMA's own classes of a warning (not our incident severities), low → high.
WARNING_CLASSES = ("info", "advisory", "warning", "emergency")
#: Kind/Status of a warning that has ended, and of an area with nothing in effect.
ENDED = frozenset({"解除"})
NOTHING = frozenset({"発表警報・注意報はなし", "なし"})
#: 震度 as JMA writes it (MaxInt) → as people say it, in rising order.
INTENSITIES = {"1": "1", "2": "2", "3": "3", "4": "4", "5-": "5弱", "5+": "5強", "6-": "6弱", "6+": "6強", "7": "7"}
_INTENSITY_RANK = {code: rank for rank, code in enumerate(INTENSITIES)}

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
    root = parse_xml(body, "report")
    if root.tag != f"{{{JMX}}}Report":
        raise JmaXmlError(f"report: the root is {root.tag!r}, not a 気象庁防災情報XML Report")
    control, head = child(root, "Control"), child(root, "Head")
    if control is None or head is None:
        raise JmaXmlError("report: no Control or no Head")
    reported_at = text_at(head, "ReportDateTime")
    if parse_timestamp(reported_at) is None:
        raise JmaXmlError(f"report: Head/ReportDateTime {reported_at!r} is not a time with an offset")
    return Report(
        root=root, title=text_at(control, "Title"), status=text_at(control, "Status"),
        office=text_at(control, "PublishingOffice") or text_at(control, "EditorialOffice"),
        head_title=text_at(head, "Title"), reported_at=reported_at, target_at=text_at(head, "TargetDateTime"),
        event_id=text_at(head, "EventID"), info_type=text_at(head, "InfoType"), serial=text_at(head, "Serial"),
        headline=text_at(head, "Headline", "Text"), head=head, body=child(root, "Body"))


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
    return max(severities, key=WARNING_CLASSES.index, default="info")


def warning_class(kind: str) -> str:
    """emergency 特別警報, warning 警報 (危険警報 too), advisory 注意報, else info."""
    kind = nfkc(kind)
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
    kind = nfkc(kind)
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
    for item in children(warning, "Item"):
        for area in [*children(item, "Area"), *(a for group in children(item, "Areas") for a in children(group, "Area"))]:
            name = text_at(area, "Name")
            if place.is_city(name, text_at(area, "Code")):
                yield name, item
                break


def weather_warning(report: Report, place: Place) -> Finding | None:
    """気象警報・注意報 (R06 VPWW55–61, VPWW53/54): the kinds in effect for our city."""
    blocks = [w for w in children(report.body, "Warning") if (w.get("type") or "").endswith("（市町村等）")]
    city, effective, ended, lines = "", [], [], []
    for block in blocks:
        for name, item in _items_for_city(block, place):
            city = city or name
            for kind in children(item, "Kind"):
                kind_name, status = text_at(kind, "Name"), text_at(kind, "Status")
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
                last = text_at(kind, "LastKind", "Name")
                rank = WARNING_CLASSES.index
                if "から" in status and last and rank(warning_class(last)) > rank(warning_class(kind_name)):
                    ended.append(last)  # 警報から注意報: the warning has ended
    if not city:
        return None
    effective = sorted(dict.fromkeys(effective), key=lambda k: -WARNING_CLASSES.index(warning_class(k)))
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
    return child(child(report.body, "Intensity"), "Observation")


def _local_intensity(report: Report, place: Place, *, cities: bool) -> tuple[str, str, tuple[str, ...]] | None:
    """(place, MaxInt or condition, areas) of the highest 震度 in our city — or, when no city
    of ours is listed, in one of our regions."""
    best: tuple[int, str, str, tuple[str, ...]] | None = None
    fallback: tuple[int, str, str, tuple[str, ...]] | None = None
    for pref in children(_observation(report), "Pref"):
        for area in children(pref, "Area"):
            area_name = text_at(area, "Name")
            if cities:
                for city in children(area, "City"):
                    name = text_at(city, "Name")
                    if not place.is_city(name, text_at(city, "Code")):
                        continue
                    value = text_at(city, "MaxInt") or nfkc(text_at(city, "Condition"))
                    rank = _INTENSITY_RANK.get(value, _INTENSITY_RANK["5-"])  # 震度５弱以上未入電
                    if best is None or rank > best[0]:
                        best = (rank, name, value, (name, area_name))
            if place.is_region(area_name):
                value = text_at(area, "MaxInt")
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
    quake = child(report.body, "Earthquake")
    parts = []
    if quake is not None:
        hypocenter = child(child(quake, "Hypocenter"), "Area")
        coordinate = next((c.get("description", "") for c in descendants(hypocenter, "Coordinate")), "")
        magnitude = next((m.get("description", "") for m in descendants(quake, "Magnitude")), "")
        details = "、".join(d for d in (coordinate, magnitude) if d)
        parts.append(f"{_when(text_at(quake, 'OriginTime'))}、{text_at(hypocenter, 'Name')}"
                     + (f"（{details}）" if details else "") + "を震源とする地震がありました。")
    elif report.target_at:
        parts.append(f"{_when(report.target_at)}、強い揺れを観測しました。")
    parts.append(f"{where}で{said}を観測しました。" if value in INTENSITIES else f"{where}：{said}。")
    comment = text_at(child(report.body, "Comments"), "ForecastComment", "Text")
    if comment:
        parts.append(comment)
    severity = _quake_severity(value) if value in INTENSITIES else "warning"
    return Finding(title=f"{report.title}：{where} {said}", severity=severity, areas=areas,
                   text="".join(parts), extra={"intensity": INTENSITIES.get(value, value)})


def landslide(report: Report, place: Place) -> Finding | None:
    """土砂災害警戒情報 (警戒レベル４相当) for our city, or its 解除."""
    for warning in children(report.body, "Warning"):
        for city, item in _items_for_city(warning, place):
            kinds = [(text_at(k, "Name"), text_at(k, "Status")) for k in children(item, "Kind")]
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
    for area in descendants(root, "Area"):
        for name_tag, code_tag in (("Name", "Code"), ("City", "CityCode")):
            name = text_at(area, name_tag)
            if (name or text_at(area, code_tag)) and place.is_city(name, text_at(area, code_tag)):
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
    kind = nfkc(kind)
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
    rivers = [text_at(a, "Name") for a in descendants(report.root, "Area") if nfkc(text_at(a, "Name")) in place.rivers]
    if not cities and not rivers:
        return None
    # The level is in the Headline's items (Kind/Code 40: 氾濫危険); the Body's kinds
    # also name water levels (氾濫危険水位) that are not the forecast's own.
    kinds = [k for info in children(child(report.head, "Headline"), "Information")
             for item in children(info, "Item") for k in children(item, "Kind")]
    if not kinds:
        kinds = [k for w in children(report.body, "Warning") for item in children(w, "Item") for k in children(item, "Kind")]
    levels = [lv for kind in kinds if (lv := _flood_level(text_at(kind, "Name"), text_at(kind, "Code"))) is not None]
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


