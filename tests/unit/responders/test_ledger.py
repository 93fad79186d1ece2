"""The responders' ledger across a crash: every send marked in flight before the peer is called,
and after a restart resent with its key only where the peer recognises it, otherwise reported as
送信済みの可能性 (possibly sent) for a person, never sent twice in silence."""

from __future__ import annotations

import asyncio
import random

import pytest

from responders.base import ALWAYS, FakeChannel, Transient, dedup_window
from responders.chat import LineWorksBotChannel, SignedWebhookChannel, SlackWebhookChannel, TeamsWorkflowChannel
from responders.email import EmailChannel
from responders.ledger import IN_FLIGHT_CAP, Ledger, carry_out, cut_off_effects, finish
from responders.posts import BlueskyChannel, DryRunChannel, MastodonChannel, XChannel
from responders.reliability import RetryPolicy
from responders.responder import Channels, Responder
from responders.website import FolderNoticeChannel, WebhookNoticeChannel
from streams import durable
from tests.unit.responders.test_responder import Clock, notify

KEY = "wako-flame-1:notify:1:slack:koho"


def responder(channels: Channels, clock: Clock) -> Responder:
    return Responder(channels, profiles={}, board_url="https://board.example/", clock=clock, sleep=clock.sleep,
                     rng=random.Random(1), policy=RetryPolicy(attempts=2))


class Store:
    """What the shell stores: each saved ledger, as bytes."""

    def __init__(self) -> None:
        self.saved: list[bytes] = []

    async def __call__(self, ledger: Ledger) -> None:
        self.saved.append(ledger.dump())

    @property
    def last(self) -> Ledger:
        return Ledger.load(self.saved[-1])


class Watched(FakeChannel):
    """A fake peer that notes what the store held when it was called."""

    def __init__(self, store: Store, **kw) -> None:
        super().__init__("slack", **kw)
        self.store = store
        self.stored_when_called: list[Ledger] = []

    async def send(self, message, *, key):
        self.stored_when_called.append(self.store.last)
        return await super().send(message, key=key)


def crashed_during(key: str, effect_id: str, channel: str, since: float) -> Ledger:
    """The ledger a worker killed in the middle of sending `key` left behind."""
    ledger = Ledger()
    ledger.start(key, effect_id, channel, since)
    return Ledger.load(ledger.dump())


@pytest.mark.parametrize(("channel", "window"), [
    (EmailChannel, 0.0), (SlackWebhookChannel, 0.0), (TeamsWorkflowChannel, 0.0), (LineWorksBotChannel, 0.0),
    (XChannel, 0.0), (MastodonChannel, 3600.0), (BlueskyChannel, ALWAYS), (SignedWebhookChannel, ALWAYS),
    (WebhookNoticeChannel, ALWAYS), (FolderNoticeChannel, ALWAYS), (DryRunChannel, ALWAYS),
])
def test_every_channel_says_whether_its_peer_recognises_a_repeated_key(channel: type, window: float) -> None:
    assert dedup_window(channel) == window


def test_a_channel_that_says_nothing_is_taken_as_one_that_cannot_recognise_a_repeat() -> None:
    assert dedup_window(object()) == 0.0


async def test_a_send_is_stored_as_in_flight_before_the_peer_is_called_and_as_delivered_after() -> None:
    clock, store = Clock(), Store()
    slack = Watched(store)
    ledger = Ledger()
    effect = notify("slack:koho")

    result = await carry_out(responder(Channels(chat={"slack": slack}), clock), effect, ledger, store)

    (when_called,) = slack.stored_when_called
    assert when_called.in_flight == {KEY: {"effect_id": effect.effect_id, "channel": "slack", "since": clock.now}}
    assert KEY not in when_called.delivered
    assert store.last.delivered == [KEY] and store.last.in_flight == {}
    finish(responder(Channels(), clock), effect, ledger, result)
    assert ledger.finished == {effect.effect_id: True}


async def test_a_send_that_fails_for_good_is_no_longer_in_flight_and_is_reported() -> None:
    clock, store = Clock(), Store()
    slack = FakeChannel("slack", fail=[Transient("slack", "HTTP 503")] * 2)

    result = await carry_out(responder(Channels(chat={"slack": slack}), clock), notify("slack:koho"), Ledger(), store)

    assert result.failed and [c.action for c in result.commands] == ["channel_failed"]
    assert store.last.in_flight == {} and store.last.delivered == []


async def test_after_a_crash_a_channel_without_idempotency_is_not_sent_again_but_reported_as_possibly_sent() -> None:
    clock = Clock()
    effect = notify("slack:koho")
    ledger = crashed_during(KEY, effect.effect_id, "slack", clock.now - 5)
    slack, store = FakeChannel("slack", dedup_window_s=0), Store()
    r = responder(Channels(chat={"slack": slack}), clock)

    result = await carry_out(r, effect, ledger, store)

    assert slack.attempts == 0, "sent again in silence"
    assert result.possibly_sent == [KEY] and not result.failed and not result.delivered
    (entry,) = [e for e in result.timeline if e.action == "delivery_possibly_sent"]
    assert list(entry.detail)[:2] == ["message_ja", "message_en"]  # Japanese first, before the details
    assert entry.detail["message_ja"].startswith("送信済みの可能性があります：slack（山田）への送信中に")
    assert "自動では再送しません" in entry.detail["message_ja"]
    assert entry.detail["message_en"].startswith("Possibly sent")
    assert entry.detail["key"] == KEY and entry.detail["code"] == "possibly_sent" and entry.actor["name"] == "slack"
    (command,) = result.commands
    assert command.action == "delivery_possibly_sent" and command.actor["kind"] == "responder"
    assert command.payload == {"effect_id": effect.effect_id, "channel": "slack", "key": KEY, "to": "山田",
                               "started_at": entry.detail["started_at"]}
    done = [e for e in result.timeline if e.action == "effect_carried_out"]
    assert done and done[0].detail["possibly_sent"] == 1

    # Crashing again before the effect is finished repeats the same report under the same ids.
    again = await carry_out(r, effect, Ledger.load(ledger.dump()), store)
    assert slack.attempts == 0
    assert [e.entry_id for e in again.timeline] == [e.entry_id for e in result.timeline]
    assert [c.command_id for c in again.commands] == [c.command_id for c in result.commands]

    finish(r, effect, ledger, result)
    assert ledger.in_flight == {} and ledger.finished == {effect.effect_id: True}
    assert await carry_out(r, effect, ledger, store) is None


