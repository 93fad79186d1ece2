"""The scenario generator and the two committed labelled suites.

tests/scenarios is `generate_suite(seed=1, bank="main")` and tests/scenarios-variant
is `generate_suite(seed=2, bank="variant")`; these tests keep both honest: every
line follows the contract, labels follow the contract's target rules, the suites
have the promised shape, and neither can drift from what the generator writes.
"""

from __future__ import annotations

import inspect
import itertools
import json
import re
import unicodedata
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from vocabulary.contract import (
    INCIDENT_TYPES,
    AccountEvent,
    Mention,
    parse_event,
    parse_ts,
    profile_from_dict,
)
from tools.evaluation import load_labels
from tools import scenarios as sc

ROOT = Path(__file__).resolve().parents[2]
SUITES = {"main": (ROOT / "tests" / "scenarios", 1), "variant": (ROOT / "tests" / "scenarios-variant", 2)}
DAY = 86400.0


def scenario_paths(folder: Path) -> list[Path]:
    return [p for p in sorted(folder.glob("*.jsonl")) if not p.name.endswith(".labels.jsonl")]


def companion(path: Path, suffix: str) -> Path:
    return path.with_name(path.name.removesuffix(".jsonl") + suffix)


class Loaded:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.lines = path.read_bytes().splitlines()
        self.events = [parse_event(line) for line in self.lines]
        self.raw = [json.loads(line) for line in self.lines]
        self.profile_raw = json.loads(companion(path, ".profile.json").read_text(encoding="utf-8"))
        self.profile = profile_from_dict(self.profile_raw)
        self.labels_raw = [json.loads(line) for line in
                           companion(path, ".labels.jsonl").read_text(encoding="utf-8").splitlines()]
        self.labels = load_labels(companion(path, ".labels.jsonl"))
        self.by_id = {e.id: e for e in self.events}

    @property
    def span_days(self) -> float:
        return (self.events[-1].ts - self.events[0].ts) / DAY


@pytest.fixture(scope="module", params=sorted(SUITES))
def suite(request: pytest.FixtureRequest) -> tuple[str, list[Loaded]]:
    folder, _ = SUITES[request.param]
    paths = scenario_paths(folder)
    assert paths, f"{folder} holds no scenarios: python -m tools.scenarios {folder}"
    return request.param, [Loaded(p) for p in paths]


# --- every file follows the contract ------------------------------------------------------------


def test_every_line_parses_ids_are_unique_and_time_is_ordered(suite: tuple[str, list[Loaded]]) -> None:
    for s in suite[1]:
        assert len(s.events) == len(s.lines) > 0
        ids = [e.id for e in s.events]
        assert len(set(ids)) == len(ids), s.path.name
        times = [e.ts for e in s.events]
        assert times == sorted(times), s.path.name
        for raw in s.raw:
            assert raw["ts"].endswith("+09:00")
            assert raw["id"].startswith(raw["platform"] + ":") or raw["id"].startswith("jma:")


def test_references_point_backwards_in_time(suite: tuple[str, list[Loaded]]) -> None:
    for s in suite[1]:
        for e in s.events:
            if isinstance(e, Mention):
                for ref in (e.reply_to, e.quote_of, e.repost_of):
                    if ref is not None and ref.post_id in s.by_id:
                        assert s.by_id[ref.post_id].ts <= e.ts, (s.path.name, e.id)
                if e.repost_of is not None:
                    assert e.repost_of.post_id.split(":")[0] == e.platform


