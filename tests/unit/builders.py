"""Small builders shared by the unit tests: contract events, profiles, detections.

Everything goes through the contract's own parser (`event_from_dict`,
`profile_from_dict`) so that a scenario built here is a scenario a source could send.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from vocabulary.contract import Mention, Profile, event_from_dict, profile_from_dict
from vocabulary.records import JST, Detection

DATA = Path(__file__).resolve().parent.parent / "data"
SAMPLE = DATA / "wako-sample.jsonl"
SAMPLE_PROFILE = DATA / "wako-sample.profile.json"

OFFICIAL = "wako_city_official"
#: Scenario clock origin: 2026-11-20 09:00 JST, which is also a whole UTC hour,
#: so the detector's hourly history buckets line up with "hours after T0".
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=JST)

CRITICAL_TEXTS = ("税金の無駄。謝罪しろ", "この動画は不謹慎では？", "誰が承認したんですか",
                  "時代錯誤で失望しました", "削除と説明を求めます")


def at(minutes: float) -> str:
    """RFC 3339 event time `minutes` after T0."""
    return (T0 + timedelta(minutes=minutes)).isoformat()


def ts(minutes: float) -> float:
    return (T0 + timedelta(minutes=minutes)).timestamp()


def profile(muni: str = "wako", handles: tuple[str, ...] = (OFFICIAL,)) -> Profile:
    return profile_from_dict({
        "municipality": {"id": muni, "name": "和光市"},
        "accounts": [{"platform": "x", "handle": h, "name": "和光市役所"} for h in handles],
    })


def mention_dict(minute: float, author: str, text: str, *, event_id: str | None = None,
                 reply_to: str | None = OFFICIAL, followers: int = 100, post_id: str = "x:post:1",
                 **extra: Any) -> dict[str, Any]:
    seconds = round(minute * 60)
    return {
        "kind": "mention",
        "id": event_id or f"x:{author}:{seconds}",
        "platform": "x",
        "ts": at(minute),
        "author": {"id": f"x:u:{author}", "handle": author, "name": author, "followers": followers},
        "text": text,
        "reply_to": None if reply_to is None else {"post_id": post_id, "account": reply_to},
        "quote_of": None,
        "repost_of": None,
        **extra,
    }


def mention(minute: float, author: str, text: str, **kwargs: Any) -> Mention:
    event = event_from_dict(mention_dict(minute, author, text, **kwargs))
    assert isinstance(event, Mention)
    return event


def critical(minute: float, author: str, **kwargs: Any) -> Mention:
    """A critical reply to the official account."""
    text = CRITICAL_TEXTS[sum(map(ord, author)) % len(CRITICAL_TEXTS)]
    return mention(minute, author, text, **kwargs)


def neutral(minute: float, author: str, **kwargs: Any) -> Mention:
    return mention(minute, author, "駐車場は何時から使えますか", **kwargs)


def surge(start: float, count: int, *, every: float = 0.5, prefix: str = "critic",
          **kwargs: Any) -> list[Mention]:
    """`count` critical replies from `count` distinct authors, `every` minutes apart."""
    return [critical(start + i * every, f"{prefix}{i}", **kwargs) for i in range(count)]


def detection(**changes: Any) -> Detection:
    base = Detection(
        incident_id="wako-flame-000000000001", municipality="wako", type="flame",
        target=OFFICIAL, change="opened", opened_at=at(5), at=at(5), severity="low",
        evidence_ids=["x:1", "x:2", "x:3", "x:4", "x:5"], summary="批判が急増しています",
        metrics={"critical": 5, "total": 5, "authors": 5, "reach": 500},
    )
    return dataclasses.replace(base, **changes)
