"""The Grafana dashboards are well-formed: every panel queries the chosen data source with variables it defines.

Whether each query finds series is checked against a real Prometheus in tests/integration/observability.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hack.chart import kustomize
from hack.observability.dashboards import dashboard_files, load, panels, queries, variable_queries

DASHBOARDS = dashboard_files()
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}


def test_there_is_a_dashboard_for_each_part_of_the_system() -> None:
    assert {path.stem for path in DASHBOARDS} == {"controller", "models", "inference", "gpu", "gateway"}


def test_dashboard_uids_are_unique_and_stable() -> None:
    uids = [load(path)["uid"] for path in DASHBOARDS]

    assert sorted(uids) == sorted({f"llmkube-{path.stem}" for path in DASHBOARDS})


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_every_panel_queries_the_data_source_variable(path: Path) -> None:
    dashboard = load(path)
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}

    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for panel in panels(dashboard):
        assert panel["datasource"] == DATASOURCE, panel["title"]
        assert panel["targets"], f"{panel['title']} has no query"
        assert all(t["datasource"] == DATASOURCE for t in panel["targets"]), panel["title"]


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_every_query_uses_only_variables_the_dashboard_defines(path: Path) -> None:
    # queries() substitutes every variable and raises on one the dashboard does not define.
    unfilled = re.compile(r"\$\{?[a-zA-Z_]")
    assert not [q.name for q in queries(path) if unfilled.search(q.expr)]
    assert not [name for name, query in variable_queries(path) if unfilled.search(query)]


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_panels_fit_the_grid_without_overlapping(path: Path) -> None:
    cells: set[tuple[int, int]] = set()
    for panel in load(path)["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps another panel"
                cells.add((x, y))


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_every_panel_says_what_it_shows(path: Path) -> None:
    for panel in panels(load(path)):
        assert panel.get("description"), f"{panel['title']} has no description"


def test_config_default_delivers_every_dashboard_to_the_grafana_sidecar() -> None:
    maps = {o["metadata"]["name"]: o for o in kustomize("config/default") if o["kind"] == "ConfigMap"}

    for path in DASHBOARDS:
        delivered = maps[f"llmkube-dashboard-{path.stem}"]
        assert delivered["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert delivered["data"] == {path.name: path.read_text()}
