"""`llmkube deploy` against a real apiserver: what it writes, how it updates, how it fails."""

from __future__ import annotations

import re
from pathlib import Path

from hack.localcluster import ClusterBase
from tests.integration.cli.conftest import Cli, condition, get, make_ready, patch_status

MODELS = "models.inference.llmkube.dev"
SERVICES = "inferenceservices.inference.llmkube.dev"
SHA = "ab" * 32


def test_catalog_deploy_creates_the_model_and_service_the_catalog_describes(
    cli: Cli, cluster: ClusterBase, namespace: str
) -> None:
    result = cli("deploy", "smollm2-135m", "--no-wait")
    assert result.exit_code == 0, result.output
    model = get(cluster, namespace, MODELS, "smollm2-135m")
    assert model["spec"]["source"] == {
        "huggingFace": {
            "repo": "mradermacher/SmolLM2-135M-Instruct-GGUF",
            "filename": "SmolLM2-135M-Instruct.Q4_K_M.gguf",
            "revision": "main",
        }
    }
    assert model["spec"]["quantization"] == "Q4_K_M"
    isvc = get(cluster, namespace, SERVICES, "smollm2-135m")
    assert isvc["spec"]["modelRef"] == {"name": "smollm2-135m"}
    assert isvc["spec"]["accelerator"] == {"type": "cpu"}
    assert isvc["spec"]["contextSize"] == 2048
    # Memory is left to the controller, which sizes the pod from the plan deploy printed.
    assert isvc["spec"]["resources"] == {"cpu": "1"}
    assert "Planned memory: " in result.output
    assert isvc["spec"]["endpoint"] == {"port": 8080, "type": "ClusterIP"}  # the CRD's defaults, not ours


