"""`noroshi run` watches its embedded broker (issue 12, finding 4).

The whole stack as a real process: its Tansu child is killed with SIGKILL, and the stack
must say so in Japanese and English, stop the worker, the board and the archiver, leave
no process behind (no zombie broker), and not flood the log with connection errors.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest

from noroshi.broker import free_port
from noroshi.stack import BROKER_DIED

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def children_of(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return out


def descendants(pid: int) -> list[int]:
    found, todo = [], children_of(pid)
    while todo:
        child = todo.pop()
        found.append(child)
        todo += children_of(child)
    return found


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def alive(pid: int) -> bool:
    """Running or a zombie: anything but gone."""
    try:
        return Path(f"/proc/{pid}/stat").exists()
    except OSError:
        return False


def json_lines(text: str) -> list[dict]:
    lines = []
    for raw in text.splitlines():
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError:
            continue
        if isinstance(obj, dict):
            lines.append(obj)
    return lines


@contextlib.contextmanager
def running_stack(tmp_path: Path, *args: str, **popen: object) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """`noroshi run` with its output in a file, once it says it is running; killed at the end of the
    block if it is still there."""
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("NOROSHI_")},
           "NOROSHI_BOARD_PORT": str(free_port()), "NOROSHI_DATA_DIR": str(tmp_path / "var"),
           "NOROSHI_LOG_FORMAT": "json", "NOROSHI_FAST_GROUPS": "true",
           "NOROSHI_SECRET_KEY": "test-secret-key", "NOROSHI_BOARD_PASSWORD": "test-password",
           "NOROSHI_USERS_FILE": str(tmp_path / "users.json")}
    out_path = tmp_path / "run.out"
    with out_path.open("wb") as out:
        stack = subprocess.Popen([sys.executable, "-m", "noroshi", "run", *args], env=env, cwd=ROOT,
                                 stdout=out, stderr=subprocess.STDOUT, **popen)  # type: ignore[call-overload]
    deadline = time.monotonic() + 60
    while b"Noroshi is running" not in out_path.read_bytes():
        if stack.poll() is not None or time.monotonic() > deadline:
            stack.kill()
            raise AssertionError("the stack did not come up: " + out_path.read_text(errors="replace")[-3000:])
        time.sleep(0.2)
    try:
        yield stack, out_path
    finally:
        if stack.poll() is None:  # stopped as Ctrl-C would: its children run in groups of their own,
            stack.send_signal(signal.SIGTERM)  # and a SIGKILL of the stack alone would leave them running
            try:
                stack.wait(30)
            except subprocess.TimeoutExpired:
                for pid in descendants(stack.pid):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                stack.kill()
                stack.wait()


def ended_after(stack: subprocess.Popen[bytes], fault: Callable[[], None]) -> tuple[int, float]:
    """`fault` done to a running stack once its worker and board are connected; its exit code and the
    seconds it took to end."""
    time.sleep(2)  # the worker and the board are connected and polling
    started = time.monotonic()
    fault()
    code = stack.wait(90)
    return code, time.monotonic() - started


def test_ctrl_c_stops_the_stack_in_order_the_broker_last_without_a_traceback(tmp_path: Path) -> None:
    # A terminal sends Ctrl-C's SIGINT to its whole foreground process group: the stack is started
    # as the leader of a group of its own, as a shell does, and the group is signalled. With the
    # demo's drill playing, as `make run` does: its producer must not keep the broker open.
    with running_stack(tmp_path, "--demo", start_new_session=True) as (stack, out_path):
        procs = descendants(stack.pid)
        code, took = ended_after(stack, lambda: os.killpg(stack.pid, signal.SIGINT))
    text = out_path.read_text(errors="replace")
    print(f"Ctrl-C → the stack gone: {took:.1f} s")
    assert code == 0, text[-3000:]
    assert "Traceback" not in text, text[-3000:]
    lines = json_lines(text)
    events = [(line.get("event"), line.get("process")) for line in lines]
    stopped = [process for event, process in events if event == "child_stopped"]
    # the processes that use the broker, last started first, then the watchdog; the broker after them all
    assert "drill_stopped" in [event for event, _ in events]  # stopped before the children
    assert stopped == ["archive", "board", "worker", "watchdog"], stopped
    order = [event for event, _ in events if event in ("child_stopped", "broker_stopped")]
    assert order[-1] == "broker_stopped"
    # no child saw the broker go: nothing was left connected to it
    after = lines[[e for e, _ in events].index("stack_stopping"):]
    assert [line for line in after if str(line.get("logger", "")).startswith("aiokafka")
            and line.get("level") == "error"] == []
    assert [p for p in procs if alive(p)] == []


def test_the_stack_says_its_broker_died_stops_everything_and_exits_non_zero(tmp_path: Path) -> None:
    with running_stack(tmp_path) as (stack, out_path):
        procs = descendants(stack.pid)
        [tansu] = [p for p in procs if "--listener-url" in cmdline(p)]
        noroshi = {p for p in procs if "-m noroshi" in cmdline(p)}
        assert {cmdline(p).split()[-1] for p in noroshi} >= {"worker", "board"}
        code, took = ended_after(stack, lambda: os.kill(tansu, signal.SIGKILL))

    text = out_path.read_text(errors="replace")
    assert code == BROKER_DIED, text[-3000:]
    assert took < 60
    # Said in Japanese and English, with how it ended (so it was reaped by the stack).
    assert "ブローカーが停止しました（signal 9）" in text and "The embedded broker died (signal 9)" in text
    [died] = [line for line in json_lines(text) if line.get("event") == "broker_died"]
    assert died["returncode"] == -signal.SIGKILL and died["level"] == "error"
    # Nothing left behind: not the broker (no zombie), not the worker, the board or the archiver.
    left = [(p, cmdline(p)) for p in [tansu, *noroshi] if alive(p)]
    assert left == []
    # The children's connection errors: the first of each kind per process, then a count, not
    # ~85 lines a second (without the rate limit: dozens of each kind in these few seconds).
    errors = [str(line["event"]) for line in json_lines(text)
              if str(line.get("logger", "")).startswith("aiokafka") and line.get("level") == "error"]
    assert errors, "the children did see the broker go"
    kinds = Counter(re.sub(r"\d+", "#", e) for e in errors if "more in the last minute like:" not in e)
    assert max(kinds.values()) <= len(noroshi), kinds
