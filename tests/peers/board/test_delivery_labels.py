"""The incident page's timeline names what a crash left behind (issue 12, finding 9): a delivery
that may have gone (送信済みの可能性 — 要確認) stands out for a person with the responder's and the
playbook's words, and a delivery resumed with its key is 同じキーで再送. The entries are the ones the
real respond agent and the real playbook write."""

from __future__ import annotations

import re

from responders.base import ALWAYS, FakeChannel
from responders.ledger import carry_out
from responders.responder import Channels
from vocabulary.records import Effect
from tests.unit.responders.test_ledger import Store, crashed_during, responder
from tests.unit.responders.test_responder import Clock

from .conftest import Client
from .world import FLAME, World

SLACK = "slack:koho-oncall"  # 当番 鈴木's channel in the board's world


def cut_off_notification(world: World) -> Effect:
    """A notification the playbook really sent for the flame-up, through 鈴木's Slack."""
    for effect_id, sent in world.states[FLAME].sent.items():
        if sent["kind"] == "notify" and SLACK in sent["payload"]["to"].get("channels", ()):
            return Effect(effect_id=effect_id, incident_id=FLAME, municipality="wako", kind="notify",
                          at=world.at(-29), payload=sent["payload"])
    raise AssertionError("the world has no notification through Slack")


async def crash_and_restart(world: World, *, dedup_window_s: float) -> list[str]:
    """The respond agent comes back to a send a crash cut off; what it writes reaches the board,
    its command the playbook. Returns the actions written to the timeline."""
    effect = cut_off_notification(world)
    clock = Clock()
    ledger = crashed_during(f"{effect.effect_id}:{SLACK}", effect.effect_id, "slack", clock.now - 5)
    peer = FakeChannel("slack", dedup_window_s=dedup_window_s)
    result = await carry_out(responder(Channels(chat={"slack": peer}), clock), effect, ledger, Store())
    assert result is not None
    for entry in result.timeline:
        world.feed.push_entry(entry)
    actions = [e.action for e in result.timeline]
    for command in result.commands:
        decision = world.command(FLAME, "wako", command.action, command.actor, -1, **command.payload)
        actions += [e.action for e in decision.timeline]
    return actions


def rows(page: str, action: str) -> list[str]:
    return re.findall(rf'<tr data-entry="[^"]*" class="[^"]*\btl-{action}\b[^"]*">.*?</tr>', page)


async def test_a_delivery_that_may_have_gone_stands_out_for_a_person_in_the_users_language(
        client_for: Client, world: World) -> None:
    actions = await crash_and_restart(world, dedup_window_s=0)
    assert actions.count("delivery_possibly_sent") == 2, actions  # the responder's entry and the playbook's note

    http = await client_for("sato")
    page = await (await http.get(f"/incidents/{FLAME}")).text()
    found = rows(page, "delivery_possibly_sent")
    assert len(found) == 2
    for row in found:
        assert 'class="tl-delivery_possibly_sent trouble needs-person"' in row  # red, and marked for a person
        assert "送信済みの可能性 — 要確認</td>" in row and ">delivery_possibly_sent<" not in row
        assert "message_ja" not in row and "Possibly sent" not in row
    responder_row = next(r for r in found if "への送信中に処理が中断されました" in r)
    assert "送信済みの可能性があります：slack（当番 鈴木）への送信中に処理が中断されました。" in responder_row
    assert "自動では再送しません" in responder_row and "通知" in responder_row  # the effect's kind, in Japanese
    assert any("担当者に確認を依頼しました" in r for r in found)  # the playbook's note

    english = await (await http.get(f"/incidents/{FLAME}?lang=en")).text()
    found = rows(english, "delivery_possibly_sent")
    assert len(found) == 2 and all("Possibly sent — check it</td>" in r for r in found)
    assert any("Possibly sent: the delivery through slack (当番 鈴木) was cut off" in r for r in found)
    assert not any("送信済みの可能性" in r for r in found)

    css = await (await http.get("/static/board.css")).text()
    assert "tr.needs-person" in css and "tr.trouble td { color: var(--critical); }" in css


async def test_a_delivery_resumed_with_its_key_is_named_so(client_for: Client, world: World) -> None:
    actions = await crash_and_restart(world, dedup_window_s=ALWAYS)
    assert "delivery_resumed" in actions and "delivery_possibly_sent" not in actions

    http = await client_for("sato")
    page = await (await http.get(f"/incidents/{FLAME}")).text()
    (row,) = rows(page, "delivery_resumed")
    assert "同じキーで再送</td>" in row and "trouble" not in row
    assert "通知 · 当番 鈴木" in row  # what was resent and to whom, like a delivery
    assert [r for r in rows(page, "delivered") if "当番 鈴木" in r], "the resend was delivered"
    english = await (await http.get(f"/incidents/{FLAME}?lang=en")).text()
    assert "Resent with the same key</td>" in rows(english, "delivery_resumed")[0]