def test_gpu_flags_choose_accelerator_and_count(cli: Cli, cluster: ClusterBase, namespace: str) -> None:
    result = cli(
        "deploy", "llama-3.1-8b", "--gpu-count", "2", "--replicas", "3", "--context-size", "16384",
        "--image", "ghcr.io/ggml-org/llama.cpp:server-cuda", "--no-wait",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    spec = get(cluster, namespace, SERVICES, "llama-3.1-8b")["spec"]
    assert spec["accelerator"] == {"type": "nvidia", "gpuCount": 2}
    assert spec["replicas"] == 3
    assert spec["contextSize"] == 16384
    assert spec["image"] == "ghcr.io/ggml-org/llama.cpp:server-cuda"


def test_host_accelerator_is_written_without_a_gpu_count(
    cli: Cli, cluster: ClusterBase, namespace: str
) -> None:
    assert cli("deploy", "smollm2-135m", "--accelerator", "host", "--no-wait").exit_code == 0
    assert get(cluster, namespace, SERVICES, "smollm2-135m")["spec"]["accelerator"] == {"type": "host"}


def test_custom_url_source_with_checksum(cli: Cli, cluster: ClusterBase, namespace: str) -> None:
    url = "https://example.com/models/tiny.Q4_K_M.gguf?download=1"
    result = cli("deploy", "tiny", "--source", url, "--sha256", SHA.upper(), "--no-wait")
    assert result.exit_code == 0, result.output
    spec = get(cluster, namespace, MODELS, "tiny")["spec"]
    assert spec["source"] == {"url": url}
    assert spec["sha256"] == SHA
    assert get(cluster, namespace, SERVICES, "tiny")["spec"]["modelRef"] == {"name": "tiny"}


def test_custom_huggingface_source_with_revision(cli: Cli, cluster: ClusterBase, namespace: str) -> None:
    result = cli(
        "deploy", "qwen-tiny", "--hf-repo", "Qwen/Qwen2.5-0.5B-Instruct-GGUF",
        "--hf-file", "qwen2.5-0.5b-instruct-q4_k_m.gguf", "--revision", "v1.0", "--no-wait",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert get(cluster, namespace, MODELS, "qwen-tiny")["spec"]["source"] == {
        "huggingFace": {
            "repo": "Qwen/Qwen2.5-0.5B-Instruct-GGUF",
            "filename": "qwen2.5-0.5b-instruct-q4_k_m.gguf",
            "revision": "v1.0",
        }
    }


def test_deploying_again_updates_in_place_and_drops_flags_no_longer_given(
    cli: Cli, cluster: ClusterBase, namespace: str
) -> None:
    assert (
        cli("deploy", "smollm2-135m", "--replicas", "2", "--image", "example/llama:1", "--no-wait").exit_code
        == 0
    )
    assert cli("deploy", "smollm2-135m", "--replicas", "4", "--no-wait").exit_code == 0
    spec = get(cluster, namespace, SERVICES, "smollm2-135m")["spec"]
    assert spec["replicas"] == 4
    assert "image" not in spec


def test_deploy_keeps_fields_other_managers_own(cli: Cli, cluster: ClusterBase, namespace: str) -> None:
    assert cli("deploy", "smollm2-135m", "--no-wait").exit_code == 0
    cluster.kubectl(
        "patch",
        "-n",
        namespace,
        SERVICES,
        "smollm2-135m",
        "--type=merge",
        "-p",
        '{"spec":{"parallelSlots":8}}',
    )
    assert cli("deploy", "smollm2-135m", "--context-size", "4096", "--no-wait").exit_code == 0
    spec = get(cluster, namespace, SERVICES, "smollm2-135m")["spec"]
    assert (spec["parallelSlots"], spec["contextSize"]) == (8, 4096)


def test_wait_ends_with_the_endpoint_and_a_curl_command_once_ready(
    cli: Cli, cluster: ClusterBase, namespace: str
) -> None:
    assert cli("deploy", "smollm2-135m", "--no-wait").exit_code == 0
    make_ready(cluster, namespace, "smollm2-135m")
    result = cli("deploy", "smollm2-135m", "--wait", "--timeout", "30")
    assert result.exit_code == 0, result.output
    assert f"http://smollm2-135m.{namespace}.svc.cluster.local:8080/v1" in result.stdout
    assert f"kubectl port-forward -n {namespace} svc/smollm2-135m 8080:8080" in result.stdout
    assert "curl http://127.0.0.1:8080/v1/chat/completions" in result.stdout


def test_wait_fails_with_the_models_reason(cli: Cli, cluster: ClusterBase, namespace: str) -> None:
    assert cli("deploy", "smollm2-135m", "--no-wait").exit_code == 0
    patch_status(
        cluster,
        namespace,
        MODELS,
        "smollm2-135m",
        {
            "phase": "Failed",
            "conditions": [condition("Degraded", "True", "SourceNotFound", "404 from huggingface.co")],
        },
    )
    result = cli("deploy", "smollm2-135m", "--wait", "--timeout", "30")
    assert result.exit_code == 1
    assert "SourceNotFound: 404 from huggingface.co" in result.stderr


def test_wait_times_out_with_exit_status_1(cli: Cli) -> None:
    result = cli("deploy", "smollm2-135m", "--wait", "--timeout", "5")
    assert result.exit_code == 1
    assert "not Ready after 5s" in result.stderr
    assert "Model Pending" in result.stderr  # the plain progress lines of a non-terminal


def test_unknown_catalog_name_suggests_the_nearest(cli: Cli) -> None:
    result = cli("deploy", "llama-3.2-3bb", "--no-wait")
    assert result.exit_code == 2
    assert "did you mean 'llama-3.2-3b'" in result.stderr


def test_conflicting_sources_are_a_usage_error(cli: Cli) -> None:
    result = cli("deploy", "x", "--source", "https://h/x.gguf", "--hf-repo", "a/b", "--hf-file", "x.gguf")
    assert result.exit_code == 2
    assert "not both" in result.stderr


def test_invalid_checksum_is_a_usage_error(cli: Cli) -> None:
    result = cli("deploy", "smollm2-135m", "--sha256", "abc", "--no-wait")
    assert result.exit_code == 2
    assert "64 hexadecimal" in result.stderr


def test_an_invalid_name_reports_the_apiservers_reason_without_a_traceback(cli: Cli) -> None:
    result = cli.subprocess("deploy", "Bad_Name", "--source", "https://h/x.gguf", "--no-wait")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "Bad_Name" in result.stderr


def test_unreachable_cluster_is_reported_in_one_line(cli: Cli, tmp_path: Path) -> None:
    dead = tmp_path / "dead.kubeconfig"
    text = cli.kubeconfig.read_text()
    dead.write_text(re.sub(r"server: https://127\.0\.0\.1:\d+", "server: https://127.0.0.1:1", text))
    dead_cli = Cli(kubeconfig=dead, namespace=cli.namespace)
    result = dead_cli.subprocess("list")
    assert result.returncode == 1
    assert result.stderr.startswith("error: cannot reach the Kubernetes API")
    assert "Traceback" not in result.stderr


def test_roadmap_example_deploys_the_model_an_alias_names(
    cli: Cli, cluster: ClusterBase, namespace: str
) -> None:
    result = cli("deploy", "llama-3-8b", "--gpu", "--no-wait")
    assert result.exit_code == 0, result.output
    isvc = get(cluster, namespace, SERVICES, "llama-3.1-8b")
    assert isvc["spec"]["accelerator"] == {"type": "nvidia", "gpuCount": 1}
    assert isvc["metadata"]["labels"]["inference.llmkube.dev/catalog-id"] == "llama-3.1-8b"
