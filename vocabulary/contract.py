"""The event contract (../shared/contracts/events.md) as code: parsing and validation.

Pure functions from bytes or dicts to frozen dataclasses. A line that breaks
the contract raises `ContractError` with a reason an operator can act on; the
caller (an agent or `replay`) sends it to the dead letters and goes on.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import MISSING, dataclass, field, fields
from datetime import datetime
from typing import Any, TypeVar

import orjson

# The incident line names a type and a severity from these; defined in `vocabulary.terms`, re-exported here.
from vocabulary.terms import INCIDENT_TYPES as INCIDENT_TYPES, SEVERITIES as SEVERITIES

PLATFORMS = frozenset({"x", "bluesky", "mastodon", "facebook", "instagram", "line", "youtube", "web"})
ACCOUNT_EVENT_TYPES = frozenset(
    {"seen", "created", "profile_changed", "reported", "official_post", "security"}
)

T = TypeVar("T")

_HASHTAG = re.compile(r"[#＃]([^\s#＃、。,.!?！？「」()（）\[\]【】]+)")

# The contract's limits ("Limits and time"): an event beyond them is refused, so that
# one odd event never costs its neighbours anything and every string a detector keeps
# is bounded. Size and nesting are properties of the bytes, checked by `parse_event`.
MAX_EVENT_BYTES = 256 * 1024  # one serialized event
MAX_ID_CHARS = 256  # id, post_id, author.id, account.id
MAX_HANDLE_CHARS = 100  # author.handle, account.handle, and the handle a reference names
MAX_NAME_CHARS = 200
MAX_BIO_CHARS = 2_000
MAX_TEXT_CHARS = 20_000
MAX_DEPTH = 32


class ContractError(ValueError):
    """An input line does not follow the event contract; `str()` is the reason."""


def _shown(value: Any, chars: int = 80) -> str:
    """A value quoted in a reason, cut short: a reason stays one readable line whatever the input."""
    text = repr(value)
    return text if len(text) <= chars else f"{text[:chars]}… ({len(text):,} characters)"


def parse_ts(value: Any, where: str = "ts") -> float:
    """RFC 3339 with an offset → POSIX seconds. Naive times are refused."""
    seconds = _usual_ts(value)
    return seconds if seconds is not None else _checked_ts(value, where)


def _checked_ts(value: Any, where: str) -> float:
    if not isinstance(value, str) or not value:
        raise ContractError(f"{where}: expected an RFC 3339 time string, got {_shown(value)}")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ContractError(f"{where}: not an RFC 3339 time: {_shown(value)}") from None
    if parsed.tzinfo is None:
        raise ContractError(f"{where}: time {_shown(value)} has no UTC offset")
    return parsed.timestamp()


# Nearly every time the sources and Noroshi itself write has the form
# "YYYY-MM-DDTHH:MM:SS+hh:mm"; such a time is the start of its day in its offset
# plus the clock, and the start of the day is parsed once per day and offset
# (`datetime.timestamp()` alone costs more than the whole fast path).
_CLOCK_MINUTES = {f"{h:02d}:{m:02d}": h * 3600 + m * 60 for h in range(24) for m in range(60)}
_CLOCK_SECONDS = {f"{s:02d}": s for s in range(60)}
#: "YYYY-MM-DDT±hh:mm" → POSIX seconds at 00:00:00 that day; emptied when full (days only move on).
_DAY_STARTS: dict[str, float] = {}
_DAY_STARTS_CAP = 4096


def _usual_ts(value: Any) -> float | None:
    """`parse_ts` of a time in the usual form, or None for any other value (valid or not).

    A day is stored only after `datetime.fromisoformat` accepted a time of this
    exact shape with that date and offset, and the clock is checked against its
    ranges here, so the answer is `_checked_ts`'s to the bit (whole seconds are
    exact in a float).
    """
    if type(value) is not str or len(value) != 25 or value[16] != ":":
        return None
    hours_minutes = _CLOCK_MINUTES.get(value[11:16])
    seconds = _CLOCK_SECONDS.get(value[17:19])
    if hours_minutes is None or seconds is None:
        return None
    clock = hours_minutes + seconds
    key = value[:11] + value[19:]
    start = _DAY_STARTS.get(key)
    if start is None:
        if value[4] != "-" or value[7] != "-" or value[10] != "T" or value[19] not in "+-" or value[22] != ":":
            return None
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))  # as `_checked_ts` reads it
        except ValueError:
            return None
        if parsed.tzinfo is None:
            return None
        start = parsed.timestamp() - clock
        if len(_DAY_STARTS) >= _DAY_STARTS_CAP:
            _DAY_STARTS.clear()
        _DAY_STARTS[key] = start
    return start + clock


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
class Restamp:
    """Why an event's time was replaced (contract, "Limits and time"): the time the source wrote
    (`ts_original`, as written) and the reason word (`streams.detectors.event_time.REASONS`)."""

    ts_original: str
    reason: str


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
    restamp: Restamp | None = None  # set by the detectors' boundary only, never read from input
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
    restamp: Restamp | None = None  # set by the detectors' boundary only, never read from input
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
    restamp: Restamp | None = None  # set by the detectors' boundary only, never read from input
    kind: str = field(default="alert", init=False)


Event = Mention | AccountEvent | Alert


def _str(obj: dict[str, Any], key: str, where: str, *, required: bool = True, limit: int | None = None) -> str:
    value = obj.get(key)
    if value is None:
        if required:
            raise ContractError(f"{where}.{key}: missing")
        return ""
    if not isinstance(value, str):
        raise ContractError(f"{where}.{key}: expected a string, got {type(value).__name__}")
    if limit is not None and len(value) > limit:
        raise ContractError(f"{where}.{key}: {len(value):,} characters, above the contract's limit of {limit:,}")
    return value


def _count(obj: dict[str, Any], key: str, where: str) -> int:
    value = obj.get(key, 0)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ContractError(f"{where}.{key}: expected a count ≥ 0, got {_shown(value)}")
    return value


def _ref(obj: dict[str, Any], key: str) -> PostRef | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ContractError(f"{key}: expected null or {{post_id, account}}")
    return PostRef(
        post_id=_str(value, "post_id", key, limit=MAX_ID_CHARS),
        account=_str(value, "account", key, required=False, limit=MAX_HANDLE_CHARS).lstrip("@"),
    )


def _str_list(obj: dict[str, Any], key: str) -> tuple[str, ...]:
    value = obj.get(key)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ContractError(f"{key}: expected a list of strings")
    return tuple(value)


def hashtags_in(text: str) -> tuple[str, ...]:
    if "#" not in text and "＃" not in text:
        return ()  # most posts: the pattern needs one of the two signs
    return tuple(unicodedata.normalize("NFKC", m) for m in _HASHTAG.findall(text))


def _mention(obj: dict[str, Any], base: dict[str, Any]) -> Mention:
    author = obj.get("author")
    if not isinstance(author, dict):
        raise ContractError("author: missing or not an object")
    text = _str(obj, "text", "mention", limit=MAX_TEXT_CHARS)
    tags = _str_list(obj, "hashtags") if "hashtags" in obj and obj["hashtags"] is not None else hashtags_in(text)
    return Mention(
        author=Author(
            id=_str(author, "id", "author", limit=MAX_ID_CHARS),
            handle=_str(author, "handle", "author", limit=MAX_HANDLE_CHARS).lstrip("@"),
            name=_str(author, "name", "author", required=False, limit=MAX_NAME_CHARS),
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
        raise ContractError(f"type: {_shown(kind)} is not one of {', '.join(sorted(ACCOUNT_EVENT_TYPES))}")
    acct = obj.get("account")
    if not isinstance(acct, dict):
        raise ContractError("account: missing or not an object")
    post = obj.get("post")
    if kind == "official_post":
        if not isinstance(post, dict) or not isinstance(post.get("id"), str):
            raise ContractError("official_post: needs post {id, text, url}")
        _str(post, "id", "post", limit=MAX_ID_CHARS)
        if isinstance(post.get("text"), str):
            _str(post, "text", "post", limit=MAX_TEXT_CHARS)
    note = obj.get("note")
    return AccountEvent(
        type=kind,
        account=Account(
            id=_str(acct, "id", "account", required=False, limit=MAX_ID_CHARS),
            handle=_str(acct, "handle", "account", limit=MAX_HANDLE_CHARS).lstrip("@"),
            name=_str(acct, "name", "account", required=False, limit=MAX_NAME_CHARS),
            bio=_str(acct, "bio", "account", required=False, limit=MAX_BIO_CHARS),
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
        text=_str(obj, "text", "alert", required=False, limit=MAX_TEXT_CHARS),
        **base,
    )


_BUILDERS = {"mention": _mention, "account": _account_event, "alert": _alert}


def event_from_dict(obj: Any) -> Event:
    if type(obj) is dict and obj.get("kind") == "mention":
        try:
            return _usual_mention(obj)
        except _Unusual:
            pass  # something to check step by step, and perhaps to refuse
    return _checked_event(obj)


def _checked_event(obj: Any) -> Event:
    """Every check in contract order, each failure with its reason."""
    if not isinstance(obj, dict):
        raise ContractError(f"expected a JSON object, got {type(obj).__name__}")
    kind = obj.get("kind")
    builder = _BUILDERS.get(kind) if isinstance(kind, str) else None
    if builder is None:
        raise ContractError(f"kind: {_shown(kind)} is not one of mention, account, alert")
    event_id = _str(obj, "id", kind, limit=MAX_ID_CHARS)
    if not event_id:
        raise ContractError("id: empty")
    platform = _str(obj, "platform", kind)
    if platform not in PLATFORMS:
        raise ContractError(f"platform: {_shown(platform)} is not one of {', '.join(sorted(PLATFORMS))}")
    ts_text = obj.get("ts")
    base = {"id": event_id, "platform": platform, "ts": parse_ts(ts_text), "ts_text": ts_text,
            "drill": obj.get("drill") is True}
    return builder(obj, base)


# --- the usual mention, built in one go ----------------------------------------------
#
# Mentions are nearly all the traffic and nearly all alike. `_usual_mention` takes
# the well-formed ones with each value of its exact JSON type and builds them
# without the per-field helpers and keyword arguments of the checked path; it
# gives up (`_Unusual`) on anything else, a `str` subclass included, and the
# checked path then builds the same event or names what is wrong. So it accepts a
# subset of what `_checked_event` accepts and builds an equal event from it.


class _Unusual(Exception):
    """Not the usual shape: leave the event to `_checked_event`."""


def _positional_constructor(cls: type[T]) -> Callable[..., T]:
    """`cls(*values)` for a frozen slotted dataclass, without its `__init__`.

    A frozen dataclass's `__init__` stores each field through `object.__setattr__`
    by name; calling each slot's own descriptor is about twice as fast. Fields
    with `init=False` get their default, as `__init__` gives them.
    """
    if hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__} has a __post_init__ that this constructor would skip")
    namespace: dict[str, Any] = {"new": object.__new__, "cls": cls}
    params = []
    lines = ["    self = new(cls)"]
    for f in fields(cls):  # type: ignore[arg-type]
        namespace[f"set_{f.name}"] = cls.__dict__[f.name].__set__
        if f.init:
            params.append(f.name)
            lines.append(f"    set_{f.name}(self, {f.name})")
        else:
            if f.default is MISSING:
                raise TypeError(f"{cls.__name__}.{f.name}: init=False needs a plain default")
            namespace[f"default_{f.name}"] = f.default
            lines.append(f"    set_{f.name}(self, default_{f.name})")
    source = f"def construct({', '.join(params)}):\n" + "\n".join(lines) + "\n    return self\n"
    exec(source, namespace)  # noqa: S102 — generated from the class's own field names
    return namespace["construct"]  # type: ignore[no-any-return]


_new_post_ref = _positional_constructor(PostRef)
_new_author = _positional_constructor(Author)
_new_mention = _positional_constructor(Mention)


def _usual_ref(value: Any) -> PostRef | None:
    if value is None:
        return None
    if type(value) is not dict:
        raise _Unusual
    post_id = value.get("post_id")
    account = value.get("account")
    if type(post_id) is not str or len(post_id) > MAX_ID_CHARS:
        raise _Unusual
    if account is None:
        account = ""
    elif type(account) is not str or len(account) > MAX_HANDLE_CHARS:
        raise _Unusual
    return _new_post_ref(post_id, account.lstrip("@"))


def _usual_strs(value: Any) -> tuple[str, ...]:
    """A list of exact `str`s as a tuple; None as ()."""
    if value is None or type(value) is list and not value:
        return ()
    if type(value) is not list:
        raise _Unusual
    for item in value:
        if type(item) is not str:
            raise _Unusual
    return tuple(value)


def _usual_mention(obj: dict[str, Any]) -> Mention:
    """`_checked_event` of a usual mention (`obj["kind"] == "mention"`), or `_Unusual`."""
    get = obj.get
    event_id = get("id")
    platform = get("platform")
    author = get("author")
    text = get("text")
    if (type(event_id) is not str or not event_id or type(platform) is not str or platform not in PLATFORMS
            or type(author) is not dict or type(text) is not str
            or len(event_id) > MAX_ID_CHARS or len(text) > MAX_TEXT_CHARS):
        raise _Unusual
    ts_text = get("ts")
    ts = _usual_ts(ts_text)
    if ts is None:
        raise _Unusual

    author_get = author.get
    author_id = author_get("id")
    handle = author_get("handle")
    name = author_get("name")
    followers = author_get("followers", 0)
    if (type(author_id) is not str or type(handle) is not str
            or len(author_id) > MAX_ID_CHARS or len(handle) > MAX_HANDLE_CHARS):
        raise _Unusual
    if name is None:
        name = ""
    elif type(name) is not str or len(name) > MAX_NAME_CHARS:
        raise _Unusual
    if followers is None:
        followers = 0
    elif type(followers) is not int or followers < 0:  # type(True) is bool: a bool is unusual
        raise _Unusual
    created_at = author_get("created_at")

    tags = get("hashtags")
    found = hashtags_in(text) if tags is None else _usual_strs(tags)
    hashtags = tuple(t.lstrip("#＃") for t in found) if found else ()
    lang = get("lang")
    geo = get("geo")
    return _new_mention(
        event_id, platform, ts, ts_text,
        _new_author(author_id, handle.lstrip("@"), name, followers,
                    created_at if isinstance(created_at, str) else None),
        text,
        _usual_ref(get("reply_to")), _usual_ref(get("quote_of")), _usual_ref(get("repost_of")),
        hashtags,
        _usual_strs(get("urls")),
        lang if isinstance(lang, str) else None,
        geo if isinstance(geo, dict) else None,
        get("drill") is True,
        None,
    )


def parse_event(raw: bytes | str) -> Event:
    """One contract line → an event, or `ContractError` saying what is wrong.

    The size and nesting limits are checked here, on the bytes: a dict handed to
    `event_from_dict` has no size, and its string limits are checked there.
    """
    size = len(raw)
    if isinstance(raw, str) and size * 4 > MAX_EVENT_BYTES:  # UTF-8 takes up to 4 bytes a character
        size = len(raw.encode("utf-8", "surrogatepass"))
    if size > MAX_EVENT_BYTES:
        raise ContractError(f"event is {size:,} bytes, above the contract's limit of {MAX_EVENT_BYTES:,} (256 KiB)")
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ContractError(f"not valid JSON: {exc}") from None
    # Nesting deeper than MAX_DEPTH needs that many brackets; a usual event has a handful,
    # so counting them (C speed) spares it the walk.
    brackets = raw.count("{") + raw.count("[") if isinstance(raw, str) else raw.count(b"{") + raw.count(b"[")
    if brackets > MAX_DEPTH:
        _check_depth(obj)
    return event_from_dict(obj)


def _check_depth(obj: Any) -> None:
    """`ContractError` when objects and arrays nest deeper than the contract allows."""
    level = [obj]
    for depth in range(1, MAX_DEPTH + 2):
        inner = []
        for value in level:
            if type(value) is dict:
                inner.extend(v for v in value.values() if type(v) is dict or type(v) is list)
            elif type(value) is list:
                inner.extend(v for v in value if type(v) is dict or type(v) is list)
        if not inner:
            return
        if depth >= MAX_DEPTH:
            raise ContractError(f"nested deeper than the contract's limit of {MAX_DEPTH} levels")
        level = inner


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
