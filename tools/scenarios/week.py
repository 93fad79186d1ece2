"""A simulated week of one municipality's traffic, streamed lazily, for the memory and speed
benchmark (bench/replay.py).
"""

from __future__ import annotations

import dataclasses
import random
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from vocabulary.terms import JST
from tools.scenarios.common import DAY, MINUTE
from tools.scenarios.episodes import LABELLED
from tools.scenarios.suites import E, Ep, clock
from tools.scenarios.towns import OFFICE, TOWNS, Official, Town
from tools.scenarios.traffic import Sim

WEEK: tuple[Ep, ...] = (
    E("lookalikes", 0, "10:00"), E("announce", 0, "14:00"),
    E("flame", 1, "11:30", size="medium"), E("news", 1, "19:00"),
    E("impersonation", 2, "09:40"), E("angry", 2, "21:00"),
    E("rumour", 3, "12:20"), E("drill", 3, "10:00"),
    E("praise", 4, "08:00"), E("minor_quake", 4, "18:30"),
    E("elsewhere", 5, "06:00"), E("festival", 5, "10:00"),
    E("disaster", 6, "02:40", kind="rain", rumour=None), E("flame", 6, "15:00", size="big"),
)


def town_from_profile(profile: Any) -> Town:
    """The simulated municipality for a profile: a known one by id, else a generic one built from it."""
    raw = getattr(profile, "raw", profile)
    muni = raw["municipality"]
    if muni["id"] in TOWNS:
        return TOWNS[muni["id"]]
    name: str = muni["name"]
    kind = name[-1] if name[-1] in OFFICE else "市"
    short = name[:-1] if name[-1] in OFFICE else name
    accounts = tuple(Official(a["platform"], a["handle"], a["name"], a.get("department", "広報課"),
                              a.get("owner", "広報課長"), a.get("bio", "")) for a in raw.get("accounts", ()))
    if not accounts:
        raise ValueError("the profile has no official accounts")
    roman = re.sub(r"[^a-z]", "", accounts[0].handle.split("_")[0].split(".")[0].lower()) or muni["id"]
    return Town(muni["id"], name, name, short, short, kind, "mid", "", tuple(muni.get("areas") or ("",)), roman,
                accounts, ("中央", "本町", "駅前", "東町", "西町"),
                (f"{short}中央公園", f"{short}市民会館", f"{short}図書館", f"{short}駅前広場"),
                f"{short}駅", f"{short}川", f"{short}小学校", f"{short}中央病院", f"{short}くん", f"{short}まつり",
                f"{short}動物公園", f"{short}ベーカリー", f"{short}ニュース", (35.7, 139.7),
                tuple(t.lstrip("#") for t in raw.get("watch_hashtags") or (name,)),
                tuple(t.lstrip("#") for t in raw.get("disaster_hashtags") or (f"{name}災害",)))


def week_of_traffic(profile: Any, start: float | datetime, seed: int = 1, episodes: bool = True, *,
                    bank: str = "main", days: int = 7, size: str | None = None,
                    labels: list[dict[str, Any]] | None = None) -> Iterator[dict[str, Any]]:
    """A simulated week of the municipality's traffic, streamed in time order (a generator).

    Ordinary traffic and the hard negatives are always there; `episodes` adds the
    labelled flame-ups, impersonation, rumour and disaster, whose labels are
    appended to `labels` when given. `profile` is a profile dict or a contract
    `Profile`; `size` (small | mid | large) overrides the municipality's size.
    Memory stays bounded by the longest episode, not by the week.
    """
    town = town_from_profile(profile)
    if size:
        town = dataclasses.replace(town, size=size)
    if isinstance(start, datetime):
        start = start.timestamp()
    t0 = int(start)
    key = f"{seed}|{bank}|week|{town.key}"
    sim = Sim(town, bank, key, t0)
    when = random.Random(key + "|schedule")
    local0 = datetime.fromtimestamp(t0, JST).replace(hour=0, minute=0, second=0)
    schedule = []
    for ep in WEEK:
        if ep.day >= days or (ep.kind in LABELLED and not episodes):
            continue
        at = int(local0.timestamp()) + ep.day * DAY + clock(ep.at) + when.randint(-30, 30) * MINUTE
        if at >= t0:
            schedule.append((at, ep.kind, dict(ep.params)))
    sink = labels if labels is not None else []
    yield from sim.stream(t0, t0 + days * DAY, schedule, sink, min_span=days * DAY)

