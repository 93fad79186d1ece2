"""`noroshi sources`: which sources the settings start, routing of pushed events, supervision."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from vocabulary.settings import Settings, SettingsError, SourceSettings
from vocabulary.profile_files import load_profile
from sources.base import MemorySink, Sink
from vocabulary.waits import Backoff
from sources.discovery import Discovery
from sources.jetstream import JetstreamSource
from sources.jma import JmaSource
from sources.mastodon import MastodonSource
from sources.runner import Planned, RoutingSink, plan_sources, supervise
from sources.webhook import WebhookReceiver
from sources.xstream import XStream
from tests.unit.builders import SAMPLE_PROFILE, mention_dict

ALL = {"NOROSHI_SOURCES": "jetstream, mastodon,x,discovery,jma,hooks",
       "NOROSHI_MASTODON_INSTANCES": "https://mstdn.example", "NOROSHI_X_BEARER_TOKEN": "bearer-9f3k",
       "NOROSHI_HOOKS_SECRET": "hook-2c7q"}


def test_nothing_runs_unless_named_and_each_named_source_is_built_per_municipality(tmp_path: Path) -> None:
    profile = load_profile(SAMPLE_PROFILE)
    assert plan_sources(SourceSettings(), {"wako": profile}, tmp_path) == []

    planned = plan_sources(Settings.from_env(ALL).sources, {"wako": profile}, tmp_path)

    kinds = {p.name: type(p.source) for p in planned}
    assert kinds == {"jetstream:wako": JetstreamSource, "mastodon:wako": MastodonSource, "x:wako": XStream,
                     "discovery:wako": Discovery, "jma:wako": JmaSource, "hooks": WebhookReceiver}
    assert next(p for p in planned if p.name == "hooks").municipality is None


@pytest.mark.parametrize(("env", "says"), [
    ({"NOROSHI_SOURCES": "twitter"}, "unknown twitter"),
    ({"NOROSHI_SOURCES": "mastodon"}, "NOROSHI_MASTODON_INSTANCES"),
    ({"NOROSHI_SOURCES": "x"}, "NOROSHI_X_BEARER_TOKEN"),
    ({"NOROSHI_SOURCES": "hooks"}, "NOROSHI_HOOKS_SECRET"),
    ({"NOROSHI_SOURCES": "mastodon", "NOROSHI_MASTODON_INSTANCES": "mstdn.jp"}, r"not an http\(s\) URL"),
])
def test_a_source_without_what_it_needs_is_refused_at_start_naming_the_variable(env: dict[str, str],
                                                                                   says: str) -> None:
    with pytest.raises(SettingsError, match=says):
        Settings.from_env(env)


def test_the_source_settings_reach_a_child_process_and_their_secrets_stay_hidden() -> None:
    settings = Settings.from_env(ALL)
    again = Settings.from_env(settings.to_env())
    assert again.sources == settings.sources
    assert "bearer-9f3k" not in repr(settings.sources) and "hook-2c7q" not in repr(settings.sources)


async def test_pushed_events_go_to_the_municipality_they_name_or_to_the_default() -> None:
    wako, itabashi = MemorySink(), MemorySink()
    routing = RoutingSink({"wako": wako, "itabashi": itabashi}, default="wako")

    assert await routing.publish(mention_dict(1, "a", "こんにちは", event_id="x:1"))
    assert await routing.publish({**mention_dict(2, "b", "こんにちは", event_id="x:2"), "municipality": "itabashi"})
    assert not await routing.publish({**mention_dict(3, "c", "こんにちは", event_id="x:3"), "municipality": "nerima"})

    assert [e["id"] for e in wako.events] == ["x:1"] and [e["id"] for e in itabashi.events] == ["x:2"]
    (raw, reason, _), = wako.rejected  # the stray one is kept, with why, not dropped
    assert b"x:3" in raw and "nerima" in reason and "itabashi" in reason


async def test_without_a_default_an_event_must_name_its_municipality() -> None:
    wako = MemorySink()
    routing = RoutingSink({"wako": wako, "itabashi": MemorySink()}, default=None)
    assert not await routing.publish(mention_dict(1, "a", "こんにちは", event_id="x:1"))
    assert "no municipality" in wako.rejected[0][1]


class Flaky:
    """A source that fails twice, then publishes one event and runs until stopped."""

    def __init__(self) -> None:
        self.runs = 0

    async def run(self, sink: Sink, stop: asyncio.Event) -> None:
        self.runs += 1
        if self.runs <= 2:
            raise RuntimeError("platform answered nonsense")
        await sink.publish(mention_dict(1, "a", "和光市", event_id="x:ok"))
        await stop.wait()


async def test_a_source_that_fails_is_restarted_and_the_others_never_notice() -> None:
    sink, stop, flaky = MemorySink(), asyncio.Event(), Flaky()
    task = asyncio.create_task(supervise(Planned("flaky:wako", "wako", flaky), sink, stop,
                                         Backoff(base_s=0.01, cap_s=0.02)))
    await sink.wait_for(1, timeout=5)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert flaky.runs == 3 and [e["id"] for e in sink.events] == ["x:ok"]


async def test_supervise_returns_promptly_when_stopped_during_its_wait() -> None:
    class Broken:
        async def run(self, sink: Any, stop: asyncio.Event) -> None:
            raise RuntimeError("down")

    stop = asyncio.Event()
    task = asyncio.create_task(supervise(Planned("b", "wako", Broken()), MemorySink(), stop,
                                         Backoff(base_s=60, cap_s=60)))
    await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(task, 1)
