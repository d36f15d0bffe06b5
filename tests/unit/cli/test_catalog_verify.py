"""`catalog verify` against a stand-in hub on loopback: present, missing, gated and wrongly sized files."""

from __future__ import annotations

from typer.testing import CliRunner

from llmkube.catalog import CatalogEntry, get_model, list_models
from llmkube.catalog.verify import GIB, Verdict, judge, verify_files
from llmkube.cli.main import app
from tests.unit.cli.hub_standin import hub

runner = CliRunner()


def hub_key(entry: CatalogEntry) -> str:
    return f"{entry.source.repo}/{entry.source.filename}"


def true_size(entry: CatalogEntry) -> int:
    return int(entry.weights_gib * GIB)


def test_a_404_means_the_file_is_missing() -> None:
    entry = get_model("qwen3-8b")
    check = judge(entry, url="u", status=404, size=None)
    assert check.verdict is Verdict.missing


def test_a_401_means_the_repository_is_gated_or_private() -> None:
    check = judge(get_model("qwen3-8b"), url="u", status=401, size=None)
    assert check.verdict is Verdict.denied


def test_a_file_far_from_the_estimate_is_a_size_mismatch_that_names_both_sizes() -> None:
    entry = get_model("llama-3.1-8b")
    check = judge(entry, url="u", status=302, size=true_size(entry) * 2)
    assert check.verdict is Verdict.size_mismatch
    assert f"{entry.weights_gib:.2f} GiB" in check.detail


def test_a_file_without_a_size_passes_on_existence_alone() -> None:
    check = judge(get_model("phi-4"), url="u", status=200, size=None)
    assert check.passed


async def test_each_file_gets_its_own_verdict_in_catalog_order() -> None:
    present, missing, gated, resized = (
        get_model(i) for i in ("qwen3-8b", "phi-4", "gemma-3-4b", "llama-3.1-8b")
    )
    files = {hub_key(present): true_size(present), hub_key(resized): true_size(resized) // 3}
    with hub(files=files, gated=frozenset({gated.source.repo})) as endpoint:
        checks = await verify_files([present, missing, gated, resized], endpoint=endpoint)
    assert [(c.model_id, c.verdict) for c in checks] == [
        ("qwen3-8b", Verdict.ok),
        ("phi-4", Verdict.missing),
        ("gemma-3-4b", Verdict.denied),
        ("llama-3.1-8b", Verdict.size_mismatch),
    ]
    assert checks[0].size_bytes == true_size(present)


async def test_an_unreachable_hub_is_reported_per_file_not_raised() -> None:
    with hub(files={}) as endpoint:
        pass  # stopped: nothing listens on that port any more
    checks = await verify_files([get_model("qwen3-8b")], endpoint=endpoint, timeout_s=5)
    assert checks[0].verdict is Verdict.unreachable
    assert checks[0].detail.startswith(f"cannot reach {endpoint}")


def test_verify_command_exits_zero_when_every_file_checks_out() -> None:
    entries = [get_model("smollm2-135m"), get_model("qwen3-8b")]
    with hub(files={hub_key(e): true_size(e) for e in entries}) as endpoint:
        result = runner.invoke(app, ["catalog", "verify", "smollm2-135m", "qwen3-8b", "--endpoint", endpoint])
    assert result.exit_code == 0, result.output
    assert "all 2 catalog files check out" in result.stderr


def test_verify_command_exits_one_and_names_the_failing_model() -> None:
    good = get_model("smollm2-135m")
    with hub(files={hub_key(good): true_size(good)}) as endpoint:
        result = runner.invoke(
            app,
            ["catalog", "verify", "smollm2-135m", "phi-4", "--endpoint", endpoint],
            env={"COLUMNS": "200"},
        )
    assert result.exit_code == 1
    assert "1 of 2 catalog files failed the check" in result.stderr
    failing = [line for line in result.stdout.splitlines() if "missing" in line]
    assert len(failing) == 1
    assert "phi-4" in failing[0]


def test_verify_checks_the_whole_catalog_by_default() -> None:
    with hub(files={}) as endpoint:
        result = runner.invoke(app, ["catalog", "verify", "--endpoint", endpoint])
    assert result.exit_code == 1
    assert f"{len(list_models())} of {len(list_models())} catalog files failed" in result.stderr
