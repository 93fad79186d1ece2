"""The playbook's answer to 送信済みの可能性 (a send cut off by a crash through a channel that
cannot tell a repeat): on the record, not retried, and the people on call asked to check it."""

from __future__ import annotations

from tests.unit.test_playbooks import OPERATOR, RESPONDER, SATO, Play, actions, effects, flame_opened


def test_a_possibly_sent_notification_is_not_retried_but_put_to_the_people_on_call_once() -> None:
    play = Play(flame_opened())
    opened = play.open()
    to_sato = next(e for e in opened.effects if e.kind == "notify" and e.payload["to"]["name"] == SATO)

    asked = play.send(play.command("delivery_possibly_sent", 20, who=RESPONDER, effect_id=to_sato.effect_id,
                                   channel="slack", key=f"{to_sato.effect_id}:slack:oncall", to=SATO))

    assert asked.rejection is None and "delivery_possibly_sent" in actions(asked)
    noted = next(e for e in asked.timeline if e.action == "delivery_possibly_sent")
    assert noted.actor == RESPONDER and noted.detail["channel"] == "slack" and noted.detail["to"] == SATO
    assert noted.detail["message_ja"] == f"送信済みの可能性：slack（{SATO}）。自動では再送せず、担当者に確認を依頼しました。"
    assert effects(asked) == [("notify", SATO)]  # a request to check, not the notification again
    check = asked.effects[0]
    assert check.payload["reason"] == "possibly_sent" and check.payload["failed_effect"] == to_sato.effect_id
    assert "送信済みの可能性" in check.payload["message_ja"] and "possibly sent" in check.payload["message_en"]
    assert check.effect_id != to_sato.effect_id

    # The request to check is itself cut off: on the record, no chain of checks about checks.
    again = play.send(play.command("delivery_possibly_sent", 21, who=RESPONDER, effect_id=check.effect_id,
                                   channel="slack", key=f"{check.effect_id}:slack:oncall", to=SATO))
    assert "delivery_possibly_sent" in actions(again) and not again.effects


def test_only_a_responder_reports_possibly_sent_and_only_for_an_effect_of_the_incident() -> None:
    play = Play(flame_opened())
    opened = play.open()
    effect_id = opened.effects[0].effect_id

    by_a_person = play.send(play.command("delivery_possibly_sent", 20, who=OPERATOR, effect_id=effect_id,
                                         channel="slack"))
    unknown = play.send(play.command("delivery_possibly_sent", 21, who=RESPONDER, effect_id="nope",
                                     channel="slack"))

    assert by_a_person.rejection is not None and not by_a_person.effects
    assert unknown.rejection is not None and not unknown.effects
