"""The respond stage without Faust: holds restored once, the ledger's order, possibly-sent reports, and
effects a crash cut off read again after an assignment. Fakes for the table, the peer and the broker."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from responders.base import FakeChannel
from responders.ledger import Ledger
from responders.responder import Channels
from streams.boundary import Rejected
from streams.gaps import Gap
from streams.respond_stage import RespondStage
from streams.stage import Message
from tests.unit.responders.test_responder import Clock, notify, responder
from vocabulary.records import BoardCommand

TOPIC = "noroshi.effects"
INCIDENT = "wako-flame-1"
KEY = "wako-flame-1:notify:1:slack:koho"


class FakeLedgers:
    """The responders' table: what was saved durably (in order) and what was put in the background."""

    def __init__(self, stored: dict[str, bytes] | None = None) -> None:
        self.data: dict[str, bytes] = dict(stored or {})
        self.saved: list[bytes] = []
        self.put_count = 0

    def get(self, incident_id: str) -> bytes | None:
        return self.data.get(incident_id)

    def items(self) -> list[tuple[str, bytes]]:
        return list(self.data.items())

    async def save(self, incident_id: str, raw: bytes) -> None:
        self.saved.append(raw)
        self.data[incident_id] = raw

    def put(self, incident_id: str, raw: bytes) -> None:
        self.put_count += 1
        self.data[incident_id] = raw

    def ledger(self) -> Ledger:
        return Ledger.load(self.data.get(INCIDENT))


class FakeBroker:
    """Reads offsets of the effects topic again, from what it was given; `asked` the gaps it was asked for."""

    def __init__(self, messages: list[Message] = (), broken: set[int] = frozenset()) -> None:
        self.messages, self.broken = list(messages), broken
        self.asked: list[Gap] = []

    async def __call__(self, gap: Gap) -> list[Message]:
        self.asked.append(gap)
        if gap.first in self.broken:
            raise ConnectionError("the broker did not answer")
        return [m for m in self.messages if (m.topic, m.partition) == (gap.topic, gap.partition)
                and gap.first <= m.offset <= gap.last]


class WatchedSlack(FakeChannel):
    """A fake peer that notes what the ledger store held when it was called."""

    def __init__(self, ledgers: FakeLedgers) -> None:
        super().__init__("slack")
        self.ledgers = ledgers
        self.stored_when_called: list[Ledger] = []

    async def send(self, message, *, key):
        self.stored_when_called.append(self.ledgers.ledger())
        return await super().send(message, key=key)


def effect_message(offset: int = 7, value: bytes | None = None, partition: int = 0) -> Message:
    return Message(TOPIC, partition, offset, INCIDENT.encode(), value if value is not None else notify("slack:koho").to_json())


def stage(ledgers: FakeLedgers, slack: FakeChannel | None = None, broker: FakeBroker | None = None,
          clock: Clock | None = None) -> RespondStage:
    channels = Channels(chat={"slack": slack or FakeChannel("slack")})
    return RespondStage(responder(channels, clock), ledgers, broker or FakeBroker())


def cut_off_ledger(offset: int, since: float, partition: int = 0) -> bytes:
    """What a worker killed while sending the notification at `offset` left in its ledger."""
    ledger = Ledger()
    ledger.start(KEY, notify("slack:koho").effect_id, "slack", since, at=(TOPIC, partition, offset))
    return ledger.dump()


async def test_an_effect_is_marked_in_flight_before_the_peer_is_called_and_finished_only_after_its_outputs() -> None:
    ledgers = FakeLedgers()
    slack = WatchedSlack(ledgers)
    s = stage(ledgers, slack)

    delivery = await s.carry_out(effect_message())

    (when_called,) = slack.stored_when_called
    assert KEY in when_called.in_flight and when_called.in_flight[KEY]["at"] == [TOPIC, 0, 7]
    assert ledgers.ledger().delivered == [KEY] and ledgers.put_count == 0
    assert delivery is not None and not delivery.result.failed
    assert notify("slack:koho").effect_id not in ledgers.ledger().finished, "finished before its outputs went out"
    assert {out.topic for out in delivery.outputs} == {"timeline"}
    assert all(out.key == INCIDENT for out in delivery.outputs)

    with capture_logs() as logs:
        s.finish(delivery)

    assert ledgers.ledger().finished == {notify("slack:koho").effect_id: True} and ledgers.put_count == 1
    [line] = logs
    assert (line["event"], line["offset"], line["kind"]) == ("effect_carried_out", 7, "notify")


