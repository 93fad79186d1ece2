"""`noroshi run` keeps its console for people: each child's log to a file, its warnings and errors shown."""

from __future__ import annotations

import io
from pathlib import Path

import orjson

from noroshi.stack import relay


class Console(io.StringIO):
    def __init__(self, terminal: bool) -> None:
        super().__init__()
        self.terminal = terminal

    def isatty(self) -> bool:
        return self.terminal


LINES = [orjson.dumps({"event": "worker_http_started", "level": "info", "port": 8081}) + b"\n",
         orjson.dumps({"event": "producer buffer full", "level": "warning", "logger": "faust"}) + b"\n",
         b"Traceback (most recent call last):\n",
         orjson.dumps({"event": "delivery_failed", "level": "error", "channel": "slack"}) + b"\n"]


def test_everything_goes_to_the_file_and_only_warnings_errors_and_stray_lines_to_the_console(tmp_path: Path) -> None:
    console = Console(terminal=False)
    relay("worker", iter(LINES), tmp_path / "worker.log", console)
    assert (tmp_path / "worker.log").read_bytes() == b"".join(LINES)
    assert console.getvalue() == "".join(line.decode() for line in LINES[1:])  # as they are, for collectors


def test_on_a_terminal_the_shown_lines_are_short_and_name_the_process(tmp_path: Path) -> None:
    console = Console(terminal=True)
    relay("worker", iter(LINES), tmp_path / "worker.log", console)
    assert console.getvalue().splitlines() == ["[worker] warning: producer buffer full",
                                               "Traceback (most recent call last):",
                                               "[worker] error: delivery_failed channel=slack"]


class ClosedConsole(Console):
    def write(self, text: str) -> int:
        raise ValueError("I/O operation on closed file.")


def test_a_closed_console_does_not_stop_the_child_s_output_being_read_and_filed(tmp_path: Path) -> None:
    """A pipe nobody drains blocks the child at its next log line: the relay reads to the end."""
    from structlog.testing import capture_logs

    lines = LINES * 3
    with capture_logs() as logs:
        relay("worker", iter(lines), tmp_path / "worker.log", ClosedConsole(terminal=False))
    assert (tmp_path / "worker.log").read_bytes() == b"".join(lines)
    [said] = [e for e in logs if e["event"] == "child_log_not_written"]  # once, not per line
    assert said["to"] == "console" and said["process"] == "worker" and said["log_level"] == "error"


def test_a_log_file_that_cannot_be_opened_still_lets_the_warnings_through(tmp_path: Path) -> None:
    console = Console(terminal=False)
    relay("worker", iter(LINES), tmp_path / "no-such-folder" / "worker.log", console)
    assert console.getvalue() == "".join(line.decode() for line in LINES[1:])
