"""Traffic over many municipalities at once, for the scale benchmark (bench/scale.py): most quiet,
a few busy, one in a 炎上 (flame-up) and one in a 災害 (disaster), merged into one stream in event
time as the input topics would carry it.

Each municipality is one `tools.scenarios.Sim` (its people, the day/night rhythm of its traffic, the
scenario generator's phrase banks); nothing here writes a text of its own. Its role sets its size:

| role | traffic | episodes |
|---|---|---|
| quiet | the generator's `small` town: about ten posts a day | none |
| busy | `per_minute` posts a minute (replies to the city and chatter naming it) | the week's hard negatives (festival, viral praise, news, drill, …) |
| flame | a `mid` town | a big 炎上 on the official X account (`ep_flame`, criticism replies rising to a peak) |
| disaster | a `mid` town | heavy rain (`ep_disaster`): a JMA warning, hashtag posts, rescue requests, questions |

`week` gives the history (every role's ordinary traffic, no labelled episode) and `after_week` the
traffic that follows, with the flame-up and the disaster placed at given shares of it. Items are
`Item(ts, municipality, event)`, `ts` in POSIX seconds; the key of the message is the municipality.
"""

from __future__ import annotations

import dataclasses
import heapq
import random
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from tools.scenarios import DAY, LABELLED, MINUTE, SIZES, WEEK, Sim, town_from_profile
from tools.scenarios.suites import clock
from tools.scenarios.towns import Rates
from vocabulary.terms import JST

QUIET, BUSY, FLAME, DISASTER = "quiet", "busy", "flame", "disaster"
ROLES = (QUIET, BUSY, FLAME, DISASTER)
_SIZE = {QUIET: "small", BUSY: "large", FLAME: "mid", DISASTER: "mid"}
BANK = "main"


class Item(NamedTuple):
    ts: float  # the event's own time, POSIX seconds
    municipality: str  # the message key
    event: dict[str, Any]


def plan_roles(municipalities: Iterable[str], busy: int, seed: int = 1) -> dict[str, str]:
    """Each municipality's role: one flame-up, one disaster, `busy` busy ones, the rest quiet."""
    order = sorted(municipalities)
    if len(order) < 2 + busy:
        raise ValueError(f"{len(order)} municipalities cannot hold a flame-up, a disaster and {busy} busy ones")
    random.Random(seed).shuffle(order)
    roles = dict.fromkeys(order, QUIET)
    roles[order[0]], roles[order[1]] = FLAME, DISASTER
    roles.update(dict.fromkeys(order[2:2 + busy], BUSY))
    return roles


def busy_rates(per_minute: float) -> Rates:
    """A large ward's rates with `per_minute` posts a minute, half replies to the city, half chatter."""
    daily = per_minute * 24 * 60
    return dataclasses.replace(SIZES["large"], replies=daily / 2, chatter=daily / 2)


def daily_events(role: str, per_minute: float) -> float:
    """About how many events a day a municipality of `role` sends (its rates, episodes aside)."""
    rates = busy_rates(per_minute) if role == BUSY else SIZES[_SIZE[role]]
    return rates.replies + rates.chatter + rates.official + rates.trickle


def _sim(profile: dict[str, Any], role: str, start: float, seed: int, per_minute: float) -> Sim:
    town = dataclasses.replace(town_from_profile(profile), size=_SIZE[role])
    # The same key gives the same residents in the week and after it.
    sim = Sim(town, BANK, f"{seed}|{BANK}|scale|{town.key}", int(start))
    if role == BUSY:
        sim.rates = busy_rates(per_minute)
    return sim


def _negatives(start: float, end: float, key: str) -> list[tuple[int, str, dict[str, Any]]]:
    """The week's unlabelled episodes (tools.scenarios.WEEK) that fall in [start, end)."""
    when = random.Random(key + "|negatives")
    day0 = int(datetime.fromtimestamp(start, JST).replace(hour=0, minute=0, second=0).timestamp())
    out = []
    for ep in WEEK:
        if ep.kind in LABELLED:
            continue
        at = day0 + ep.day * DAY + clock(ep.at) + when.randint(-30, 30) * MINUTE
        if start <= at < end:
            out.append((at, ep.kind, dict(ep.params)))
    return out


def municipality_events(profile: dict[str, Any], role: str, start: float, end: float, *, seed: int = 1,
                        per_minute: float = 20.0,
                        episodes: Sequence[tuple[int, str, dict[str, Any]]] = ()) -> Iterator[Item]:
    """One municipality's events in [start, end), in time order (lazy: stop reading, it stops)."""
    sim = _sim(profile, role, start, seed, per_minute)
    schedule = list(episodes) + (_negatives(start, end, sim.seed_key) if role == BUSY else [])
    muni = profile["municipality"]["id"]
    for event in sim.stream(int(start), int(end), schedule, []):
        ts = datetime.fromisoformat(event["ts"]).timestamp()
        if ts >= end:  # an episode's tail past the end
            continue
        yield Item(ts, muni, event)


def merged(streams: Iterable[Iterator[Item]]) -> Iterator[Item]:
    """One stream in event time, as the input topics carry every municipality's traffic."""
    return heapq.merge(*streams, key=lambda item: item.ts)


def week(profiles: Sequence[dict[str, Any]], roles: dict[str, str], start: float, days: float = 7, *,
         seed: int = 1, per_minute: float = 20.0) -> Iterator[Item]:
    """`days` of every municipality's ordinary traffic from `start`: what a week leaves in the detectors."""
    end = start + days * DAY
    return merged(municipality_events(p, roles[p["municipality"]["id"]], start, end, seed=seed,
                                      per_minute=per_minute) for p in profiles)


def after_week(profiles: Sequence[dict[str, Any]], roles: dict[str, str], start: float, count: int, *,
               seed: int = 1, per_minute: float = 20.0, flame_at: float = 0.2, disaster_at: float = 0.4,
               span: float = 30 * DAY) -> list[Item]:
    """The first `count` events from `start`, every role's traffic, with the flame-up starting after
    about `flame_at` of them and the disaster after `disaster_at` (shares of `count`)."""
    by_role = {roles[p["municipality"]["id"]]: p for p in profiles}
    end = start + span
    others = [p for p in profiles if roles[p["municipality"]["id"]] not in (FLAME, DISASTER)]
    background = list(_first(merged(municipality_events(p, roles[p["municipality"]["id"]], start, end, seed=seed,
                                                        per_minute=per_minute) for p in others), count))
    if len(background) < count:
        raise ValueError(f"only {len(background):,} events within {span / DAY:g} days after the week")

    def at(share: float) -> int:
        return int(background[min(count - 1, int(count * share))].ts)

    flame = municipality_events(by_role[FLAME], FLAME, start, end, seed=seed,
                                episodes=[(at(flame_at), "flame", {"size": "big"})])
    disaster = municipality_events(by_role[DISASTER], DISASTER, start, end, seed=seed,
                                   episodes=[(at(disaster_at), "disaster", {"kind": "rain", "rumour": None})])
    return list(_first(merged([iter(background), flame, disaster]), count))


def _first(items: Iterator[Item], n: int) -> Iterator[Item]:
    for i, item in enumerate(items):
        if i == n:
            return
        yield item
