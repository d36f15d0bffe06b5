"""The Grafana dashboards of deploy/grafana, read as the queries they send to Prometheus.

Grafana fills in template variables and its own interval macros before sending a panel's query. `queries()`
does the same with the values a viewer would see first: each variable's "All" (its `allValue`, `.*`), a
constant variable's value, and fixed windows for the macros. The result is what Grafana would send, so running
it against a real Prometheus tells whether the panel would show anything.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs

DASHBOARDS = Path(__file__).resolve().parents[2] / "deploy" / "grafana"

#: Grafana's interval macros, at values that suit a Prometheus scraping every second.
MACROS = {"$__rate_interval": "1m", "$__interval": "15s", "$__range": "5m"}

_VARIABLE = re.compile(r"\$\{?(\w+)\}?")


@attrs.frozen(kw_only=True)
class PanelQuery:
    dashboard: str
    panel: str
    ref_id: str
    expr: str
    legend: str
    panel_type: str

    @property
    def name(self) -> str:
        return f"{self.dashboard}/{self.panel}/{self.ref_id}"


def dashboard_files() -> list[Path]:
    return sorted(DASHBOARDS.glob("*.json"))


def load(path: Path) -> dict[str, Any]:
    dashboard: dict[str, Any] = json.loads(path.read_text())
    return dashboard


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, those inside collapsed rows too; rows themselves are not panels."""
    for panel in dashboard.get("panels") or []:
        if panel.get("type") == "row":
            yield from panel.get("panels") or []
        else:
            yield panel


def variable_values(dashboard: dict[str, Any]) -> dict[str, str]:
    """What each template variable stands for before the viewer picks anything."""
    values = {}
    for variable in (dashboard.get("templating") or {}).get("list") or []:
        if variable["type"] == "datasource":
            continue
        if variable.get("includeAll"):
            values[variable["name"]] = variable.get("allValue") or ".*"
        else:
            values[variable["name"]] = str((variable.get("current") or {}).get("value", ""))
    return values


def substitute(expr: str, values: dict[str, str]) -> str:
    for macro, value in MACROS.items():
        expr = expr.replace(macro, value)

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.isdigit():
            return match.group(0)  # a regex group in label_replace's replacement; Grafana leaves it too
        if name not in values:
            raise KeyError(f"query uses ${name}, which the dashboard does not define")
        return values[name]

    return _VARIABLE.sub(replace, expr)


def queries(path: Path) -> list[PanelQuery]:
    dashboard = load(path)
    values = variable_values(dashboard)
    found = []
    for panel in panels(dashboard):
        for target in panel.get("targets") or []:
            found.append(
                PanelQuery(
                    dashboard=path.stem,
                    panel=panel["title"],
                    ref_id=target["refId"],
                    expr=substitute(target["expr"], values),
                    legend=target.get("legendFormat", ""),
                    panel_type=panel["type"],
                )
            )
    return found


def variable_queries(path: Path) -> list[tuple[str, str]]:
    """(variable name, PromQL) for query variables, with `label_values(...)` written as the series it reads."""
    dashboard = load(path)
    values = variable_values(dashboard)
    found = []
    for variable in (dashboard.get("templating") or {}).get("list") or []:
        if variable["type"] != "query":
            continue
        query = variable["query"]["query"] if isinstance(variable["query"], dict) else variable["query"]
        found.append((variable["name"], _as_promql(substitute(query, values))))
    return found


def _as_promql(query: str) -> str:
    """`label_values(expr, label)` and `query_result(expr)` are Grafana's; Prometheus runs the expression."""
    match = re.fullmatch(r"label_values\((.*),\s*(\w+)\)", query.strip())
    if match:
        return match.group(1)
    match = re.fullmatch(r"query_result\((.*)\)", query.strip())
    if match:
        return match.group(1)
    return query
