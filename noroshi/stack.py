"""Process start-up: the worker process, and `noroshi run`'s whole stack.

`run_stack` starts the embedded broker when none is configured, creates the
topics, starts the worker, the board and the archiver as child processes, optionally plays
the drill, and stops everything in order on Ctrl-C or SIGTERM.

It supervises every child it started, the embedded broker included: each is polled (so
a dead one is reaped at once, never left a zombie), and when one dies the stack says
which, in Japanese and English, stops the others in order (the reverse of their start,
each given `STOP_TIMEOUT_S` before it is killed) and exits non-zero: `BROKER_DIED` when
it was the broker (the embedded broker keeps everything in memory, so the others could
only fill the log with connection errors), 1 for any other child.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import structlog

from noroshi.broker import EmbeddedBroker
from vocabulary.settings import Settings, SettingsError, child_env
from vocabulary.contract import Profile, load_profiles

log = structlog.get_logger("noroshi")

DEMO_PROFILE = Path(__file__).resolve().parent.parent / "sources" / "drill.profile.json"
#: `noroshi run`'s exit status when its embedded broker died (another child that died: 1).
BROKER_DIED = 3
#: How long each child is given to stop after SIGTERM before it is killed.
STOP_TIMEOUT_S = 10.0
#: How often the stack looks at its children.
POLL_S = 0.2


def resolve_profiles(settings: Settings) -> dict[str, Profile]:
    return load_profiles(settings.profiles or (DEMO_PROFILE,))


def run_worker(settings: Settings) -> int:
    import faust

    from streams.app import create_app
    from streams.http import WorkerHTTP

    app = create_app(settings, resolve_profiles(settings)).app
    (settings.data_dir / settings.worker_id).mkdir(parents=True, exist_ok=True)
    # Before the app: /healthz and /readyz answer while it joins its group and recovers its tables.
    worker = faust.Worker(app, WorkerHTTP(app, settings), loglevel=settings.log_level,
                          override_logging=False, quiet=True)
    worker.spinner = None  # a terminal spinner would write escape codes into the log lines
    worker.execute_from_commandline()  # exits the process when the worker stops
    return 0


@dataclass(frozen=True)
class Child:
    """A process the stack started and watches."""

    name: str  # broker, worker, board, archive, sources
    proc: subprocess.Popen[bytes]


def _first_dead(children: list[Child]) -> Child | None:
    """The first child that has exited (polling reaps it: no zombie is left)."""
    for child in children:
        if child.proc.poll() is not None:
            return child
    return None


def _wait_http(url: str, timeout: float, children: list[Child] = ()) -> bool | Child:
    """True once `url` answers 200; False after `timeout`; the child that died meanwhile."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        dead = _first_dead(list(children))
        if dead is not None:
            return dead
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.status == 200:
                    return True
        except OSError:
            time.sleep(POLL_S)
    return False


def _supervise(children: list[Child]) -> Child:
    """Wait until a child dies; return it."""
    while True:
        dead = _first_dead(children)
        if dead is not None:
            return dead
        time.sleep(POLL_S)


def _died(dead: Child) -> int:
    """Say which child died, in Japanese and English, and give the stack's exit status."""
    code = dead.proc.returncode
    how = f"signal {-code}" if code < 0 else f"exit code {code}"
    if dead.name == "broker":
        message = (f"ブローカーが停止しました（{how}）。メモリ上のデータは失われています。ワーカーとボードを"
                   f"停止して終了します。 / The embedded broker died ({how}); what it held in memory is "
                   f"gone. Stopping the worker and the board.")
        log.error("broker_died", pid=dead.proc.pid, returncode=code, message=message)
        status = BROKER_DIED
    else:
        message = (f"子プロセス {dead.name} が停止しました（{how}）。ほかのプロセスを停止して終了します。 / "
                   f"The {dead.name} process died ({how}). Stopping the others.")
        log.error("child_process_exited", process=dead.name, pid=dead.proc.pid, returncode=code,
                  message=message)
        status = 1
    print(f"\n  {message}\n", file=sys.stderr, flush=True)
    return status


