"""What the playbooks read from a municipality profile, read in one place: the official
accounts, the links and contacts a draft may carry, and where to report an impersonation.

The roster (連絡体制) has its own reader, `playbooks.policy.roster_from_profile`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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
