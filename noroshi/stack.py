"""Process start-up: the worker process, and `noroshi run`'s whole stack.

`run_stack` starts the embedded broker when none is configured, creates the
topics, starts the worker, the board and the archiver as child processes, optionally plays
the drill, and stops everything in order on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import ExitStack
from pathlib import Path

import structlog

from noroshi.broker import EmbeddedBroker
from noroshi.settings import Settings, SettingsError, child_env
from streams.contract import Profile, load_profiles

log = structlog.get_logger("noroshi")

DEMO_PROFILE = Path(__file__).resolve().parent.parent / "streams" / "sources" / "drill.profile.json"


def resolve_profiles(settings: Settings) -> dict[str, Profile]:
    return load_profiles(settings.profiles or (DEMO_PROFILE,))


def run_worker(settings: Settings) -> int:
    import faust

    from streams.app import create_app

    app = create_app(settings, resolve_profiles(settings)).app
    (settings.data_dir / settings.worker_id).mkdir(parents=True, exist_ok=True)
    worker = faust.Worker(app, loglevel=settings.log_level, override_logging=False, quiet=True)
    worker.spinner = None  # a terminal spinner would write escape codes into the log lines
    worker.execute_from_commandline()  # exits the process when the worker stops
    return 0


def _wait_http(url: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.status == 200:
                    return True
        except OSError:
            time.sleep(0.2)
    return False


def _play_drill(settings: Settings, speed: float) -> None:
    from streams.sources.drill import drill_scenario
    from streams.sources.producer import produce_lines
    from streams.topics import TopicNames

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


def _terminate(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run_stack(settings: Settings, *, demo: bool, speed: float) -> int:
    from streams.topics import TopicNames, ensure_topics

    # SIGTERM (docker stop, systemd) stops the stack like Ctrl-C does.
    check_board_port(settings)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    with ExitStack() as stack:
        if not settings.broker:
            broker = stack.enter_context(EmbeddedBroker())
            settings = settings.with_broker(broker.url, tansu=True)
        asyncio.run(ensure_topics(settings.broker_servers, TopicNames(settings.topic_prefix),
                                  settings.partitions, settings.replication))
        env = child_env(settings)
        sign_in = _demo_users(settings)
        procs = [
            subprocess.Popen([sys.executable, "-m", "noroshi", "worker"], env=env),
            subprocess.Popen([sys.executable, "-m", "noroshi", "board"], env=env),
            # The audit trail (監査記録) in SQLite under DATA_DIR: it outlives the embedded broker.
            subprocess.Popen([sys.executable, "-m", "noroshi", "archive"], env=env),
        ]
        if settings.sources.enabled:  # the platforms' streams, feeds and the webhook receiver
            procs.append(subprocess.Popen([sys.executable, "-m", "noroshi", "sources"], env=env))
        stack.callback(_terminate, procs)
        if not _wait_http(settings.board_url + "/healthz", 30):
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
            if demo:
                _play_drill(settings, speed)
            while all(p.poll() is None for p in procs):
                time.sleep(0.5)
        except KeyboardInterrupt:
            log.info("stack_stopping")
            return 0
        failed = [p.args for p in procs if p.poll() is not None]
        log.error("child_process_exited", processes=[" ".join(a[-2:]) for a in failed])
        return 1
    return 0