async def test_after_a_crash_a_channel_with_idempotency_is_sent_again_with_the_same_key() -> None:
    clock = Clock()
    effect = notify("slack:koho")
    ledger = crashed_during(KEY, effect.effect_id, "slack", clock.now - 5)
    webhook, store = FakeChannel("slack", dedup_window_s=ALWAYS), Store()

    result = await carry_out(responder(Channels(chat={"slack": webhook}), clock), effect, ledger, store)

    assert [key for key, _ in webhook.sent] == [KEY] and result.delivered == [KEY]
    assert not result.possibly_sent and not result.commands
    (resumed,) = [e for e in result.timeline if e.action == "delivery_resumed"]
    assert resumed.detail["key"] == KEY and "同じキーで再送します" in resumed.detail["why"]
    assert store.last.delivered == [KEY] and store.last.in_flight == {}


@pytest.mark.parametrize(("ago", "resent"), [(30 * 60, True), (2 * 3600, False), (-60, False)])
async def test_a_peer_that_remembers_keys_for_an_hour_is_sent_again_only_within_that_hour(
        ago: float, resent: bool) -> None:
    """…and not when the clock went back since the first try (the hour cannot be told)."""
    clock = Clock()
    effect = notify("slack:koho")
    ledger = crashed_during(KEY, effect.effect_id, "slack", clock.now - ago)
    mastodon_like = FakeChannel("slack", dedup_window_s=3600)

    result = await carry_out(responder(Channels(chat={"slack": mastodon_like}), clock), effect, ledger, Store())

    assert (mastodon_like.attempts == 1) is resent
    assert (result.possibly_sent == [KEY]) is not resent


async def test_a_key_resent_after_a_crash_keeps_the_time_of_its_first_try() -> None:
    ledger = crashed_during(KEY, "e1", "mastodon", 100.0)
    ledger.start(KEY, "e1", "mastodon", 5000.0)
    assert ledger.cut_off("e1") == {KEY: 100.0} and ledger.cut_off("e2") == {}


async def test_a_delivered_key_is_skipped_and_others_of_the_effect_still_go_out() -> None:
    clock = Clock()
    effect = notify("email:yamada@city.example", "slack:koho")
    mail_key = f"{effect.effect_id}:email:yamada@city.example"
    ledger = crashed_during(KEY, effect.effect_id, "slack", clock.now - 5)
    ledger.deliver(mail_key)
    mail, slack = FakeChannel("email", dedup_window_s=0), FakeChannel("slack", dedup_window_s=0)

    result = await carry_out(responder(Channels(email=mail, chat={"slack": slack}), clock), effect, ledger, Store())

    assert mail.attempts == 0 and slack.attempts == 0
    assert [e.action for e in result.timeline][:2] == ["delivery_skipped", "delivery_possibly_sent"]


async def test_an_effect_left_in_flight_is_found_by_where_it_is_on_the_effects_topic() -> None:
    """Faust may skip the last messages of a partition at start: the shell reads it from there."""
    clock, store = Clock(), Store()
    slack = Watched(store)
    effect = notify("slack:koho")
    await carry_out(responder(Channels(chat={"slack": slack}), clock), effect, Ledger(), store,
                    at=("noroshi.effects", 1, 42))
    (crashed,) = slack.stored_when_called  # the ledger as a kill -9 during the send leaves it
    other = crashed_during("k", "wako-flame-2:notify:3", "email", clock.now)  # no position: an older ledger
    done = Ledger.load(crashed.dump())
    done.finish(effect.effect_id, True)

    assert cut_off_effects([("wako-flame-1", crashed.dump()), ("wako-flame-1b", crashed.dump()),
                            ("wako-flame-2", other.dump()), ("wako-flame-3", Ledger().dump()),
                            ("wako-flame-4", done.dump()), ("wako-flame-5", None)]) == [("noroshi.effects", 1, 42)]


def test_the_ledger_keeps_its_in_flight_marks_through_json_and_bounded() -> None:
    ledger = Ledger()
    for n in range(IN_FLIGHT_CAP + 5):
        ledger.start(f"k{n}", "e", "slack", float(n))
    restored = Ledger.load(ledger.dump())
    assert len(restored.in_flight) == IN_FLIGHT_CAP and "k0" not in restored.in_flight
    assert Ledger.load(b'{"finished": {}, "delivered": [], "holds": []}').in_flight == {}  # an older ledger


class SlowChangelog:
    """A table whose changelog record is acknowledged only when the test says so."""

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}
        self.acked: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def partition_for_key(self, key: str) -> None:
        return None

    def send_changelog(self, partition, key, value):
        return self.acked


async def test_a_durable_store_returns_only_once_the_broker_has_the_record() -> None:
    table = SlowChangelog()
    stored = asyncio.ensure_future(durable.store(table, "wako-flame-1", b"{}"))
    await asyncio.sleep(0)
    assert table.data == {"wako-flame-1": b"{}"} and not stored.done()
    table.acked.set_result(None)
    await stored
