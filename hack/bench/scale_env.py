"""What the scale benchmarks share: a namespace ready for services, the controller as a child process, figures.

The controller runs in its own process (`python -m hack.bench.isvc_scale --controller NAMESPACE`), so its CPU
time and memory are its own and not the load generator's, and it starts exactly as the manager program does:
shared informers trimmed by the cache transforms, Events posted in the background.
"""

from __future__ import annotations

import os
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import Process
from prometheus_client import CollectorRegistry

from controller.config import ControllerConfig, ControllerOptions
from controller.kube import EventRecorder, KubeClient
from controller.kube.resources import MODELS, NAMESPACES, PERSISTENT_VOLUME_CLAIMS
from controller.reconcilers.inferenceservice import setup_inferenceservice_controller
from controller.runtime.logs import configure_logging
from controller.runtime.manager import Manager, ManagerOptions
from hack.localcluster import ReusedCluster
from hack.localcluster.inventory import FakeNode

API_VERSION = "inference.llmkube.dev/v1alpha1"
#: Fake nodes that hold any number of bench pods (kwok runs them; nothing is started).
BENCH_NODES = ("bench-wide-1", "bench-wide-2")


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def rss_bytes(pid: int, *, field: str = "VmRSS") -> int:
    """Resident memory of a live process (`VmHWM` for the peak), from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    return 0


def cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) of a live process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def prepare_namespace(kube: KubeClient, kubeconfig: Path, namespace: str) -> None:
    """The namespace, its model cache claim (and a volume), and fake nodes wide enough for every bench pod."""
    cluster = ReusedCluster(kubeconfig)
    existing = {n["metadata"]["name"] for n in cluster.api("GET", "/api/v1/nodes")["items"]}
    for name in BENCH_NODES:
        if name not in existing:
            await anyio.to_thread.run_sync(cluster.add_node, FakeNode(name=name, pods="10000"))
    await anyio.to_thread.run_sync(lambda: cluster.add_persistent_volumes(capacity="1Gi"))
    await anyio.to_thread.run_sync(cluster.install_crds)
    await kube.create(NAMESPACES, {"metadata": {"name": namespace}})
    await kube.create(
        PERSISTENT_VOLUME_CLAIMS,
        {
            "metadata": {"name": ControllerConfig().model_cache_pvc_name, "namespace": namespace},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
        },
    )


def model_manifest(name: str, namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "Model",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"source": {"url": f"https://models.example/{name}.gguf"}},
    }


READY_MODEL_STATUS = {
    "status": {
        "phase": "Ready",
        "cacheKey": "0123456789abcdef",
        "path": "/models/0123456789abcdef/model.gguf",
    }
}


async def create_ready_model(kube: KubeClient, name: str, namespace: str) -> dict[str, Any]:
    """A Model the way the Model reconciler leaves it once downloaded (its status patched directly)."""
    await kube.create(MODELS, model_manifest(name, namespace))
    return await kube.patch_status(MODELS, name, READY_MODEL_STATUS, namespace=namespace)


def service_manifest(name: str, namespace: str, *, model: str, replicas: int) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "InferenceService",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"modelRef": {"name": model}, "replicas": replicas},
    }


async def start_controller(kubeconfig: Path, namespace: str, *, workers: int | None) -> Process:
    argv = [sys.executable, "-m", "hack.bench.isvc_scale", "--controller", namespace]
    argv += ["--kubeconfig", str(kubeconfig)]
    if workers is not None:
        argv += ["--workers", str(workers)]
    return await anyio.open_process(argv, stdout=None, stderr=None)


async def run_controller(kubeconfig: Path, namespace: str, *, workers: int | None) -> None:
    """The child process: the InferenceService controller as the manager program wires it."""
    configure_logging(level="warning")
    async with KubeClient.connect(kubeconfig=kubeconfig) as client:
        manager = Manager(client, options=ManagerOptions(health_port=0), registry=CollectorRegistry())
        recorder = EventRecorder(client, component="llmkube-controller")
        manager.add(recorder, needs_leader=False)
        options = ControllerOptions(config=ControllerConfig(), namespace=namespace)
        if workers is not None:
            options = ControllerOptions(
                config=options.config, namespace=namespace, max_concurrent_reconciles=workers
            )
        setup_inferenceservice_controller(manager, options, recorder=recorder)
        await manager.run()
