"""Who the watchdog tells and how each send ends, with the responders' fake channel."""

from __future__ import annotations

import random

from lookout.alerts import Notification
from lookout.notify import Recipient, Sender, recipients
from responders.base import FakeChannel, Transient
from responders.reliability import RetryPolicy
from responders.responder import Channels

PROFILE = {"municipality": {"id": "wako", "name": "和光市"},
           "roster": {"contacts": [
               {"name": "当番 佐藤", "role": "operator", "channels": ["webhook:ops", "email:sato@city.example.jp"]},
               {"name": "所属長 鈴木", "role": "owner", "channels": ["email:suzuki@city.example.jp"]},
               {"name": "広報課", "role": "pr", "channels": ["email:koho@city.example.jp"]},
               {"name": "広報課 山田", "role": "pr"}]}}
OTHER = {"municipality": {"id": "asaka", "name": "朝霞市"},
         "roster": {"contacts": [{"name": "当番", "role": "operator", "channels": ["webhook:ops"]}]}}
NOTE = Notification(1, 0.0, "alert", ("component_down:worker",), "【狼煙 監視】異常を検知しました（1件）",
                    "Noroshi watchdog: 1 problem detected", "・ワーカーが応答しません\n\n- the worker is not answering")


async def _no_wait(_: float) -> None:
    return None


def test_the_on_call_operators_and_the_pr_division_of_every_profile_once_per_address_and_the_extra_contacts() -> None:
    found = recipients({"wako": PROFILE, "asaka": OTHER}, ["email:ops@city.example.jp", "webhook:ops"])
    assert [r.contact for r in found] == ["webhook:ops", "email:sato@city.example.jp", "email:koho@city.example.jp",
                                          "email:ops@city.example.jp"]
    assert found[0].who == "asaka:当番, wako:当番 佐藤, NOROSHI_WATCHDOG_CONTACTS"


async def test_each_recipient_gets_the_message_and_a_failing_one_is_retried_then_recorded_as_failed() -> None:
    hook = FakeChannel("webhook")
    mail = FakeChannel("email", fail=[Transient("email", "cannot connect")] * 3)
    sender = Sender(Channels(email=mail, chat={"webhook": hook}),
                    [Recipient("webhook:ops", "x"), Recipient("email:sato@city.example.jp", "y"),
                     Recipient("slack:oncall", "z")],
                    board_url="http://board.example", policy=RetryPolicy(attempts=3), sleep=_no_wait,
                    rng=random.Random(1))
    assert [contact for contact, _why in sender.unroutable()] == ["slack:oncall"]
    outcomes = await sender.send(NOTE)
    assert [(o["contact"], o["outcome"]) for o in outcomes] == [
        ("webhook:ops", "delivered"), ("email:sato@city.example.jp", "failed"), ("slack:oncall", "failed")]
    assert mail.attempts == 3 and "cannot connect" in outcomes[1]["error"]
    assert "slack" in outcomes[2]["error"] and "設定されていません" in outcomes[2]["error"]
    (key, message), = hook.sent
    assert key == "watchdog:1:alert:webhook:ops"
    assert message.title.startswith("【狼煙 監視】") and message.link == "http://board.example/system"
    assert message.text.index("ワーカー") < message.text.index("worker")
