"""What the 気象庁 source polls (feeds, report types, limits) and what counts as our area:
the municipality's JMA codes and names, its wider regions and its rivers (`Place`).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, replace
from typing import Any

from vocabulary.contract import Profile

SOURCE = "jma"
FEED_BASE = "https://www.data.jma.go.jp/developer/xml/feed/"
EXTRA_FEED = FEED_BASE + "extra.xml"  # 随時: warnings, 土砂, 記録的短時間大雨, 洪水予報 (high-frequency)
EQVOL_FEED = FEED_BASE + "eqvol.xml"  # 地震・火山 (high-frequency)

R06_WARNINGS = tuple(f"VPWW{n}" for n in range(55, 62))
LEGACY_WARNINGS = ("VPWW53", "VPWW54")
DEFAULT_TYPES = (*R06_WARNINGS, "VXSE51", "VXSE53", "VXWW50", "VPOA50", "VXKO")


def nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip()


def municipality_code(code: str) -> str:
    """JMA's 7-digit 市町村 code: 1122900 as is, a 5-digit 全国地方公共団体コード 11229 widened."""
    code = nfkc(code)
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
        names = tuple(dict.fromkeys(nfkc(n) for n in (profile.name, *profile.names) if n and n.strip()))
        return cls(codes=frozenset(config.area_codes), names=names,
                   regions=frozenset(nfkc(a) for a in profile.areas if a.strip()),
                   rivers=frozenset(nfkc(r) for r in config.rivers if r.strip()))

    def is_city(self, name: str, code: str = "") -> bool:
        """Our city by its code when both sides have codes (25 city names exist in two
        prefectures: 府中市, 伊達市, …), else by its name."""
        if code and self.codes:
            return nfkc(code) in self.codes
        name = nfkc(name)
        for own in self.names:
            if name == own:
                return True
            rest = name[len(own):] if name.startswith(own) and own[-1:] in "市区町村" else ""
            if rest and (rest.endswith(("区", "部")) and len(rest) <= 6 or rest == "付近"):
                return True  # さいたま市中央区, 静岡市南部, 和光市付近
        return False

    def is_region(self, name: str) -> bool:
        return nfkc(name) in self.regions


def with_types(config: JmaConfig, *extra: str) -> JmaConfig:
    """`config` also taking `extra` type codes (e.g. `*LEGACY_WARNINGS` where R06 is not yet read)."""
    return replace(config, types=tuple(dict.fromkeys((*config.types, *extra))))
