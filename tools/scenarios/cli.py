"""The command line: `python -m tools.scenarios OUT_DIR [--seed N] [--bank main|variant] [--table]`.
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from pathlib import Path

from tools.scenarios.common import BANK_NAMES, DAY
from tools.scenarios.suites import SUITES, generate_suite
from tools.scenarios.towns import TOWNS


def summary(out_dir: Path) -> list[str]:
    from collections import Counter
    lines = []
    for path in sorted(Path(out_dir).glob("*.jsonl")):
        if path.name.endswith(".labels.jsonl"):
            continue
        events = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        labels_path = path.with_name(path.name.removesuffix(".jsonl") + ".labels.jsonl")
        labels = [json.loads(line) for line in labels_path.read_text(encoding="utf-8").splitlines()] \
            if labels_path.exists() else []
        ts = [datetime.fromisoformat(e["ts"]).timestamp() for e in events]
        kinds = Counter(lab["type"] for lab in labels)
        platforms = Counter(e["platform"] for e in events)
        lines.append(f"{path.stem:28} {len(events):6} events {(max(ts) - min(ts)) / DAY:5.2f} days "
                     f"{path.stat().st_size / 1e6:5.2f} MB  labels: "
                     + (", ".join(f"{k} {v}" for k, v in sorted(kinds.items())) or "none")
                     + "  platforms: " + ", ".join(f"{k} {v}" for k, v in sorted(platforms.items())))
    return lines


def markdown_table(out_dir: Path, bank: str = "main") -> list[str]:
    """The README's table of a written suite: one row per scenario, in suite order."""
    from collections import Counter
    rows = ["| scenario | municipality | size | accounts | days | events | labels |", "|---|---|---|---|---|---|---|"]
    for name, spec in SUITES[bank].items():
        town = TOWNS[spec.town]
        path = Path(out_dir) / f"{name}.jsonl"
        lines = path.read_text(encoding="utf-8").splitlines()
        ts = [datetime.fromisoformat(json.loads(line)["ts"]).timestamp() for line in lines]
        labels = Counter(json.loads(line)["type"] for line in
                         path.with_name(f"{name}.labels.jsonl").read_text(encoding="utf-8").splitlines())
        rows.append(f"| `{name}` | {town.name} ({town.areas[0]}) | {town.size} | "
                    f"{', '.join(a.platform for a in town.accounts)} | {(max(ts) - min(ts)) / DAY:.2f} | {len(lines)} | "
                    + (", ".join(f"{k} {v}" for k, v in sorted(labels.items())) or "— (ordinary traffic)") + " |")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.scenarios",
                                     description="Write the labelled scenario suite.")
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--bank", choices=tuple(SUITES), default="main",
                        help=f"the suite: {', '.join(BANK_NAMES)} (the committed ones), or episodes "
                             "(multi-day episodes, written where you ask)")
    parser.add_argument("--table", action="store_true", help="print the README's markdown table")
    args = parser.parse_args(argv)
    paths = generate_suite(args.out_dir, seed=args.seed, bank=args.bank)
    for line in markdown_table(args.out_dir, args.bank) if args.table else summary(args.out_dir):
        print(line)
    print(f"{len(paths)} scenarios written to {args.out_dir}")
    return 0

