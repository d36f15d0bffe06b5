"""`deploy --dry-run`: the objects deploy would apply, printed without touching a cluster."""

from __future__ import annotations

import json

import yaml
from typer.testing import CliRunner

from llmkube.cli.main import app

runner = CliRunner()
NO_CLUSTER = {"KUBECONFIG": "/nonexistent/kubeconfig", "LLMKUBE_NAMESPACE": ""}


def test_roadmap_example_renders_without_a_cluster() -> None:
    result = runner.invoke(app, ["deploy", "llama-3-8b", "--gpu", "--dry-run", "-o", "yaml"], env=NO_CLUSTER)
    assert result.exit_code == 0, result.output
    model, isvc = yaml.safe_load_all(result.stdout)
    assert model["spec"]["quantization"] == "Q4_K_M"
    assert isvc["spec"]["modelRef"] == {"name": "llama-3.1-8b"}
    assert isvc["spec"]["accelerator"] == {"type": "nvidia", "gpuCount": 1}
    assert "namespace" not in isvc["metadata"]


def test_flags_reach_the_printed_objects() -> None:
    result = runner.invoke(
        app,
        [
            "deploy",
            "qwen3-8b",
            "--gpu-count",
            "2",
            "--replicas",
            "3",
            "--dry-run",
            "-n",
            "team-a",
            "-o",
            "json",
        ],
        env=NO_CLUSTER,
    )
    assert result.exit_code == 0, result.output
    model, isvc = json.loads(result.stdout)["items"]
    assert model["metadata"]["namespace"] == isvc["metadata"]["namespace"] == "team-a"
    assert isvc["spec"]["replicas"] == 3
    assert isvc["spec"]["accelerator"]["gpuCount"] == 2


def test_a_custom_source_renders_too() -> None:
    result = runner.invoke(
        app,
        ["deploy", "mine", "--hf-repo", "o/r", "--hf-file", "m.Q4_0.gguf", "--dry-run"],
        env=NO_CLUSTER,
    )
    assert result.exit_code == 0, result.output
    model, _ = yaml.safe_load_all(result.stdout)
    assert model["spec"]["source"]["huggingFace"] == {
        "repo": "o/r",
        "filename": "m.Q4_0.gguf",
        "revision": "main",
    }


def test_dry_run_keeps_the_command_line_checks() -> None:
    result = runner.invoke(app, ["deploy", "no-such-model", "--dry-run"], env=NO_CLUSTER)
    assert result.exit_code == 2
    assert "is not in the catalog" in result.stderr


def test_dry_run_refuses_a_table() -> None:
    result = runner.invoke(app, ["deploy", "qwen3-8b", "--dry-run", "-o", "table"], env=NO_CLUSTER)
    assert result.exit_code == 2
    assert "use -o yaml or -o json" in result.stderr