def test_labels_follow_the_contract_target_rules(suite: tuple[str, list[Loaded]]) -> None:
    for s in suite[1]:
        officials = {a.handle.lower() for a in s.profile.accounts}
        phashes = [a.avatar_phash for a in s.profile.accounts]
        times = {e.ts for e in s.events}
        for lab in s.labels:
            assert lab.type in INCIDENT_TYPES
            assert lab.start <= lab.end
            assert lab.start in times, f"{s.path.name}: {lab.type} start is not the time of an event"
            if lab.type == "flame":
                assert lab.target.lower() in officials
            elif lab.type == "impersonation":
                assert lab.target.lower() not in officials
                seen = [e for e in s.events if isinstance(e, AccountEvent) and e.account.handle == lab.target
                        and e.type in ("seen", "created", "profile_changed")]
                assert seen, f"{s.path.name}: no account event for {lab.target}"
                assert min(sc.hamming(e.account.avatar_phash, p) for e in seen for p in phashes) <= 6
            elif lab.type == "misinformation":
                assert lab.event_ids and lab.event_ids <= set(s.by_id), s.path.name
                carriers = [s.by_id[i] for i in lab.event_ids]
                assert all(isinstance(e, Mention) for e in carriers)
                assert min(e.ts for e in carriers) == lab.start
                assert len({e.author.handle for e in carriers}) >= 10  # grows from distinct authors
                assert any(e.repost_of for e in carriers) and any(e.quote_of for e in carriers)
            else:
                assert not lab.target.startswith("#")
                assert lab.target in s.profile.disaster_hashtags


# --- the suites have the promised shape -----------------------------------------------------------


def test_suite_shape(suite: tuple[str, list[Loaded]]) -> None:
    bank, loaded = suite
    assert 8 <= len(loaded) <= 12
    counts = Counter(lab.type for s in loaded for lab in s.labels)
    assert all(counts[t] >= 4 for t in INCIDENT_TYPES), counts
    quiet = [s for s in loaded if not s.labels]
    assert len(quiet) >= 2 and all(s.span_days >= 1.0 for s in quiet)
    assert len({s.profile.id for s in loaded}) == len(loaded), "one municipality per scenario"
    assert {sc.TOWNS[s.profile.id].size for s in loaded} == {"small", "mid", "large"}
    platforms = Counter(e.platform for s in loaded for e in s.events)
    assert all(platforms[p] > 100 for p in ("x", "bluesky", "mastodon"))
    folder = SUITES[bank][0]
    assert sum(p.stat().st_size for p in folder.iterdir()) <= 8_000_000
    assert "wako" not in {s.profile.id for s in loaded}


def test_profiles_are_complete(suite: tuple[str, list[Loaded]]) -> None:
    for s in suite[1]:
        muni = s.profile_raw["municipality"]
        assert len(muni["names"]) >= 3 and muni["areas"]
        accounts = s.profile_raw["accounts"]
        assert 1 <= len(accounts) <= 3
        assert len({a["platform"] for a in accounts}) == len(accounts)
        for a in accounts:
            assert a["url"].startswith("https://") and a["department"] and a["owner"]
            assert re.fullmatch(r"[0-9a-f]{16}", a["avatar_phash"])
            if a["platform"] == "x":
                assert len(a["handle"]) <= 15
        assert s.profile.watch_hashtags and s.profile.disaster_hashtags


def test_the_big_flame_peaks_above_20_replies_a_minute() -> None:
    s = Loaded(SUITES["main"][0] / "higashiminato-big-flame.jsonl")
    flame = next(lab for lab in s.labels if lab.type == "flame")
    at = sorted(e.ts for e in s.events if isinstance(e, Mention) and flame.start <= e.ts <= flame.end
                and ((e.reply_to or e.quote_of) and (e.reply_to or e.quote_of).account == flame.target
                     or f"@{flame.target}" in e.text))
    peak = max(sum(1 for _ in itertools.takewhile(lambda u, t=t: u < t + 60, at[i:])) for i, t in enumerate(at))
    assert peak > 20


def test_the_slow_flame_is_eight_replies_from_seven_people_in_half_an_hour() -> None:
    s = Loaded(SUITES["main"][0] / "kirino-slow-flame.jsonl")
    flame = next(lab for lab in s.labels if lab.type == "flame")
    first = next(e for e in s.events if e.ts == flame.start and isinstance(e, Mention) and e.reply_to)
    trigger = first.reply_to.post_id
    window = [e for e in s.events if isinstance(e, Mention) and e.reply_to and e.reply_to.post_id == trigger
              and flame.start <= e.ts <= flame.start + 30 * 60]
    assert 8 <= len(window) <= 10  # 8 critical replies, maybe a supporter or two
    assert len({e.author.handle for e in window}) >= 7


