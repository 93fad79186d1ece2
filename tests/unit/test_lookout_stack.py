"""`noroshi run` and its watchdog: a watchdog that dies is said to have died, in Japanese and
English, and started again with backoff — the stack goes on. Real (tiny) child processes, a fake clock."""

from __future__ import annotations

import subprocess
import sys

import pytest

from noroshi.stack import WatchdogChild


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_dead_watchdog_is_reported_and_started_again_with_a_growing_wait(capsys: pytest.CaptureFixture[str]) -> None:
    started: list[subprocess.Popen[bytes]] = []

    def start() -> subprocess.Popen[bytes]:
        started.append(subprocess.Popen([sys.executable, "-c", "import sys; sys.exit(3)"]))
        return started[-1]

    clock = Clock()
    dog = WatchdogChild(start, clock=clock)
    dog.proc.wait(10)
    dog.tend()  # reaped: restarted in 1 s
    assert "見張り（watchdog）が停止しました（exit code 3）" in capsys.readouterr().err
    assert dog.restart_at == 1.0 and len(started) == 1
    clock.now = 0.5
    dog.tend()
    assert len(started) == 1  # still waiting
    clock.now = 1.0
    dog.tend()
    assert len(started) == 2 and dog.restart_at is None
    dog.proc.wait(10)
    clock.now = 2.0
    dog.tend()
    assert dog.restart_at == 4.0  # the second death in a row waits 2 s
    err = capsys.readouterr().err
    assert "The watchdog died (exit code 3); starting it again in 2 s" in err
    clock.now = 100.0
    dog.tend()
    dog.proc.wait(10)
    clock.now = 200.0  # it ran for longer than the longest wait: the count starts again
    dog.tend()
    assert dog.restart_at == 201.0
    dog.stop()
