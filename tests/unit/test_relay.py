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
