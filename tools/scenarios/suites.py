"""Scenarios and suites: what each committed scenario is made of (`SUITES`), generating one
from its spec and a seed, and writing a suite's files.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from vocabulary.terms import JST
from tools.scenarios.common import DAY, HOUR, MINUTE
from tools.scenarios.towns import TOWNS
from tools.scenarios.traffic import Sim


@dataclass(frozen=True)
class Ep:
    """An episode of a scenario: `kind` (see EPISODES) on day `day` at local time `at`."""

    kind: str
    day: int
    at: str
    params: dict[str, Any] = field(default_factory=dict)


def E(kind: str, day: int, at: str, /, **params: Any) -> Ep:
    return Ep(kind, day, at, params)


@dataclass(frozen=True)
class Spec:
    """A scenario: one municipality, a start date (local midnight), a length and its episodes."""

    town: str
    start: str  # YYYY-MM-DD
    days: float
    episodes: tuple[Ep, ...] = ()
    bank: str = "main"
    about: str = ""
    jitter_min: int = 10


@dataclass
class Scenario:
    events: list[dict[str, Any]]
    labels: list[dict[str, Any]]
    profile: dict[str, Any]


SUITES: dict[str, dict[str, Spec]] = {
    "main": {
        "kirino-slow-flame": Spec("kirino", "2026-06-11", 2.0, (
            E("lookalikes", 0, "09:40", which=("fan", "resident", "shop")),
            E("flame", 0, "14:05", size="slow", platform="x"),
            E("impersonation", 1, "10:20", platform="mastodon", style="seen", report=True),
            E("angry", 1, "20:30"),
        ), about="small town: a slow flame-up (8 replies, 7 people, 30 min), a mastodon impersonation; "
                 "negatives: fan/resident/shop accounts, one angry person with 30 replies, the complaint trickle"),
        "aosawa-flame-rumour": Spec("aosawa", "2026-09-08", 2.0, (
            E("announce", 0, "09:30", which=0),
            E("flame", 0, "10:20", size="medium", platform="x", trigger=0),
            E("praise", 1, "07:50", platform="bluesky"),
            E("rumour", 1, "11:40", claim="water"),
            E("news", 1, "17:00"),
        ), about="mid-size city: a medium flame-up over a PR video, a tap-water rumour; negatives: shares of the "
                 "商品券 announcement, praise going viral on bluesky, a widely shared news link"),
        "higashiminato-big-flame": Spec("higashiminato", "2026-10-16", 1.0, (
            E("lookalikes", 0, "08:30", which=("resident", "news")),
            E("flame", 0, "12:25", size="big", platform="x", trigger=3),
            E("impersonation", 0, "16:10", platform="bluesky", style="created"),
            E("news", 0, "19:30"),
        ), about="large ward: a big fast flame-up (> 20 replies/min at its peak), a bluesky impersonation "
                 "(created → profile_changed); negatives: resident and local-news accounts, a news link"),
        "shirasagi-quake-lion": Spec("shirasagi", "2026-08-31", 1.6, (
            E("drill", 0, "09:55"),
            E("disaster", 0, "21:47", kind="quake", rumour="lion", rumour_after=(30, 45)),
        ), about="mid-size city: drill reminders on the disaster hashtag in the morning, an evening earthquake "
                 "with JMA alerts, rescue requests, questions to the city, and the 'lion escaped from the zoo' rumour"),
        "nagumo-heavy-rain": Spec("nagumo", "2026-07-03", 2.0, (
            E("elsewhere", 0, "11:00"),
            E("disaster", 1, "03:10", kind="rain"),
            E("impersonation", 1, "15:30", platform="x", style="post-first"),
        ), about="small village: news of a disaster elsewhere (with an alert for other areas), a night-time heavy "
                 "rain disaster, then a fake account offering 給付金 while the village is busy"),
        "hanasaki-festival": Spec("hanasaki", "2026-08-15", 1.0, (
            E("festival", 0, "10:00"),
            E("flame", 0, "11:30", size="medium", platform="bluesky", trigger=1),
            E("rumour", 0, "16:20", claim="festival-cancel", size="large"),
        ), about="large city on fireworks day: the festival burst (negative), a medium flame-up on bluesky about "
                 "the poster, a 'festival cancelled' rumour"),
        "miyaura-impersonation": Spec("miyaura", "2026-05-19", 2.0, (
            E("lookalikes", 0, "09:00", which=("fan", "shop", "news")),
            E("impersonation", 0, "11:05", platform="x", style="created"),
            E("announce", 0, "14:00", which=1),
            E("angry", 0, "22:10"),
            E("impersonation", 1, "09:40", platform="mastodon", style="seen"),
            E("rumour", 1, "12:15", claim="lunch"),
        ), about="mid-size city: two impersonations (x, mastodon), a school-lunch rumour; negatives: honest "
                 "look-alike accounts, the 給付金 announcement shared, one angry person"),
        "nishihama-typhoon": Spec("nishihama", "2026-09-21", 1.0, (
            E("disaster", 0, "05:30", kind="typhoon"),
            E("flame", 0, "10:40", size="medium", platform="x", disaster_trigger=True, trigger=0),
        ), about="large ward: a typhoon (alerts, damage reports, a flood of questions to the city) and a flame-up "
                 "over a tone-deaf post during it"),
        "tsurumisawa-ordinary": Spec("tsurumisawa", "2026-11-04", 3.0, (
            E("drill", 0, "09:00"),
            E("lookalikes", 0, "10:15"),
            E("announce", 1, "10:00"),
            E("elsewhere", 1, "14:00"),
            E("news", 2, "12:00"),
            E("minor_quake", 2, "16:42"),
            E("angry", 2, "19:30"),
        ), about="small town, three ordinary days (no labels): drill, honest look-alike accounts, an announcement, "
                 "a disaster elsewhere, a news link, one angry person, the complaint trickle"),
        "midorigaoka-ordinary": Spec("midorigaoka", "2026-04-04", 1.5, (
            E("elsewhere", 0, "03:20"),
            E("praise", 0, "08:30", platform="x"),
            E("festival", 0, "10:00"),
            E("lookalikes", 0, "12:00", which=("resident", "news", "fan")),
            E("news", 0, "18:30"),
            E("minor_quake", 0, "23:05"),
            E("angry", 1, "07:40"),
            E("announce", 1, "09:10", which=2),
            E("drill", 1, "10:00"),
        ), about="large city, a day and a half of ordinary traffic (no labels): praise going viral, the festival, "
                 "look-alike accounts, a news link, one angry person, an announcement, a drill, a disaster elsewhere"),
        "asahino-night-quake": Spec("asahino", "2026-04-14", 1.6, (
            E("praise", 0, "12:10", platform="x"),
            E("disaster", 1, "01:25", kind="quake", rumour="dam", rumour_after=(20, 35)),
        ), about="mid-size city: praise at lunch, then a night-time earthquake with JMA alerts and a 'dam "
                 "collapsed' rumour"),
    },
    "variant": {
        "hoshimi-slow-flame": Spec("hoshimi", "2026-02-17", 2.0, (
            E("lookalikes", 0, "10:00", which=("fan", "shop")),
            E("flame", 0, "19:20", size="slow", platform="x"),
            E("impersonation", 1, "08:15", platform="x", style="post-first"),
            E("angry", 1, "13:00"),
        ), bank="variant", about="small town: an evening slow flame-up, an impersonation seen first by its scam post"),
        "shiomi-flame-rumour": Spec("shiomi", "2026-03-24", 2.0, (
            E("rumour", 0, "08:10", claim="gas"),
            E("announce", 0, "13:30"),
            E("news", 0, "18:00"),
            E("praise", 1, "09:00", platform="x"),
            E("flame", 1, "15:45", size="medium", platform="bluesky"),
        ), bank="variant", about="mid-size city: a toxic-gas rumour, a medium flame-up on bluesky"),
        "sakuradai-big-flame": Spec("sakuradai", "2026-12-04", 1.0, (
            E("news", 0, "07:30"),
            E("impersonation", 0, "09:30", platform="mastodon", style="seen"),
            E("lookalikes", 0, "12:00", which=("news", "resident")),
            E("flame", 0, "18:40", size="big", platform="x"),
        ), bank="variant", about="large ward: a big evening flame-up, a mastodon impersonation"),
        "yamabuki-quake-tiger": Spec("yamabuki", "2026-01-17", 1.6, (
            E("drill", 0, "10:30"),
            E("disaster", 0, "17:52", kind="quake", rumour="tiger", rumour_after=(15, 40)),
        ), bank="variant", about="mid-size city: drill, then an earthquake and a 'tiger escaped' rumour"),
        "okutani-snow": Spec("okutani", "2026-01-27", 2.0, (
            E("elsewhere", 0, "09:00"),
            E("disaster", 0, "22:00", kind="snow"),
            E("impersonation", 1, "11:00", platform="x", style="seen"),
        ), bank="variant", about="small village: heavy snow overnight, an impersonation the next day"),
        "kazahaya-festival": Spec("kazahaya", "2026-07-25", 1.0, (
            E("festival", 0, "10:30"),
            E("flame", 0, "13:10", size="medium", platform="mastodon"),
            E("rumour", 0, "19:50", claim="knife", size="large"),
        ), bank="variant", about="large city on festival day: a flame-up on mastodon, a 'man with a knife' rumour"),
        "iwahashi-impersonation": Spec("iwahashi", "2026-10-06", 2.0, (
            E("lookalikes", 0, "08:00"),
            E("angry", 0, "11:00"),
            E("impersonation", 0, "16:40", platform="bluesky", style="created"),
            E("announce", 1, "09:00"),
            E("impersonation", 1, "10:10", platform="x", style="seen"),
            E("rumour", 1, "14:30", claim="school-closure"),
        ), bank="variant", about="mid-size city: two impersonations (bluesky, x), a school-closure rumour"),
        "shioiri-rain": Spec("shioiri", "2026-06-29", 1.0, (
            E("disaster", 0, "13:00", kind="rain"),
            E("flame", 0, "16:30", size="medium", platform="x", disaster_trigger=True),
        ), bank="variant", about="large ward: a cloudburst and a flame-up over a tone-deaf post during it"),
        "yukimori-ordinary": Spec("yukimori", "2026-02-02", 3.0, (
            E("drill", 0, "10:00"),
            E("lookalikes", 0, "15:00"),
            E("announce", 1, "09:30"),
            E("elsewhere", 1, "16:00"),
            E("news", 2, "08:30"),
            E("minor_quake", 2, "04:10"),
            E("angry", 2, "21:00"),
        ), bank="variant", about="small town, three ordinary days (no labels)"),
        "hikarigahara-ordinary": Spec("hikarigahara", "2026-07-11", 1.5, (
            E("praise", 0, "09:00", platform="bluesky"),
            E("festival", 0, "11:00"),
            E("lookalikes", 0, "13:00"),
            E("news", 0, "20:00"),
            E("elsewhere", 0, "23:10"),
            E("minor_quake", 1, "02:15"),
            E("angry", 1, "06:30"),
            E("announce", 1, "08:45"),
            E("drill", 1, "09:30"),
        ), bank="variant", about="large city, a day and a half of ordinary traffic (no labels)"),
        "kasumino-night-quake": Spec("kasumino", "2026-03-10", 1.6, (
            E("praise", 0, "16:00", platform="x"),
            E("disaster", 1, "03:38", kind="quake", rumour="levee", rumour_after=(25, 50)),
        ), bank="variant", about="mid-size city: a night-time earthquake and a 'levee broke' rumour"),
    },
    # Episodes that last: a 炎上 in daily waves, a slow one the day after a big one (not committed
    # as files: tests/unit/test_episode_scenarios.py writes and scores them; see the README there).
    "episodes": {
        "aosawa-flame-days": Spec("aosawa", "2026-10-05", 5.0, (
            E("flame_days", 0, "19:40", days=4, trigger=1),
        ), about="mid-size city: one flame-up in four evening waves (decaying, quiet nights, a few at lunch, "
                 "criticism of the apology too): one episode, one incident"),
        "kirino-flame-days": Spec("kirino", "2026-06-19", 5.0, (
            E("flame_days", 1, "19:00", days=3, first_wave=(20, 28)),
        ), about="small town: a small flame-up that comes back on three evenings"),
        "miyaura-flame-after-flame": Spec("miyaura", "2026-05-25", 2.0, (
            E("flame", 0, "12:10", size="big", trigger=0),
            E("flame_ramp", 1, "14:00", trigger=2),
        ), about="mid-size city: a big flame-up, then the next day a slow-rising one about another post "
                 "(8 critical posts a minute only after 40 minutes): the baseline must not include the first"),
        "shiomi-flame-days": Spec("shiomi", "2026-04-13", 5.0, (
            E("flame_days", 0, "20:30", days=4, platform="bluesky"),
        ), bank="variant", about="mid-size city: a flame-up on bluesky in four late-evening waves"),
        "hoshimi-flame-days": Spec("hoshimi", "2026-02-22", 5.0, (
            E("flame_days", 1, "21:00", days=3, first_wave=(18, 26)),
        ), bank="variant", about="small town: a small flame-up back on three evenings"),
        "sakuradai-flame-after-flame": Spec("sakuradai", "2026-12-07", 2.0, (
            E("flame", 0, "18:40", size="big"),
            E("flame_ramp", 1, "16:20"),
        ), bank="variant", about="large ward: a big evening flame-up, then a slow-rising one the next afternoon"),
        "asahino-quake-days": Spec("asahino", "2026-04-14", 4.0, (
            E("quake_days", 0, "21:26", days=3),
        ), about="mid-size city: an earthquake, then aftershocks over two days (JMA reports, bursts of "
                 "揺れた posts, quiet hours between): one disaster episode"),
        "shirasagi-rumour-again": Spec("shirasagi", "2026-09-01", 3.0, (
            E("rumour_again", 0, "11:40", claim="hospital"),
        ), about="mid-size city: a hospital rumour, corrected, that resurfaces the next day and spreads "
                 "again: one claim, one incident"),
        "iwahashi-rumour-again": Spec("iwahashi", "2026-10-13", 3.0, (
            E("rumour_again", 0, "08:30", claim="gas", after_h=(36, 44)),
        ), bank="variant", about="mid-size city: a toxic-gas rumour back a day and a half later"),
        "yamabuki-quake-days": Spec("yamabuki", "2026-01-17", 4.0, (
            E("quake_days", 0, "05:46", days=3, aftershocks=(1, 3)),
        ), bank="variant", about="mid-size city: a dawn earthquake and aftershocks over two days"),
    },
    # Disguise (issue 15): fakes whose handles are made of look-alike letters from outside any
    # hand-made table, criticism and rumours written apart, stretched or in mixed widths.
    # Written and scored by tests/unit/test_disguise_scenarios.py (not committed as files).
    "disguise": {
        "iwahashi-disguised-fakes": Spec("iwahashi", "2026-10-13", 3.0, (
            E("lookalikes", 0, "08:30", which=("fan", "resident", "shop", "news")),
            E("impersonation", 0, "10:00", platform="x", style="seen", disguise="small_caps"),
            E("impersonation", 0, "15:00", platform="bluesky", style="created", disguise="cyrillic"),
            E("announce", 1, "09:00"),
            E("impersonation", 1, "10:30", platform="x", style="post-first", disguise="greek"),
            E("impersonation", 1, "16:00", platform="x", style="seen", disguise="math"),
            E("impersonation", 2, "09:30", platform="bluesky", style="seen", disguise="dotless"),
            E("impersonation", 2, "13:00", platform="x", style="created", disguise="kra"),
            E("impersonation", 2, "18:00", platform="x", style="seen", disguise="zero_width"),
            E("lookalikes", 2, "11:00", disguise="small_caps"),
        ), about="mid-size city: seven fakes, one per disguise (small capitals, Cyrillic ԝ/օ, Greek ι, "
                 "mathematical letters, dotless ı, ĸ, a zero-width space), each with only its handle and a "
                 "claim of being official; negatives: honest look-alike accounts (also in small capitals), an "
                 "announcement shared"),
        "kirino-disguised-slow-flame": Spec("kirino", "2026-06-18", 2.0, (
            E("lookalikes", 0, "09:40", which=("fan", "resident"), disguise="cyrillic"),
            E("flame", 0, "13:20", size="slow", platform="x", disguise=1.0),
            E("impersonation", 1, "10:20", platform="mastodon", style="seen", disguise="cyrillic"),
            E("angry", 1, "20:30"),
        ), about="small town: a slow flame-up whose every critical reply is disguised, a mastodon fake in "
                 "Cyrillic letters; negatives: fan/resident accounts with Cyrillic letters in their handles, one "
                 "angry person"),
        "hanasaki-disguised-flame-rumour": Spec("hanasaki", "2026-08-22", 1.0, (
            E("praise", 0, "08:00", platform="x"),
            E("flame", 0, "11:30", size="medium", platform="x", trigger=1, disguise=.8),
            E("news", 0, "14:00"),
            E("rumour", 0, "16:20", claim="festival-cancel", disguise=.7),
        ), about="large city: a medium flame-up with most criticism disguised, a rumour with most retellings "
                 "disguised; negatives: praise going viral, a news link"),
        "shiomi-disguised-variant": Spec("shiomi", "2026-04-07", 2.0, (
            E("rumour", 0, "08:10", claim="gas", disguise=.7),
            E("announce", 0, "13:30"),
            E("flame", 1, "15:45", size="medium", platform="bluesky", disguise=.8),
            E("impersonation", 1, "18:00", platform="x", style="post-first", disguise="small_caps"),
        ), bank="variant", about="mid-size city, the variant phrase bank: a disguised toxic-gas rumour, a "
                                 "disguised flame-up on bluesky, a small-capitals fake"),
    },
    # Written and scored by tests/unit/test_retold_scenarios.py (not committed as files).
    "retold": {
        "kirino-outage-retold": Spec("kirino", "2026-07-14", 2.0, (
            E("outage", 0, "10:00"),
            E("announce", 1, "13:00"),
        ), about="small town: a planned water outage announced by the town and retold by residents with "
                 "hearsay markers within the hour and on the morning of the day; no incident"),
        "aosawa-outage-rumour": Spec("aosawa", "2026-09-08", 2.0, (
            E("outage", 0, "10:30", contradict=True, size="large"),
            E("praise", 1, "09:00", platform="x"),
        ), about="mid-size city: a planned water outage retold by residents, then a rumour that it lasts a "
                 "week; one misinformation incident, the city's announcement its source"),
        "shiomi-outage-variant": Spec("shiomi", "2026-05-19", 2.0, (
            E("outage", 0, "09:30", contradict=True),
            E("news", 1, "11:00"),
        ), bank="variant", about="mid-size city, the variant phrase bank: a planned outage retold, a rumour "
                                 "that contradicts it"),
    },
}


def _midnight(day: str) -> int:
    return int(datetime.fromisoformat(day).replace(tzinfo=JST).timestamp())


def clock(at: str) -> int:
    hh, mm = at.split(":")
    return int(hh) * HOUR + int(mm) * MINUTE


def _as_spec(spec: Spec | dict[str, Any]) -> Spec:
    if isinstance(spec, Spec):
        return spec
    eps = tuple(e if isinstance(e, Ep) else Ep(e["kind"], int(e["day"]), e["at"], dict(e.get("params", {})))
                for e in spec.get("episodes", ()))
    return Spec(spec["town"], spec["start"], float(spec["days"]), eps, spec.get("bank", "main"),
                spec.get("about", ""), int(spec.get("jitter_min", 10)))


def generate(name: str, spec: Spec | dict[str, Any], seed: int = 1) -> Scenario:
    """One scenario: its events (sorted by ts, unique ids), labels and municipality profile."""
    spec = _as_spec(spec)
    town = TOWNS[spec.town]
    t0 = _midnight(spec.start)
    key = f"{seed}|{spec.bank}|{name}"
    sim = Sim(town, spec.bank, key, t0)
    when = random.Random(key + "|schedule")
    schedule = []
    for ep in spec.episodes:
        jitter = when.randint(-spec.jitter_min, spec.jitter_min) * MINUTE + when.randint(0, 59)
        schedule.append((max(t0, t0 + ep.day * DAY + clock(ep.at) + jitter), ep.kind, dict(ep.params)))
    labels: list[dict[str, Any]] = []
    events = list(sim.stream(t0, t0 + int(spec.days * DAY), schedule, labels))
    ids = [e["id"] for e in events]
    if len(set(ids)) != len(ids):
        raise RuntimeError(f"{name}: duplicate event ids")
    labels.sort(key=lambda lab: (lab["start"], lab["type"]))
    return Scenario(events, labels, town.profile())


def dump_events(events: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events)


def write_scenario(out_dir: Path, name: str, scenario: Scenario) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.jsonl"
    path.write_text(dump_events(scenario.events), encoding="utf-8")
    (out_dir / f"{name}.labels.jsonl").write_text(dump_events(scenario.labels), encoding="utf-8")
    (out_dir / f"{name}.profile.json").write_text(
        json.dumps(scenario.profile, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return path


def generate_suite(out_dir: Path, seed: int = 1, bank: str = "main") -> list[Path]:
    """Write every scenario of the bank's suite (NAME.jsonl, .labels.jsonl, .profile.json);
    returns the scenario files."""
    if bank not in SUITES:
        raise ValueError(f"bank must be one of {', '.join(SUITES)}, got {bank!r}")
    out_dir = Path(out_dir)
    return [write_scenario(out_dir, name, generate(name, spec, seed)) for name, spec in SUITES[bank].items()]

