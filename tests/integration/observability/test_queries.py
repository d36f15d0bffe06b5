"""Every dashboard panel and every alert, run through a real Prometheus scraping the real system.

The scene (hack/observability/scene.py) runs the controller against the local cluster with Models that download,
fail and stall, an NVIDIA InferenceService that becomes Ready, a real llama-server with traffic, and a DCGM
exporter, and the gateway in front of a llama-server run by the host agent (woken, queueing, shedding, scaled
back to zero). There is no GPU here: the DCGM series come from a recorded exposition written by hand in the
exporter's format from its documented default counters (hack/observability/dcgm-exporter.prom), served by a small
file server and scraped through the GPU ServiceMonitors the controller builds.

- Each dashboard query, with its variables at "All" and Grafana's interval macros filled in, must parse and
  return at least one series: an empty panel is a broken panel.
- An alert that does not fire returns nothing, which proves nothing. So each alert expression must parse and
  evaluate, Prometheus must report its rule healthy, and what it measures must exist: every side of a comparison
  against a number (the expression without its threshold: `max by (name) (workqueue_depth)` for
  `max by (name) (workqueue_depth) > 100`) and every series selector in it must return at least one series.
  Prometheus's own parser splits the expression (/api/v1/parse_query; hack/observability/promql.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from anyio.from_thread import start_blocking_portal

from hack.localcluster import ClusterBase
from hack.observability.dashboards import PanelQuery, dashboard_files, queries, variable_queries
from hack.observability.prometheus import Prometheus
from hack.observability.promql import measured, selectors
from hack.observability.scene import ALERTS, Scene, observed_scene

PANEL_QUERIES = [q for path in dashboard_files() for q in queries(path)]
VARIABLE_QUERIES = [
    (path.stem, name, query) for path in dashboard_files() for name, query in variable_queries(path)
]
ALERT_RULES = [
    rule for group in yaml.safe_load(ALERTS.read_text())["spec"]["groups"] for rule in group["rules"]
]


@pytest.fixture(scope="module")
def scene(local_cluster: ClusterBase, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scene]:
    workdir: Path = tmp_path_factory.mktemp("observed")
    with (
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(
            observed_scene(local_cluster, workdir=workdir, clients=1)
        ) as running,
    ):
        yield running


@pytest.fixture(scope="module")
def prometheus(scene: Scene) -> Prometheus:
    # Every rate() window needs two samples; at one scrape a second, a few seconds after the first is plenty.
    scene.prometheus.wait_for_targets()
    return scene.prometheus


def series(prometheus: Prometheus, expr: str) -> list[dict[str, Any]]:
    return prometheus.query(expr)


@pytest.mark.parametrize("query", PANEL_QUERIES, ids=lambda q: q.name)
def test_every_panel_query_returns_series(prometheus: Prometheus, query: PanelQuery) -> None:
    assert series(prometheus, query.expr), f"no series for {query.name}:\n{query.expr}"


@pytest.mark.parametrize(("dashboard", "variable", "query"), VARIABLE_QUERIES, ids=lambda v: str(v))
def test_every_dashboard_variable_finds_values(
    prometheus: Prometheus, dashboard: str, variable: str, query: str
) -> None:
    assert series(prometheus, query), f"${variable} of {dashboard} would offer nothing:\n{query}"


@pytest.mark.parametrize("rule", ALERT_RULES, ids=lambda r: r["alert"])
def test_every_alert_measures_series_that_exist(prometheus: Prometheus, rule: dict[str, Any]) -> None:
    tree = prometheus.parse(rule["expr"])
    prometheus.query(rule["expr"])  # evaluates, firing or not

    measures = measured(tree)
    assert measures, f"{rule['alert']} compares nothing against a threshold"
    for expr in measures + selectors(tree):
        assert series(prometheus, expr), f"{rule['alert']}: no series for {expr}"


def test_prometheus_evaluates_every_rule_without_error(prometheus: Prometheus) -> None:
    groups = prometheus._call_get("/api/v1/rules")["groups"]
    loaded = {rule["name"]: rule for group in groups for rule in group["rules"]}

    assert set(loaded) == {rule["alert"] for rule in ALERT_RULES}
    assert {name: rule.get("lastError") for name, rule in loaded.items() if rule["health"] != "ok"} == {}
