"""What the playbooks read from a municipality profile, read in one place: the official
accounts, the links and contacts a draft may carry, where to report an impersonation, and the
city's own closure days.

The roster (連絡体制) has its own reader, `playbooks.policy.roster_from_profile`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from playbooks.policy import NO_CLOSURES, ClosureDays

#: Where each platform takes impersonation reports; a profile's `takedown_report_urls` overrides.
REPORT_PAGES = {
    "x": "https://help.x.com/forms/impersonation",
    "facebook": "https://www.facebook.com/help/contact/295309487309948",
    "instagram": "https://help.instagram.com/contact/636276399721841",
    "youtube": "https://support.google.com/youtube/answer/2801947",
}


def official_accounts(profile_raw: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The city's accounts that have a handle, as {platform, handle}: where statements go."""
    return [{"platform": a.get("platform"), "handle": a.get("handle")}
            for a in profile_raw.get("accounts") or () if isinstance(a, Mapping) and a.get("handle")]


def _municipality(profile_raw: Mapping[str, Any]) -> Mapping[str, Any]:
    muni = profile_raw.get("municipality")
    if not isinstance(muni, Mapping):
        raise ValueError("municipality: missing or not an object")
    return muni


def _profile_strings(obj: Mapping[str, Any], key: str, where: str) -> list[str]:
    value = obj.get(key)
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ValueError(f"{where}.{key}: expected a string or a list of strings, got {value!r}")
    return value


def trusted_links_from_profile(profile_raw: Mapping[str, Any]) -> tuple[str, ...]:
    """The city's own link targets: `municipality.website` and `municipality.domains` (optional
    fields), and each official account's page (trusted by path, not the whole platform)."""
    muni = _municipality(profile_raw)
    links = _profile_strings(muni, "website", "municipality") + _profile_strings(muni, "domains", "municipality")
    for i, account in enumerate(profile_raw.get("accounts") or []):
        if isinstance(account, Mapping):
            links += _profile_strings(account, "url", f"accounts[{i}]")
    return tuple(dict.fromkeys(links))


def official_contacts_from_profile(profile_raw: Mapping[str, Any]) -> tuple[str, ...]:
    """`municipality.official_contacts` (optional): the phone numbers, e-mail and postal addresses
    the city publishes, which drafts may quote."""
    return tuple(_profile_strings(_municipality(profile_raw), "official_contacts", "municipality"))


def city_name(profile_raw: Mapping[str, Any], default: str) -> str:
    muni = profile_raw.get("municipality") or {}
    return muni.get("name") or default  # type: ignore[no-any-return]


def city_website(profile_raw: Mapping[str, Any]) -> str | None:
    muni = profile_raw.get("municipality") or {}
    return muni.get("website") or muni.get("url")  # type: ignore[no-any-return]


def takedown_report_pages(profile_raw: Mapping[str, Any]) -> dict[str, str]:
    """Each platform's impersonation report page, the profile's own first."""
    return {**REPORT_PAGES, **dict(profile_raw.get("takedown_report_urls") or {})}


class ProfileFieldError(ValueError):
    """A field of the profile beyond the contract that cannot be read: the field, then why,
    in Japanese and then in English."""

    def __init__(self, field: str, japanese: str, english: str) -> None:
        super().__init__(f"{field}: {japanese} / {field}: {english}")
        self.field, self.ja, self.en = field, f"{field}: {japanese}", f"{field}: {english}"


_ONE_DAY = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_EVERY_YEAR = re.compile(r"(\d{2})-(\d{2})")


def closure_days_from_profile(profile_raw: Mapping[str, Any]) -> ClosureDays:
    """`closure_days` (optional): the city's own 閉庁日 on top of 土日, 祝日・休日 and 12/29–1/3, as a list
    of "YYYY-MM-DD" (that one day, e.g. a 開庁日 moved for an election) and "MM-DD" (every year, e.g.
    a 市民の日). Anything else is refused naming the entry: a day mistyped must not be a working day."""
    value = profile_raw.get("closure_days")
    if value is None:
        return NO_CLOSURES
    if not isinstance(value, list):
        raise ProfileFieldError("closure_days", '日付の一覧で書いてください（例: ["2027-05-06", "10-01"]）',
                                f'expected a list of dates such as ["2027-05-06", "10-01"], got {value!r}')
    dates: set[date] = set()
    yearly: set[tuple[int, int]] = set()
    for i, entry in enumerate(value):
        one = _ONE_DAY.fullmatch(entry) if isinstance(entry, str) else None
        every = _EVERY_YEAR.fullmatch(entry) if isinstance(entry, str) else None
        try:
            if one:
                dates.add(date(*map(int, one.groups())))
                continue
            if every:
                month, day = map(int, every.groups())
                date(2000, month, day)  # a leap year: 02-29 is a day that some years have
                yearly.add((month, day))
                continue
        except ValueError:
            pass
        raise ProfileFieldError(f"closure_days[{i}]",
                                f"{entry!r} は日付として読めません。その日だけなら YYYY-MM-DD、毎年なら MM-DD で書いてください",
                                f"{entry!r} is not a date: write YYYY-MM-DD for one day, MM-DD for every year")
    return ClosureDays(frozenset(dates), frozenset(yearly))
