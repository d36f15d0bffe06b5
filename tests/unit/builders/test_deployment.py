from __future__ import annotations

from typing import Any

import pytest

from api.v1alpha1.inferenceservice import InferenceService
from api.v1alpha1.model import Model
from controller.builders.deployment import desired_deployment, startup_budget_seconds
from controller.config import ControllerConfig
from tests.unit.builders.conftest import isvc_from, model_from, ready, sample

TINY = ready(model_from({"source": {"url": "https://example.com/tiny.gguf"}}))
GPU_TOLERATION = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}


def build(
    isvc: InferenceService, model: Model = TINY, config: ControllerConfig | None = None
) -> dict[str, Any]:
    deployment = desired_deployment(isvc=isvc, model=model, config=config or ControllerConfig())
    assert deployment is not None
    return deployment


def pod(deployment: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = deployment["spec"]["template"]["spec"]
    return spec


def server(deployment: dict[str, Any]) -> dict[str, Any]:
    container: dict[str, Any] = pod(deployment)["containers"][0]
    return container


def test_13b_release_example_requests_two_nvidia_gpus_and_tolerates_the_gpu_taint() -> None:
    model = ready(sample("multi_gpu_llama_13b.yaml", "Model"))
    deployment = build(sample("multi_gpu_llama_13b.yaml", "InferenceService"), model)
    assert server(deployment)["resources"]["limits"]["nvidia.com/gpu"] == 2
    assert "1,1" in server(deployment)["args"]
    assert pod(deployment)["tolerations"] == [GPU_TOLERATION]


def test_aks_spot_example_merges_user_tolerations_with_the_gpu_toleration() -> None:
    deployment = build(sample("aks_spot_gpu.yaml", "InferenceService"))
    assert pod(deployment)["tolerations"] == [
        GPU_TOLERATION,
        {
            "key": "kubernetes.azure.com/scalesetpriority",
            "operator": "Equal",
            "value": "spot",
            "effect": "NoSchedule",
        },
    ]


def test_aks_spot_example_puts_the_node_selector_on_the_pod() -> None:
    deployment = build(sample("aks_spot_gpu.yaml", "InferenceService"))
    assert pod(deployment)["nodeSelector"] == {
        "kubernetes.azure.com/scalesetpriority": "spot",
        "agentpool": "gpupool",
    }


def test_a_user_toleration_equal_to_the_gpu_toleration_appears_once() -> None:
    isvc = isvc_from({"accelerator": {"type": "nvidia"}, "tolerations": [GPU_TOLERATION]})
    assert pod(build(isvc))["tolerations"] == [GPU_TOLERATION]


def test_amd_services_use_the_amd_resource_and_toleration() -> None:
    deployment = build(isvc_from({"accelerator": {"type": "amd", "gpuCount": 1}}))
    assert server(deployment)["resources"]["limits"] == {"amd.com/gpu": 1}
    assert pod(deployment)["tolerations"][0]["key"] == "amd.com/gpu"


def test_cpu_services_get_user_tolerations_and_node_selector_too() -> None:
    toleration = {"key": "dedicated", "operator": "Equal", "value": "llm", "effect": "NoSchedule"}
    isvc = isvc_from(
        {
            "tolerations": [toleration],
            "nodeSelector": {"pool": "cpu"},
            "priorityClassName": "high",
            "affinity": {"x": {}},
        }
    )
    spec = pod(build(isvc))
    assert spec["tolerations"] == [toleration]
    assert spec["nodeSelector"] == {"pool": "cpu"}
    assert spec["priorityClassName"] == "high"
    assert spec["affinity"] == {"x": {}}


def test_cpu_services_request_no_gpu_and_need_no_toleration() -> None:
    deployment = build(isvc_from({}))
    assert "tolerations" not in pod(deployment)
    assert "limits" not in server(deployment)["resources"]


def test_image_defaults_by_accelerator_and_spec_image_wins() -> None:
    config = ControllerConfig()
    assert (
        server(build(isvc_from({"accelerator": {"type": "nvidia"}})))["image"]
        == config.llama_server_images.nvidia
    )
    assert server(build(isvc_from({})))["image"] == config.llama_server_images.cpu
    assert (
        server(build(isvc_from({"image": "registry.local/llama:dev"})))["image"] == "registry.local/llama:dev"
    )


def test_memory_is_both_request_and_limit() -> None:
    resources = server(build(isvc_from({"resources": {"cpu": "2", "memory": "8Gi"}})))["resources"]
    assert resources == {"requests": {"cpu": "2", "memory": "8Gi"}, "limits": {"memory": "8Gi"}}


def test_dotted_service_names_give_a_dns1035_deployment_name() -> None:
    assert build(isvc_from({}, name="llama-3.2-3b"))["metadata"]["name"] == "llama-3-2-3b"


def test_deployment_is_owned_by_the_inference_service() -> None:
    owner = build(isvc_from({}))["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["uid"], owner["controller"]) == ("InferenceService", "isvc-uid", True)


def test_the_model_directory_is_mounted_read_only_at_its_cache_path() -> None:
    deployment = build(isvc_from({}))
    mount = server(deployment)["volumeMounts"][0]
    assert mount == {
        "name": "model-cache",
        "mountPath": "/models/0123456789abcdef",
        "subPath": "0123456789abcdef",
        "readOnly": True,
    }
    assert "/models/0123456789abcdef/model.gguf" in server(deployment)["args"]
    assert pod(deployment)["volumes"][0]["persistentVolumeClaim"] == {
        "claimName": "llmkube-model-cache",
        "readOnly": True,
    }


def test_the_server_answers_under_the_service_name() -> None:
    args = server(build(isvc_from({})))["args"]
    assert args[args.index("--alias") + 1] == "chat"


def test_pods_run_under_the_restricted_security_profile() -> None:
    deployment = build(isvc_from({}))
    assert pod(deployment)["securityContext"]["runAsNonRoot"] is True
    assert pod(deployment)["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    context = server(deployment)["securityContext"]
    assert context["allowPrivilegeEscalation"] is False
    assert context["readOnlyRootFilesystem"] is True
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert {"name": "tmp", "mountPath": "/tmp"} in server(deployment)["volumeMounts"]


def test_rolling_updates_never_drop_a_ready_pod() -> None:
    strategy = build(isvc_from({}))["spec"]["strategy"]
    assert strategy["rollingUpdate"] == {"maxUnavailable": 0, "maxSurge": 1}


def test_replicas_come_from_the_spec_without_autoscaling() -> None:
    assert build(isvc_from({"replicas": 0}))["spec"]["replicas"] == 0


def test_replicas_are_left_to_the_autoscaler_when_autoscaling_is_set() -> None:
    assert "replicas" not in build(isvc_from({"autoscaling": {"maxReplicas": 3}}))["spec"]


def test_selector_matches_the_pod_template_labels() -> None:
    deployment = build(isvc_from({}))
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert selector.items() <= deployment["spec"]["template"]["metadata"]["labels"].items()


def test_probes_hit_health_and_the_startup_budget_grows_with_the_model() -> None:
    small = server(build(isvc_from({}), ready(TINY, size_bytes=1 << 30)))["startupProbe"]
    large = server(build(isvc_from({}), ready(TINY, size_bytes=40 << 30)))["startupProbe"]
    assert small["httpGet"] == {"path": "/health", "port": "http"}
    assert large["failureThreshold"] * large["periodSeconds"] >= 120 + 15 * 40
    assert large["failureThreshold"] > small["failureThreshold"]


def test_startup_budget_is_capped_at_an_hour() -> None:
    assert startup_budget_seconds(1 << 50) == 3600


def test_readiness_and_liveness_probes_use_health() -> None:
    container = server(build(isvc_from({})))
    assert container["readinessProbe"]["httpGet"]["path"] == "/health"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"


@pytest.mark.parametrize("accelerator", ["metal", "host"])
def test_host_served_accelerators_get_no_deployment(accelerator: str) -> None:
    isvc = isvc_from({"accelerator": {"type": accelerator}})
    assert desired_deployment(isvc=isvc, model=TINY, config=ControllerConfig()) is None


def test_a_model_without_a_cache_key_is_refused() -> None:
    with pytest.raises(ValueError, match="cacheKey"):
        desired_deployment(
            isvc=isvc_from({}),
            model=model_from({"source": {"url": "https://e.x/a.gguf"}}),
            config=ControllerConfig(),
        )


def test_startup_is_probed_often_within_the_same_budget() -> None:
    """A small model loads in a second or two; the pod turns Ready at the first passing startup probe."""
    probes = server(build(isvc_from({}), ready(TINY, size_bytes=1 << 30)))
    startup = probes["startupProbe"]
    assert startup["periodSeconds"] <= 2
    assert startup["failureThreshold"] * startup["periodSeconds"] >= 120 + 15
    assert probes["readinessProbe"]["periodSeconds"] == 10  # after startup, the usual pace