def _play_drill(settings: Settings, speed: float) -> None:
    from sources.drill import drill_scenario
    from sources.producer import produce_lines
    from vocabulary.topics import TopicNames

    import orjson

    profile = next(iter(resolve_profiles(settings).values()))
    events = drill_scenario(profile, start=time.time() - 60)
    lines = [orjson.dumps(e) for e in events]
    log.info("drill_started", events=len(lines), speed=speed, municipality=profile.id)
    asyncio.run(produce_lines(settings.broker_servers, TopicNames(settings.topic_prefix),
                              profile.id, lines, speed=speed, source="drill"))
    log.info("drill_finished", events=len(lines))


def check_board_port(settings: Settings) -> None:
    """Fail at once, and say what to do, when the board's port is taken (a second `make run`)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((settings.board_host, settings.board_port))
        except OSError:
            raise SettingsError(
                f"ポート {settings.board_port} は使用中です。すでに起動していないか確認するか、"
                f"NOROSHI_BOARD_PORT で別のポートを指定してください。 / Port {settings.board_port} "
                f"on {settings.board_host} is in use: is Noroshi already running? "
                f"Set NOROSHI_BOARD_PORT to another port.") from None


def _demo_users(settings: Settings) -> str:
    """The demo's operator and account owner (created on the first start, passwords reset at
    each start) and how to sign in with them, for the banner `run` prints."""
    from dashboards.users import UserError, UserStore, seed_demo

    municipality = next(iter(resolve_profiles(settings)))
    store = UserStore(settings.users_file)
    try:
        seeded = seed_demo(store, municipality=municipality, operator=settings.board_user,
                           operator_password=settings.board_password.value)
    except UserError as exc:
        raise SettingsError(f"{settings.users_file}: {exc}") from None
    lines = [f"    {user.name} / {password}   ({user.display_name}: {user.role}, {user.municipality})"
             for user, password in seeded]
    if not lines:
        lines = [f"    the users in {settings.users_file}"]
    return ("  ログイン / Sign in:\n" + "\n".join(lines) + "\n"
            "  利用者の追加 / Add users: noroshi user add NAME --role operator|owner|admin|viewer "
            "--municipality ID\n")


def _stop_in_order(children: list[Child], timeout: float = STOP_TIMEOUT_S) -> None:
    """Stop the children one after the other, last started first; kill one that does not stop."""
    for child in reversed(children):
        proc = child.proc
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("child_process_killed", process=child.name, pid=proc.pid, waited_s=timeout)
            proc.kill()
            proc.wait()


def run_stack(settings: Settings, *, demo: bool, speed: float) -> int:
    from vocabulary.topics import TopicNames
    from streams.topics import ensure_topics

    # SIGTERM (docker stop, systemd) stops the stack like Ctrl-C does.
    check_board_port(settings)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    with ExitStack() as stack:
        watched: list[Child] = []
        if not settings.broker:
            broker = stack.enter_context(EmbeddedBroker())
            settings = settings.with_broker(broker.url, tansu=True)
            assert broker.proc is not None
            watched.append(Child("broker", broker.proc))
        asyncio.run(ensure_topics(settings.broker_servers, TopicNames(settings.topic_prefix),
                                  settings.partitions, settings.replication))
        env = child_env(settings)
        sign_in = _demo_users(settings)
        names = ["worker", "board",
                 # The audit trail (監査記録) in SQLite under DATA_DIR: it outlives the embedded broker.
                 "archive"]
        if settings.sources.enabled:  # the platforms' streams, feeds and the webhook receiver
            names.append("sources")
        children: list[Child] = []
        stack.callback(_stop_in_order, children)  # before the broker stops (ExitStack: last in, first out)
        for name in names:
            children.append(Child(name, subprocess.Popen([sys.executable, "-m", "noroshi", name], env=env)))
        watched += children
        ready = _wait_http(settings.board_url + "/healthz", 30, watched)
        if isinstance(ready, Child):
            return _died(ready)
        if not ready:
            log.error("board_not_answering", url=settings.board_url)
            return 1
        print(
            f"\n  狼煙 Noroshi is running.\n"
            f"  状況ボード / Status board: {settings.board_url}/\n"
            f"{sign_in}"
            f"  Broker: {settings.broker}   (Ctrl-C で停止 / to stop)\n",
            flush=True,
        )
        try:
            if demo:  # played beside the supervision, so a death during the drill is seen at once
                threading.Thread(target=_play_drill, args=(settings, speed), name="drill", daemon=True).start()
            return _died(_supervise(watched))
        except KeyboardInterrupt:
            log.info("stack_stopping")
            return 0
    return 0
