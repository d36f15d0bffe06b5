"""InferenceService controller at scale (not a test): 200 services created at once, until all are Ready.

    .venv/bin/python -m hack.bench.isvc_scale --kubeconfig "$LLMKUBE_TEST_KUBECONFIG" [--services 200]

The cluster must run kwok (the embedded local cluster: `python -m hack.localcluster up`). The benchmark

- installs the CRDs from config/crd/bases;
- creates a namespace with the model cache claim (and a volume for it) and two more fake CPU nodes, so 200
  pods fit beside whatever else runs;
- starts the controller in a child process (this program with `--controller`), so its CPU time and peak RSS
  are its own and not the load generator's;
- creates one Ready Model (status patched, as the Model reconciler would) and N CPU InferenceServices at once;
- watches Deployments and services with informers and prints, per service, the p50/p99 of create -> Deployment
  exists and create -> Ready, the total time, and the controller's CPU seconds and peak RSS.

Everything it created is deleted at the end (the fake nodes are left: other runs may use them).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import signal
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import anyio
from prometheus_client import CollectorRegistry

from controller.config import ControllerConfig, ControllerOptions
from controller.kube import EventRecorder, KubeClient, NotFound
from controller.kube.resources import (
    DEPLOYMENTS,
    INFERENCE_SERVICES,
    MODELS,
    NAMESPACES,
    PERSISTENT_VOLUME_CLAIMS,
)
from controller.reconcilers.inferenceservice import setup_inferenceservice_controller
from controller.runtime.informer import Informer
from controller.runtime.logs import configure_logging
from controller.runtime.manager import Manager, ManagerOptions
from controller.runtime.reflector import ReflectorMetrics
from hack.localcluster import ReusedCluster, cpu_node

CREATE_CONCURRENCY = 32
API_VERSION = "inference.llmkube.dev/v1alpha1"


class FirstSeen:
    """Event handler noting when each object first satisfied a predicate (monotonic seconds)."""

    def __init__(self, predicate: Any) -> None:
        self.times: dict[str, float] = {}
        self._predicate = predicate

    def _see(self, obj: dict[str, Any]) -> None:
        name = obj["metadata"]["name"]
        if name not in self.times and self._predicate(obj):
            self.times[name] = time.monotonic()

    def on_add(self, obj: dict[str, Any]) -> None:
        self._see(obj)

    def on_update(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        self._see(new)

    def on_delete(self, obj: dict[str, Any]) -> None:
        pass


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def controller_usage(pid: int) -> tuple[float, int]:
    """CPU seconds (user + system) and peak RSS in bytes of a live process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    peak = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            peak = int(line.split()[1]) * 1024
    return cpu, peak


async def run_controller(kubeconfig: Path, namespace: str) -> None:
    configure_logging(level="warning")
    async with KubeClient.connect(kubeconfig=kubeconfig) as client:
        manager = Manager(client, options=ManagerOptions(health_port=0), registry=CollectorRegistry())
        recorder = EventRecorder(client, component="llmkube-controller")
        manager.add(recorder, needs_leader=False)
        setup_inferenceservice_controller(
            manager, ControllerOptions(config=ControllerConfig(), namespace=namespace), recorder=recorder
        )
        await manager.run()


async def prepare(kube: KubeClient, kubeconfig: Path, namespace: str) -> None:
    cluster = ReusedCluster(kubeconfig)
    existing = {n["metadata"]["name"] for n in cluster.api("GET", "/api/v1/nodes")["items"]}
    for name in ("bench-cpu-1", "bench-cpu-2"):
        if name not in existing:
            await anyio.to_thread.run_sync(cluster.add_node, cpu_node(name))
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
    await kube.create(
        MODELS,
        {
            "apiVersion": API_VERSION,
            "kind": "Model",
            "metadata": {"name": "tiny", "namespace": namespace},
            "spec": {"source": {"url": "https://models.example/tiny.gguf"}},
        },
    )
    await kube.patch_status(
        MODELS,
        "tiny",
        {
            "status": {
                "phase": "Ready",
                "cacheKey": "0123456789abcdef",
                "path": "/models/0123456789abcdef/model.gguf",
            }
        },
        namespace=namespace,
    )


