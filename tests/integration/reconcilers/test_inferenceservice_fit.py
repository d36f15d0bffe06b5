"""Fit before scheduling, on the embedded control plane: the GPU count chosen from a memory plan, and no Deployment
for a plan that fits nothing.

The GPUs are kwok nodes labelled as GPU feature discovery labels real ones (`nvidia.com/gpu.memory`): a pool of
24 GiB GPUs and a pool of 80 GiB GPUs, standing in for GPUs this machine does not have. The models are GGUF files
the tests write with real headers shaped like Llama 3.1 8B, 70B and a 2T model, over kilobytes of tensors; the
fetcher's own header reader turns each into `status.gguf`, which is patched onto a Model (the Model reconciler,
which would read the same header after a download, is not under test). The plan is therefore made from metadata,
exactly as for a downloaded file whose tensor table is not read.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import attrs
import gguf
import pytest

from api.v1alpha1.converter import to_wire
from controller.config import ControllerConfig
from controller.kube import KubeClient, NotFound
from controller.kube.resources import (
    DEPLOYMENTS,
    INFERENCE_SERVICES,
    MODELS,
    NAMESPACES,
    PERSISTENT_VOLUME_CLAIMS,
)
from hack.localcluster import ClusterBase
from hack.localcluster.inventory import nvidia_gpu_node
from llmkube.fetch.gguf_facts import read_gguf_facts
from tests.gguf_shapes import ModelShape, write_model_gguf
from tests.integration.reconcilers.isvc_harness import (
    condition,
    container,
    hf_model,
    inference_service,
    ready_model_status,
    running_controller,
    wait_for,
)

pytestmark = pytest.mark.cluster

CONFIG = ControllerConfig()
POOL_LABEL = "llmkube.dev/pool"
LLAMA_8B = ModelShape(
    name="llama-3.1-8b-shaped",
    block_count=32,
    embedding_length=4096,
    head_count=32,
    head_count_kv=8,
    feed_forward_length=14_336,
    vocab_size=128_256,
    context_length=131_072,
    file_type=gguf.LlamaFileType.MOSTLY_Q4_K_M,
    parameter_count=8_030_261_248,
)
LLAMA_70B = ModelShape(
    name="llama-3.1-70b-shaped",
    block_count=80,
    embedding_length=8192,
    head_count=64,
    head_count_kv=8,
    feed_forward_length=28_672,
    vocab_size=128_256,
    context_length=131_072,
    file_type=gguf.LlamaFileType.MOSTLY_Q4_K_M,
    parameter_count=70_553_706_496,
)
#: Far beyond eight 80 GiB GPUs at any quantization the file claims.
TWO_TRILLION = ModelShape(
    name="2t-shaped",
    block_count=126,
    embedding_length=16_384,
    head_count=128,
    head_count_kv=8,
    feed_forward_length=53_248,
    vocab_size=128_256,
    context_length=131_072,
    file_type=gguf.LlamaFileType.MOSTLY_Q4_K_M,
    parameter_count=2_000_000_000_000,
)


@pytest.fixture(scope="module")
def pools(local_cluster: ClusterBase) -> Iterator[dict[str, str]]:
    """Pool label value by GPU size: one 8-GPU node of 24 GiB GPUs and one of 80 GiB GPUs, for this module."""
    local_cluster.install_crds()
    suffix = secrets.token_hex(3)
    nodes = {
        "24": nvidia_gpu_node(
            f"fit24-{suffix}", gpus=8, product="NVIDIA-GeForce-RTX-4090", memory_mib=24_576
        ),
        "80": nvidia_gpu_node(f"fit80-{suffix}", gpus=8, product="NVIDIA-H100-80GB-HBM3", memory_mib=81_920),
    }
    for size, node in nodes.items():
        local_cluster.add_node(attrs.evolve(node, labels={**node.labels, POOL_LABEL: f"{size}-{suffix}"}))
    yield {size: f"{size}-{suffix}" for size in nodes}
    for node in nodes.values():
        local_cluster.kubectl("delete", "node", node.name, "--ignore-not-found")


@pytest.fixture
async def kube(kubeconfig: Path, pools: dict[str, str]) -> AsyncIterator[KubeClient]:
    async with KubeClient.connect(kubeconfig=kubeconfig) as client:
        yield client


@pytest.fixture
async def namespace(kube: KubeClient, local_cluster: ClusterBase) -> AsyncIterator[str]:
    name = f"fit-{secrets.token_hex(4)}"
    await kube.create(NAMESPACES, {"metadata": {"name": name}})
    await anyio.to_thread.run_sync(lambda: local_cluster.add_persistent_volumes(capacity="1Gi"))
    await kube.create(
        PERSISTENT_VOLUME_CLAIMS,
        {
            "metadata": {"name": CONFIG.model_cache_pvc_name, "namespace": name},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
        },
    )
    yield name
    with contextlib.suppress(NotFound):
        await kube.delete(NAMESPACES, name)


async def ready_model_from_file(
    kube: KubeClient, tmp_path: Path, shape: ModelShape, *, name: str, namespace: str
) -> None:
    """A Model whose status carries what the fetcher reads from a GGUF file of this shape over tiny tensors."""
    path = write_model_gguf(tmp_path / f"{name}.gguf", shape, tensors_of=ModelShape())
    facts = read_gguf_facts(path, source=str(path))
    await kube.create(MODELS, hf_model(name, namespace=namespace))
    status = {**ready_model_status(name), "gguf": to_wire(facts)}
    await kube.patch_status(MODELS, name, {"status": status}, namespace=namespace)


async def service_after_fit(
    kube: KubeClient, kubeconfig: Path, *, namespace: str, shape: ModelShape, tmp_path: Path, **spec: Any
) -> dict[str, Any]:
    """The service once the controller has stated its Fits condition (True or False)."""
    async with running_controller(kubeconfig, namespace=namespace):
        await ready_model_from_file(kube, tmp_path, shape, name="model", namespace=namespace)
        await kube.create(
            INFERENCE_SERVICES, inference_service("chat", namespace=namespace, model="model", **spec)
        )
        return await wait_for(
            lambda: kube.get(INFERENCE_SERVICES, "chat", namespace=namespace),
            lambda o: condition(o, "Fits").get("status") in ("True", "False"),
            what="a Fits condition",
        )


def gpu_limit(deployment: dict[str, Any]) -> int:
    return int(container(deployment)["resources"]["limits"]["nvidia.com/gpu"])


async def test_a_70b_gets_three_or_four_gpus_on_the_24_gib_pool(
    kube: KubeClient, kubeconfig: Path, namespace: str, pools: dict[str, str], tmp_path: Path
) -> None:
    service = await service_after_fit(
        kube,
        kubeconfig,
        namespace=namespace,
        shape=LLAMA_70B,
        tmp_path=tmp_path,
        accelerator={"type": "nvidia"},
        nodeSelector={POOL_LABEL: pools["24"]},
    )
    deployment = await kube.get(DEPLOYMENTS, "chat", namespace=namespace)

    assert condition(service, "Fits")["status"] == "True"
    assert service["status"]["gpuCount"] in (3, 4)
    assert gpu_limit(deployment) == service["status"]["gpuCount"]
    planned = service["status"]["memory"]["planned"]
    assert (planned["gpuCount"], planned["weightsSource"]) == (service["status"]["gpuCount"], "parameters")
    assert max(planned["perGPUBytes"]) <= 24 << 30


async def test_a_70b_gets_one_gpu_on_the_80_gib_pool(
    kube: KubeClient, kubeconfig: Path, namespace: str, pools: dict[str, str], tmp_path: Path
) -> None:
    service = await service_after_fit(
        kube,
        kubeconfig,
        namespace=namespace,
        shape=LLAMA_70B,
        tmp_path=tmp_path,
        accelerator={"type": "nvidia"},
        nodeSelector={POOL_LABEL: pools["80"]},
    )
    deployment = await kube.get(DEPLOYMENTS, "chat", namespace=namespace)

    assert (condition(service, "Fits")["status"], service["status"]["gpuCount"]) == ("True", 1)
    assert gpu_limit(deployment) == 1


async def test_an_8b_gets_one_gpu_on_the_24_gib_pool(
    kube: KubeClient, kubeconfig: Path, namespace: str, pools: dict[str, str], tmp_path: Path
) -> None:
    service = await service_after_fit(
        kube,
        kubeconfig,
        namespace=namespace,
        shape=LLAMA_8B,
        tmp_path=tmp_path,
        accelerator={"type": "nvidia"},
        nodeSelector={POOL_LABEL: pools["24"]},
    )

    assert (condition(service, "Fits")["status"], service["status"]["gpuCount"]) == ("True", 1)


async def test_a_model_too_large_for_every_node_gets_fits_false_and_no_deployment(
    kube: KubeClient, kubeconfig: Path, namespace: str, tmp_path: Path
) -> None:
    service = await service_after_fit(
        kube,
        kubeconfig,
        namespace=namespace,
        shape=TWO_TRILLION,
        tmp_path=tmp_path,
        accelerator={"type": "nvidia"},
    )

    fits = condition(service, "Fits")
    assert (fits["status"], fits["reason"]) == ("False", "DoesNotFit")
    assert "weights +" in fits["message"]
    assert "KV (ctx 16384)" in fits["message"]
    assert "the largest GPU here has" in fits["message"]
    assert service["status"]["phase"] == "Failed"
    assert condition(service, "Ready")["reason"] == "DoesNotFit"
    with pytest.raises(NotFound):
        await kube.get(DEPLOYMENTS, "chat", namespace=namespace)


async def test_a_cpu_service_asks_for_the_memory_its_plan_needs(
    kube: KubeClient, kubeconfig: Path, namespace: str, tmp_path: Path
) -> None:
    service = await service_after_fit(
        kube, kubeconfig, namespace=namespace, shape=LLAMA_8B, tmp_path=tmp_path
    )
    deployment = await kube.get(DEPLOYMENTS, "chat", namespace=namespace)

    resources = container(deployment)["resources"]
    host_bytes = service["status"]["memory"]["planned"]["hostBytes"]
    requested = int(resources["requests"]["memory"].removesuffix("Mi")) << 20
    assert resources["limits"]["memory"] == resources["requests"]["memory"]
    assert host_bytes * 1.1 <= requested < host_bytes * 1.1 + (1 << 20)
