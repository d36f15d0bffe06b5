"""Write (or check) the Helm chart's copies of files whose source lives elsewhere in the repository.

Helm reads only files inside the chart directory, so deploy/helm/llmkube carries copies of:

- the CRDs (`crds/`), generated from the API types into config/crd/bases by `python -m api.crdgen`;
- the Grafana dashboards (`files/dashboards/`), from deploy/grafana;
- the alert rules (`files/prometheus-rules.yaml`), the `spec` of config/prometheus/alerts.yaml.

`python -m hack.chart_files` refreshes them (`make crds` and `make chart` run it); `--check` exits 1 naming every
stale copy, and hack/test.sh runs it, so a copy never drifts from its source.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
CHART = REPO / "deploy" / "helm" / "llmkube"
CRD_BASES = REPO / "config" / "crd" / "bases"
DASHBOARDS = REPO / "deploy" / "grafana"
ALERTS = REPO / "config" / "prometheus" / "alerts.yaml"

RULES_HEADER = "# Copied from the spec of config/prometheus/alerts.yaml by `python -m hack.chart_files`; edit that file.\n"


def rules_file(alerts: Path = ALERTS) -> str:
    """The PrometheusRule's spec as a Prometheus rule file (`groups:`), which promtool also reads."""
    rule = yaml.safe_load(alerts.read_text())
    return RULES_HEADER + yaml.safe_dump(rule["spec"], sort_keys=False, width=120, allow_unicode=True)


def expected_files() -> dict[Path, str]:
    """Every copy the chart must hold, by path, with the content it must have."""
    files = {CHART / "crds" / crd.name: crd.read_text() for crd in sorted(CRD_BASES.glob("*.yaml"))}
    for dashboard in sorted(DASHBOARDS.glob("*.json")):
        files[CHART / "files" / "dashboards" / dashboard.name] = dashboard.read_text()
    files[CHART / "files" / "prometheus-rules.yaml"] = rules_file()
    return files


def stale_files() -> list[Path]:
    """Copies that differ from their source, are missing, or have no source any more."""
    expected = expected_files()
    stale = [path for path, text in expected.items() if not path.is_file() or path.read_text() != text]
    for directory, pattern in ((CHART / "crds", "*.yaml"), (CHART / "files" / "dashboards", "*.json")):
        stale += [path for path in sorted(directory.glob(pattern)) if path not in expected]
    return stale


def write() -> list[Path]:
    expected = expected_files()
    written = []
    for path in stale_files():
        if path in expected:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(expected[path])
        else:
            path.unlink()
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hack.chart_files", description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if a copy differs from its source")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files()
        if stale:
            names = ", ".join(str(path.relative_to(REPO)) for path in stale)
            print(f"stale chart files (run `python -m hack.chart_files`): {names}", file=sys.stderr)
            return 1
        return 0
    for path in write():
        print(f"{'wrote' if path.exists() else 'removed'} {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
