"""The deadline clock without Faust: which deadlines are due, each once, reading only entries that changed."""

from __future__ import annotations

import orjson

from playbooks import runner
from playbooks.runner import Stored
from streams.clock import DeadlineClock
from vocabulary.contract import parse_ts
from vocabulary.records import Deadline

T0 = "2026-11-20T10:00:00+09:00"
NOW = parse_ts(T0, "now")


def deadline(incident_id: str, name: str, minutes: int, n: int = 1) -> Deadline:
    due = f"2026-11-20T10:{minutes:02d}:00+09:00"
    return Deadline(deadline_id=f"{incident_id}:{name}:{n}", incident_id=incident_id, municipality="wako",
                    name=name, due_at=due)


def stored(*deadlines: Deadline) -> bytes:
    return Stored(None, {d.deadline_id: d.to_dict() for d in deadlines}).dump()


def ids(found: list[tuple[str, Deadline]]) -> list[tuple[str, str]]:
    return [(incident_id, d.deadline_id) for incident_id, d in found]


class CountingReads:
    """The runner's `due`, counting the stored entries it was asked to read."""

    def __init__(self) -> None:
        self.reads = 0

    def __call__(self, raw: bytes | None, now: float) -> list[Deadline]:
        self.reads += 1
        return runner.due(raw, now)


def test_only_deadlines_whose_time_has_come_are_due_incidents_in_table_order_each_oldest_first() -> None:
    table = {"b": stored(deadline("b", "ack", 20), deadline("b", "statement", 5)),
             "a": stored(deadline("a", "ack", 3), deadline("a", "week_open", 59))}

    found = DeadlineClock().due(table.items(), NOW + 30 * 60)

    assert ids(found) == [("b", "b:statement:1"), ("b", "b:ack:1"), ("a", "a:ack:1")]


def test_the_clock_answers_as_the_runner_does_for_every_entry() -> None:
    table = {"a": stored(deadline("a", "ack", 3), deadline("a", "statement", 9)), "b": None, "c": stored()}
    for minutes in (0, 3, 5, 9, 60):
        now = NOW + minutes * 60
        expected = [(k, d) for k, raw in table.items() for d in runner.due(raw, now)]
        assert DeadlineClock().due(table.items(), now) == expected


def test_a_delivered_deadline_is_not_due_again_while_it_is_pending() -> None:
    clock = DeadlineClock()
    table = {"a": stored(deadline("a", "ack", 3))}
    [(incident_id, ack)] = clock.due(table.items(), NOW + 600)

    clock.delivered(incident_id, ack)

    assert clock.due(table.items(), NOW + 601) == []
    assert clock.due(table.items(), NOW + 3600) == []


def test_a_deadline_not_marked_delivered_is_due_again_at_the_next_tick() -> None:
    """A send that failed is tried again: the engine ignores a deadline delivered twice."""
    clock = DeadlineClock()
    table = {"a": stored(deadline("a", "ack", 3))}

    assert ids(clock.due(table.items(), NOW + 600)) == ids(clock.due(table.items(), NOW + 601)) == [("a", "a:ack:1")]


def test_what_was_delivered_is_forgotten_once_the_entry_no_longer_holds_it() -> None:
    clock = DeadlineClock()
    ack, statement = deadline("a", "ack", 3), deadline("a", "statement", 30)
    table = {"a": stored(ack, statement), "b": stored(deadline("b", "ack", 4))}
    for incident_id, d in clock.due(table.items(), NOW + 600):
        clock.delivered(incident_id, d)
    assert clock.remembered() == 2

    table["a"] = stored(statement)  # the playbook consumed the ack deadline
    del table["b"]  # the incident left this worker (or its entry was removed)
    assert clock.due(table.items(), NOW + 600) == []
    assert clock.remembered() == 0

    assert ids(clock.due(table.items(), NOW + 1800)) == [("a", "a:statement:1")]


def test_an_incident_whose_deadlines_all_ended_keeps_nothing_in_the_clock() -> None:
    clock = DeadlineClock()
    table = {"a": stored(deadline("a", "ack", 3))}
    [(incident_id, ack)] = clock.due(table.items(), NOW + 600)
    clock.delivered(incident_id, ack)

    table["a"] = stored()  # closed: nothing pending

    assert clock.due(table.items(), NOW + 10**6) == [] and clock.remembered() == 0


def test_an_entry_is_read_again_only_when_the_table_replaced_it() -> None:
    counting = CountingReads()
    clock = DeadlineClock(read=counting)
    table = {f"i{n}": stored(deadline(f"i{n}", "ack", 30)) for n in range(50)}

    for second in range(120):  # two minutes of ticks before anything is due
        assert clock.due(table.items(), NOW + second) == []
    assert counting.reads == 50

    table["i7"] = stored(deadline("i7", "ack", 1))  # one step of one incident
    assert ids(clock.due(table.items(), NOW + 120)) == [("i7", "i7:ack:1")]
    assert counting.reads == 51


def test_an_equal_entry_restored_from_the_changelog_is_read_again_and_keeps_what_was_delivered() -> None:
    clock = DeadlineClock()
    table = {"a": stored(deadline("a", "ack", 3))}
    [(incident_id, ack)] = clock.due(table.items(), NOW + 600)
    clock.delivered(incident_id, ack)

    table["a"] = bytes(bytearray(table["a"]))  # the same content, another object (recovery)

    assert clock.due(table.items(), NOW + 600) == []


def test_an_unreadable_entry_is_logged_and_the_others_are_still_due() -> None:
    from structlog.testing import capture_logs

    table = {"bad": orjson.dumps({"pending": {"x": {"due_at": "not a time"}}}),
             "a": stored(deadline("a", "ack", 3))}
    clock = DeadlineClock()

    with capture_logs() as logs:
        assert ids(clock.due(table.items(), NOW + 600)) == [("a", "a:ack:1")]
        clock.due(table.items(), NOW + 601)

    assert [line["incident_id"] for line in logs if line["event"] == "deadlines_not_read"] == ["bad"]
