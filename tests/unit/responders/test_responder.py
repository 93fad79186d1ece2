"""The responder core with fake channels: routing, retries, fallback, holds, exactly once."""

from __future__ import annotations

import random

import pytest

from responders.base import FakeChannel, Permanent, Transient
from responders.holds import Holds
from responders.reliability import CircuitBreaker, RetryPolicy
from vocabulary.waits import Backoff
from responders.responder import Channels, Responder
from vocabulary.records import Effect

PROFILE = {
    "municipality": {"id": "wako", "name": "和光市"},
    "accounts": [{"platform": "x", "handle": "wako_city_official", "department": "広報課"}],
    "press": {"contact": {"department": "広報課", "phone": "048-000-0000"}, "recipients": ["desk@press.example"]},
}


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def responder(channels: Channels, clock: Clock | None = None, **kw) -> Responder:
    clock = clock or Clock()
    return Responder(channels, profiles={"wako": PROFILE}, board_url="https://board.example/",
                     clock=clock, sleep=clock.sleep, rng=random.Random(1), **kw)


def effect(kind: str, payload: dict, n: int = 1, drill: bool = False) -> Effect:
    return Effect(effect_id=f"wako-flame-1:{kind}:{n}", incident_id="wako-flame-1", municipality="wako",
                  kind=kind, at="2026-11-22T10:00:00+09:00", payload=payload, drill=drill)


def notify(*channels: str) -> Effect:
    return effect("notify", {"to": {"name": "山田", "role": "operator", "level": 1, "channels": list(channels)},
                             "reason": "opened", "severity": "high",
                             "message_ja": "【炎上】wako_city_official: 批判が急増\nボードで確認し、受付してください。",
                             "message_en": "[flame-up] wako_city_official\nPlease check the board.",
                             "ack_due": "2026-11-22T10:30:00+09:00"})


async def test_a_notification_goes_to_every_channel_of_the_person_with_a_link_to_the_incident() -> None:
    mail, slack = FakeChannel("email"), FakeChannel("slack")
    r = responder(Channels(email=mail, chat={"slack": slack}))
    result = await r.carry_out(notify("email:yamada@city.example", "slack:koho"))
    assert not result.failed and not result.commands
    (key, message), = mail.sent
    assert message.to == ["yamada@city.example"] and message.subject.startswith("【炎上】")
    assert message.link == "https://board.example/incidents/wako-flame-1"
    assert slack.sent[0][1].title.startswith("【炎上】") and slack.sent[0][1].severity == "high"
    assert [e.action for e in result.timeline] == ["delivered", "delivered", "effect_carried_out"]


async def test_a_flaky_channel_is_retried_with_growing_waits_and_every_attempt_is_in_the_timeline() -> None:
    clock = Clock()
    mail = FakeChannel("email", fail=[Transient("email", "connection refused")] * 2)
    r = responder(Channels(email=mail), clock)
    result = await r.carry_out(notify("email:yamada@city.example"))
    assert len(mail.sent) == 1 and not result.failed
    assert [(e.action, e.detail["attempt"]) for e in result.timeline[:3]] == [
        ("delivery_failed", 1), ("delivery_failed", 2), ("delivered", 3)]
    assert len(clock.slept) == 2 and clock.slept[1] > clock.slept[0] * 0.9


async def test_retry_after_is_honoured() -> None:
    clock = Clock()
    chat = FakeChannel("slack", fail=[Transient("slack", "HTTP 429", retry_after=42.0)])
    await responder(Channels(chat={"slack": chat}), clock).carry_out(notify("slack:koho"))
    assert clock.slept == [42.0] and len(chat.sent) == 1


async def test_a_channel_that_keeps_failing_reports_channel_failed_to_the_playbook() -> None:
    mail = FakeChannel("email", fail=[Transient("email", "connection refused")] * 10)
    result = await responder(Channels(email=mail)).carry_out(notify("email:yamada@city.example"))
    assert result.failed
    (command,) = result.commands
    assert command.action == "channel_failed" and command.payload["effect_id"] == "wako-flame-1:notify:1"
    assert command.payload["channel"] == "email" and "connection refused" in command.payload["error"]
    assert mail.attempts == 4


async def test_one_working_channel_of_a_person_is_enough_and_the_failed_one_stays_in_the_timeline() -> None:
    mail = FakeChannel("email", fail=[Permanent("email", "550 mailbox unavailable")])
    slack = FakeChannel("slack")
    result = await responder(Channels(email=mail, chat={"slack": slack})).carry_out(
        notify("email:yamada@city.example", "slack:koho"))
    assert not result.failed and not result.commands and len(slack.sent) == 1
    assert mail.attempts == 1  # permanent: not retried
    assert "delivery_failed" in [e.action for e in result.timeline]


async def test_a_redelivered_effect_sends_nothing_already_delivered() -> None:
    mail, slack = FakeChannel("email"), FakeChannel("slack")
    r = responder(Channels(email=mail, chat={"slack": slack}))
    first = await r.carry_out(notify("email:yamada@city.example", "slack:koho"))
    again = await r.carry_out(notify("email:yamada@city.example", "slack:koho"), already=frozenset(first.delivered))
    assert len(mail.sent) == 1 and len(slack.sent) == 1 and mail.attempts == 1
    assert [e.action for e in again.timeline].count("delivery_skipped") == 2


