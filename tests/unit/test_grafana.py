"""The Grafana dashboard and the Prometheus scrape file stay in step with vocabulary/metrics.py:
every metric has a panel, no panel asks for a metric that does not exist, and the scrape targets
are the ports the settings serve /metrics on."""

import json
import re
from pathlib import Path

from prometheus_client.metrics import MetricWrapperBase

import vocabulary.metrics as metrics
from vocabulary.settings import DOCUMENTED

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = json.loads((ROOT / "deploy/grafana/noroshi-dashboard.json").read_text(encoding="utf-8"))
PROMETHEUS = (ROOT / "deploy/prometheus/prometheus.yml").read_text(encoding="utf-8")
DEFAULTS = {name: default for name, default, _meaning in DOCUMENTED}

#: The sample names each kind of metric is queried by (prometheus-client drops `_total` from a
#: counter's own name; a histogram is read through its buckets).
QUERIED_AS = {"counter": ("_total",), "gauge": ("",), "histogram": ("_bucket", "_sum", "_count")}
REQUIRED_AS = {"counter": "_total", "gauge": "", "histogram": "_bucket"}


def declared() -> dict[str, str]:
    """Every metric of vocabulary/metrics.py: its name → its type."""
    found = {}
    for value in vars(metrics).values():
        if isinstance(value, MetricWrapperBase):
            for family in value.describe():
                found[family.name] = family.type
    return found


def panels() -> list[dict]:
    return [p for p in DASHBOARD["panels"] if p["type"] != "row"]


def expressions() -> list[str]:
    return [t["expr"] for p in panels() for t in p["targets"]]


def test_the_interface_metrics_are_all_declared() -> None:
    assert set(declared()) >= {
        "noroshi_consumer_lag_messages", "noroshi_events", "noroshi_detection_latency_seconds",
        "noroshi_detection_event_time_latency_seconds", "noroshi_deadletters", "noroshi_input_gaps_refetched",
        "noroshi_incidents_opened", "noroshi_deliveries", "noroshi_circuit_open", "noroshi_source_connected",
        "noroshi_source_last_event_age_seconds", "noroshi_jma_last_poll_age_seconds", "noroshi_board_sse_clients",
        "noroshi_heartbeat_age_seconds"}


def test_every_metric_has_a_panel_that_queries_it_the_way_its_type_is_exposed() -> None:
    text = "\n".join(expressions())
    missing = [name + REQUIRED_AS[kind] for name, kind in declared().items()
               if not re.search(rf"\b{name}{REQUIRED_AS[kind]}\b", text)]
    assert not missing, f"metrics without a panel: {missing}"


def test_no_panel_queries_a_metric_that_does_not_exist() -> None:
    known = {name + suffix for name, kind in declared().items() for suffix in QUERIED_AS[kind]}
    named = {n for expr in expressions() for n in re.findall(r"\bnoroshi_[a-z0-9_]+", expr)}
    assert named - known == set(), f"unknown metrics in the dashboard: {sorted(named - known)}"


def test_latency_panels_take_p50_and_p99_from_the_histograms() -> None:
    for name in ("noroshi_detection_latency_seconds", "noroshi_detection_event_time_latency_seconds"):
        for q in ("0.5", "0.99"):
            assert any(f"histogram_quantile({q}, sum by (le) (rate({name}_bucket[" in e for e in expressions()), (name, q)


def test_every_panel_reads_the_chosen_prometheus() -> None:
    variables = {v["name"]: v for v in DASHBOARD["templating"]["list"]}
    assert variables["DS_PROMETHEUS"]["type"] == "datasource"
    assert variables["DS_PROMETHEUS"]["query"] == "prometheus"
    for p in panels():
        sources = [p["datasource"], *(t["datasource"] for t in p["targets"])]
        assert all(s == {"type": "prometheus", "uid": "${DS_PROMETHEUS}"} for s in sources), p["title"]


def test_titles_are_japanese_first_with_english_in_parentheses() -> None:
    for p in DASHBOARD["panels"]:
        assert re.fullmatch(r"[^\x00-\x7f].* \([A-Za-z][^()]*(\([^()]*\)[^()]*)?\)", p["title"]), p["title"]


def test_the_heartbeat_panels_draw_the_late_threshold_the_board_uses() -> None:
    late = float(DEFAULTS["NOROSHI_HEARTBEAT_LATE"])
    beats = [p for p in panels() if any("noroshi_heartbeat_age_seconds" in t["expr"] for t in p["targets"])]
    assert beats
    for p in beats:
        steps = [s["value"] for s in p["fieldConfig"]["defaults"]["thresholds"]["steps"]]
        assert late in steps, p["title"]
    lines = [p for p in beats if p["type"] == "timeseries"]
    assert lines and all(p["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"]["mode"] == "line" for p in lines)


def test_the_dashboard_is_importable() -> None:
    assert DASHBOARD["schemaVersion"] >= 36 and DASHBOARD["uid"] and DASHBOARD["title"]
    ids = [p["id"] for p in DASHBOARD["panels"]]
    assert len(ids) == len(set(ids))
    for p in panels():
        assert p["targets"] and all(t["refId"] and t["expr"] for t in p["targets"]), p["title"]
        grid = p["gridPos"]
        assert 0 <= grid["x"] and grid["x"] + grid["w"] <= 24, p["title"]


def test_prometheus_scrapes_each_process_on_the_port_the_settings_serve_metrics_on() -> None:
    targets = dict(re.findall(r"job_name: (\S+)\n(?:\s+.*\n)*?\s+- targets: \[\"([^\"]+)\"\]", PROMETHEUS))
    assert targets == {
        "noroshi-worker": f"worker:{DEFAULTS['NOROSHI_WORKER_HTTP_PORT']}",
        "noroshi-sources": f"sources:{DEFAULTS['NOROSHI_SOURCES_HTTP_PORT']}",
        "noroshi-board": f"board:{DEFAULTS['NOROSHI_BOARD_PORT']}",
        "noroshi-watchdog": f"watchdog:{DEFAULTS['NOROSHI_WATCHDOG_HTTP_PORT']}",
    }
    assert PROMETHEUS.count("metrics_path: /metrics") == 4
    # the dashboard's "targets up" panel finds them by this prefix
    assert any('up{job=~"noroshi-.*"}' in e for e in expressions())
