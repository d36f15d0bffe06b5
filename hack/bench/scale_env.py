"""What the scale benchmarks share: a namespace ready for services, the controller as a child process, figures.

The controller runs in its own process (`python -m hack.bench.isvc_scale --controller NAMESPACE`), so its CPU
time and memory are its own and not the load generator's, and it starts exactly as the manager program does:
shared informers trimmed by the cache transforms, Events posted in the background.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import subprocess
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


#: What the controller child prints on stdout once its caches synced and its workers run.
READY_LINE = "controller ready"
#: How long a controller child may take to start (imports, cache sync) on a busy machine.
START_TIMEOUT = 300.0


async def start_controller(kubeconfig: Path, namespace: str, *, workers: int | None) -> Process:
    """The controller as a child process, returned once it reconciles: a burst sent before that would also
    measure the child's start-up (seconds of imports and cache sync on a busy machine), not its reconciles."""
    argv = [sys.executable, "-m", "hack.bench.isvc_scale", "--controller", namespace]
    argv += ["--kubeconfig", str(kubeconfig)]
    if workers is not None:
        argv += ["--workers", str(workers)]
    process = await anyio.open_process(argv, stdout=subprocess.PIPE, stderr=None)
    assert process.stdout is not None
    seen = b""
    with anyio.fail_after(START_TIMEOUT):
        while READY_LINE.encode() not in seen:
            try:
                seen += await process.stdout.receive()
            except anyio.EndOfStream:
                raise RuntimeError(f"the controller exited before it was ready: {seen.decode()}") from None
    return process


async def controller_output(process: Process) -> str:
    """What the child printed after it was ready (its own figures), once it has exited."""
    assert process.stdout is not None
    chunks = []
    with contextlib.suppress(anyio.EndOfStream, anyio.ClosedResourceError):
        while True:
            chunks.append(await process.stdout.receive())
    return b"".join(chunks).decode().replace(READY_LINE, "").strip()


async def run_controller(kubeconfig: Path, namespace: str, *, workers: int | None) -> None:
    """The child process: the InferenceService controller as the manager program wires it."""
    # Logs go to stderr: stdout carries only the ready line and the figures the bench reads.
    configure_logging(level="warning", stream=sys.stderr)
    registry = CollectorRegistry()
    async with KubeClient.connect(kubeconfig=kubeconfig) as client:
        manager = Manager(client, options=ManagerOptions(health_port=0), registry=registry)
        recorder = EventRecorder(client, component="llmkube-controller")
        manager.add(recorder, needs_leader=False)
        options = ControllerOptions(config=ControllerConfig(), namespace=namespace)
        if workers is not None:
            options = ControllerOptions(
                config=options.config, namespace=namespace, max_concurrent_reconciles=workers
            )
        setup_inferenceservice_controller(manager, options, recorder=recorder)
        async with anyio.create_task_group() as tg:
            await tg.start(manager.run)
            print(READY_LINE, flush=True)
    print(f"controller's own figures: {queue_figures(registry)}", flush=True)


def queue_figures(registry: CollectorRegistry) -> str:
    """What the controller's work-queue and reconciles saw (from its metrics), for the bench's report."""

    def sample(name: str, **labels: str) -> float:
        return registry.get_sample_value(name, {"name": "inferenceservice", **labels}) or 0.0

    def reconciles(result: str) -> float:
        value = registry.get_sample_value(
            "controller_runtime_reconcile_total", {"controller": "inferenceservice", "result": result}
        )
        return value or 0.0

    adds = sample("workqueue_adds_total")
    waited = sample("workqueue_queue_duration_seconds_count")
    worked = sample("workqueue_work_duration_seconds_count")
    return (
        f"adds {adds:.0f}, retries {sample('workqueue_retries_total'):.0f}, "
        f"mean wait in queue {sample('workqueue_queue_duration_seconds_sum') / max(waited, 1):.3f} s, "
        f"mean reconcile {sample('workqueue_work_duration_seconds_sum') / max(worked, 1):.3f} s, "
        f"reconciles ok {reconciles('success'):.0f} / error {reconciles('error'):.0f} / "
        f"requeue-after {reconciles('requeue_after'):.0f}"
    )
