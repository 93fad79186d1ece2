"""`noroshi run` and its watchdog, as real processes: the stack starts the watchdog; a watchdog
killed is said to have died (Japanese and English) and started again while the stack goes on; a
board killed is alerted by the watchdog to the on-call peer before the stack stops, and the
watchdog is the last to stop."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from noroshi.broker import free_port

from .conftest import SAMPLE_PROFILE
from .test_supervision import ROOT, alive, cmdline, descendants, json_lines
from .watchdog_peer import SECRET, serving

pytestmark = pytest.mark.integration


def watchdogs(stack: subprocess.Popen[bytes]) -> list[int]:
    return [p for p in descendants(stack.pid) if cmdline(p).rstrip().endswith("-m noroshi watchdog")]


async def until(check, timeout: float, what: str):
    async with asyncio.timeout(timeout):
        while not (found := check()):
            await asyncio.sleep(0.2)
    assert found, what
    return found


async def test_the_stack_restarts_a_dead_watchdog_and_lets_it_alert_a_dead_board_before_stopping(
        tmp_path: Path) -> None:
    profile = json.loads(SAMPLE_PROFILE.read_text(encoding="utf-8"))
    profile["roster"] = {"contacts": [{"name": "当番 佐藤", "role": "operator", "channels": ["webhook:ops"]}]}
    profile_path = tmp_path / "wako.profile.json"
    profile_path.write_text(json.dumps(profile, ensure_ascii=False), encoding="utf-8")
    async with serving() as peer:
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("NOROSHI_")},
               "NOROSHI_BOARD_PORT": str(free_port()), "NOROSHI_WORKER_HTTP_PORT": str(free_port()),
               "NOROSHI_SOURCES_HTTP_PORT": str(free_port()), "NOROSHI_WATCHDOG_HTTP_PORT": str(free_port()),
               "NOROSHI_DATA_DIR": str(tmp_path / "var"), "NOROSHI_LOG_FORMAT": "json",
               "NOROSHI_FAST_GROUPS": "true", "NOROSHI_PARTITIONS": "2",
               "NOROSHI_SECRET_KEY": "test-secret-key", "NOROSHI_BOARD_PASSWORD": "test-password",
               "NOROSHI_USERS_FILE": str(tmp_path / "users.json"), "NOROSHI_PROFILES": str(profile_path),
               "NOROSHI_WEBHOOK_URL": peer.url + "/hook", "NOROSHI_WEBHOOK_SECRET": SECRET,
               "NOROSHI_WATCHDOG_INTERVAL": "1", "NOROSHI_WATCHDOG_GRACE": "5"}
        out_path = tmp_path / "run.out"
        with out_path.open("wb") as out:
            stack = subprocess.Popen([sys.executable, "-m", "noroshi", "run"], env=env, cwd=ROOT,
                                     stdout=out, stderr=subprocess.STDOUT)
        try:
            await until(lambda: b"Noroshi is running" in out_path.read_bytes() or stack.poll() is not None, 90,
                        "the stack did not come up")
            assert stack.poll() is None, out_path.read_text(errors="replace")[-3000:]
            (first,) = await until(lambda: watchdogs(stack), 10, "no watchdog under the stack")

            os.kill(first, signal.SIGKILL)
            (second,) = await until(lambda: [p for p in watchdogs(stack) if p != first], 15, "not restarted")
            assert stack.poll() is None  # the stack went on
            assert "見張り（watchdog）が停止しました（signal 9）" in out_path.read_text(errors="replace")

            await asyncio.sleep(3)  # the new watchdog has seen the board up
            (board,) = [p for p in descendants(stack.pid) if cmdline(p).rstrip().endswith("-m noroshi board")]
            killed = time.monotonic()
            os.kill(board, signal.SIGKILL)
            alert = await peer.until("alert", "状況ボードが応答しません", timeout=30)
            alerted_after = alert["received"] - killed
            code = await asyncio.to_thread(stack.wait, 60)
            stopped = time.monotonic()
        finally:
            if stack.poll() is None:
                stack.kill()
                stack.wait()
        text = out_path.read_text(errors="replace")
        assert code == 1, text[-3000:]
        assert "プロセスが終了しました（signal 9）" in alert["text"] and "the process ended (signal 9)" in alert["text"]
        # The alert was delivered before the stack stopped its watchdog, the last of its children to stop.
        assert alert["received"] < stopped and not alive(second)
        (told,) = [line for line in json_lines(text) if line.get("event") == "watchdog_told"]
        assert told["process"] == "board"
        assert told["notified"] == [{"contact": "webhook:ops", "outcome": "delivered", "error": None}]
        assert "子プロセス board が停止しました" in text
        print(f"\nboard killed under `noroshi run` → alert at the peer: {alerted_after:.1f} s")
