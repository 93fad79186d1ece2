"""Sources whose clocks are wrong (issue 15, "Time that cannot be trusted"; the contract's "Limits and
time"): scenarios of the generator with posts whose source stamped them far ahead slipped into the
stream where they arrive — 3 hours ahead, Japan time written with a `Z` (9 hours ahead), the year
2099 and the year 9999 — during each labelled episode: in its first wave, in the quiet night after
it, and the next day. The labels are the base scenario's: one incident per episode, so a second is
a duplicate.

    python -m tools.scenarios.clocks OUT_DIR [--seed N]

A file's order is arrival order (what a replay reads); a wrongly stamped post is the copy of the
latest post of its episode at the moment it arrives (a reply to the account under fire, a post on
the disaster hashtag, a retelling of the claim, the fake account's), with an id of its own and the
wrong time.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from tools.scenarios.suites import SUITES, Scenario, generate, write_scenario
from vocabulary.terms import JST


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, JST).isoformat(timespec="seconds")


#: How a source gets wrong the time of a post that arrives at `t` (POSIX seconds).
SKEWS: dict[str, Callable[[float], str]] = {
    "plus_3h": lambda t: _iso(t + 3 * 3600),
    "jst_as_z": lambda t: _iso(t)[:19] + "Z",  # Japan time written as UTC: nine hours ahead
    "year_2099": lambda t: "2099" + _iso(t)[4:],
    "year_9999": lambda t: "9999" + _iso(t)[4:],
}
#: When, after an episode's start, each kind of wrong stamp arrives: in the first wave, in the night
#: after it, the next day (clipped to the episode).
WHEN = (("plus_3h", 20 * 60), ("jst_as_z", 4 * 3600), ("year_2099", 26 * 3600), ("year_9999", 30 * 3600))

#: name → (the bank and the scenario it is made from).
CLOCK_SUITE: dict[str, tuple[str, str]] = {
    "hoshimi-flame-days-bad-clocks": ("episodes", "hoshimi-flame-days"),
    "aosawa-flame-days-bad-clocks": ("episodes", "aosawa-flame-days"),
    "asahino-quake-days-bad-clocks": ("episodes", "asahino-quake-days"),
    "shirasagi-rumour-again-bad-clocks": ("episodes", "shirasagi-rumour-again"),
    "miyaura-impersonation-bad-clocks": ("main", "miyaura-impersonation"),
}


def _ts(event: dict[str, Any]) -> float:
    return datetime.fromisoformat(event["ts"]).timestamp()


def _of_episode(event: dict[str, Any], label: dict[str, Any]) -> bool:
    """Whether the post belongs to the labelled episode (what its detector keeps state for)."""
    target = label["target"]
    if label["type"] == "flame":
        return any((event.get(ref) or {}).get("account") == target for ref in ("reply_to", "quote_of"))
    if label["type"] == "disaster":
        return target in (event.get("hashtags") or ())
    if label["type"] == "misinformation":
        return event["id"] in label.get("event_ids", ())
    return (event.get("author") or event.get("account") or {}).get("handle") == target


def with_bad_clocks(scenario: Scenario) -> Scenario:
    """The scenario with wrongly stamped copies of its episodes' posts, each where it arrives."""
    events = list(scenario.events)
    times = [_ts(e) for e in events]
    inserts: list[tuple[int, dict[str, Any]]] = []
    for n, label in enumerate(scenario.labels):
        start, end = (datetime.fromisoformat(label[k]).timestamp() for k in ("start", "end"))
        for skew, after in WHEN:
            arrives = min(start + after, end)
            before = [i for i, t in enumerate(times) if t <= arrives]
            mine = [i for i in before if _of_episode(events[i], label)] or before
            source = events[mine[-1]]
            wrong = {**source, "id": f"{source['id']}:clock{n}{skew}", "ts": SKEWS[skew](arrives)}
            inserts.append((before[-1] + 1, wrong))
    for at, wrong in sorted(inserts, key=lambda x: x[0], reverse=True):
        events.insert(at, wrong)
    return Scenario(events, scenario.labels, scenario.profile)


def generate_clock_suite(out_dir: Path, seed: int = 3) -> list[Path]:
    """Write every scenario of `CLOCK_SUITE` (NAME.jsonl, .labels.jsonl, .profile.json)."""
    return [write_scenario(Path(out_dir), name, with_bad_clocks(generate(base, SUITES[bank][base], seed)))
            for name, (bank, base) in CLOCK_SUITE.items()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.scenarios.clocks", description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args(argv)
    for path in generate_clock_suite(args.out_dir, args.seed):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
