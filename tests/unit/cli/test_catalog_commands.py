"""`catalog list` filters and `catalog show`, through typer's runner (no cluster involved)."""

from __future__ import annotations

import json
from typing import Any

import yaml
from typer.testing import CliRunner

from llmkube.cli.main import app

runner = CliRunner()


def listed(*args: str) -> list[dict[str, Any]]:
    result = runner.invoke(app, ["catalog", "list", *args, "-o", "json"])
    assert result.exit_code == 0, result.output
    models: list[dict[str, Any]] = json.loads(result.stdout)
    return models


def test_list_filters_by_size_and_fit_together() -> None:
    models = listed("--max-size", "15B", "--fits", "12Gi")
    assert models
    assert all(m["parameters_billions"] <= 15 and m["estimate"]["vram_gib"] <= 12 for m in models)


def test_size_filter_understands_millions() -> None:
    assert {m["id"] for m in listed("--max-size", "400M")} == {"smollm2-135m", "smollm2-360m"}


def test_a_malformed_size_is_a_usage_error_that_shows_the_form() -> None:
    result = runner.invoke(app, ["catalog", "list", "--max-size", "big"])
    assert result.exit_code == 2
    assert "--max-size takes a parameter count like 8B or 500M, not 'big'" in result.stderr


def test_a_malformed_fit_is_a_usage_error() -> None:
    result = runner.invoke(app, ["catalog", "list", "--fits", "lots"])
    assert result.exit_code == 2
    assert "--fits takes GPU memory in GiB" in result.stderr


def test_no_match_says_so_in_a_table() -> None:
    result = runner.invoke(app, ["catalog", "list", "--fits", "0.1"])
    assert result.exit_code == 0
    assert "No catalog models match." in result.stdout


def test_show_prints_the_model_and_service_deploy_would_apply() -> None:
    result = runner.invoke(app, ["catalog", "show", "llama-3-8b", "--gpu"])
    assert result.exit_code == 0, result.output
    model, isvc = yaml.safe_load_all(result.stdout)
    assert (model["kind"], isvc["kind"]) == ("Model", "InferenceService")
    assert model["metadata"]["name"] == isvc["metadata"]["name"] == "llama-3.1-8b"
    assert "namespace" not in model["metadata"]
    assert model["spec"]["source"]["huggingFace"]["filename"] == "Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf"
    assert isvc["spec"]["accelerator"] == {"type": "nvidia", "gpuCount": 1}


def test_show_with_a_namespace_puts_both_objects_in_it() -> None:
    result = runner.invoke(app, ["catalog", "show", "smollm2-135m", "-n", "team-a", "-o", "json"])
    assert result.exit_code == 0, result.output
    listing = json.loads(result.stdout)
    assert listing["kind"] == "List"
    assert [item["metadata"]["namespace"] for item in listing["items"]] == ["team-a", "team-a"]


def test_info_finds_a_model_by_alias_and_cites_its_source() -> None:
    result = runner.invoke(app, ["catalog", "info", "gpt-oss"], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    assert "gpt-oss-20b-Q4_K_M.gguf" in result.stdout
    assert "https://huggingface.co/unsloth/gpt-oss-20b-GGUF/tree/main" in result.stdout
