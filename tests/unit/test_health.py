"""Readiness decisions of the worker and of `noroshi sources` (vocabulary/health.py)."""

from __future__ import annotations

from vocabulary.health import SourceView, WorkerView, sources_readiness, worker_readiness

NOW = 1_800_000_000.0


def consuming(**changes: object) -> WorkerView:
    base = {"assigned": 2, "rebalancing": False, "recovered": True, "last_activity": NOW - 1.0, "lag": 3}
    return WorkerView(**{**base, **changes})  # type: ignore[arg-type]


def test_a_worker_that_consumes_and_keeps_up_is_ready() -> None:
    ready = worker_readiness(consuming(), NOW, max_lag=10_000)
    assert ready.ready and ready.failing == []
    assert ready.to_dict()["lag"] == 3


def test_a_worker_before_its_assignment_is_not_ready_and_says_so() -> None:
    ready = worker_readiness(WorkerView(0, False, False, None, None), NOW, max_lag=10_000)
    assert not ready.ready
    assert ready.failing == ["assigned", "recovered", "consuming", "lag"]
    first = ready.to_dict()["checks"][0]
    assert first["ja"] == "パーティションが割り当てられていません" and first["en"] == "no partition assigned"


def test_a_rebalance_under_way_is_not_ready() -> None:
    ready = worker_readiness(consuming(rebalancing=True), NOW, max_lag=10_000)
    assert ready.failing == ["assigned"]
    assert "rebalancing" in ready.to_dict()["checks"][0]["en"]


def test_tables_still_recovering_are_not_ready() -> None:
    assert worker_readiness(consuming(recovered=False), NOW, max_lag=10_000).failing == ["recovered"]


def test_a_worker_that_has_not_fetched_for_longer_than_the_bound_is_not_ready() -> None:
    stale = consuming(last_activity=NOW - 16.0)
    ready = worker_readiness(stale, NOW, max_lag=10_000, consuming_within_s=15.0)
    assert ready.failing == ["consuming"]
    assert "16 s" in ready.to_dict()["checks"][2]["en"]
    assert worker_readiness(consuming(last_activity=NOW - 15.0), NOW, max_lag=10_000,
                            consuming_within_s=15.0).ready


def test_a_lag_above_the_bound_or_not_yet_known_is_not_ready() -> None:
    assert worker_readiness(consuming(lag=10_001), NOW, max_lag=10_000).failing == ["lag"]
    assert worker_readiness(consuming(lag=10_000), NOW, max_lag=10_000).ready
    unknown = worker_readiness(consuming(lag=None), NOW, max_lag=10_000)
    assert unknown.failing == ["lag"] and unknown.to_dict()["checks"][3]["en"] == "consumer lag not known yet"


def test_sources_are_ready_when_the_producer_is_connected_and_every_source_runs() -> None:
    views = [SourceView("hooks", True, True, True), SourceView("jma:wako", True, True, False)]
    ready = sources_readiness(True, views)
    assert ready.ready
    assert ready.to_dict()["sources"][1] == {"name": "jma:wako", "enabled": True, "running": True,
                                             "connected": False}


def test_sources_are_not_ready_without_the_producer_or_with_a_source_stopped() -> None:
    views = [SourceView("hooks", True, False, False), SourceView("jma:wako", True, True, True)]
    ready = sources_readiness(False, views)
    assert ready.failing == ["producer", "sources"]
    assert ready.to_dict()["checks"][1]["ja"] == "停止しているソース: hooks"
