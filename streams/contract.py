"""The event contract (../shared/contracts/events.md) as code: parsing and validation.

Pure functions from bytes or dicts to frozen dataclasses. A line that breaks
the contract raises `ContractError` with a reason an operator can act on; the
caller (an agent or `replay`) sends it to the dead letters and goes on.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

PLATFORMS = frozenset({"x", "bluesky", "mastodon", "facebook", "instagram", "line", "youtube", "web"})
ACCOUNT_EVENT_TYPES = frozenset(
    {"seen", "created", "profile_changed", "reported", "official_post", "security"}
)
INCIDENT_TYPES = ("flame", "impersonation", "misinformation", "disaster")
SEVERITIES = ("low", "medium", "high", "critical")

_HASHTAG = re.compile(r"[#＃]([^\s#＃、。,.!?！？「」()（）\[\]【】]+)")


class ContractError(ValueError):
    """An input line does not follow the event contract; `str()` is the reason."""


def parse_ts(value: Any, where: str = "ts") -> float:
    """RFC 3339 with an offset → POSIX seconds. Naive times are refused."""
    if not isinstance(value, str) or not value:
        raise ContractError(f"{where}: expected an RFC 3339 time string, got {value!r}")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ContractError(f"{where}: not an RFC 3339 time: {value!r}") from None
    if parsed.tzinfo is None:
        raise ContractError(f"{where}: time {value!r} has no UTC offset")
    return parsed.timestamp()


@dataclass(frozen=True, slots=True)
class PostRef:
    post_id: str
    account: str  # handle of the author of the referenced post, without "@"


@dataclass(frozen=True, slots=True)
class Author:
    id: str
    handle: str
    name: str
    followers: int
    created_at: str | None


@dataclass(frozen=True, slots=True)
class Mention:
    id: str
    platform: str
    ts: float
    ts_text: str
    author: Author
    text: str
    reply_to: PostRef | None
    quote_of: PostRef | None
    repost_of: PostRef | None
    hashtags: tuple[str, ...]
    urls: tuple[str, ...]
    lang: str | None
    geo: dict[str, Any] | None = None  # {"lat", "lon"} or {"place"}
    drill: bool = False  # 訓練: an extra field drills set; what it opens is a drill
    kind: str = field(default="mention", init=False)


@dataclass(frozen=True, slots=True)
class Account:
    id: str
    handle: str
    name: str
    bio: str
    url: str
    avatar_phash: str | None
    followers: int
    created_at: str | None
    verified: bool


@dataclass(frozen=True, slots=True)
class AccountEvent:
    id: str
    platform: str
    ts: float
    ts_text: str
    type: str
    account: Account
    note: str | None
    post: dict[str, Any] | None
    drill: bool = False
    kind: str = field(default="account", init=False)


@dataclass(frozen=True, slots=True)
class Alert:
    id: str
    platform: str
    ts: float
    ts_text: str
    source: str
    title: str
    severity: str
    areas: tuple[str, ...]
    text: str
    drill: bool = False
    kind: str = field(default="alert", init=False)


Event = Mention | AccountEvent | Alert


def _str(obj: dict[str, Any], key: str, where: str, *, required: bool = True) -> str:
    value = obj.get(key)
    if value is None:
        if required:
            raise ContractError(f"{where}.{key}: missing")
        return ""
    if not isinstance(value, str):
        raise ContractError(f"{where}.{key}: expected a string, got {type(value).__name__}")
    return value


def _count(obj: dict[str, Any], key: str, where: str) -> int:
    value = obj.get(key, 0)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ContractError(f"{where}.{key}: expected a count ≥ 0, got {value!r}")
    return value


def _ref(obj: dict[str, Any], key: str) -> PostRef | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ContractError(f"{key}: expected null or {{post_id, account}}")
    return PostRef(
        post_id=_str(value, "post_id", key),
        account=_str(value, "account", key, required=False).lstrip("@"),
    )


def _str_list(obj: dict[str, Any], key: str) -> tuple[str, ...]:
    value = obj.get(key)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ContractError(f"{key}: expected a list of strings")
    return tuple(value)


def hashtags_in(text: str) -> tuple[str, ...]:
    return tuple(unicodedata.normalize("NFKC", m) for m in _HASHTAG.findall(text))


def _mention(obj: dict[str, Any], base: dict[str, Any]) -> Mention:
    author = obj.get("author")
    if not isinstance(author, dict):
        raise ContractError("author: missing or not an object")
    text = _str(obj, "text", "mention")
    tags = _str_list(obj, "hashtags") if "hashtags" in obj and obj["hashtags"] is not None else hashtags_in(text)
    return Mention(
        author=Author(
            id=_str(author, "id", "author"),
            handle=_str(author, "handle", "author").lstrip("@"),
            name=_str(author, "name", "author", required=False),
            followers=_count(author, "followers", "author"),
            created_at=author.get("created_at") if isinstance(author.get("created_at"), str) else None,
        ),
        text=text,
        reply_to=_ref(obj, "reply_to"),
        quote_of=_ref(obj, "quote_of"),
        repost_of=_ref(obj, "repost_of"),
        hashtags=tuple(t.lstrip("#＃") for t in tags),
        urls=_str_list(obj, "urls"),
        lang=obj.get("lang") if isinstance(obj.get("lang"), str) else None,
        geo=obj.get("geo") if isinstance(obj.get("geo"), dict) else None,
        **base,
    )


def _account_event(obj: dict[str, Any], base: dict[str, Any]) -> AccountEvent:
    kind = _str(obj, "type", "account event")
    if kind not in ACCOUNT_EVENT_TYPES:
        raise ContractError(f"type: {kind!r} is not one of {', '.join(sorted(ACCOUNT_EVENT_TYPES))}")
    acct = obj.get("account")
    if not isinstance(acct, dict):
        raise ContractError("account: missing or not an object")
    post = obj.get("post")
    if kind == "official_post":
        if not isinstance(post, dict) or not isinstance(post.get("id"), str):
            raise ContractError("official_post: needs post {id, text, url}")
    note = obj.get("note")
    return AccountEvent(
        type=kind,
        account=Account(
            id=_str(acct, "id", "account", required=False),
            handle=_str(acct, "handle", "account").lstrip("@"),
            name=_str(acct, "name", "account", required=False),
            bio=_str(acct, "bio", "account", required=False),
            url=_str(acct, "url", "account", required=False),
            avatar_phash=acct.get("avatar_phash") if isinstance(acct.get("avatar_phash"), str) else None,
            followers=_count(acct, "followers", "account"),
            created_at=acct.get("created_at") if isinstance(acct.get("created_at"), str) else None,
            verified=acct.get("verified") is True,
        ),
        note=note if isinstance(note, str) else None,
        post=post if isinstance(post, dict) else None,
        **base,
    )


def _alert(obj: dict[str, Any], base: dict[str, Any]) -> Alert:
    return Alert(
        source=_str(obj, "source", "alert", required=False),
        title=_str(obj, "title", "alert", required=False),
        severity=_str(obj, "severity", "alert", required=False),
        areas=_str_list(obj, "areas"),
        text=_str(obj, "text", "alert", required=False),
        **base,
    )


_BUILDERS = {"mention": _mention, "account": _account_event, "alert": _alert}


def event_from_dict(obj: Any) -> Event:
    if not isinstance(obj, dict):
        raise ContractError(f"expected a JSON object, got {type(obj).__name__}")
    kind = obj.get("kind")
    builder = _BUILDERS.get(kind) if isinstance(kind, str) else None
    if builder is None:
        raise ContractError(f"kind: {kind!r} is not one of mention, account, alert")
    event_id = _str(obj, "id", kind)
    if not event_id:
        raise ContractError("id: empty")
    platform = _str(obj, "platform", kind)
    if platform not in PLATFORMS:
        raise ContractError(f"platform: {platform!r} is not one of {', '.join(sorted(PLATFORMS))}")
    ts_text = obj.get("ts")
    base = {"id": event_id, "platform": platform, "ts": parse_ts(ts_text), "ts_text": ts_text,
            "drill": obj.get("drill") is True}
    return builder(obj, base)


def parse_event(raw: bytes | str) -> Event:
    """One contract line → an event, or `ContractError` saying what is wrong."""
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ContractError(f"not valid JSON: {exc}") from None
    return event_from_dict(obj)


# --- municipality profile -------------------------------------------------


@dataclass(frozen=True, slots=True)
class OfficialAccount:
    platform: str
    handle: str
    name: str
    url: str = ""
    avatar_phash: str | None = None
    department: str = ""
    owner: str = ""
    reply_policy: str = "none"


@dataclass(frozen=True, slots=True)
class Profile:
    id: str
    name: str
    names: tuple[str, ...]
    areas: tuple[str, ...]
    accounts: tuple[OfficialAccount, ...]
    watch_hashtags: tuple[str, ...]
    disaster_hashtags: tuple[str, ...]
    raw: dict[str, Any] = field(repr=False, compare=False, hash=False)

    @property
    def official_handles(self) -> frozenset[str]:
        return frozenset(a.handle.lower() for a in self.accounts)


def profile_from_dict(obj: Any, where: str = "profile") -> Profile:
    if not isinstance(obj, dict):
        raise ContractError(f"{where}: expected a JSON object")
    muni = obj.get("municipality")
    if not isinstance(muni, dict):
        raise ContractError(f"{where}: municipality: missing or not an object")
    muni_id = _str(muni, "id", f"{where}: municipality")
    name = _str(muni, "name", f"{where}: municipality")
    accounts_raw = obj.get("accounts") or []
    if not isinstance(accounts_raw, list):
        raise ContractError(f"{where}: accounts: expected a list")
    accounts = []
    for i, acct in enumerate(accounts_raw):
        at = f"{where}: accounts[{i}]"
        if not isinstance(acct, dict):
            raise ContractError(f"{at}: expected an object")
        accounts.append(
            OfficialAccount(
                platform=_str(acct, "platform", at),
                handle=_str(acct, "handle", at).lstrip("@"),
                name=_str(acct, "name", at),
                url=_str(acct, "url", at, required=False),
                avatar_phash=acct.get("avatar_phash") if isinstance(acct.get("avatar_phash"), str) else None,
                department=_str(acct, "department", at, required=False),
                owner=_str(acct, "owner", at, required=False),
                reply_policy=_str(acct, "reply_policy", at, required=False) or "none",
            )
        )
    names_raw = muni.get("names") or [name]
    if not isinstance(names_raw, list) or not all(isinstance(n, str) for n in names_raw):
        raise ContractError(f"{where}: municipality.names: expected a list of strings")
    names = tuple(names_raw)
    return Profile(
        id=muni_id,
        name=name,
        names=names,
        areas=tuple(muni.get("areas") or ()),
        accounts=tuple(accounts),
        watch_hashtags=tuple(t.lstrip("#＃") for t in obj.get("watch_hashtags") or ()),
        disaster_hashtags=tuple(t.lstrip("#＃") for t in obj.get("disaster_hashtags") or ()),
        raw=obj,
    )


def load_profile(path: str | bytes | Any) -> Profile:
    from pathlib import Path

    p = Path(path)
    try:
        obj = orjson.loads(p.read_bytes())
    except OSError as exc:
        raise ContractError(f"profile {p}: cannot read: {exc.strerror}") from None
    except orjson.JSONDecodeError as exc:
        raise ContractError(f"profile {p}: not valid JSON: {exc}") from None
    return profile_from_dict(obj, where=f"profile {p.name}")


def load_profiles(paths: Any) -> dict[str, Profile]:
    """Profiles by municipality id, from files and folders of `*.profile.json`."""
    from pathlib import Path

    found: dict[str, Profile] = {}
    for path in paths:
        p = Path(path)
        files = sorted(p.glob("*.profile.json")) if p.is_dir() else [p]
        for f in files:
            profile = load_profile(f)
            if profile.id in found:
                raise ContractError(f"profile {f}: municipality id {profile.id!r} is defined twice")
            found[profile.id] = profile
    if not found:
        raise ContractError(f"no municipality profile (*.profile.json) found in {', '.join(map(str, paths))}")
    return found
