"""What hashing an avatar costs `noroshi sources` (account discovery): milliseconds per picture for
the sizes the platforms serve — X's 48×48 `_normal`, a 400×400 JPEG, Bluesky's 1000×1000 JPEG, a
1000×1000 PNG and the largest picture accepted (4096×4096 PNG). Run: `.venv/bin/python bench/avatars.py`."""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sources.avatars import load_hasher  # noqa: E402
from tests.images import city_avatar, encoded  # noqa: E402

CASES = [
    ("48×48 PNG (X _normal)", lambda: encoded(city_avatar(48))),
    ("400×400 JPEG", lambda: encoded(city_avatar(400), "JPEG", quality=85)),
    ("1000×1000 JPEG (Bluesky)", lambda: encoded(city_avatar(1000), "JPEG", quality=85)),
    ("1000×1000 PNG", lambda: encoded(city_avatar(1000))),
    ("4096×4096 PNG (largest accepted)", lambda: encoded(city_avatar(4096))),
]


def main() -> int:
    hasher = load_hasher()
    if hasher is None:
        print("noroshi[avatars] is not installed: pip install -e '.[avatars]'", file=sys.stderr)
        return 2
    print("Noroshi avatar hash benchmark — imagehash.phash (64 bits), one core")
    for name, make in CASES:
        data = make()
        rounds = max(3, min(300, int(2_000_000 / max(len(data), 1))))
        hasher(data)  # warm up
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            for _ in range(rounds):
                hasher(data)
            best = min(best, (time.perf_counter() - start) / rounds)
        print(f"  {name:34s} {len(data) / 1024:8.1f} KiB  {best * 1000:7.2f} ms per picture")
    return 0


if __name__ == "__main__":
    sys.exit(main())
