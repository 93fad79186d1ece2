"""Paths of the test data shared by the unit tests."""

from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "data"
SAMPLE = DATA / "wako-sample.jsonl"
SAMPLE_PROFILE = DATA / "wako-sample.profile.json"
