"""Replay speed with all four detectors, and memory after a simulated week.

    .venv/bin/python bench/replay.py            (or: make bench-replay)

1. Speed: every scenario of tests/scenarios and tests/scenarios-variant through
   `replay_lines` (JSON parsing, detectors, playbooks) on one core, best of 3 runs.
2. A simulated week of a large ward (tools.scenarios.week_of_traffic,
   with its episodes and hard negatives): events per second, the detectors'
   state snapshot at the end (what the worker stores per municipality), and the
   Python heap held by the replay (tracemalloc) after the week.
"""

from __future__ import annotations

import sys
import time
import tracemalloc
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from vocabulary.profile_files import load_profile  # noqa: E402
from tools.evaluation import scenario_files  # noqa: E402
from tools.replay import default_profile_path, replay_lines  # noqa: E402
from tools.scenarios import week_of_traffic  # noqa: E402


def best_of(runs: int, work) -> float:
    best = float("inf")
    for _ in range(runs):
        t0 = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    suites = []
    for folder in ("tests/scenarios", "tests/scenarios-variant"):
        for path in scenario_files(ROOT / folder):
            suites.append((path.read_bytes().splitlines(), load_profile(default_profile_path(path))))
    events = sum(len(lines) for lines, _ in suites)
    suite_s = best_of(3, lambda: [replay_lines(lines, profile) for lines, profile in suites])

    profile_path = ROOT / "tests" / "scenarios" / "higashiminato-big-flame.profile.json"
    profile = load_profile(profile_path)
    week = [orjson.dumps(e) for e in week_of_traffic(orjson.loads(profile_path.read_bytes()),
                                                       start=1_790_000_000.0, seed=7, size="large")]
    week_s = best_of(3, lambda: replay_lines(week, profile))
    tracemalloc.start()
    result = replay_lines(week, profile)
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    print("Noroshi replay benchmark — all four detectors and the playbooks, one core")
    print(f"  labelled suites: {events:,} events in {len(suites)} scenarios: "
          f"{events / suite_s:,.0f} ev/s ({suite_s:.2f} s, best of 3)")
    print(f"  a simulated week of a large ward: {len(week):,} events over {result.span_s / 86400:.1f} days: "
          f"{len(week) / week_s:,.0f} ev/s, {len(result.incidents)} incidents")
    print(f"  after the week: detector state snapshot {result.state_bytes / 1024:,.0f} KiB; "
          f"replay heap {current / 2**20:.1f} MiB (peak {peak / 2**20:.1f} MiB, incl. the week's input)")


if __name__ == "__main__":
    main()
