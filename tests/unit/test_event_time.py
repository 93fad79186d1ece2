"""Time that cannot be trusted (contract, "Limits and time"; streams/detectors/event_time.py): one
event stamped far ahead (+3 h, Japan time written with a `Z`, the year 2099 or 9999) never moves
a detector's windows or closes its episode — live, where it is re-stamped with its arrival, and in a
replay, where it stays provisional until the stream confirms the time — and late events still count."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest

from streams.detectors import DetectorSet
from streams.detectors.event_time import (
    AHEAD_OF_ARRIVAL, AHEAD_OF_STREAM, HELD_CAP, UNCONFIRMED_AT_END, StreamTime)
from tests.unit.builders import CRITICAL_TEXTS, OFFICIAL, at, mention_dict, profile, ts
from vocabulary.contract import event_from_dict, parse_ts, profile_from_dict
from vocabulary.records import Detection

HOUR = 60.0
TAG = "和光市災害"
WAKO = profile_from_dict({
    "municipality": {"id": "wako", "name": "和光市", "names": ["和光市", "和光", "わこう"], "areas": ["埼玉県南部"]},
    "accounts": [{"platform": "x", "handle": OFFICIAL, "name": "和光市役所"}],
    "watch_hashtags": ["和光市"], "disaster_hashtags": [TAG],
})
YEAR_2100 = ts(0) + 74 * 365 * 86400.0


def jst_as_z(minute: float) -> str:
    """Japan time written with a `Z`, as a broken source does: nine hours ahead."""
    return at(minute)[:19] + "Z"


#: How a source gets the time of a post written at `minute` wrong.
BAD_STAMPS: dict[str, Callable[[float], str]] = {
    "3 hours ahead": lambda minute: at(minute + 3 * HOUR),
    "Japan time with a Z": jst_as_z,
    "the year 2099": lambda minute: "2099" + at(minute)[4:],
    "the year 9999": lambda minute: "9999" + at(minute)[4:],
}


# --- the stories: one episode of each detector, and a bad stamp in the middle -------------------


def critic(minute: float, n: int) -> dict[str, Any]:
    return mention_dict(minute, f"critic{n}", CRITICAL_TEXTS[n % len(CRITICAL_TEXTS)])


def report(minute: float, n: int) -> dict[str, Any]:
    texts = ("揺れが大きかった", "停電してます", "白子川の水位が上がってる", "道路が冠水しています")
    return mention_dict(minute, f"r{n}", f"{texts[n % len(texts)]} #{TAG}", reply_to=None)


def rumour(minute: float, n: int) -> dict[str, Any]:
    texts = ("【拡散希望】和光市の小学校で食中毒が出たらしい", "和光市の給食で集団食中毒らしいよ、拡散して",
             "和光市の小学校で食中毒って本当？")
    return mention_dict(minute, f"u{n}", texts[n % len(texts)], reply_to=None)


def fake(minute: float, n: int) -> dict[str, Any]:
    """The fake account seen again and again (and, once, its scam post)."""
    if n % 3 == 2:
        return {**mention_dict(minute, "wako_city_officiaI", "【和光市公式】フォロー＆リポストで商品券が当たる！DMで連絡を",
                               reply_to=None, event_id=f"x:scam:{n}"),
                "author": {"id": "x:u:fake", "handle": "wako_city_officiaI", "name": "和光市役所【公式】",
                           "followers": 3}}
    return {"kind": "account", "id": f"x:acct:{n}", "platform": "x", "ts": at(minute), "type": "seen",
            "account": {"id": "x:u:fake", "handle": "wako_city_officiaI", "name": "和光市役所【公式】",
                        "bio": "和光市の公式アカウントです", "followers": 3}}


STORIES: dict[str, tuple[str, Callable[[float, int], dict[str, Any]]]] = {
    "flame": ("flame", critic),
    "disaster": ("disaster", report),
    "misinformation": ("misinformation", rumour),
    "impersonation": ("impersonation", fake),
}


def story(make: Callable[[float, int], dict[str, Any]], bad: str | None, *, at_minute: float = 9.0
          ) -> list[tuple[float, dict[str, Any]]]:
    """Posts every 30 s for an hour (the episode opens within minutes and grows); with `bad`, one
    more post written at `at_minute` whose source stamped it wrong. (minute it was written, event)."""
    posts = [(i * 0.5, make(i * 0.5, i)) for i in range(120)]
    if bad is not None:
        wrong = {**make(at_minute, 500), "id": "x:wrong-clock", "ts": BAD_STAMPS[bad](at_minute)}
        posts.insert(next(n for n, (m, _) in enumerate(posts) if m > at_minute), (at_minute, wrong))
    return posts


def replayed(posts: list[tuple[float, dict[str, Any]]]) -> tuple[list[Detection], DetectorSet]:
    detectors = DetectorSet(WAKO)
    found = [d for _, e in posts for d in detectors.feed(event_from_dict(e))]
    return found + detectors.finish(), detectors


def live(posts: list[tuple[float, dict[str, Any]]]) -> tuple[list[Detection], DetectorSet]:
    """As the worker sees them: each received a few seconds after it was written."""
    detectors = DetectorSet(WAKO)
    return [d for m, e in posts for d in detectors.feed(event_from_dict(e), arrived=ts(m) + 3)], detectors


def incidents(found: list[Detection]) -> set[tuple[str, str, str]]:
    return {(d.type, d.target, d.incident_id) for d in found if d.change == "opened"}


RUNS = {"replay": replayed, "live": live}


@pytest.mark.parametrize("run", RUNS)
@pytest.mark.parametrize("bad", BAD_STAMPS)
@pytest.mark.parametrize("kind", STORIES)
def test_one_event_stamped_far_ahead_neither_closes_the_episode_nor_opens_a_duplicate(
        kind: str, bad: str, run: str) -> None:
    type_, make = STORIES[kind]
    clean, _ = RUNS[run](story(make, None))
    found, detectors = RUNS[run](story(make, bad))

    assert [i for i in incidents(clean) if i[0] == type_], "the story opens nothing: it proves nothing"
    assert incidents(found) == incidents(clean)  # the same incident, once
    assert not [d for d in found if d.metrics.get("resurgence") or d.metrics.get("back_to_baseline")]
    assert all(_ts(d.at) < ts(61) for d in found)  # nothing dated ahead
    # The wrong time never reached a detector: the post counted at the time it came in, and says so.
    [restamp] = detectors.time.remembered.items()
    assert restamp[0] == "x:wrong-clock"
    assert restamp[1] == [BAD_STAMPS[bad](9.0), AHEAD_OF_ARRIVAL if run == "live" else AHEAD_OF_STREAM]


def _ts(text: str) -> float:
    return parse_ts(text)


def test_the_misinformation_detector_keeps_its_claims_and_keeps_sweeping_after_a_mention_dated_9999() -> None:
    posts = story(rumour, "the year 9999")
    for run in (replayed, live):
        _, detectors = run(posts + [(200.0, rumour(200, 1000))])
        misinformation = detectors.detectors["misinformation"]
        assert misinformation.claims, "every claim was dropped"
        assert ts(190) <= misinformation.swept <= ts(200)  # still sweeping, in the stream's time


def test_a_flame_up_in_the_evening_after_a_bad_stamp_at_noon_is_its_own_incident_at_its_own_time() -> None:
    """Not over-cautious either: the stream's time moves on through a quiet afternoon, and a new
    flame-up is found at its own time, in a replay as live."""
    evening = [(480 + i * 0.5, mention_dict(480 + i * 0.5, f"late{i}", CRITICAL_TEXTS[i % 5], post_id="x:post:2"))
               for i in range(20)]  # criticism of another post: another flame-up
    posts = story(critic, "the year 2099")[:20] + evening
    openings = []
    for run in (replayed, live):
        found, _ = run(posts)
        openings.append(sorted(_ts(d.opened_at) for d in found if d.change == "opened"))
    assert openings[0] == openings[1]
    noon, evening = openings[0]
    assert ts(0) <= noon < ts(10) and ts(480) <= evening < ts(490)


# --- replay: what confirms the stream's time ------------------------------------------------------


def feed_all(clock: StreamTime, events: list[dict[str, Any]], arrived: float | None = None) -> list[tuple[str, str]]:
    """(id, ts as seen) of everything the detectors would see, in order, the end included."""
    seen = [(e.id, e.ts_text) for obj in events for e in clock.admit(event_from_dict(obj), arrived)]
    return seen + [(e.id, e.ts_text) for e in clock.finish()]


def test_a_quiet_night_followed_by_a_new_surge_confirms_that_time_has_moved_on() -> None:
    evening = [critic(600 + i, i) for i in range(5)]
    morning = [critic(22 * HOUR + i * 0.5, 10 + i) for i in range(6)]  # 07:00 the next day

    seen = feed_all(StreamTime(), evening + morning)

    assert seen == [(e["id"], e["ts"]) for e in evening + morning]  # every post at its own time, in order


def test_an_event_far_ahead_is_provisional_and_re_stamped_with_the_stream_time_it_was_read_at() -> None:
    clock = StreamTime()
    before = [critic(i, i) for i in range(5)]
    wrong = {**critic(5, 50), "id": "x:wrong", "ts": "2099-11-20T09:05:00+09:00"}
    after = [critic(5 + i, 60 + i) for i in range(1, 4)]

    for obj in before:
        clock.admit(event_from_dict(obj))
    assert clock.admit(event_from_dict(wrong)) == []  # provisional: no detector sees it yet
    assert clock.provisional() == 1
    assert [e.id for e in clock.admit(event_from_dict(after[0]))] == [after[0]["id"]]
    assert [e.id for e in clock.admit(event_from_dict(after[1]))] == [after[1]["id"]]
    seen = clock.admit(event_from_dict(after[2]))

    assert [e.id for e in seen] == [after[2]["id"], "x:wrong"]  # the stream went on three times past it
    late = seen[1]
    assert (late.ts, late.ts_text) == (ts(4), at(4))  # the newest time confirmed when it was read
    assert late.restamp is not None
    assert (late.restamp.ts_original, late.restamp.reason) == ("2099-11-20T09:05:00+09:00", AHEAD_OF_STREAM)
    assert clock.fresh == [late] and clock.provisional() == 0


def test_three_bad_stamps_together_still_do_not_move_the_time_of_a_stream_that_goes_on() -> None:
    """Nothing on time came between the three wrong stamps, but the earliest of them is what they
    confirm; the next posts on time show the others were wrong."""
    posts = [critic(i, i) for i in range(5)]
    wrongs = [{**critic(5, 90 + n), "id": f"x:wrong{n}", "ts": stamp}
              for n, stamp in enumerate(("2099-11-20T09:05:00+09:00", "9999-11-20T09:05:00+09:00",
                                         jst_as_z(5)))]
    seen = feed_all(StreamTime(), posts + wrongs + [critic(6 + i, 20 + i) for i in range(4)])

    assert all(_ts(stamp) < YEAR_2100 for _, stamp in seen)
    assert {stamp for i, stamp in seen if i.startswith("x:wrong")} <= {jst_as_z(5), at(4)}


def test_the_first_events_of_a_stream_are_confirmed_by_the_ones_after_them() -> None:
    """At the start nothing is confirmed: a first event dated 2099 must not become the stream's time."""
    wrong = {**critic(0, 99), "id": "x:wrong", "ts": "2099-11-20T09:00:00+09:00"}
    posts = [critic(i * 0.5, i) for i in range(8)]

    seen = feed_all(StreamTime(), [wrong, *posts])

    assert [s for s in seen if s[0] != "x:wrong"] == [(p["id"], p["ts"]) for p in posts]
    [(_, stamp)] = [s for s in seen if s[0] == "x:wrong"]
    assert ts(0) <= _ts(stamp) <= ts(4)