def test_hard_negatives_sit_in_the_unlabelled_scenarios(suite: tuple[str, list[Loaded]]) -> None:
    for s in (s for s in suite[1] if not s.labels):
        officials = {a.handle for a in s.profile.accounts}
        honest = [e for e in s.events if isinstance(e, AccountEvent) and e.type == "seen"
                  and e.account.handle not in officials]
        assert len(honest) >= 3
        for e in honest:  # the city's name in the handle, but not its avatar
            assert min(sc.hamming(e.account.avatar_phash, a.avatar_phash) for a in s.profile.accounts) >= 20
        tags = set(s.profile.disaster_hashtags)
        assert sum(1 for e in s.events if isinstance(e, Mention) and tags & set(e.hashtags)) >= 5  # drills
        assert any(e.kind == "alert" for e in s.events)  # a disaster elsewhere or a small quake
        assert any(isinstance(e, AccountEvent) and e.type == "official_post" for e in s.events)


# --- the committed suites are what the generator writes --------------------------------------------


@pytest.mark.parametrize("bank", sorted(SUITES))
def test_the_committed_suite_is_what_the_generator_writes(bank: str, tmp_path: Path) -> None:
    folder, seed = SUITES[bank]
    written = sc.generate_suite(tmp_path, seed=seed, bank=bank)
    assert sorted(p.name for p in written) == [p.name for p in scenario_paths(folder)]
    ours = sorted(p.name for p in tmp_path.iterdir())
    committed = sorted(p.name for p in folder.iterdir() if p.name != "README.md")
    assert ours == committed, "stale or missing files: regenerate with python -m tools.scenarios"
    for name in ours:
        assert (tmp_path / name).read_bytes() == (folder / name).read_bytes(), \
            f"{folder.name}/{name} drifted from the generator (see tests/scenarios/README.md to regenerate)"


def test_generation_is_deterministic_for_a_seed() -> None:
    name, spec = "kirino-slow-flame", sc.SUITES["main"]["kirino-slow-flame"]
    a, b, c = sc.generate(name, spec, 5), sc.generate(name, spec, 5), sc.generate(name, spec, 6)
    assert a.events == b.events and a.labels == b.labels and a.profile == b.profile
    assert a.events != c.events


def test_a_spec_may_be_a_plain_dict() -> None:
    spec = {"town": "aosawa", "start": "2026-05-01", "days": 0.5,
            "episodes": [{"kind": "flame", "day": 0, "at": "09:00", "params": {"size": "slow"}}]}
    scenario = sc.generate("adhoc", spec, 1)
    assert [lab["type"] for lab in scenario.labels] == ["flame"]
    for e in scenario.events:
        parse_event(json.dumps(e, ensure_ascii=False))


def test_the_readme_tables_match_the_suites() -> None:
    readme = (SUITES["main"][0] / "README.md").read_text(encoding="utf-8")
    for bank, (folder, seed) in SUITES.items():
        for row in sc.markdown_table(folder, bank):
            assert row in readme, (f"README.md is out of date; print the table with: python -m "
                                   f"tools.scenarios {folder.name} --seed {seed} --bank {bank} --table")


# --- two independent phrase banks -------------------------------------------------------------------


def _sentences(text: str) -> set[str]:
    text = unicodedata.normalize("NFKC", text)
    text = re.sub(r"https?://\S+|@[\w.\-]+|#\S+", " ", text)
    out = set()
    for part in re.split(r"[。!?…\n\s]+|\.{3}", text):
        letters = "".join(c for c in part if unicodedata.category(c)[0] in "LN")
        if letters:
            out.add(letters)
    return out


def _criticism_and_rumours(bank: str) -> set[str]:
    """Every sentence the flame-up and rumour episodes of a bank post (for one town)."""
    sim = sc.Sim(sc.TOWNS["aosawa"], bank, "banks", 1_780_000_000)
    sim.track = []
    t = 1_780_000_000
    for trigger in range(len(sc.BANKS[bank]["flame_triggers"])):
        sc.ep_flame(sim, t, size="medium", trigger=trigger, apology=True)
    for disaster in (False, True):
        for claim in sc.BANKS[bank]["disaster_rumours" if disaster else "rumours"]:
            for _ in range(3):
                sc.ep_rumour(sim, t, claim=claim["key"], size="large", disaster=disaster)
    found: set[str] = set()
    for event in sim.track:
        if event["kind"] == "mention":
            found |= _sentences(event["text"])
    return found


