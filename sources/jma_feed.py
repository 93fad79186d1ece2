"""Reading JMA's XML: the element helpers (matched by local name) and the Atom feed,
whose entries say which detail reports are new and of which type.
"""

from __future__ import annotations

import hashlib
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urljoin, urlsplit

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as safe_fromstring

from sources.base import Unusable
from sources.jma_config import SOURCE, JmaConfig

ATOM = "{http://www.w3.org/2005/Atom}"
#: Feed titles for entries whose link has no type code in its file name.
TYPES_BY_TITLE = {
    "震度速報": "VXSE51", "震源・震度に関する情報": "VXSE53", "土砂災害警戒情報": "VXWW50",
    "記録的短時間大雨情報": "VPOA50", "指定河川洪水予報": "VXKO", "気象特別警報・警報・注意報": "VPWW53",
    "気象警報・注意報（Ｈ２７）": "VPWW54",
}
_R06_BY_TITLE = {"大雨": "VPWW55", "土砂": "VPWW56", "高潮": "VPWW57"}
_FILE = re.compile(r"^(\d{14})_(\d+)_([A-Z]{4}\d{2})_(\d{6})\.xml$")
_TYPE_IN_NAME = re.compile(r"_([A-Z]{4}\d{2})_")


class JmaXmlError(Unusable):
    """A feed or report that cannot be read; `str()` is the reason for the dead letters."""


# --- XML helpers (elements are matched by local name: the Body namespace depends on the kind) --


def local_name(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def children(el: ET.Element | None, name: str) -> list[ET.Element]:
    return [] if el is None else [c for c in el if local_name(c.tag) == name]


def child(el: ET.Element | None, name: str) -> ET.Element | None:
    return next(iter(children(el, name)), None)


def descendants(el: ET.Element | None, name: str) -> Iterator[ET.Element]:
    return iter(()) if el is None else (e for e in el.iter() if local_name(e.tag) == name)


def text_at(el: ET.Element | None, *path: str) -> str:
    for name in path:
        el = child(el, name)
    return (el.text or "").strip() if el is not None else ""


def parse_xml(body: bytes, what: str) -> ET.Element:
    """`body` parsed by defusedxml, which refuses a DOCTYPE (so any entity declaration) and external
    references in whatever encoding the document declares: JMA XML never has them. A byte check
    missed a UTF-16 document's DOCTYPE, whose entities then expanded."""
    try:
        return safe_fromstring(body, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise JmaXmlError(f"{what}: a DOCTYPE or entity declaration, which JMA XML never has "
                          f"({type(exc).__name__})") from None
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


def parse_timestamp(value: str) -> float | None:
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.timestamp() if parsed.tzinfo is not None else None


def parse_feed(body: bytes, feed_url: str) -> tuple[str, list[Entry]]:
    """A JMA Atom feed → its <updated> and its entries (links made absolute)."""
    root = parse_xml(body, "feed")
    if root.tag != f"{ATOM}feed":
        raise JmaXmlError(f"feed: the root is {local_name(root.tag)!r}, not an Atom feed")
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
    newest = parse_timestamp(feed_updated)
    chosen = []
    for entry in entries:
        if entry.id in seen or not config.wants(entry.type_code):
            continue
        updated = parse_timestamp(entry.updated)
        if newest is not None and updated is not None and newest - updated > config.max_age_s:
            continue
        chosen.append(entry)
    return sorted(chosen, key=lambda e: (parse_timestamp(e.updated) or 0.0, e.id))


