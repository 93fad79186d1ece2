"""The watchdog's rules: one round of observations in, the components' states and the conditions
that hold out. Pure: the caller passes what it saw and `now`; the only memory is what a rule must
learn across rounds (when a component was last seen, a source's usual gap, the dead-letter count
some minutes ago), kept in `Watch`.

A condition has a key (`heartbeat_late`, `component_down:worker`, `circuit_open:slack`…), the rule
that made it, since when the trouble is seen, how long it must hold before it fires (`for_s`), and
what an operator reads: what is wrong and what to check, in Japanese and English.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from vocabulary.settings import WatchdogSettings
from vocabulary.terms import JST

#: The components the watchdog probes, in the order /status lists them.
COMPONENTS = ("worker", "sources", "board", "broker")
#: The rules, by name (a condition's key starts with its rule).
RULES = ("heartbeat_late", "component_down", "broker_unreachable", "consumer_lag", "circuit_open",
         "deadletter_spike", "profiles_refused", "source_disconnected", "source_silent")
#: How many of a source's gaps between events are remembered to learn its usual gap.
GAPS_KEPT = 100
#: A source is silent past this many times its longest recent gap (or the floor setting).
GAP_FACTOR = 3.0

_NAMES_JA = {"worker": "ワーカー", "sources": "ソース（noroshi sources）", "board": "状況ボード", "broker": "ブローカー（Kafka）"}


def hhmm(ts: float) -> str:
    """A time as an operator in Japan reads it: 12/07 14:02:03 (JST)."""
    return datetime.fromtimestamp(ts, JST).strftime("%m/%d %H:%M:%S")


# --- what a round of checks saw ------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Probe:
    """One component as this round found it. `answered` None: not probed (not configured)."""

    name: str
    url: str | None
    answered: bool | None
    ready: bool = False
    detail_ja: str = ""
    detail_en: str = ""


@dataclass(frozen=True, slots=True)
class Beat:
    """The latest heartbeat of an input partition that came out at the far end."""

    partition: int
    municipality: str
    sent_at: float


@dataclass(frozen=True, slots=True)
class WorkerMetrics:
    lag: int | None  # all assigned partitions; None: not reported
    circuits_open: tuple[str, ...] = ()
    deadletters: float | None = None  # noroshi_deadletters_total, all reasons
    profiles_refused: int = 0  # noroshi_profiles_refused: municipalities not watched


@dataclass(frozen=True, slots=True)
class SourceMetric:
    name: str
    connected: bool | None
    last_event_age: float | None  # None: no event yet


@dataclass(frozen=True)
class Round:
    now: float
    probes: tuple[Probe, ...]
    beats: Mapping[int, Beat] = field(default_factory=dict)
    expected_partitions: Mapping[int, str] = field(default_factory=dict)  # input partitions in use
    heartbeats_read: bool = True  # False: the heartbeats topic could not be read this round
    worker: WorkerMetrics | None = None  # None: /metrics did not answer
    sources: tuple[SourceMetric, ...] | None = None


# --- what the rules make of it ---------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Holding:
    """A condition that holds in this round."""

    key: str
    rule: str
    since: float  # when the trouble began, as far as the watchdog saw
    for_s: float  # how long it must hold before it fires
    summary_ja: str
    summary_en: str
    check_ja: str
    check_en: str
    urgent: bool = False  # sent without waiting for others to join (a death reported by `noroshi run`)


@dataclass(frozen=True, slots=True)
class ComponentState:
    name: str
    url: str | None
    state: str  # ok | not_ready | down | unknown
    since: float | None
    detail_ja: str
    detail_en: str


@dataclass(frozen=True)
class Assessment:
    components: tuple[ComponentState, ...]
    holding: Mapping[str, Holding]
    #: Rules (or condition keys) that could not be judged this round: their conditions stay as they are.
    undetermined: frozenset[str] = frozenset()


class Watch:
    """The rules, with what they learn from round to round."""

    def __init__(self, config: WatchdogSettings, *, heartbeat_late_s: float, started_at: float,
                 optional: frozenset[str] = frozenset()) -> None:
        self.config = config
        #: Components watched only once they have answered (`noroshi sources` where none is configured here).
        self.optional = optional
        self.heartbeat_late_s = heartbeat_late_s
        self.started_at = started_at
        self.answered_at: dict[str, float] = {}  # component → last round it answered
        self.failing_since: dict[str, float] = {}  # component → first failed round of this streak
        self.state_since: dict[str, tuple[str, float]] = {}  # component → (state, since)
        self.deadletter_samples: deque[tuple[float, float]] = deque()
        self.source_events: dict[str, float] = {}  # source → time of its last event
        self.source_gaps: dict[str, deque[float]] = {}
        self.reported: dict[str, tuple[float, str, str]] = {}  # component → (at, ja, en) from `noroshi run`

    # --- a death reported by the supervisor -------------------------------------------------------

    def report_exit(self, name: str, how: str, now: float) -> None:
        """`noroshi run` saw the process `name` end (`how`: e.g. "exit code 1"): it is down now."""
        self.reported[name] = (now, f"プロセスが終了しました（{how}）", f"the process ended ({how})")

    # --- one round ------------------------------------------------------------------------------

    def assess(self, r: Round) -> Assessment:
        holding: dict[str, Holding] = {}
        undetermined: set[str] = set()
        states = tuple(self._component(p, r.now, holding) for p in r.probes)
        undetermined |= {f"component_down:{c.name}" for c in states if c.name in self.optional
                         and c.name not in self.answered_at}
        if r.heartbeats_read:
            self._heartbeats(r, holding)
        else:
            undetermined.add("heartbeat_late")
        if r.worker is not None:
            self._worker(r.worker, r.now, holding)
        else:
            undetermined |= {"consumer_lag", "circuit_open", "deadletter_spike", "profiles_refused"}
        if r.sources is not None:
            self._sources(r.sources, r.now, holding)
        else:
            undetermined |= {"source_disconnected", "source_silent"}
        return Assessment(states, holding, frozenset(undetermined))

    def _component(self, p: Probe, now: float, holding: dict[str, Holding]) -> ComponentState:
        name_ja = _NAMES_JA.get(p.name, p.name)
        reported = self.reported.get(p.name)
        if p.answered and (reported is None or now - reported[0] > self.config.interval_s):
            self.reported.pop(p.name, None)  # answering again: a restarted process
            reported = None
        if p.answered is None:
            state, ja, en = "unknown", "設定されていません（監視対象外）", "not configured (not watched)"
        elif p.answered and reported is None:
            self.answered_at[p.name] = now
            self.failing_since.pop(p.name, None)
            state = "ok" if p.ready else "not_ready"
            ja, en = (p.detail_ja, p.detail_en) if not p.ready else ("正常", "ok")
        elif p.name not in self.answered_at and reported is None and p.name in self.optional:
            state, ja, en = ("unknown", "設定されていないか、まだ応答していません（応答してから監視します）",
                             "not configured here, or not seen yet (watched once it answers)")
        elif p.name not in self.answered_at and reported is None and now - self.started_at < self.config.grace_s:
            state, ja, en = "unknown", "起動待ち（まだ応答を確認していません）", "not seen yet (start-up grace)"
        else:
            since = self.failing_since.setdefault(
                p.name, reported[0] if reported else (now if p.name in self.answered_at else self.started_at))
            state = "down"
            ja = reported[1] if reported else (p.detail_ja or "応答がありません")
            en = reported[2] if reported else (p.detail_en or "not answering")
            rule = "broker_unreachable" if p.name == "broker" else "component_down"
            key = rule if p.name == "broker" else f"component_down:{p.name}"
            holding[key] = Holding(
                key, rule, since, 0.0 if reported else self.config.down_for_s,
                *(_broker_texts(ja, en) if p.name == "broker" else _down_texts(p.name, name_ja, p.url, ja, en)),
                urgent=reported is not None)
        before = self.state_since.get(p.name)
        if before is None or before[0] != state:
            self.state_since[p.name] = (state, self.failing_since.get(p.name, now) if state == "down" else now)
        return ComponentState(p.name, p.url, state, self.state_since[p.name][1], ja, en)

    def _heartbeats(self, r: Round, holding: dict[str, Holding]) -> None:
        partitions = {**dict(r.expected_partitions), **{p: b.municipality for p, b in r.beats.items()}}
        late: list[tuple[int, str, float]] = []
        for partition, muni in sorted(partitions.items()):
            beat = r.beats.get(partition)
            # Never heard from: counted from the end of our start-up grace (the worker may start with us).
            last = beat.sent_at if beat else self.started_at + self.config.grace_s
            if r.now - last > self.heartbeat_late_s:
                late.append((partition, muni, last))
        if not late:
            return
        since = min(last for _p, _m, last in late)
        where = "、".join(f"パーティション {p}（{m}）" for p, m, _ in late)
        where_en = ", ".join(f"partition {p} ({m})" for p, m, _ in late)
        holding["heartbeat_late"] = Holding(
            "heartbeat_late", "heartbeat_late", since, 0.0,
            f"心拍が {self.heartbeat_late_s:.0f} 秒以上届いていません: {where}（最後の心拍 {hhmm(since)}）",
            f"no heartbeat for over {self.heartbeat_late_s:.0f} s: {where_en}",
            "ワーカーが動いているか（/readyz）、ブローカーに届くか、ワーカーのログを確認してください",
            "check that the worker runs (/readyz), that it reaches the broker, and the worker's log")

    def _worker(self, m: WorkerMetrics, now: float, holding: dict[str, Holding]) -> None:
        c = self.config
        if m.lag is not None and m.lag > c.lag_max:
            holding["consumer_lag"] = Holding(
                "consumer_lag", "consumer_lag", now, c.lag_for_s,
                f"未処理のメッセージが {m.lag:,} 件あります（上限 {c.lag_max:,} 件）",
                f"consumer lag is {m.lag:,} messages (bound {c.lag_max:,})",
                "ワーカーが処理を続けているか、入力が急増していないかを確認してください",
                "check that the worker keeps processing and whether the input surged")
        for channel in m.circuits_open:
            key = f"circuit_open:{channel}"
            holding[key] = Holding(
                key, "circuit_open", now, c.circuit_for_s,
                f"送信チャネル {channel} が失敗を続けており、送信を止めています（サーキットブレーカー）",
                f"channel {channel} keeps failing: its circuit breaker holds sends back",
                f"{channel} の設定（URL・資格情報）と相手先の状態を確認してください",
                f"check {channel}'s settings (URL, credentials) and the state of its peer")
        if m.deadletters is not None:
            self._deadletters(m.deadletters, now, holding)
        if m.profiles_refused:  # at once: a municipality is not watched at all
            holding["profiles_refused"] = Holding(
                "profiles_refused", "profiles_refused", now, 0.0,
                f"自治体プロファイル {m.profiles_refused} 件を読み込めず、その自治体は監視されていません",
                f"{m.profiles_refused} municipality profile(s) refused: those municipalities are not watched",
                "noroshi profiles check で理由（ファイルと項目）を確認し、直してからワーカーを再起動してください",
                "run noroshi profiles check for the file and field, fix it, then restart the worker", urgent=True)

    def _deadletters(self, total: float, now: float, holding: dict[str, Holding]) -> None:
        c, samples = self.config, self.deadletter_samples
        if samples and total < samples[-1][1]:  # the worker restarted: its counter began again
            samples.clear()
            samples.append((now, 0.0))
        samples.append((now, total))
        while len(samples) > 1 and samples[1][0] <= now - c.deadletter_window_s:
            samples.popleft()  # keep one sample at or before the window's start as the base
        increase = total - samples[0][1]
        if increase > c.deadletter_max:
            holding["deadletter_spike"] = Holding(
                "deadletter_spike", "deadletter_spike", samples[0][0], 0.0,
                f"デッドレターが急増しています: {c.deadletter_window_s:.0f} 秒で {increase:.0f} 件（上限 {c.deadletter_max} 件）",
                f"dead letters spiking: {increase:.0f} in {c.deadletter_window_s:.0f} s (bound {c.deadletter_max})",
                "ボードのシステム状態でデッドレターの理由を確認し、送り元（ソース・取り込み）を確認してください",
                "read the dead letters' reasons on the board's System page and check what sends them")

    def _sources(self, metrics: tuple[SourceMetric, ...], now: float, holding: dict[str, Holding]) -> None:
        c = self.config
        for s in metrics:
            if s.connected is False:
                key = f"source_disconnected:{s.name}"
                holding[key] = Holding(
                    key, "source_disconnected", now, c.source_for_s,
                    f"ソース {s.name} が接続されていません", f"source {s.name} is not connected",
                    f"{s.name} の接続先（プラットフォーム・ネットワーク・資格情報）とソースのログを確認してください",
                    f"check {s.name}'s platform, the network, its credentials and the sources' log")
            if s.last_event_age is None:
                continue
            event_at = now - s.last_event_age
            previous = self.source_events.get(s.name)
            if previous is not None and event_at - previous > 1.0:  # a new event since the last round
                self.source_gaps.setdefault(s.name, deque(maxlen=GAPS_KEPT)).append(event_at - previous)
            if previous is None or event_at - previous > 1.0:
                self.source_events[s.name] = event_at
            bound = self.silence_bound(s.name)
            if s.last_event_age > bound:
                key = f"source_silent:{s.name}"
                holding[key] = Holding(
                    key, "source_silent", event_at, 0.0,
                    f"ソース {s.name} から {s.last_event_age:.0f} 秒イベントが届いていません（通常の間隔から見た上限 {bound:.0f} 秒）",
                    f"source {s.name} has sent no event for {s.last_event_age:.0f} s (bound from its usual gap: {bound:.0f} s)",
                    f"{s.name} の接続先が応答しているか、ソースのログを確認してください",
                    f"check that {s.name}'s peer answers, and the sources' log")

    def silence_bound(self, source: str) -> float:
        """How long `source` may be quiet: GAP_FACTOR × its longest recent gap, at least the floor."""
        gaps = self.source_gaps.get(source)
        return max(self.config.source_silent_s, GAP_FACTOR * max(gaps)) if gaps else self.config.source_silent_s


def _down_texts(name: str, name_ja: str, url: str | None, ja: str, en: str) -> tuple[str, str, str, str]:
    where = f"（{url}）" if url else ""
    return (f"{name_ja}が応答しません{where}: {ja}", f"the {name} is not answering{f' ({url})' if url else ''}: {en}",
            f"{name_ja}のプロセスが動いているか、ログとホストの状態（CPU・メモリ）を確認してください",
            f"check that the {name} process runs, its log, and the host (CPU, memory)")


def _broker_texts(ja: str, en: str) -> tuple[str, str, str, str]:
    return (f"ブローカー（Kafka）に接続できません: {ja}", f"the broker (Kafka) is unreachable: {en}",
            "ブローカーのプロセスとネットワーク、ディスクの空きを確認してください。ワーカーは止まっています",
            "check the broker process, the network and free disk; the worker cannot work meanwhile")