def test_at_the_end_of_a_replay_a_last_post_after_a_quiet_hour_keeps_its_time_and_2099_does_not() -> None:
    posts = [critic(i, i) for i in range(5)]
    last = critic(90, 30)  # an hour and a half later: a quiet spell, nothing after it to confirm it
    wrong = {**critic(5, 31), "id": "x:wrong", "ts": "2099-11-20T09:05:00+09:00"}
    clock = StreamTime()

    seen = feed_all(clock, [*posts, last, wrong])

    assert seen[-2:] == [(last["id"], last["ts"]), ("x:wrong", at(4))]  # the time confirmed when it was read
    assert clock.remembered == {"x:wrong": ["2099-11-20T09:05:00+09:00", UNCONFIRMED_AT_END]}


def test_provisional_events_are_bounded_and_survive_a_restart_in_the_state() -> None:
    clock = StreamTime()
    for i in range(3):
        clock.admit(event_from_dict(critic(i, i)))
    for n in range(HELD_CAP + 5):  # a source that writes 2099 on everything, nothing else for a while
        clock.admit(event_from_dict({**critic(3, 100 + n), "id": f"x:w{n}", "ts": "2099-11-20T09:05:00+09:00"}))
    assert clock.provisional() <= HELD_CAP

    again = StreamTime(orjson.loads(orjson.dumps(clock.to_state())))  # as the worker's table keeps it

    assert again.provisional() == clock.provisional()
    seen = [e for i in range(3) for e in again.admit(event_from_dict(critic(4 + i, 200 + i)))]
    assert {e.id for e in seen if e.restamp} and all(e.ts < ts(10) for e in seen)


