from __future__ import annotations

import pytest

from controller.config import LlamaServerImages
from controller.options import DEFAULT_SYSTEM_NAMESPACE, parse_flags


def test_defaults_serve_probes_and_metrics_on_8080_for_all_namespaces() -> None:
    flags = parse_flags([], environ={})
    assert (flags.bind_host, flags.bind_port) == ("0.0.0.0", 8080)
    assert flags.namespace is None
    assert flags.leader_elect is False
    assert flags.leader_election_namespace == DEFAULT_SYSTEM_NAMESPACE


def test_pod_identity_and_namespace_come_from_the_downward_api() -> None:
    flags = parse_flags(["--leader-elect"], environ={"POD_NAME": "mgr-abc", "POD_NAMESPACE": "ops"})
    assert flags.identity == "mgr-abc"
    assert flags.leader_election_namespace == "ops"


def test_cache_and_dcgm_flags_reach_the_controller_config() -> None:
    flags = parse_flags(
        [
            "--model-cache-size=500Gi",
            "--model-cache-storage-class=fast",
            "--model-cache-access-mode=ReadWriteMany",
            "--dcgm-namespace=monitoring",
            "--dcgm-selector=app=dcgm,tier=gpu",
        ],
        environ={},
    )
    assert flags.config.model_cache_size == "500Gi"
    assert flags.config.model_cache_storage_class == "fast"
    assert flags.config.model_cache_access_mode == "ReadWriteMany"
    assert flags.config.dcgm_namespace == "monitoring"
    assert flags.config.dcgm_selector == {"app": "dcgm", "tier": "gpu"}


def test_fetcher_image_is_explicit_only_when_given() -> None:
    assert parse_flags([], environ={}).fetcher_image_explicit is False
    flags = parse_flags(["--fetcher-image=registry.local/llmkube:1"], environ={})
    assert flags.fetcher_image_explicit is True
    assert flags.config.fetcher_image == "registry.local/llmkube:1"


def test_llama_server_images_default_to_the_pinned_public_images() -> None:
    assert parse_flags([], environ={}).config.llama_server_images == LlamaServerImages()


def test_llama_server_image_flags_reach_the_controller_config_per_accelerator() -> None:
    flags = parse_flags(
        [
            "--llama-server-image-cpu=localhost/llmkube/llama-server-cpu:0123abcd",
            "--llama-server-image-nvidia=mirror.local/llama.cpp:server-cuda",
            "--llama-server-image-amd=mirror.local/llama.cpp:server-rocm",
        ],
        environ={},
    )
    images = flags.config.llama_server_images
    assert images.for_accelerator("cpu") == "localhost/llmkube/llama-server-cpu:0123abcd"
    assert images.for_accelerator("nvidia") == "mirror.local/llama.cpp:server-cuda"
    assert images.for_accelerator("amd") == "mirror.local/llama.cpp:server-rocm"


def test_one_llama_server_image_flag_leaves_the_other_defaults() -> None:
    flags = parse_flags(["--llama-server-image-cpu=mirror.local/llama.cpp:server"], environ={})
    assert flags.config.llama_server_images.nvidia == LlamaServerImages().nvidia
    assert flags.config.llama_server_images.amd == LlamaServerImages().amd


@pytest.mark.parametrize(
    "bad",
    [
        ["--bind-address=8080x"],
        ["--dcgm-selector=novalue"],
        ["--max-concurrent-reconciles=0"],
        ["--llama-server-image-cpu="],
        ["--llama-server-image-nvidia=two words"],
    ],
)
def test_bad_flags_exit_with_usage_error(bad: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parse_flags(bad, environ={})
    assert exited.value.code == 2


def test_fetch_node_selector_reaches_the_download_jobs() -> None:
    flags = parse_flags(["--fetch-node-selector=egress=fast"], environ={})
    assert flags.config.fetch_node_selector == {"egress": "fast"}
