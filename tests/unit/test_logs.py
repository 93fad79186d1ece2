"""The log pipeline's rate limit for repeated library errors (noroshi.logs.RepeatFilter)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from noroshi.logs import RepeatFilter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.name} {record.levelname} {record.getMessage()}")


@pytest.fixture
def setup() -> Iterator[tuple[logging.Logger, Lines, RepeatFilter, Clock]]:
    clock = Clock()
    lines = Lines()
    repeats = RepeatFilter(window=60.0, clock=clock)
    lines.addFilter(repeats)
    logger = logging.getLogger("aiokafka.test_logs")
    logger.propagate = False
    logger.handlers[:] = [lines]
    logger.setLevel(logging.DEBUG)
    yield logger, lines, repeats, clock
    logger.handlers[:] = []
    logger.propagate = True


def refused(logger: logging.Logger, port: int, node: int = 111) -> None:
    logger.error("Unable connect to node with id %s: [Errno 111] Connect call failed ('127.0.0.1', %s)",
                 node, port)


def test_a_connection_error_that_repeats_is_logged_once_then_counted_every_minute(setup) -> None:
    logger, lines, _, clock = setup
    for i in range(85 * 30):  # 85 a second for half a minute
        clock.now += 1 / 85
        refused(logger, 40000 + i % 3)
    assert lines.lines == [
        "aiokafka.test_logs ERROR Unable connect to node with id 111: [Errno 111] Connect call failed "
        "('127.0.0.1', 40000)"]

    for i in range(85 * 31):  # the minute goes by while it goes on
        clock.now += 1 / 85
        refused(logger, 40001)
    assert len(lines.lines) == 2
    assert lines.lines[1].startswith("aiokafka.test_logs ERROR ")
    count = int(lines.lines[1].split()[2])
    assert 85 * 59 <= count <= 85 * 61 and "more in the last minute like: Unable connect" in lines.lines[1]


def test_a_different_error_or_logger_is_not_held_back_by_another(setup) -> None:
    logger, lines, _, _ = setup
    refused(logger, 1)
    logger.error("Unable to update metadata from [111]")
    logging.getLogger("aiokafka.test_logs").warning("Unable to update metadata from [111]")
    refused(logger, 2)
    logger.error("Unable to update metadata from [112]")
    assert [line.split(" ", 2)[1:] for line in lines.lines] == [
        ["ERROR", "Unable connect to node with id 111: [Errno 111] Connect call failed ('127.0.0.1', 1)"],
        ["ERROR", "Unable to update metadata from [111]"],
        ["WARNING", "Unable to update metadata from [111]"],
    ]


def test_info_lines_and_our_own_structured_events_are_never_held_back(setup) -> None:
    logger, lines, _, _ = setup
    for _ in range(5):
        logger.info("Heartbeat ok for node %s", 1)
        logger.error({"event": "broker_died", "returncode": -9})  # what structlog hands to stdlib
    assert len(lines.lines) == 10


def test_the_count_is_said_when_the_errors_stop_at_the_next_line_or_at_exit(setup) -> None:
    logger, lines, repeats, clock = setup
    for _ in range(10):
        refused(logger, 5)
    clock.now += 61
    logger.info("Reconnected")  # any line after the minute brings the count out
    assert lines.lines[1:] == ["aiokafka.test_logs ERROR 9 more in the last minute like: Unable connect "
                               "to node with id 111: [Errno 111] Connect call failed ('127.0.0.1', 5)",
                               "aiokafka.test_logs INFO Reconnected"]
    refused(logger, 5)  # a new minute: the next one is held and counted
    refused(logger, 5)
    repeats.flush()
    assert lines.lines[-1].startswith("aiokafka.test_logs ERROR 2 more in the last minute")
    repeats.flush()
    assert len(lines.lines) == 4, "nothing twice"


def test_after_a_quiet_minute_the_error_is_logged_in_full_again(setup) -> None:
    logger, lines, _, clock = setup
    refused(logger, 1)
    clock.now += 120
    refused(logger, 2)
    assert len(lines.lines) == 2 and lines.lines[1].endswith("('127.0.0.1', 2)")


def test_kinds_that_went_quiet_are_forgotten(setup) -> None:
    logger, lines, repeats, clock = setup
    for word in ("alpha", "beta", "gamma"):
        logger.warning("Something about %s went wrong", word)
    assert len(repeats._seen) == 3
    clock.now += 61
    logger.info("later")
    assert repeats._seen == {} and len(lines.lines) == 4