def test_a_drill_runs_on_its_own_clock_and_is_never_judged_against_the_real_one() -> None:
    """Live, real traffic is judged by its arrival; a drill sped up sixty times ahead of it is not."""
    clock = StreamTime()
    drill = [{**critic(i * 30, i), "drill": True} for i in range(6)]  # half an hour apart in drill time
    real = [critic(i * 0.5, 50 + i) for i in range(6)]

    seen = []
    for n in range(6):  # interleaved, as on one topic: both arrive within three minutes of wall time
        seen += [(e.id, e.ts_text, e.restamp) for e in clock.admit(event_from_dict(real[n]), arrived=ts(n * 0.5))]
        seen += [(e.id, e.ts_text, e.restamp) for e in clock.admit(event_from_dict(drill[n]), arrived=ts(n * 0.5))]
    seen += [(e.id, e.ts_text, e.restamp) for e in clock.finish()]

    assert all(restamp is None for _, _, restamp in seen)
    assert sorted((i, t) for i, t, _ in seen) == sorted((e["id"], e["ts"]) for e in real + drill)


# --- live, and late events ------------------------------------------------------------------------


def test_live_an_event_stamped_more_than_fifteen_minutes_after_it_arrived_is_re_stamped_with_its_arrival() -> None:
    clock = StreamTime()
    [fine] = clock.admit(event_from_dict(critic(14, 1)), arrived=ts(0))
    [moved] = clock.admit(event_from_dict(critic(16, 2)), arrived=ts(0))

    assert fine.restamp is None and fine.ts == ts(14)
    assert moved.ts == ts(0) and moved.ts_text == at(0)
    assert moved.restamp is not None and (moved.restamp.ts_original, moved.restamp.reason) == (at(16), AHEAD_OF_ARRIVAL)
    assert clock.fresh == [moved]


