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

The watchdog (`noroshi watchdog`, the safety net) is started right after the broker and is
treated apart: when it dies the stack says so and starts it again with backoff (1 s, 2 s, 4 s …
up to a minute) instead of stopping; when another child dies the stack first tells the watchdog
(POST /report), which alerts the people on call at once, and stops it last, after the others,
once that alert is sent (or after `REPORT_WAIT_S`).
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import orjson
import structlog

from noroshi.broker import EmbeddedBroker
from vocabulary.metrics import PROFILES_REFUSED
from vocabulary.settings import Settings, SettingsError, child_env
from vocabulary.contract import ContractError, Profile
from vocabulary.profile_files import LoadedProfiles, RefusedProfile, read_profiles

log = structlog.get_logger("noroshi")

DEMO_PROFILE = Path(__file__).resolve().parent.parent / "sources" / "drill.profile.json"
#: `noroshi run`'s exit status when its embedded broker died (another child that died: 1).
BROKER_DIED = 3
#: How long each child is given to stop after SIGTERM before it is killed.
STOP_TIMEOUT_S = 10.0
#: How often the stack looks at its children.
POLL_S = 0.2
#: How long a dead child's report to the watchdog may hold the stack's stop (its alert is sent by then).
REPORT_WAIT_S = 15.0
#: The watchdog is started again after 1 s, 2 s, 4 s … at most this long after it died.
WATCHDOG_BACKOFF_MAX_S = 60.0
#: How often `noroshi run` reads the embedded broker's memory (its RSS).
MEMORY_SAMPLE_S = 60.0
#: With NOROSHI_BROKER_MEMORY_WARN_MB=0, the warning comes past this fraction of the machine's memory.
MEMORY_WARN_FRACTION = 0.5
#: While the broker stays past the threshold, the warning is repeated this often.
MEMORY_REMIND_S = 3600.0
MIB = 1024 * 1024


def read_usable_profiles(paths: Iterable[Path]) -> LoadedProfiles:
    """`read_profiles`, and each profile whose fields beyond the contract the playbooks cannot read
    (`closure_days`) refused like a contract error, naming the file and the field: a closure day
    mistyped must stop that profile, not turn into a working day."""
    from playbooks.profile import ProfileFieldError, closure_days_from_profile

    loaded = read_profiles(paths)
    profiles, files, refused = dict(loaded.profiles), dict(loaded.files), list(loaded.refused)
    for muni, profile in loaded.profiles.items():
        try:
            closure_days_from_profile(profile.raw)
        except ProfileFieldError as exc:
            del profiles[muni]
            refused.append(RefusedProfile(files.pop(muni), f"項目を読めません（{exc.ja}）",
                                          f"a field cannot be read ({exc.en})"))
    return LoadedProfiles(profiles, files, tuple(refused))


def resolve_profiles(settings: Settings, *, quiet: bool = False) -> dict[str, Profile]:
    """The profiles of NOROSHI_PROFILES (or the demo's). A broken file is refused and logged, once,
    naming the file and the reason (`profile_refused`), and the others run; `ContractError` when
    none loads, which every command turns into a clear exit (2). `quiet`: not logged (a second read
    in the same process)."""
    paths = settings.profiles or (DEMO_PROFILE,)
    loaded = read_usable_profiles(paths)
    PROFILES_REFUSED.set(len(loaded.refused))  # the watchdog alerts while any is refused
    for refused in () if quiet else loaded.refused:
        log.error("profile_refused", file=str(refused.path),
                  message=f"自治体プロファイル {refused.path} を読み込みません: {refused.ja} / "
                          f"profile {refused.path} refused: {refused.en}")
    if not loaded.profiles:
        raise ContractError(
            f"読み込める自治体プロファイルがありません / no municipality profile could be loaded "
            f"(NOROSHI_PROFILES={','.join(map(str, paths))})"
            + "".join(f"\n  {r.path}: {r.reason}" for r in loaded.refused))
    return loaded.profiles


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


