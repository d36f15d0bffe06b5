"""The CRDs' schemas and CEL rules, enforced by a real kube-apiserver: every sample is accepted, and invalid
specs are rejected with a message that names the offending field."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from controller.builders.fetch_rbac import desired_fetch_rbac
from controller.config import ControllerConfig
from hack.localcluster import ClusterBase
from hack.localcluster.rest import wait_until

REPO = Path(__file__).resolve().parents[2]
SAMPLES = sorted(p for p in (REPO / "config" / "samples").glob("*.yaml") if p.name != "kustomization.yaml")
API_VERSION = "inference.llmkube.dev/v1alpha1"
CONTROLLER_ACCOUNT = "system:serviceaccount:llmkube-system:llmkube-controller-manager"
GATEWAY_ACCOUNT = "system:serviceaccount:llmkube-system:llmkube-gateway"


@pytest.fixture(scope="module")
def crds(local_cluster: ClusterBase) -> ClusterBase:
    local_cluster.install_crds()
    return local_cluster


@pytest.fixture(scope="module")
def namespace(crds: ClusterBase) -> Iterator[str]:
    name = f"crd-{secrets.token_hex(4)}"
    crds.kubectl("create", "namespace", name)
    yield name
    crds.kubectl("delete", "namespace", name, "--wait=false")


def create(cluster: ClusterBase, namespace: str, manifest: dict[str, Any]) -> tuple[int, str]:
    result = cluster.kubectl(
        "create", "-n", namespace, "-f", "-", check=False, input_text=json.dumps(manifest)
    )
    return result.returncode, result.stderr


def model(name: str, **spec: Any) -> dict[str, Any]:
    source = {
        "huggingFace": {
            "repo": "bartowski/SmolLM2-135M-Instruct-GGUF",
            "filename": "SmolLM2-135M-Instruct-Q4_K_M.gguf",
        }
    }
    return {
        "apiVersion": API_VERSION,
        "kind": "Model",
        "metadata": {"name": name},
        "spec": {"source": source, **spec},
    }


def inference_service(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "InferenceService",
        "metadata": {"name": name},
        "spec": {"modelRef": {"name": "smollm2-135m"}, **spec},
    }


@pytest.mark.parametrize("sample", SAMPLES, ids=[p.stem for p in SAMPLES])
def test_sample_is_accepted(crds: ClusterBase, namespace: str, sample: Path) -> None:
    for document in yaml.safe_load_all(sample.read_text()):
        document["metadata"]["name"] = f"{sample.stem.replace('_', '-')}-{document['metadata']['name']}"[:63]
        status, stderr = create(crds, namespace, document)
        assert status == 0, stderr


def test_valid_model_is_accepted(crds: ClusterBase, namespace: str) -> None:
    # The baseline the rejections below differ from by one field; without it they could pass for any reason.
    assert create(crds, namespace, model("baseline", gpuCount=1)) == (0, "")


def test_model_with_two_sources_is_rejected(crds: ClusterBase, namespace: str) -> None:
    two_sources = model("two-sources")
    two_sources["spec"]["source"]["url"] = "https://example.com/model.gguf"

    status, stderr = create(crds, namespace, two_sources)

    assert status != 0
    assert "spec.source" in stderr
    assert "exactly one of huggingFace, url or pvc must be set" in stderr


def test_model_with_negative_gpu_count_is_rejected(crds: ClusterBase, namespace: str) -> None:
    status, stderr = create(crds, namespace, model("negative-gpus", gpuCount=-1))

    assert status != 0
    assert "spec.gpuCount" in stderr
    assert "greater than or equal to 0" in stderr


def test_service_with_negative_gpu_count_is_rejected(crds: ClusterBase, namespace: str) -> None:
    status, stderr = create(
        crds, namespace, inference_service("negative-gpus", accelerator={"type": "nvidia", "gpuCount": -1})
    )

    assert status != 0
    assert "spec.accelerator.gpuCount" in stderr
    assert "greater than or equal to 0" in stderr


def test_service_overriding_the_port_through_extra_args_is_rejected(
    crds: ClusterBase, namespace: str
) -> None:
    status, stderr = create(crds, namespace, inference_service("port-override", extraArgs=["--port", "1"]))

    assert status != 0
    assert "spec.extraArgs" in stderr
    assert "may not set --model, --host or --port" in stderr


def test_service_with_scale_to_zero_and_autoscaling_is_rejected(crds: ClusterBase, namespace: str) -> None:
    manifest = inference_service(
        "both-scalers",
        scaleToZero={"idleSeconds": 60},
        autoscaling={"maxReplicas": 3, "metric": "requestsDeferred"},
    )

    status, stderr = create(crds, namespace, manifest)

    assert status != 0
    assert "spec.scaleToZero" in stderr
    assert "scaleToZero and autoscaling exclude each other" in stderr


def test_scale_to_zero_defaults_its_idle_period(crds: ClusterBase, namespace: str) -> None:
    status, stderr = create(crds, namespace, inference_service("idles", replicas=0, scaleToZero={}))
    stored = json.loads(crds.kubectl("get", "-n", namespace, "isvc", "idles", "-o", "json").stdout)

    assert status == 0, stderr
    assert stored["spec"]["scaleToZero"] == {"idleSeconds": 300}


def test_model_url_not_ending_in_gguf_is_rejected(crds: ClusterBase, namespace: str) -> None:
    manifest = model("not-gguf")
    manifest["spec"]["source"] = {"url": "https://example.com/model.bin"}

    status, stderr = create(crds, namespace, manifest)

    assert status != 0
    assert "spec.source.url" in stderr
    assert "should match" in stderr


def test_default_kustomization_applies(local_cluster: ClusterBase) -> None:
    result = local_cluster.kubectl("apply", "-k", str(REPO / "config" / "default"), check=False)

    assert result.returncode == 0, result.stderr
    assert "deployment.apps/llmkube-controller-manager" in result.stdout


def test_controller_account_may_create_the_fetch_identity(local_cluster: ClusterBase, namespace: str) -> None:
    # RBAC lets an account create a Role or RoleBinding only if it holds every permission granted: this is the
    # apiserver's own check that the manager role is not too narrow for the download Jobs' identity. Created for
    # real (the binding's check reads the Role), in the module's namespace, which is deleted afterwards.
    local_cluster.kubectl("apply", "-k", str(REPO / "config" / "default"))
    # The authorizer reads RBAC from its own cache, which learns of a new binding a moment after it is written.
    wait_until(
        lambda: local_cluster.kubectl(
            "auth",
            "can-i",
            "create",
            "rolebindings",
            f"--as={CONTROLLER_ACCOUNT}",
            "-n",
            namespace,
            check=False,
        ).stdout.startswith("yes"),
        what="the controller's RBAC to take effect",
        timeout_seconds=30,
    )

    for manifest in desired_fetch_rbac(namespace=namespace, config=ControllerConfig()):
        result = local_cluster.kubectl(
            "create",
            f"--as={CONTROLLER_ACCOUNT}",
            "-n",
            namespace,
            "-f",
            "-",
            check=False,
            input_text=json.dumps(manifest),
        )
        assert result.returncode == 0, f"{manifest['kind']}: {result.stderr}"


@pytest.mark.parametrize(
    ("verb", "resource", "allowed"),
    [
        ("patch", "inferenceservices/scale", True),
        ("patch", "inferenceservices", True),
        ("watch", "endpointslices.discovery.k8s.io", True),
        ("update", "inferenceservices", False),
        ("delete", "inferenceservices", False),
        ("get", "secrets", True),
        ("list", "secrets", False),
        ("watch", "secrets", False),
    ],
)
def test_the_gateway_account_may_do_exactly_what_the_gateway_does(
    local_cluster: ClusterBase, namespace: str, verb: str, resource: str, allowed: bool
) -> None:
    local_cluster.kubectl("apply", "-k", str(REPO / "config" / "default"))

    def answer(verb: str, resource: str) -> str:
        result = local_cluster.kubectl(
            "auth", "can-i", verb, resource, f"--as={GATEWAY_ACCOUNT}", "-n", namespace, check=False
        )
        return result.stdout.strip()

    # The authorizer learns of a new binding a moment after it is written; a "no" means something only after.
    wait_until(
        lambda: answer("patch", "inferenceservices/scale") == "yes",
        what="the gateway's RBAC to take effect",
        timeout_seconds=30,
    )
    assert answer(verb, resource) == ("yes" if allowed else "no")
