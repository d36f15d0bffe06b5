"""Every pod the operator builds passes the API server's own `restricted` Pod Security check.

The pod templates of the download Job and of every serving Deployment shape are sent as Pods, server-side dry
run, to a namespace that enforces `restricted`: PodSecurity admission runs on dry-run requests too, so a pod
that would be rejected in such a namespace fails here with the API server's list of violations. A plain pod
without security settings is rejected, which shows the check is on.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from api.v1alpha1.inferenceservice import InferenceService
from api.v1alpha1.model import Model
from controller.builders.deployment import desired_deployment
from controller.builders.fetch_job import desired_fetch_job, model_cache_key
from controller.config import ControllerConfig
from controller.kube import Forbidden, KubeClient, NotFound
from controller.kube.resources import NAMESPACES, PODS, SERVICE_ACCOUNTS
from tests.integration.namespaces import restricted_namespace
from tests.unit.builders.conftest import isvc_from, model_from, ready, sample

pytestmark = pytest.mark.cluster

TINY = ready(model_from({"source": {"url": "https://example.com/tiny.gguf"}}))
HF_WITH_TOKEN = model_from(
    {
        "source": {
            "huggingFace": {
                "repo": "org/tiny-GGUF",
                "filename": "tiny.Q4_K_M.gguf",
                "tokenSecretRef": {"name": "hf", "key": "token"},
            }
        }
    }
)
PVC_SOURCE = model_from({"source": {"pvc": {"claimName": "airgap", "path": "/llms/a.gguf"}}})


def fetch_pod_spec(model: Model) -> dict[str, Any]:
    job = desired_fetch_job(model=model, cache_key=model_cache_key(model), config=ControllerConfig())
    spec: dict[str, Any] = job["spec"]["template"]["spec"]
    return spec


def serving_pod_spec(isvc: InferenceService, model: Model = TINY) -> dict[str, Any]:
    deployment = desired_deployment(isvc=isvc, model=model, config=ControllerConfig())
    assert deployment is not None
    spec: dict[str, Any] = deployment["spec"]["template"]["spec"]
    return spec


POD_SPECS = {
    "fetch-url": lambda: fetch_pod_spec(TINY),
    "fetch-huggingface-token": lambda: fetch_pod_spec(HF_WITH_TOKEN),
    "fetch-pvc-source": lambda: fetch_pod_spec(PVC_SOURCE),
    "serve-cpu": lambda: serving_pod_spec(isvc_from({})),
    "serve-cpu-api-key": lambda: serving_pod_spec(
        isvc_from({"apiKeySecretRef": {"name": "k", "key": "key"}})
    ),
    "serve-nvidia-13b": lambda: serving_pod_spec(
        sample("multi_gpu_llama_13b.yaml", "InferenceService"),
        ready(sample("multi_gpu_llama_13b.yaml", "Model")),
    ),
    "serve-amd": lambda: serving_pod_spec(isvc_from({"accelerator": {"type": "amd", "gpuCount": 1}})),
    "serve-aks-spot": lambda: serving_pod_spec(sample("aks_spot_gpu.yaml", "InferenceService")),
}


@pytest.fixture
async def kube(kubeconfig: Path) -> AsyncIterator[KubeClient]:
    async with KubeClient.connect(kubeconfig=kubeconfig) as client:
        yield client


@pytest.fixture
async def namespace(kube: KubeClient) -> AsyncIterator[str]:
    name = f"psa-{secrets.token_hex(4)}"
    await kube.create(NAMESPACES, restricted_namespace(name))
    # Admission looks up a pod's ServiceAccount; the Model controller creates the fetcher's in each namespace.
    account = ControllerConfig().fetch_service_account
    await kube.create(SERVICE_ACCOUNTS, {"metadata": {"name": account, "namespace": name}})
    # The plain pod runs as the namespace's `default` ServiceAccount, which kube-controller-manager creates a moment
    # after the namespace (seconds on a loaded machine); admission refuses pods until it exists.
    with anyio.fail_after(120):
        while True:
            try:
                await kube.get(SERVICE_ACCOUNTS, "default", namespace=name)
                break
            except NotFound:
                await anyio.sleep(0.2)
    yield name
    with contextlib.suppress(NotFound):
        await kube.delete(NAMESPACES, name)


async def dry_run_pod(kube: KubeClient, namespace: str, name: str, spec: dict[str, Any]) -> Any:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }
    return await kube.request("POST", PODS.collection_path(namespace), query=[("dryRun", "All")], body=pod)


@pytest.mark.parametrize("kind", sorted(POD_SPECS))
async def test_every_pod_the_operator_builds_is_admitted_as_restricted(
    kube: KubeClient, namespace: str, kind: str
) -> None:
    admitted = await dry_run_pod(kube, namespace, kind, POD_SPECS[kind]())
    assert admitted["metadata"]["name"] == kind


async def test_a_pod_that_is_not_restricted_is_rejected(kube: KubeClient, namespace: str) -> None:
    plain = {"containers": [{"name": "c", "image": "busybox"}]}
    with pytest.raises(Forbidden, match="violates PodSecurity"):
        await dry_run_pod(kube, namespace, "plain", plain)
