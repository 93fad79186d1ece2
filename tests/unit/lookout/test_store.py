"""The watchdog's SQLite: the book and the notifications made with it are kept together, a
notification not yet sent is found again after a restart, and the log lists the newest first."""

from __future__ import annotations

from pathlib import Path

from lookout.alerts import Book, step
from lookout.rules import Assessment, Holding
from lookout.store import Store


def test_a_notification_made_but_not_sent_before_a_restart_is_sent_after_it_and_listed_with_its_outcomes(
        tmp_path: Path) -> None:
    store = Store(tmp_path)
    book = Book()
    late = Holding("heartbeat_late", "heartbeat_late", 0.0, 0.0, "心拍の遅れ", "heartbeat late", "確認", "check")
    (alert,) = step(book, Assessment((), {late.key: late}), 10.0, group_wait_s=0, repeat_s=3600)
    store.save(book, [alert])
    store.close()

    again = Store(tmp_path)
    assert again.book().conditions["heartbeat_late"].told
    (unsent,) = again.unsent()
    assert unsent == alert and unsent.key == "watchdog:1:alert"
    assert again.listed()[0]["recipients"] == []
    again.sent(1, [{"contact": "webhook:ops", "outcome": "delivered", "error": None}], 11.0)
    assert again.unsent() == []
    (listed,) = again.listed()
    assert listed["kind"] == "alert" and listed["keys"] == ["heartbeat_late"]
    assert listed["recipients"] == [{"contact": "webhook:ops", "outcome": "delivered", "error": None}]
    assert listed["at"] == "1970-01-01T00:00:10+00:00"