def test_the_variant_bank_shares_no_criticism_or_rumour_sentence_with_the_main_bank() -> None:
    main, variant = _criticism_and_rumours("main"), _criticism_and_rumours("variant")
    assert len(main) > 400 and len(variant) > 400  # variety, not one sentence per category
    assert main.isdisjoint(variant), sorted(main & variant)


def test_the_variant_differs_in_municipalities_and_timing() -> None:
    towns = {bank: {spec.town for spec in sc.SUITES[bank].values()} for bank in SUITES}
    assert towns["main"].isdisjoint(towns["variant"])
    assert sc.TIMINGS["main"] != sc.TIMINGS["variant"]
    assert all(spec.bank == "variant" for spec in sc.SUITES["variant"].values())


# --- pieces -------------------------------------------------------------------------------------------


def test_fake_handles_and_names_look_like_but_are_not_the_official_ones() -> None:
    import random

    for bank in sc.BANK_NAMES:
        for town in sc.TOWNS.values():
            for acct in town.accounts:
                rng = random.Random(f"{bank}{acct.handle}")
                taken = {a.handle.lower() for a in town.accounts}
                for _ in range(5):
                    fake = sc.confusable(acct.handle, acct.platform, bank, rng, taken)
                    assert fake.lower() != acct.handle.lower()
                    if acct.platform == "x":
                        assert re.fullmatch(r"[A-Za-z0-9_]{1,15}", fake)
                    if acct.platform == "bluesky":
                        assert "_" not in fake and fake.endswith(".bsky.social")
                assert sc.lookalike_name(acct.name, bank, rng) != acct.name
                assert 1 <= sc.hamming(sc.flip_bits(acct.phash, 6, rng), acct.phash) <= 6


def test_day_and_night_rhythm() -> None:
    town = sc.TOWNS["higashiminato"]
    t0 = int(datetime(2026, 6, 2, tzinfo=sc.JST).timestamp())  # Tuesday → Friday
    sim = sc.Sim(town, "main", "rhythm", t0)
    hours = Counter(datetime.fromtimestamp(parse_ts(e["ts"]), sc.JST).hour
                    for e in sim.stream(t0, t0 + 3 * 86400, [], []) if e["kind"] == "mention")
    night = sum(hours[h] for h in range(2, 6)) / 4
    assert hours[12] > 4 * night and hours[20] > 4 * night
    assert hours[12] > hours[10] and hours[20] > hours[16]


def test_week_of_traffic_is_lazy_and_spans_a_week() -> None:
    profile = sc.TOWNS["kirino"].profile()
    start = datetime(2026, 6, 1, 0, 0, tzinfo=sc.JST)
    stream = sc.week_of_traffic(profile, start, seed=1)
    assert inspect.isgenerator(stream)
    head = list(itertools.islice(stream, 5))
    assert len(head) == 5
    stream.close()

    labels: list[dict[str, Any]] = []
    events = [parse_event(json.dumps(e, ensure_ascii=False))
              for e in sc.week_of_traffic(profile_from_dict(profile), start.timestamp(), seed=1, labels=labels)]
    times = [e.ts for e in events]
    assert times == sorted(times)
    assert times[-1] - times[0] >= 7 * DAY
    assert len({e.id for e in events}) == len(events)
    assert {lab["type"] for lab in labels} == set(INCIDENT_TYPES)

    quiet: list[dict[str, Any]] = []
    n = sum(1 for _ in sc.week_of_traffic(profile, start, seed=1, episodes=False, labels=quiet))
    assert n > 0 and quiet == []


def test_week_of_traffic_accepts_an_unknown_municipality() -> None:
    profile = {"municipality": {"id": "toyo", "name": "東陽町"},
               "accounts": [{"platform": "x", "handle": "toyo_town", "name": "東陽町役場"}]}
    first = list(itertools.islice(sc.week_of_traffic(profile, 1_780_000_000, seed=3, days=2), 200))
    assert len(first) == 200
    for e in first:
        parse_event(json.dumps(e, ensure_ascii=False))


def test_the_command_line_writes_a_suite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert sc.main([str(tmp_path), "--seed", "3", "--bank", "variant"]) == 0
    assert len(scenario_paths(tmp_path)) == len(sc.SUITES["variant"])
    assert "scenarios written" in capsys.readouterr().out
