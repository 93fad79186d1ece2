"""Disguise in whole scenarios (the generator's `disguise` suite, written here and scored): fakes
whose handles are made of look-alike letters (small capitals, Cyrillic, Greek, mathematical
letters, dotless ı, ĸ, a zero-width space) and criticism and rumours written apart, stretched or
in mixed widths are each found once, on time, and the honest traffic around them opens nothing."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import orjson
import pytest

from streams.detectors.text import canonical
from tests.unit.generated import assert_one_incident_per_episode, scored
from tools import scenarios as sc
from tools.evaluation import load_labels
from tools.scenarios.lookalikes import HANDLE_DISGUISES

SEED = 4


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("disguise")
    sc.generate_suite(folder, seed=SEED, bank="disguise")
    return folder


@pytest.mark.parametrize("name", sorted(sc.SUITES["disguise"]))
def test_each_disguised_episode_opens_one_incident_on_time_and_nothing_else(written: Path, name: str) -> None:
    scores, incidents = scored(written, name)

    assert_one_incident_per_episode(scores, incidents)
    assert max(scores["flame"].latencies or [0]) <= 5 * 60
    assert max(scores["misinformation"].latencies or [0]) <= 5 * 60
    assert max(scores["impersonation"].latencies or [0]) <= 60


def test_the_fakes_cover_every_kind_of_look_alike_letter_and_none_is_plain_ascii(written: Path) -> None:
    targets = [lab.target for name in sc.SUITES["disguise"]
               for lab in load_labels(written / f"{name}.labels.jsonl") if lab.type == "impersonation"]
    kinds = {ep.params["disguise"] for spec in sc.SUITES["disguise"].values() for ep in spec.episodes
             if ep.kind == "impersonation"}

    assert kinds == set(HANDLE_DISGUISES)
    assert targets and not any(t.isascii() for t in targets)
    assert any("\u200b" in t for t in targets)
    assert {unicodedata.name(c).split()[0] for t in targets for c in t if not c.isascii()} >= {
        "LATIN", "CYRILLIC", "GREEK", "MATHEMATICAL", "ZERO"}


def test_the_criticism_of_the_disguised_slow_flame_up_is_written_apart_stretched_or_in_mixed_widths(
        written: Path) -> None:
    lines = (written / "kirino-disguised-slow-flame.jsonl").read_bytes().splitlines()
    replies = [e["text"] for e in map(orjson.loads, lines)
               if e["kind"] == "mention" and (e.get("reply_to") or {}).get("account") == "kirino_town"]

    # NFKC alone (what the detectors compared before) leaves these words apart
    disguised = [t for t in replies if canonical(t) != unicodedata.normalize("NFKC", t)]

    assert len(disguised) >= 8  # the slow flame-up's eight critical replies


def test_honest_accounts_with_look_alike_letters_in_their_handles_are_in_the_traffic_and_unlabelled(
        written: Path) -> None:
    seen, labelled = set(), set()
    for name in sc.SUITES["disguise"]:
        for e in map(orjson.loads, (written / f"{name}.jsonl").read_bytes().splitlines()):
            if e["kind"] == "account" and not e["account"]["handle"].isascii():
                seen.add(e["account"]["handle"])
        labelled |= {lab.target for lab in load_labels(written / f"{name}.labels.jsonl")}

    honest = seen - labelled

    assert len(honest) >= 5  # fans, residents, a shop, local news: no incident for any (tested above)
