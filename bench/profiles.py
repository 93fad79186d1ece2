"""Loading Japan's 1,741 municipality profiles: how long, how much memory, and what each
municipality costs later.

    .venv/bin/python bench/profiles.py [N]

1. Loading: `read_profiles` on a folder of N generated profiles (tools/profiles.py), best of
   3 (reading, JSON, validation); the Python heap the profiles hold (tracemalloc).
2. The worker's start with them: `streams.app.create_app` (stages, responders, heartbeat targets).
3. What each municipality costs later, once: the detector set the detect stage builds lazily at
   the municipality's first event (streams/stage.py), for every profile; its heap on a sample.
4. The same folder with one broken file: the others load, the broken one is refused.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from streams.detectors import DetectorSet  # noqa: E402
from tools.profiles import JAPAN, generate_profiles  # noqa: E402
from vocabulary.profile_files import read_profiles  # noqa: E402
from vocabulary.settings import Settings  # noqa: E402

SAMPLE = 100  # detector sets measured under tracemalloc (it slows them ~30×)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else JAPAN
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        generate_profiles(folder, n, seed=1)
        size = sum(p.stat().st_size for p in folder.iterdir())
        print(f"{n:,} profiles, {size / 1024:,.0f} KiB on disk")

        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            loaded = read_profiles([folder])
            best = min(best, time.perf_counter() - t0)
        assert len(loaded.profiles) == n and not loaded.refused
        tracemalloc.start()
        held = read_profiles([folder])
        heap = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        del held
        print(f"load: {best:.3f} s ({best / n * 1e6:.0f} µs a profile), heap {heap / n / 1024:.1f} KiB a profile "
              f"({heap / 2**20:.1f} MiB)")

        from streams.app import create_app

        settings = Settings.from_env({**os.environ, "NOROSHI_PROFILES": str(folder),
                                      "NOROSHI_BROKER": "kafka://127.0.0.1:9", "NOROSHI_DATA_DIR": tmp})
        t0 = time.perf_counter()
        create_app(settings, loaded.profiles)
        print(f"worker app with them: {time.perf_counter() - t0:.3f} s (create_app)")

        profiles = list(loaded.profiles.values())
        DetectorSet(profiles[0])  # the detectors' module-level tables are built once
        t0 = time.perf_counter()
        for profile in profiles:
            DetectorSet(profile)
        lazy = time.perf_counter() - t0
        tracemalloc.start()
        kept = [DetectorSet(p) for p in profiles[:SAMPLE]]
        sets = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        del kept
        print(f"detector sets (built at each municipality's first event): {lazy:.2f} s for {n:,} "
              f"({lazy / n * 1e3:.1f} ms each), heap {sets / SAMPLE / 1024:.0f} KiB each "
              f"({sets / SAMPLE * n / 2**20:.0f} MiB for all)")

        broken = next(folder.iterdir())
        broken.write_text('{"municipality": {"id": ', encoding="utf-8")
        t0 = time.perf_counter()
        loaded = read_profiles([folder])
        took = time.perf_counter() - t0
        [refused] = loaded.refused
        print(f"one broken: {len(loaded.profiles):,} loaded, refused {refused.path.name} ({refused.reason}) "
              f"in {took:.3f} s")


if __name__ == "__main__":
    main()