class WatchdogChild:
    """The watchdog under `noroshi run`: when it dies the stack says so and starts it again with
    backoff, never stops because of it (it is the safety net, not a part of the pipeline)."""

    def __init__(self, start: Callable[[], subprocess.Popen[bytes]], *, clock: Callable[[], float] = time.monotonic,
                 backoff_max_s: float = WATCHDOG_BACKOFF_MAX_S) -> None:
        self._start, self.clock, self.backoff_max_s = start, clock, backoff_max_s
        self.proc = start()
        self.started_at = clock()
        self.deaths = 0  # in a row (reset once it has run for a while)
        self.restart_at: float | None = None

    def tend(self) -> None:
        """Called every poll: reap it when it died, and start it again when its wait is over."""
        now = self.clock()
        if self.restart_at is not None:
            if now >= self.restart_at:
                self.proc, self.started_at, self.restart_at = self._start(), now, None
                log.info("watchdog_restarted", pid=self.proc.pid, deaths=self.deaths)
            return
        code = self.proc.poll()
        if code is None:
            return
        self.deaths = 1 if now - self.started_at > self.backoff_max_s else self.deaths + 1
        delay = min(self.backoff_max_s, 2.0 ** (self.deaths - 1))
        how = f"signal {-code}" if code < 0 else f"exit code {code}"
        message = (f"見張り（watchdog）が停止しました（{how}）。{delay:.0f} 秒後に再起動します。その間、Noroshi 自身の"
                   f"異常は通知されません。 / The watchdog died ({how}); starting it again in {delay:.0f} s. Until "
                   f"then nobody is alerted if Noroshi itself fails.")
        log.error("watchdog_died", pid=self.proc.pid, returncode=code, restart_in_s=delay, message=message)
        print(f"\n  {message}\n", file=sys.stderr, flush=True)
        self.restart_at = now + delay

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        self.restart_at = None
        _stop_in_order([Child("watchdog", self.proc)], timeout)


def rss_bytes(pid: int) -> int | None:
    """The resident memory of process `pid` (VmRSS in /proc), None when it cannot be read."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def machine_memory_bytes() -> int | None:
    """MemTotal from /proc/meminfo, None when it cannot be read."""
    try:
        for line in Path("/proc/meminfo").read_text(encoding="ascii").splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def memory_warn_bytes(settings: Settings, machine: int | None) -> int | None:
    """NOROSHI_BROKER_MEMORY_WARN_MB, or `MEMORY_WARN_FRACTION` of the machine's memory when it is 0."""
    if settings.broker_memory_warn_mb:
        return settings.broker_memory_warn_mb * MIB
    return int(machine * MEMORY_WARN_FRACTION) if machine else None


