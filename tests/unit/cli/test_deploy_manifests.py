"""What `llmkube deploy` writes, decided without a cluster."""

from __future__ import annotations

import pytest

from llmkube.catalog import get_model
from llmkube.cli.deploy import planned_memory_line
from llmkube.cli.errors import CliUsageError
from llmkube.cli.manifests import (
    ServingChoice,
    SourceChoice,
    choose_accelerator,
    desired_model,
    desired_service,
    plan_from_catalog,
    plan_from_source,
)


def test_gpu_flag_alone_means_nvidia_with_the_catalogs_gpu_count() -> None:
    assert choose_accelerator(ServingChoice(gpu=True), catalog_gpus=2) == ("nvidia", 2)


def test_gpu_count_implies_gpu() -> None:
    assert choose_accelerator(ServingChoice(gpu_count=4), catalog_gpus=1) == ("nvidia", 4)


def test_no_gpu_flags_serve_on_cpu_even_for_a_gpu_catalog_model() -> None:
    assert choose_accelerator(ServingChoice(), catalog_gpus=1) == ("cpu", None)


def test_host_accelerator_takes_a_gpu_count_only_when_given() -> None:
    assert choose_accelerator(ServingChoice(accelerator="metal"), catalog_gpus=1) == ("metal", None)


def test_cpu_accelerator_with_gpus_is_a_usage_error() -> None:
    with pytest.raises(CliUsageError):
        choose_accelerator(ServingChoice(accelerator="cpu", gpu=True), catalog_gpus=0)


def test_catalog_plan_leaves_defaults_to_the_server() -> None:
    plan = plan_from_catalog(
        get_model("smollm2-135m"), name="smollm2-135m", namespace="ns", serving=ServingChoice(), sha256=None
    )
    spec = desired_service(plan)["spec"]
    assert "replicas" not in spec
    assert "endpoint" not in spec
    assert spec["contextSize"] == 2048


def test_catalog_model_is_labelled_with_its_catalog_id() -> None:
    plan = plan_from_catalog(
        get_model("smollm2-135m"), name="smollm2-135m", namespace="ns", serving=ServingChoice(), sha256=None
    )
    labels = desired_model(plan)["metadata"]["labels"]
    assert labels == {"inference.llmkube.dev/catalog-id": "smollm2-135m"}


@pytest.mark.parametrize("serving", [ServingChoice(), ServingChoice(gpu=True)], ids=["cpu", "gpu"])
def test_pods_leave_their_memory_to_the_controllers_plan(serving: ServingChoice) -> None:
    plan = plan_from_catalog(
        get_model("llama-3.1-8b"), name="x", namespace="ns", serving=serving, sha256=None
    )
    assert "memory" not in desired_service(plan)["spec"].get("resources", {})


@pytest.mark.parametrize(
    ("serving", "gpus"), [(ServingChoice(), 0), (ServingChoice(gpu=True), 1)], ids=["cpu", "gpu"]
)
def test_deploy_shows_the_plan_catalog_info_shows(serving: ServingChoice, gpus: int) -> None:
    entry = get_model("llama-2-13b-chat")
    plan = plan_from_catalog(entry, name="x", namespace="ns", serving=serving, sha256=None)

    assert (
        planned_memory_line(plan)
        == entry.estimate_for(gpu_count=gpus, context_size=entry.context_size).summary
    )


def test_deploy_of_a_custom_source_shows_no_plan_before_its_header_is_read() -> None:
    plan = plan_from_source(
        SourceChoice(url="https://example.com/m.gguf"),
        name="x",
        namespace="ns",
        serving=ServingChoice(),
        sha256=None,
    )

    assert planned_memory_line(plan) is None


def test_url_source_must_name_a_gguf_file() -> None:
    with pytest.raises(CliUsageError, match=r"\.gguf"):
        SourceChoice(url="https://example.com/model.bin").to_source()


def test_hf_repo_needs_hf_file() -> None:
    with pytest.raises(CliUsageError, match="go together"):
        SourceChoice(hf_repo="a/b").to_source()


def test_revision_does_not_apply_to_urls() -> None:
    with pytest.raises(CliUsageError, match="--revision"):
        SourceChoice(url="https://example.com/m.gguf", revision="v1").to_source()


def test_custom_source_plan_carries_the_checksum() -> None:
    plan = plan_from_source(
        SourceChoice(url="file:///models/m.gguf"),
        name="m",
        namespace="ns",
        serving=ServingChoice(),
        sha256="0" * 64,
    )
    assert desired_model(plan)["spec"] == {
        "source": {"url": "file:///models/m.gguf"},
        "sha256": "0" * 64,
        "format": "gguf",
    }
