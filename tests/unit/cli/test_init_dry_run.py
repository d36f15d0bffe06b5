"""`llmkube init --dry-run`: the bundled manifests, printed, without a cluster."""

from __future__ import annotations

import json

import yaml
from typer.testing import CliRunner

from llmkube.bundle import operator_objects
from llmkube.cli.main import app

runner = CliRunner()


def test_dry_run_prints_every_bundled_object_as_yaml() -> None:
    result = runner.invoke(app, ["init", "--dry-run"], env={"KUBECONFIG": "/nonexistent"})
    assert result.exit_code == 0, result.output
    assert list(yaml.safe_load_all(result.stdout)) == operator_objects()


def test_dry_run_as_json_is_a_list_kubectl_accepts() -> None:
    result = runner.invoke(app, ["init", "--dry-run", "-o", "json"], env={"KUBECONFIG": "/nonexistent"})
    assert result.exit_code == 0, result.output
    listing = json.loads(result.stdout)
    assert listing["kind"] == "List"
    assert len(listing["items"]) == len(operator_objects())
