"""The scale benchmark's traffic (tools/traffic.py): roles as planned, one stream in event time that
keeps the contract, quiet municipalities quiet, and the flame-up and the disaster inside the traffic
that follows the week."""

from __future__ import annotations

from collections import Counter

import orjson
import pytest

from tools import traffic
from tools.profiles import profile_dicts
from vocabulary.contract import parse_event

START = 1_790_000_000.0  # 2026-09-22, a Tuesday
DAY = 86_400


@pytest.fixture(scope="module")
def profiles() -> list[dict]:
    return profile_dicts(8, seed=5)


@pytest.fixture(scope="module")
def roles(profiles: list[dict]) -> dict[str, str]:
    return traffic.plan_roles([p["municipality"]["id"] for p in profiles], busy=2, seed=5)


def test_one_municipality_flames_one_has_a_disaster_the_busy_are_busy_and_the_rest_are_quiet(roles) -> None:
    assert Counter(roles.values()) == {"flame": 1, "disaster": 1, "busy": 2, "quiet": 4}
    assert traffic.plan_roles(list(roles), busy=2, seed=5) == roles


def test_too_few_municipalities_for_the_roles_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot hold"):
        traffic.plan_roles(["a", "b", "c"], busy=2)


def test_a_day_of_traffic_is_one_stream_in_event_time_that_keeps_the_contract(profiles, roles) -> None:
    items = list(traffic.week(profiles, roles, START, days=1, per_minute=2))

    assert [i.ts for i in items] == sorted(i.ts for i in items)
    assert START <= items[0].ts and items[-1].ts < START + DAY
    for item in items:
        event = parse_event(orjson.dumps(item.event))
        assert event.kind in ("mention", "account", "alert") and item.municipality in roles
    per_muni = Counter(i.municipality for i in items)
    quiet = [per_muni[m] for m, r in roles.items() if r == "quiet"]
    busy = [per_muni[m] for m, r in roles.items() if r == "busy"]
    assert max(quiet) < 40  # about ten a day
    assert min(busy) > 2 * 60 * 24 * 0.7  # two a minute, and the day's hard negatives


def test_the_traffic_after_the_week_holds_the_flame_up_and_the_disaster(profiles, roles) -> None:
    items = traffic.after_week(profiles, roles, START + 7 * DAY, 8000, per_minute=20)

    assert len(items) == 8000
    assert [i.ts for i in items] == sorted(i.ts for i in items)
    by_role = {r: [i.event for i in items if roles[i.municipality] == r] for r in traffic.ROLES}
    flame_muni = next(p for p in profiles if roles[p["municipality"]["id"]] == "flame")
    official = {a["handle"] for a in flame_muni["accounts"]}
    posts = [e for e in by_role["flame"] if e["kind"] == "account" and e["type"] == "official_post"]
    replies = [e for e in by_role["flame"] if e["kind"] == "mention" and (e.get("reply_to") or {}).get("post_id")
               in {p["post"]["id"] for p in posts}]
    assert posts and len(replies) >= 20 and {r["reply_to"]["account"] for r in replies} <= official
    disaster_muni = next(p for p in profiles if roles[p["municipality"]["id"]] == "disaster")
    tag = disaster_muni["disaster_hashtags"][0]
    assert any(e["kind"] == "alert" for e in by_role["disaster"])
    assert sum(tag in (e.get("hashtags") or []) for e in by_role["disaster"]) >= 20
