"""Labelled scenario generator: municipalities, their traffic, episodes and hard negatives.

Pure Python (the standard library and `vocabulary.terms` only) and deterministic from a seed. It writes
contract events (../shared/contracts/events.md) for invented municipalities of
three sizes, with

* ordinary traffic that follows a day/night rhythm (quiet nights, peaks at
  lunch and in the evening, a slightly different weekend), replies to the
  city's own posts, chatter that names the city, on x, bluesky and mastodon;
* labelled episodes: 炎上 flame-ups (slow, medium, big and fast), なりすまし
  impersonation (confusable handles, look-alike names, a copied bio and a close
  avatar hash, scam posts), デマ misinformation (paraphrases, reposts, quotes,
  also during a disaster) and 災害 disaster surges on the disaster hashtag;
* unlabelled hard negatives the detectors must stay quiet on (praise going
  viral, a festival, a disaster's flood of questions to the city, the everyday
  trickle of complaints, one angry person, look-alike but honest accounts,
  shares of the city's announcement, a widely shared news link, drills, a
  disaster elsewhere).

Texts are composed from two independent phrase banks, ``bank="main"`` (the
committed suite in tests/scenarios) and ``bank="variant"`` (tests/scenarios-variant),
which also differ in municipalities and timing, so that a detector tuned on one
can be checked on the other.

    python -m tools.scenarios OUT_DIR [--seed N] [--bank main|variant]

API: ``generate_suite(out_dir, seed=1, bank="main")``, ``generate(name, spec, seed)``
and ``week_of_traffic(profile, start, seed, episodes=True)`` (a lazy iterator).

The rooms, from the bottom: `common` (time, randomness, templates), `phrases` (the two
banks, data), `towns` (municipalities and timing, mostly data), `people` (who posts, ids),
`lookalikes`, `negatives` and `episodes` (what happens), `traffic` (the `Sim`: ordinary
traffic hour by hour, episodes in their hour), `suites` (the committed scenarios),
`week` (the benchmark's week) and `cli`.
"""

from __future__ import annotations

from vocabulary.terms import JST
from tools.scenarios.cli import main, markdown_table, summary
from tools.scenarios.common import BANK_NAMES, DAY, HOUR, MINUTE, expand, flip_bits, hamming, iso
from tools.scenarios.episodes import EPISODES, LABELLED, ep_disaster, ep_flame, ep_impersonation, ep_rumour, run_episode
from tools.scenarios.lookalikes import confusable, lookalike_name
from tools.scenarios.phrases import BANKS, MAIN, VARIANT
from tools.scenarios.suites import SUITES, E, Ep, Scenario, Spec, dump_events, generate, generate_suite, write_scenario
from tools.scenarios.towns import SIZES, TIMINGS, TOWNS, Official, Rates, Timing, Town
from tools.scenarios.traffic import Sim
from tools.scenarios.week import WEEK, town_from_profile, week_of_traffic

__all__ = [
    "BANKS", "BANK_NAMES", "DAY", "E", "EPISODES", "Ep", "HOUR", "JST", "LABELLED", "MAIN", "MINUTE", "Official",
    "Rates", "SIZES", "SUITES", "Scenario", "Sim", "Spec", "TIMINGS", "TOWNS", "Timing", "Town", "VARIANT", "WEEK",
    "confusable", "dump_events", "ep_disaster", "ep_flame", "ep_impersonation", "ep_rumour", "expand", "flip_bits",
    "generate", "generate_suite", "hamming", "iso", "lookalike_name", "main", "markdown_table", "run_episode",
    "summary", "town_from_profile", "week_of_traffic", "write_scenario",
]
