"""The watchdog's notifier as a state machine: for-durations, one grouped alert, reminders, exactly
one 復旧, nothing said about what ended before it was told, and a book that survives a restart."""

from __future__ import annotations

from lookout.alerts import Book, step
from lookout.rules import Assessment, Holding

WAIT, REPEAT = 5.0, 3600.0


def holding(key: str, since: float = 0.0, for_s: float = 0.0, *, urgent: bool = False) -> Holding:
    rule = key.split(":")[0]
    return Holding(key, rule, since, for_s, f"{key} の異常", f"{key} is wrong", "確認", "check", urgent=urgent)


def seen(*held: Holding, undetermined: frozenset[str] = frozenset()) -> Assessment:
    return Assessment((), {h.key: h for h in held}, undetermined)


def run(book: Book, start: float, end: float, *held: Holding, every: float = 1.0, **kw):
    """Rounds from `start` to `end` (inclusive) with the same conditions; every notification made."""
    out, now = [], start
    while now <= end:
        out += step(book, seen(*held, **kw), now, group_wait_s=WAIT, repeat_s=REPEAT)
        now += every
    return out


def test_a_condition_fires_only_after_holding_for_its_duration_and_then_after_the_group_wait() -> None:
    book = Book()
    down = holding("component_down:worker", for_s=10)
    assert run(book, 0, 14, down) == []  # fires at 10, waits for others until 15
    assert book.conditions["component_down:worker"].state == "firing"
    (alert,) = run(book, 15, 15, down)
    assert alert.kind == "alert" and alert.keys == ("component_down:worker",)
    assert alert.title_ja.startswith("【狼煙 監視】") and "Noroshi watchdog" in alert.title_en
    assert alert.text.index("component_down:worker の異常") < alert.text.index("component_down:worker is wrong")


def test_conditions_that_start_together_make_one_notification() -> None:
    book = Book()
    down, late = holding("component_down:worker", for_s=2), holding("heartbeat_late")
    made = run(book, 0, 10, down, late)
    (alert,) = made
    assert set(alert.keys) == {"component_down:worker", "heartbeat_late"}


def test_a_condition_that_ends_before_it_fired_or_was_told_is_never_mentioned() -> None:
    book = Book()
    assert run(book, 0, 3, holding("consumer_lag", for_s=10)) == []
    assert run(book, 4, 30) == []  # ended while pending
    assert run(book, 31, 33, holding("heartbeat_late")) == []  # fires at 31, ends within the group wait
    assert run(book, 34, 60) == [] and not book.conditions and not book.ended


def test_a_lasting_condition_is_repeated_at_the_interval_and_resolved_exactly_once() -> None:
    book = Book()
    late = holding("heartbeat_late")
    (alert,) = run(book, 0, 10, late)
    assert alert.kind == "alert"
    repeats = run(book, 11, 2 * REPEAT + 15, late, every=5.0)
    assert [n.kind for n in repeats] == ["repeat", "repeat"]
    assert all(n.keys == ("heartbeat_late",) and "続いています" in n.title_ja for n in repeats)
    ended = run(book, 2 * REPEAT + 20, 2 * REPEAT + 60)
    (resolved,) = ended
    assert resolved.kind == "resolved" and resolved.keys == ("heartbeat_late",)
    assert "復旧" in resolved.title_ja and "resolved" in resolved.title_en
    assert run(book, 2 * REPEAT + 61, 3 * REPEAT + 100, every=50.0) == []


def test_a_condition_that_joins_a_told_group_is_alerted_alone_and_named_with_the_others() -> None:
    book = Book()
    late = holding("heartbeat_late")
    run(book, 0, 10, late)
    (second,) = run(book, 11, 30, late, holding("circuit_open:slack"))
    assert second.kind == "alert" and second.keys == ("circuit_open:slack",)
    assert "継続中" in second.text and "heartbeat_late の異常" in second.text


def test_nothing_resolves_while_its_rule_cannot_be_judged() -> None:
    book = Book()
    run(book, 0, 10, holding("circuit_open:slack"))
    assert run(book, 11, 100, undetermined=frozenset({"circuit_open"})) == []
    assert "circuit_open:slack" in book.conditions
    (resolved,) = run(book, 101, 110)
    assert resolved.kind == "resolved"


def test_an_urgent_condition_is_sent_without_waiting_for_others() -> None:
    book = Book()
    (alert,) = step(book, seen(holding("component_down:board", urgent=True)), 0.0, group_wait_s=WAIT,
                    repeat_s=REPEAT)
    assert alert.keys == ("component_down:board",)


def test_a_restarted_watchdog_keeps_its_book_neither_alerting_again_nor_forgetting_the_resolution() -> None:
    book = Book()
    late = holding("heartbeat_late")
    run(book, 0, 10, late)
    again = Book.from_dict(book.to_dict())
    assert run(again, 100, 200, late) == []  # told already, and no reminder before REPEAT
    (resolved,) = run(again, 201, 210)
    assert resolved.kind == "resolved" and resolved.number == 2