async def test_an_effect_already_finished_is_not_carried_out_again() -> None:
    ledgers = FakeLedgers()
    slack = FakeChannel("slack")
    s = stage(ledgers, slack)
    s.finish(await s.carry_out(effect_message()))

    with capture_logs() as logs:
        again = await s.carry_out(effect_message(offset=8))

    assert again is None and len(slack.sent) == 1
    assert [line["event"] for line in logs] == ["effect_already_carried_out"]


async def test_a_message_that_is_not_an_effect_is_rejected_for_the_dead_letters() -> None:
    with pytest.raises(Rejected, match="^bad effect: ") as raised:
        await stage(FakeLedgers()).carry_out(effect_message(value=b"{not json"))
    assert raised.value.event == "effect_rejected"


async def test_the_holds_the_stored_ledgers_name_are_restored_once_before_the_first_effect() -> None:
    held = Ledger(holds=["x:wako_city_official"])
    ledgers = FakeLedgers({"wako-flame-9": held.dump()})
    s = stage(ledgers)

    with pytest.raises(Rejected):  # even a bad first message finds the holds restored
        await s.carry_out(effect_message(value=b"[]"))
    assert s.responder.holds.held() == {"x:wako_city_official": ["wako-flame-9"]}

    s.responder.holds.release("x:wako_city_official", "wako-flame-9")
    await s.carry_out(effect_message())
    assert s.responder.holds.held() == {}, "the holds were restored a second time"


async def test_a_send_cut_off_by_a_crash_is_reported_as_possibly_sent_and_put_to_the_board() -> None:
    clock = Clock()
    ledgers = FakeLedgers({INCIDENT: cut_off_ledger(7, since=clock.now - 60)})
    slack = FakeChannel("slack", dedup_window_s=0.0)  # like Slack: a repeat would be delivered again
    s = stage(ledgers, slack, clock=clock)

    with capture_logs() as logs:
        delivery = await s.carry_out(effect_message())

    assert slack.sent == [] and delivery is not None and delivery.result.possibly_sent == [KEY]
    [line] = [line for line in logs if line["event"] == "delivery_possibly_sent"]
    assert (line["topic"], line["offset"], line["key"], line["incident_id"]) == (TOPIC, 7, KEY, INCIDENT)
    commands = [BoardCommand.from_json(out.value) for out in delivery.outputs if out.topic == "commands"]
    assert [c.action for c in commands] == ["delivery_possibly_sent"]
    topics = [out.topic for out in delivery.outputs]
    assert topics == sorted(topics, key=["timeline", "commands"].index)


async def test_cut_off_effects_are_read_again_once_per_assignment_and_only_on_assigned_partitions() -> None:
    ledgers = FakeLedgers({INCIDENT: cut_off_ledger(7, since=0.0),
                           "wako-flame-2": cut_off_ledger(3, since=0.0, partition=1)})
    broker = FakeBroker([effect_message(offset=7), effect_message(offset=3, partition=1)])
    s = stage(ledgers, broker=broker)

    assert [m async for m in s.read_cut_off_again({(TOPIC, 0)})] == [], "read before any assignment"

    s.partitions_assigned()
    with capture_logs() as logs:
        found = [m async for m in s.read_cut_off_again({(TOPIC, 0)})]

    assert [(m.partition, m.offset) for m in found] == [(0, 7)]
    assert broker.asked == [Gap(TOPIC, 0, 7, 7)]  # partition 1 is another worker's
    assert [line["event"] for line in logs] == ["cut_off_effect_read_again"]
    assert [m async for m in s.read_cut_off_again({(TOPIC, 0)})] == [], "read twice for one assignment"


async def test_a_cut_off_effect_the_broker_cannot_give_back_is_said_and_the_others_are_still_read() -> None:
    ledgers = FakeLedgers({"a": cut_off_ledger(3, since=0.0), "b": cut_off_ledger(5, since=0.0),
                           "c": cut_off_ledger(9, since=0.0)})
    broker = FakeBroker([effect_message(offset=9)], broken={3})
    s = stage(ledgers, broker=broker)
    s.partitions_assigned()

    with capture_logs() as logs:
        found = [m.offset async for m in s.read_cut_off_again({(TOPIC, 0)})]

    assert found == [9]
    assert [(line["event"], line["offset"]) for line in logs] == [
        ("cut_off_effect_not_resumed", 3), ("cut_off_effect_unreadable", 5), ("cut_off_effect_read_again", 9)]
