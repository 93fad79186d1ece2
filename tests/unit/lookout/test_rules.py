"""The watchdog's rules: what each observation makes of a component, the heartbeat, the worker's
and the sources' metrics — with the thresholds set low, as the settings allow."""

from __future__ import annotations

from lookout.probes import readiness_detail, source_metrics, worker_metrics
from lookout.rules import Beat, Probe, Round, SourceMetric, Watch, WorkerMetrics
from vocabulary.settings import WatchdogSettings

CONFIG = WatchdogSettings(interval_s=1, grace_s=10, down_for_s=5, lag_max=100, lag_for_s=30, circuit_for_s=20,
                          source_for_s=60, source_silent_s=50, deadletter_max=5, deadletter_window_s=60)
UP = (Probe("worker", "http://w", True, ready=True), Probe("sources", None, None),
      Probe("board", "http://b", True, ready=True), Probe("broker", "k:9092", True, ready=True))


def watch() -> Watch:
    return Watch(CONFIG, heartbeat_late_s=30, started_at=0.0)


def probes(**answers: bool) -> tuple[Probe, ...]:
    return tuple(Probe(p.name, p.url, answers.get(p.name, p.answered), ready=answers.get(p.name, p.ready))
                 for p in UP)


def state(assessment, name: str) -> str:
    return {c.name: c.state for c in assessment.components}[name]


def test_a_component_never_seen_is_unknown_during_the_grace_then_down_since_the_start() -> None:
    w = watch()
    early = w.assess(Round(now=5, probes=probes(worker=False)))
    assert state(early, "worker") == "unknown" and not early.holding
    late = w.assess(Round(now=11, probes=probes(worker=False)))
    assert state(late, "worker") == "down"
    held = late.holding["component_down:worker"]
    assert held.since == 0.0 and held.for_s == CONFIG.down_for_s and "ワーカーが応答しません" in held.summary_ja


def test_a_component_that_stops_answering_is_down_since_its_first_failed_round_and_the_broker_has_its_own_rule() -> None:
    w = watch()
    w.assess(Round(now=1, probes=UP))
    w.assess(Round(now=2, probes=probes(worker=False, broker=False)))
    seen = w.assess(Round(now=3, probes=probes(worker=False, broker=False)))
    assert seen.holding["component_down:worker"].since == 2
    assert seen.holding["broker_unreachable"].rule == "broker_unreachable"
    assert {c.name: c.since for c in seen.components}["worker"] == 2
    assert state(seen, "sources") == "unknown"  # not configured: never a condition
    again = w.assess(Round(now=4, probes=UP))
    assert not again.holding and state(again, "worker") == "ok"


def test_a_component_that_answers_not_ready_is_not_down() -> None:
    w = watch()
    seen = w.assess(Round(now=1, probes=(Probe("worker", "http://w", True, ready=False, detail_ja="テーブルの復元中",
                                               detail_en="HTTP 503: recovering"), *UP[1:])))
    assert state(seen, "worker") == "not_ready" and not seen.holding
    assert {c.name: c.detail_ja for c in seen.components}["worker"] == "テーブルの復元中"


def test_a_death_reported_by_the_supervisor_is_down_at_once_and_urgent() -> None:
    w = watch()
    w.assess(Round(now=1, probes=UP))
    w.report_exit("board", "exit code 1", 1.5)
    seen = w.assess(Round(now=1.6, probes=probes(board=False)))
    held = seen.holding["component_down:board"]
    assert held.urgent and held.for_s == 0 and "exit code 1" in held.summary_en


def test_the_heartbeat_is_late_past_the_bound_and_a_partition_never_heard_from_counts_from_the_grace_end() -> None:
    w = watch()
    beats = {0: Beat(0, "wako", 100.0)}
    ok = w.assess(Round(now=120, probes=UP, beats=beats, expected_partitions={0: "wako"}))
    assert "heartbeat_late" not in ok.holding
    late = w.assess(Round(now=131, probes=UP, beats=beats, expected_partitions={0: "wako", 1: "asaka"}))
    held = late.holding["heartbeat_late"]
    assert held.since == 10.0  # partition 1 never heard from: since the end of the watchdog's start-up grace
    assert "パーティション 0（wako）" in held.summary_ja and "partition 1 (asaka)" in held.summary_en