@pytest.mark.parametrize("run", RUNS)
def test_a_late_event_still_counts_in_the_window_it_belongs_to(run: str) -> None:
    """The third critic's reply, written at minute 2, comes in after later posts: it is not
    re-stamped and it still makes the third critic of the ten minutes."""
    posts = [(0.0, critic(0, 0)), (1.0, critic(1, 1)), (3.0, mention_dict(3, "resident", "今日は寒い", reply_to=None)),
             (20.0, critic(2, 2))]  # written at minute 2, received at minute 20
    found, detectors = RUNS[run](posts)

    [opened] = [d for d in found if d.change == "opened"]
    assert opened.type == "flame" and opened.opened_at == at(2) and opened.metrics["authors"] == 3
    assert not detectors.time.remembered


def test_a_detection_whose_evidence_was_re_stamped_names_the_original_time_and_the_reason() -> None:
    posts = [(i * 0.5, critic(i * 0.5, i)) for i in range(2)]
    posts.append((1.0, {**critic(1, 2), "id": "x:wrong-clock", "ts": jst_as_z(1)}))
    found, _ = live(posts)

    [opened] = [d for d in found if d.change == "opened"]
    assert "x:wrong-clock" in opened.evidence_ids and opened.opened_at == at(1 + 3 / 60)  # when it came in
    assert opened.metrics["restamped"] == {"x:wrong-clock": {"ts_original": jst_as_z(1), "reason": AHEAD_OF_ARRIVAL}}


def test_the_stream_time_starts_empty_and_a_detector_set_keeps_it_in_its_state() -> None:
    detectors = DetectorSet(profile())
    for i in range(4):
        detectors.feed(event_from_dict(critic(i, i)))
    state = orjson.loads(orjson.dumps(detectors.to_state()))

    assert state["time"]["real"]["confirmed"] == ts(3)
    assert DetectorSet(profile(), state).time.clocks["real"].confirmed == ts(3)