async def bench(kubeconfig: Path, count: int) -> None:
    namespace = f"bench-isvc-{secrets.token_hex(3)}"
    async with KubeClient.connect(kubeconfig=kubeconfig) as kube:
        await prepare(kube, kubeconfig, namespace)
        metrics = ReflectorMetrics(CollectorRegistry())
        deployments = Informer(kube, DEPLOYMENTS, namespace=namespace, metrics=metrics)
        services = Informer(kube, INFERENCE_SERVICES, namespace=namespace, metrics=metrics)
        deployed = FirstSeen(lambda obj: True)
        ready = FirstSeen(lambda obj: (obj.get("status") or {}).get("phase") == "Ready")
        deployments.add_event_handler(deployed)
        services.add_event_handler(ready)
        controller = await anyio.open_process(
            [
                sys.executable,
                "-m",
                "hack.bench.isvc_scale",
                "--controller",
                namespace,
                "--kubeconfig",
                str(kubeconfig),
            ],
            stdout=None,
            stderr=None,
        )
        created: dict[str, float] = {}
        try:
            async with anyio.create_task_group() as tg:
                await tg.start(deployments.run)
                await tg.start(services.run)
                await deployments.wait_synced()
                await services.wait_synced()
                await anyio.sleep(3)  # let the controller sync its caches before the burst
                limiter = anyio.CapacityLimiter(CREATE_CONCURRENCY)
                started = time.monotonic()

                async def create(name: str) -> None:
                    async with limiter:
                        created[name] = time.monotonic()
                        await kube.create(
                            INFERENCE_SERVICES,
                            {
                                "apiVersion": API_VERSION,
                                "kind": "InferenceService",
                                "metadata": {"name": name, "namespace": namespace},
                                "spec": {"modelRef": {"name": "tiny"}},
                            },
                        )

                async with anyio.create_task_group() as creators:
                    for i in range(count):
                        creators.start_soon(create, f"svc-{i:03d}")
                with anyio.fail_after(900):
                    while len(ready.times) < count:  # noqa: ASYNC110 - informer state, no event to await
                        await anyio.sleep(0.1)
                total = time.monotonic() - started
                cpu, peak = controller_usage(controller.pid)
                tg.cancel_scope.cancel()
        finally:
            controller.send_signal(signal.SIGTERM)
            with anyio.move_on_after(60, shield=True):
                await controller.wait()
            with anyio.CancelScope(shield=True), contextlib.suppress(NotFound):
                await kube.delete(NAMESPACES, namespace)
    to_deployment = [deployed.times[n] - created[n] for n in created]
    to_ready = [ready.times[n] - created[n] for n in created]
    print(f"services: {count} (namespace {namespace})")
    for label, values in (("create -> Deployment exists", to_deployment), ("create -> Ready", to_ready)):
        print(
            f"{label:30s} p50 {statistics.median(values):6.2f} s   p99 {percentile(values, 0.99):6.2f} s"
            f"   max {max(values):6.2f} s"
        )
    print(f"total (first create -> all Ready): {total:.1f} s")
    print(f"controller CPU: {cpu:.1f} s   peak RSS: {peak / 2**20:.0f} MiB")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--kubeconfig", type=Path, default=os.environ.get("LLMKUBE_TEST_KUBECONFIG"))
    parser.add_argument("--services", type=int, default=200)
    parser.add_argument("--controller", metavar="NAMESPACE", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.kubeconfig is None:
        parser.error(
            "--kubeconfig (or LLMKUBE_TEST_KUBECONFIG) is required: run `python -m hack.localcluster up`"
        )
    if arguments.controller:
        anyio.run(run_controller, arguments.kubeconfig, arguments.controller)
        return 0
    anyio.run(bench, arguments.kubeconfig, arguments.services)
    return 0


if __name__ == "__main__":
    sys.exit(main())
