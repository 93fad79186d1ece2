"""Announcements retold in whole scenarios (the generator's `retold` suite, written here and
scored): a planned water outage the city announces, retold by residents in their own words with
hearsay markers, opens nothing — no デマ, no 災害 — though the same traffic without the city's
posts opens both; a rumour that contradicts the announcement opens one デマ incident, on time,
whose source is the city's post."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from tests.unit.generated import assert_one_incident_per_episode, scored
from tools import scenarios as sc
from tools.evaluation import load_labels, score
from tools.replay import replay_file

SEED = 5
NAMES = sorted(sc.SUITES["retold"])


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("retold")
    sc.generate_suite(folder, seed=SEED, bank="retold")
    return folder


def events(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def official_posts(folder: Path, name: str) -> dict[str, str]:
    """The city's posts in a scenario: post id → URL."""
    return {e["post"]["id"]: e["post"]["url"] for e in events(folder / f"{name}.jsonl")
            if e["kind"] == "account" and e["type"] == "official_post"}


@pytest.mark.parametrize("name", NAMES)
def test_retellings_open_nothing_and_a_contradiction_opens_one_incident_on_time(written: Path, name: str) -> None:
    scores, incidents = scored(written, name)

    assert_one_incident_per_episode(scores, incidents)
    assert max(scores["misinformation"].latencies or [0]) <= 5 * 60


@pytest.mark.parametrize("name", [n for n in NAMES if "rumour" in n or "variant" in n])
def test_the_contradicting_rumour_names_the_city_announcement_as_its_source(written: Path, name: str) -> None:
    posts = official_posts(written, name)

    incidents = list(replay_file(written / f"{name}.jsonl").incidents.values())

    assert [i.type for i in incidents] == ["misinformation"]
    metrics = incidents[0].metrics
    assert metrics["contradicts_official"] is True
    assert posts[metrics["official_post_id"]] == metrics["source_url"]  # the announcement, by its own URL
    assert "の発表「" in incidents[0].summary


def test_without_the_city_posts_the_same_retellings_would_open_incidents(written: Path, tmp_path: Path) -> None:
    """What the detectors did before: the retellings read as a rumour, and in a big enough
    burst naming the city as a disaster — so the suite exercises what it says it does."""
    opened: dict[str, list[str]] = {}
    for name in NAMES:
        kept = [e for e in events(written / f"{name}.jsonl")
                if not (e["kind"] == "account" and e["type"] == "official_post")
                and not (e["kind"] == "mention" and e["author"]["handle"] in official_handles(written, name))]
        (tmp_path / f"{name}.jsonl").write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in kept))
        (tmp_path / f"{name}.profile.json").write_bytes((written / f"{name}.profile.json").read_bytes())
        labels = load_labels(written / f"{name}.labels.jsonl")
        incidents = [i.contract_line() for i in replay_file(tmp_path / f"{name}.jsonl").incidents.values()]
        scores = score(incidents, labels)
        opened[name] = [t for t, s in scores.items() for _ in range(s.false_alarms)]

    assert all("misinformation" in kinds for kinds in opened.values())
    assert any("disaster" in kinds for kinds in opened.values())


def official_handles(folder: Path, name: str) -> set[str]:
    profile = orjson.loads((folder / f"{name}.profile.json").read_bytes())
    return {a["handle"] for a in profile["accounts"]}


def test_residents_retell_in_their_own_words_with_hearsay_markers(written: Path) -> None:
    texts = [e["text"] for name in NAMES for e in events(written / f"{name}.jsonl")
             if e["kind"] == "mention" and "断水" in e["text"]]
    hearsay = [t for t in texts if any(m in t for m in ("だって", "らしい", "って聞", "みたい", "っぽい", "噂", "回ってきた"))]

    assert len(hearsay) >= 60
    assert any("〜" in t or "-" in t for t in hearsay) and any("午後" in t for t in hearsay)  # other notations
    assert any("今日" in t for t in hearsay) and any("明日" in t for t in hearsay)