def test_the_worker_metrics_make_lag_circuit_and_dead_letter_conditions() -> None:
    w = watch()
    seen = w.assess(Round(now=1, probes=UP, worker=WorkerMetrics(lag=101, circuits_open=("slack",), deadletters=0)))
    assert seen.holding["consumer_lag"].for_s == 30 and seen.holding["circuit_open:slack"].for_s == 20
    assert "deadletter_spike" not in seen.holding
    w.assess(Round(now=30, probes=UP, worker=WorkerMetrics(lag=0, deadletters=3)))
    spike = w.assess(Round(now=40, probes=UP, worker=WorkerMetrics(lag=0, deadletters=6)))
    assert "deadletter_spike" in spike.holding and "6" in spike.holding["deadletter_spike"].summary_ja
    calm = w.assess(Round(now=200, probes=UP, worker=WorkerMetrics(lag=0, deadletters=6)))
    assert "deadletter_spike" not in calm.holding  # no new dead letter in the window
    restarted = w.assess(Round(now=201, probes=UP, worker=WorkerMetrics(lag=0, deadletters=2)))
    assert "deadletter_spike" not in restarted.holding  # a counter that began again is no spike


def test_a_refused_profile_holds_at_once_a_municipality_is_not_watched() -> None:
    seen = watch().assess(Round(now=1, probes=UP, worker=WorkerMetrics(lag=0, deadletters=0, profiles_refused=2)))
    held = seen.holding["profiles_refused"]
    assert held.for_s == 0 and held.urgent and held.summary_ja.startswith("自治体プロファイル 2 件を読み込めず")
    assert "noroshi profiles check" in held.check_ja
    assert "profiles_refused" not in watch().assess(Round(now=1, probes=UP, worker=WorkerMetrics(lag=0))).holding


def test_without_the_worker_metrics_its_rules_are_undetermined_not_resolved() -> None:
    seen = watch().assess(Round(now=1, probes=UP, worker=None, sources=None))
    assert {"consumer_lag", "circuit_open", "deadletter_spike", "profiles_refused", "source_silent"} <= seen.undetermined


def test_a_source_is_silent_past_its_usual_gap_learnt_from_its_events_with_a_floor() -> None:
    w = watch()
    for now, age in ((0, 0.0), (100, 0.0), (200, 0.0)):  # an event every 100 s
        w.assess(Round(now=now, probes=UP, sources=(SourceMetric("jma", True, age),)))
    assert w.silence_bound("jma") == 300.0  # 3 × 100 s, above the 50 s floor
    assert "source_silent:jma" not in w.assess(Round(now=400, probes=UP, sources=(SourceMetric("jma", True, 200.0),))).holding
    quiet = w.assess(Round(now=550, probes=UP, sources=(SourceMetric("jma", True, 350.0),)))
    assert quiet.holding["source_silent:jma"].since == 200.0
    gone = w.assess(Round(now=551, probes=UP, sources=(SourceMetric("hooks", False, None),)))
    assert gone.holding["source_disconnected:hooks"].for_s == 60


def test_metrics_and_readiness_answers_are_read_from_their_text() -> None:
    text = """# TYPE noroshi_consumer_lag_messages gauge
noroshi_consumer_lag_messages{group="noroshi",topic="noroshi.mentions",partition="0"} 7.0
noroshi_consumer_lag_messages{group="noroshi",topic="noroshi.mentions",partition="1"} 5.0
# TYPE noroshi_circuit_open gauge
noroshi_circuit_open{channel="slack"} 1.0
noroshi_circuit_open{channel="email"} 0.0
# TYPE noroshi_deadletters_total counter
noroshi_deadletters_total{reason="contract"} 3.0
noroshi_deadletters_total{reason="other"} 1.0
# TYPE noroshi_profiles_refused gauge
noroshi_profiles_refused 1.0
"""
    assert worker_metrics(text) == WorkerMetrics(lag=12, circuits_open=("slack",), deadletters=4.0, profiles_refused=1)
    assert worker_metrics("") == WorkerMetrics(lag=None, circuits_open=(), deadletters=0.0)
    sources = source_metrics('noroshi_source_connected{source="jma"} 1.0\n'
                             'noroshi_source_last_event_age_seconds{source="jma"} 12.5\n'
                             'noroshi_source_connected{source="hooks"} 0.0\n')
    assert sources == (SourceMetric("hooks", False, None), SourceMetric("jma", True, 12.5))
    assert readiness_detail(b'{"checks": [{"name": "lag", "ok": false, "ja": "\xe6\x9c\xaa\xe5\x87\xa6\xe7\x90\x86", '
                            b'"en": "lag"}]}') == ("未処理", "lag")


def test_sources_not_configured_here_are_watched_only_once_they_have_answered() -> None:
    w = Watch(CONFIG, heartbeat_late_s=30, started_at=0.0, optional=frozenset({"sources"}))
    silent = (*UP[:1], Probe("sources", "http://s", False), *UP[2:])
    never = w.assess(Round(now=100, probes=silent))
    assert state(never, "sources") == "unknown" and not never.holding
    assert "component_down:sources" in never.undetermined
    w.assess(Round(now=101, probes=(*UP[:1], Probe("sources", "http://s", True, ready=True), *UP[2:])))
    gone = w.assess(Round(now=102, probes=silent))
    assert state(gone, "sources") == "down" and "component_down:sources" in gone.holding