class BrokerMemoryWatch:
    """The embedded broker keeps every message in memory and never expires one (Tansu, memory-only):
    `noroshi run` reads its RSS every `MEMORY_SAMPLE_S` and warns, in Japanese and English, once it is
    past `limit` bytes, then every `MEMORY_REMIND_S` while it stays there."""

    def __init__(self, pid: int, limit: int, *, read_rss: Callable[[int], int | None] = rss_bytes,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.pid, self.limit, self.read_rss, self.clock = pid, limit, read_rss, clock
        self.next_sample = clock()
        self.warned_at: float | None = None

    def tend(self) -> str | None:
        """Called every poll: sample when it is time; the warning given, if one is due."""
        now = self.clock()
        if now < self.next_sample:
            return None
        self.next_sample = now + MEMORY_SAMPLE_S
        rss = self.read_rss(self.pid)
        if rss is None or rss <= self.limit:
            self.warned_at = None
            return None
        if self.warned_at is not None and now - self.warned_at < MEMORY_REMIND_S:
            return None
        self.warned_at = now
        used, limit = rss // MIB, self.limit // MIB
        message = (f"組み込みブローカーのメモリ使用量が {used} MiB になり、警告値 {limit} MiB を超えました。"
                   f"組み込みブローカーは書き込まれたものをすべてメモリに保持し、削除しません。メモリが尽きる前に"
                   f"Kafka（docker-compose.yml）へ移行するか、計画的に再起動してください（再起動で内容は消えます）。 / "
                   f"The embedded broker uses {used} MiB, past the warning threshold of {limit} MiB "
                   f"(NOROSHI_BROKER_MEMORY_WARN_MB). It keeps every message in memory and deletes none: move to "
                   f"Kafka (docker-compose.yml) or plan a restart (which empties it) before memory runs out.")
        log.warning("broker_memory_high", pid=self.pid, rss_mib=used, limit_mib=limit, message=message)
        print(f"\n  {message}\n", file=sys.stderr, flush=True)
        return message


def _supervise(children: list[Child], watchdog: WatchdogChild | None = None,
               memory: BrokerMemoryWatch | None = None) -> Child:
    """Wait until a child dies; return it. The watchdog is tended meanwhile (started again if it died),
    and the embedded broker's memory watched."""
    while True:
        dead = _first_dead(children)
        if dead is not None:
            return dead
        if watchdog is not None:
            watchdog.tend()
        if memory is not None:
            memory.tend()
        time.sleep(POLL_S)


def report_to_watchdog(url: str, dead: Child, timeout: float = REPORT_WAIT_S) -> bool:
    """Tell the watchdog that `dead` died and wait (at most `timeout`) until it has alerted the people
    on call; False when it could not be told (it is down too, or `dead` is not a part it watches)."""
    if dead.name not in ("worker", "sources", "board", "broker"):
        return False
    code = dead.proc.returncode
    how = f"signal {-code}" if code is not None and code < 0 else f"exit code {code}"
    request = urllib.request.Request(url + "/report", data=json.dumps({"process": dead.name, "how": how}).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            answer = json.loads(response.read() or b"{}")
    except (OSError, ValueError) as exc:
        log.warning("watchdog_not_told", process=dead.name, error=str(exc))
        return False
    log.info("watchdog_told", process=dead.name, notified=answer.get("notified"))
    return True


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


def _play_drill(settings: Settings, speed: float, stop: threading.Event) -> None:
    from sources.drill import drill_scenario, on_the_wall_clock
    from sources.producer import produce_lines
    from vocabulary.topics import TopicNames

    profile = next(iter(resolve_profiles(settings, quiet=True).values()))
    now = time.time()
    # The scenario's hour squeezed by `speed` onto the real clock, played as it is stamped (1×):
    # everything the board shows of the drill reads one clock.
    events = on_the_wall_clock(drill_scenario(profile, start=now), start=now, speed=speed)
    lines = [orjson.dumps(e) for e in events]
    log.info("drill_started", events=len(lines), speed=speed, municipality=profile.id)
    report = asyncio.run(produce_lines(settings.broker_servers, TopicNames(settings.topic_prefix),
                                       profile.id, lines, speed=1.0, source="drill", stop=stop.is_set))
    log.info("drill_finished" if not stop.is_set() else "drill_stopped", events=report.sent)


def check_board_port(settings: Settings) -> None:
    """Fail at once, and say what to do, when the board's port is taken (a second `make run`)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # as the board's server binds (aiohttp: SO_REUSEADDR), so that the connections of a board
        # stopped a moment ago (TIME_WAIT) do not count as a board running; a listener still does
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
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

    municipality = next(iter(resolve_profiles(settings, quiet=True)))
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


def spawn(command: str, env: dict[str, str], logs: Path | None = None) -> subprocess.Popen[bytes]:
    """`noroshi COMMAND` as a child in its own process group: a Ctrl-C at the terminal goes to the
    stack alone, which stops its children in order. With `logs`, everything it writes goes to
    `logs/COMMAND.log` and only its warnings and errors (and anything that is not a log line, such
    as a traceback) to this console: the sign-in banner stays in sight."""
    if logs is None:
        return subprocess.Popen([sys.executable, "-m", "noroshi", command], env=env, process_group=0)
    logs.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen([sys.executable, "-m", "noroshi", command], env={**env, "NOROSHI_LOG_FORMAT": "json"},
                            process_group=0, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.stdout is not None
    threading.Thread(target=relay, args=(command, proc.stdout, logs / f"{command}.log", sys.stderr),
                     name=f"log-{command}", daemon=True).start()
    return proc


#: The levels of a child's log lines `noroshi run` shows on its console (all go to the file).
SHOWN_LEVELS = frozenset({"warning", "error", "critical"})


def relay(name: str, lines: Iterable[bytes], path: Path, console: TextIO) -> None:
    """A child's output line by line into `path`; onto `console` the lines worth a person's eye, as
    they are when the console is not a terminal (a log collector, a test), else shortened to
    `[name] level: event key=value …`. It reads to the end whatever fails: a child whose pipe is
    not drained blocks on its next log line, so a full disk or a closed console is logged once
    (`child_log_not_written`) and the lines go on to wherever they still can."""
    terminal = console.isatty()
    failed: set[str] = set()

    def trouble(where: str, exc: BaseException) -> None:
        if where not in failed:
            failed.add(where)
            log.error("child_log_not_written", process=name, to=where, path=str(path), error=repr(exc))

    try:
        out = path.open("ab")
    except OSError as exc:
        out = None
        trouble("file", exc)
    try:
        for line in lines:
            if out is not None and "file" not in failed:
                try:
                    out.write(line)
                    out.flush()
                except OSError as exc:
                    trouble("file", exc)
            text = _shown(name, line, terminal)
            if text is not None and "console" not in failed:
                try:
                    console.write(text)
                    console.flush()
                except (OSError, ValueError) as exc:  # ValueError: the console was closed
                    trouble("console", exc)
    finally:
        if out is not None:
            out.close()


def _shown(name: str, line: bytes, terminal: bool) -> str | None:
    """What of a child's log line the console shows: None for a log line below a warning."""
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        record = None
    if isinstance(record, dict) and str(record.get("level", "")).lower() not in SHOWN_LEVELS:
        return None
    if isinstance(record, dict) and terminal:
        rest = " ".join(f"{k}={v}" for k, v in record.items() if k not in ("event", "level", "timestamp", "logger"))
        return f"[{name}] {record.get('level')}: {record.get('event')} {rest}".rstrip() + "\n"
    return line.decode("utf-8", "replace")


def _stop_in_order(children: list[Child], timeout: float = STOP_TIMEOUT_S) -> None:
    """Stop the children one after the other, last started first; kill one that does not stop."""
    for child in reversed(children):
        proc = child.proc
        started = time.monotonic()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("child_process_killed", process=child.name, pid=proc.pid, waited_s=timeout)
            proc.kill()
            proc.wait()
        log.info("child_stopped", process=child.name, returncode=proc.returncode,
                 took_s=round(time.monotonic() - started, 2))


def run_stack(settings: Settings, *, demo: bool, speed: float) -> int:
    from vocabulary.topics import TopicNames
    from streams.topics import drift_message, ensure_topics, policies_of, policy_drifts

    # SIGTERM (docker stop, systemd) and SIGHUP (the terminal closed) stop the stack like Ctrl-C does.
    # Ctrl-C reaches only this process: every child runs in a process group of its own
    # (`spawn`), so the stack stops them in order — the processes that use the broker first, the
    # broker last — instead of all at once with the broker gone under the others.
    check_board_port(settings)
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    with ExitStack() as stack:
        watched: list[Child] = []
        memory = None
        if not settings.broker:
            broker = stack.enter_context(EmbeddedBroker())
            settings = settings.with_broker(broker.url, tansu=True)
            assert broker.proc is not None
            watched.append(Child("broker", broker.proc))
            limit = memory_warn_bytes(settings, machine_memory_bytes())
            memory = BrokerMemoryWatch(broker.proc.pid, limit) if limit else None
        names, policies = TopicNames(settings.topic_prefix), policies_of(settings)
        asyncio.run(ensure_topics(settings.broker_servers, names, settings.partitions, settings.replication,
                                  policies=policies))
        # Existing topics are never altered here: `noroshi topics --apply-policies` does it when asked.
        for drift in asyncio.run(policy_drifts(settings.broker_servers, names, settings.worker_id, policies)):
            log.warning("topic_policy_differs", topic=drift.topic, differences=drift.differences)
            print(f"\n  {drift_message(drift)}\n", file=sys.stderr, flush=True)
        env = child_env(settings)
        sign_in = _demo_users(settings)
        # The safety net first, so it sees the others start; stopped last (ExitStack: last in, first out).
        logs = settings.data_dir / "logs"  # every child's log; the console shows their warnings and errors
        watchdog = WatchdogChild(lambda: spawn("watchdog", env, logs))
        stack.callback(watchdog.stop)
        names = ["worker", "board",
                 # The audit trail (監査記録) in SQLite under DATA_DIR: it outlives the embedded broker.
                 "archive"]
        if settings.sources.enabled:  # the platforms' streams, feeds and the webhook receiver
            names.append("sources")
        children: list[Child] = []
        stack.callback(_stop_in_order, children)  # before the broker stops (ExitStack: last in, first out)
        for name in names:
            children.append(Child(name, spawn(name, env, logs)))
        watched += children
        ready = _wait_http(settings.board_url + "/healthz", 30, watched)
        if isinstance(ready, Child):
            status = _died(ready)
            report_to_watchdog(settings.watchdog_url, ready)
            return status
        if not ready:
            log.error("board_not_answering", url=settings.board_url)
            return 1
        print(
            f"\n  狼煙 Noroshi is running.\n"
            f"  状況ボード / Status board: {settings.board_url}/\n"
            f"  見張り / Watchdog: {settings.watchdog_url}/status\n"
            f"{sign_in}"
            f"  Broker: {settings.broker}   (Ctrl-C で停止 / to stop)\n",
            flush=True,
        )
        try:
            if demo:  # played beside the supervision, so a death during the drill is seen at once
                stop_drill = threading.Event()
                drill = threading.Thread(target=_play_drill, args=(settings, speed, stop_drill), name="drill",
                                         daemon=True)
                drill.start()
                # stopped first (ExitStack: last in, first out): its producer must not hold the broker open
                stack.callback(lambda: (stop_drill.set(), drill.join(5)))
            dead = _supervise(watched, watchdog, memory)
            status = _died(dead)
            report_to_watchdog(settings.watchdog_url, dead)  # before the others stop: the people on call hear of it
            return status
        except KeyboardInterrupt:
            log.info("stack_stopping")
            return 0
    return 0