async def test_an_unconfigured_channel_is_a_failure_not_a_silent_skip() -> None:
    result = await responder(Channels()).carry_out(notify("teams:koho"))
    assert result.failed and result.commands[0].action == "channel_failed"
    assert "teams" in result.commands[0].payload["error"]


async def test_a_person_without_channels_is_told_on_the_board() -> None:
    result = await responder(Channels()).carry_out(notify())
    assert not result.failed and result.timeline[0].action == "notified_on_board"


async def test_the_circuit_opens_after_repeated_failures_and_stops_calling_the_peer() -> None:
    clock = Clock()
    mail = FakeChannel("email", fail=[Transient("email", "down")] * 100)
    r = responder(Channels(email=mail), clock, policy=RetryPolicy(attempts=2, backoff=Backoff(0.1, 2, 1)))
    for n in range(5):
        await r.carry_out(effect("notify", notify("email:a@city.example").payload, n))
    calls = mail.attempts
    result = await r.carry_out(effect("notify", notify("email:a@city.example").payload, 9))
    assert mail.attempts == calls and "circuit open" in result.commands[0].payload["error"]


def test_a_breaker_lets_one_trial_through_after_its_pause() -> None:
    b = CircuitBreaker(threshold=2, reset_after_s=60)
    b.failed(0), b.failed(1)
    assert not b.allows(30) and b.allows(61)
    b.failed(61)
    assert not b.allows(100)
    b.succeeded()
    assert b.allows(100)


def test_backoff_grows_is_capped_and_jittered() -> None:
    rng = random.Random(3)
    delays = [Backoff(1, 2, 8).delay(n, rng) for n in range(1, 7)]
    assert all(0.5 * min(8, 2 ** (n - 1)) <= d <= min(8, 2 ** (n - 1)) for n, d in enumerate(delays, 1))


async def test_holding_replies_refuses_a_routine_post_and_releases_when_the_incident_ends() -> None:
    holds = Holds()
    r = responder(Channels(), holds=holds)
    account = {"platform": "x", "handle": "wako_city_official"}
    held = await r.carry_out(effect("hold_replies", {"account": account, "reason": "炎上対応中"}))
    assert held.timeline[0].action == "replies_held"
    assert holds.held() == {"x:wako_city_official": ["wako-flame-1"]}
    from responders.holds import HeldError, OutboundPost
    with pytest.raises(HeldError, match="返信保留中"):
        holds.check(OutboundPost("x:wako_city_official", "routine"))
    holds.check(OutboundPost("x:wako_city_official", "statement", "wako-flame-1", approved=True))
    with pytest.raises(HeldError):
        holds.check(OutboundPost("x:wako_city_official", "statement", "wako-flame-1", approved=False))
    await r.carry_out(effect("release_hold", {"account": account}, 2))
    assert holds.held() == {}
    holds.check(OutboundPost("x:wako_city_official", "routine"))


async def test_a_takedown_request_is_prepared_for_the_operator_with_text_and_form() -> None:
    result = await responder(Channels()).carry_out(effect("request_takedown", {
        "platform": "x", "handle": "wako_clty", "report_url": "https://help.x.com/forms/impersonation",
        "report_text_ja": "なりすましアカウント @wako_clty の削除をお願いします。"}))
    (entry, done) = result.timeline
    assert entry.action == "takedown_request_prepared" and entry.detail["status"] == "ready_to_file"
    assert entry.detail["report_url"].startswith("https://help.x.com")


async def test_a_press_release_is_mailed_to_the_press_list_with_the_template_sections() -> None:
    mail = FakeChannel("email")
    result = await responder(Channels(email=mail)).carry_out(effect("notify_press", {
        "draft_id": "d1", "kind": "press", "texts": {"ja": "本市の公式アカウントを装った偽アカウントが確認されました。"},
        "approval": {"approver": "課長"}, "incident": {"type": "impersonation", "target": "wako_clty",
                                                      "summary": "偽アカウント @wako_clty", "opened_at": "2026-11-22T09:00:00+09:00"}}))
    assert not result.failed
    (key, message), = mail.sent
    assert message.to == ["desk@press.example"] and "なりすまし" in message.subject
    for heading in ("概要", "経緯", "市民の皆様へのお願い", "問い合わせ先"):
        assert heading in message.text
    assert message.html and "<html" in message.html


async def test_a_drill_press_release_never_reaches_the_press() -> None:
    mail = FakeChannel("email")
    result = await responder(Channels(email=mail)).carry_out(effect("notify_press", {
        "texts": {"ja": "訓練"}, "incident": {"type": "impersonation"}}, drill=True))
    assert mail.sent == [] and result.timeline[0].action == "press_release_not_sent"


async def test_an_unknown_effect_kind_is_reported_not_dropped() -> None:
    result = await responder(Channels()).carry_out(effect("carrier_pigeon", {}))
    assert result.failed and result.commands[0].action == "channel_failed"
