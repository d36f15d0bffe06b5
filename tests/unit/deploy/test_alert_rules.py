"""The alert rules load in Prometheus's own checker, each is unit-tested by promtool, and each has a runbook.

Whether each expression finds the series it compares is checked against a real Prometheus in
tests/integration/observability.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from hack.chart_files import rules_file
from hack.tools import promtool_binary

REPO = Path(__file__).resolve().parents[3]
ALERTS = REPO / "config" / "prometheus" / "alerts.yaml"
RULE_TESTS = REPO / "config" / "prometheus" / "tests" / "alerts_test.yaml"
RUNBOOKS = REPO / "docs" / "alerts.md"
RUNBOOK_BASE = "https://github.com/llmkube/llmkube/blob/main/docs/alerts.md#"


def rules() -> list[dict[str, Any]]:
    spec = yaml.safe_load(ALERTS.read_text())["spec"]
    return [rule for group in spec["groups"] for rule in group["rules"]]


RULES = rules()


def test_promtool_accepts_the_rules(tmp_path: Path) -> None:
    path = tmp_path / "llmkube.rules.yaml"
    path.write_text(rules_file())

    done = subprocess.run(
        [str(promtool_binary()), "check", "rules", str(path)], capture_output=True, text=True, check=False
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(RULES)} rules found" in done.stdout


def test_every_alert_fires_and_stays_quiet_as_its_promtool_tests_say() -> None:
    done = subprocess.run(
        [str(promtool_binary()), "test", "rules", str(RULE_TESTS)],
        capture_output=True,
        text=True,
        check=False,
    )

    assert done.returncode == 0, done.stdout + done.stderr


def test_every_alert_has_a_promtool_test_that_sees_it_fire() -> None:
    tested = yaml.safe_load(RULE_TESTS.read_text())["tests"]
    firing = {
        case["alertname"]
        for test in tested
        for case in test.get("alert_rule_test") or []
        if case.get("exp_alerts")
    }

    assert firing == {rule["alert"] for rule in RULES}


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r["alert"])
def test_every_alert_links_its_runbook_section(rule: dict[str, Any]) -> None:
    anchors = {heading.lower() for heading in re.findall(r"^## (\S+)$", RUNBOOKS.read_text(), re.MULTILINE)}

    url = rule["annotations"]["runbook_url"]
    assert url.startswith(RUNBOOK_BASE)
    assert url.removeprefix(RUNBOOK_BASE) == rule["alert"].lower()
    assert rule["alert"].lower() in anchors


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r["alert"])
def test_every_alert_says_how_bad_and_what(rule: dict[str, Any]) -> None:
    assert rule["labels"]["severity"] in ("critical", "warning")
    assert rule["annotations"]["summary"]
    assert rule["annotations"]["description"]
    assert rule["alert"].startswith("LLMKube")
