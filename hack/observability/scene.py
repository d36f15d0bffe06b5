"""An observed cluster: the real controller, real downloads, a real llama-server, DCGM series, a real Prometheus.

What runs, all on loopback and all stopped on exit:

- config/default's CRDs and RBAC on the given local cluster; the controller (`llmkube-controller`) as a local
  process with its own ServiceAccount's token, leader election on, metrics on a free port;
- in namespace `ml`: Model `smollm2-135m` (the real SmolLM2 file from a local HTTP source, verified) with an NVIDIA
  InferenceService on it (its pod runs on a kwok GPU node, so it becomes Ready); Model `llama-3-8b` from a source
  that trickles forever (Downloading, with progress) and its InferenceService (WaitingForModel); Model
  `mistral-7b` from a URL that answers 404 (Failed, Degraded: SourceNotFound); Model `phi-3-mini`, whose download
  pod no node can take (Pending: Unschedulable). Download Jobs run as local processes through hack.localcluster's stand-in kubelet,
  one per Model;
- a real llama-server (hack.llama_fixture) serving SmolLM2, scraped as if it were smollm2-135m's pod, with a
  little chat traffic so its counters move;
- the recorded DCGM exposition (hack.observability.sources) scraped through the GPU ServiceMonitors the
  controller's own builder makes for smollm2-135m and for a two-GPU `llama-3-70b` (whose pod is in the recording);
- the real gateway in front of a real llama-server the host agent runs for `smollm2-135m-host`, woken from zero,
  queueing and shedding a burst, and scaled back to zero (hack.observability.gateway);
- Prometheus scraping all of it every second, with config/prometheus/alerts.yaml loaded as its rule file.

Scrape jobs are made from the ServiceMonitors LLMKube ships (config/prometheus) or builds
(controller.builders.monitoring), so the labels are those a cluster with the Prometheus Operator would show.
The test in tests/integration/observability and `python -m hack.observability.render` both use it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import secrets
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import anyio
import attrs
import yaml
from anyio.abc import TaskStatus

from api.v1alpha1.converter import from_wire
from api.v1alpha1.inferenceservice import InferenceService
from api.v1alpha1.model import API_VERSION
from api.v1alpha1.well_known import MODEL_LABEL
from controller.builders.monitoring import desired_dcgm_monitor, desired_service_monitor
from controller.config import ControllerConfig
from controller.kube import KubeClient
from hack.demo import Processes, free_port
from hack.llama import llama_server_binary, smollm2_gguf
from hack.llama_fixture import running_llama_server
from hack.localcluster.base import LLMKUBE_CRDS, ClusterBase
from hack.localcluster.podrunner import PodRunner
from hack.localcluster.rest import wait_until
from hack.localcluster.tokens import service_account_kubeconfig
from hack.observability import sources
from hack.observability.gateway import (
    gateway_scrape_job,
    gateway_traffic,
    host_service_manifest,
    running_gateway,
    wait_for_scale_down_scrapes,
)
from hack.observability.prometheus import Prometheus, running_prometheus
from hack.observability.scrape import Target, prometheus_config, scrape_job

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
NAMESPACE = "ml"
SYSTEM_NAMESPACE = "llmkube-system"
CONTROLLER_ACCOUNT = "llmkube-controller-manager"
CONTROLLER_JOB = "llmkube-controller-manager-metrics"
FETCH_SELECTOR = "app.kubernetes.io/managed-by=llmkube,app.kubernetes.io/component=model-fetch"
#: Download pods carry this node selector, which no node matches, so they wait for the stand-in kubelet.
LOCAL_RUNNER_SELECTOR = "llmkube.dev/runner=local"
SCRAPE_INTERVAL = "1s"
ALERTS = REPO / "config" / "prometheus" / "alerts.yaml"
CONTROLLER_MONITOR = REPO / "config" / "prometheus" / "monitor.yaml"

SERVED = "smollm2-135m"
TRICKLING = "llama-3-8b"
MISSING = "mistral-7b"
#: Its download Job's pod is never run (no stand-in kubelet serves it, no node matches its selector): Pending,
#: with the scheduler's reason.
NOT_STARTED = "phi-3-mini"
#: The pod names the recorded DCGM exposition assigns GPUs to.
SERVED_POD = "smollm2-135m-5d8f7c6b9-x7k2p"
RECORDED_TWO_GPU_SERVICE = "llama-3-70b"

SETTLE_TIMEOUT_S = 240.0


@attrs.frozen(kw_only=True)
class Scene:
    prometheus: Prometheus
    llama_server: str
    namespace: str
    workdir: Path


def model_manifest(name: str, url: str, *, sha256: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"source": {"url": url}}
    if sha256:
        spec["sha256"] = sha256
    return {
        "apiVersion": API_VERSION,
        "kind": "Model",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": spec,
    }


def service_manifest(name: str, *, gpus: int) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "InferenceService",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "modelRef": {"name": name},
            "accelerator": {"type": "nvidia", "gpuCount": gpus},
            "contextSize": 2048,
            "monitoring": {"enabled": True},
        },
    }


def _as_stored(manifest: dict[str, Any]) -> InferenceService:
    """The InferenceService as the builders see it once stored (owner references need a uid)."""
    meta = {
        **manifest["metadata"],
        "uid": f"00000000-0000-4000-8000-{manifest['metadata']['name'].encode().hex()[:12]:0>12}",
    }
    return from_wire({**manifest, "metadata": meta}, InferenceService)


def scrape_jobs(*, controller: str, llama_server: str, dcgm: str, gateway: str) -> list[dict[str, Any]]:
    """Every scrape job, from the ServiceMonitors LLMKube ships or builds."""
    controller_monitor = {**yaml.safe_load(CONTROLLER_MONITOR.read_text())}
    controller_monitor["metadata"] = {
        "name": "llmkube-controller-manager-metrics",
        "namespace": SYSTEM_NAMESPACE,
    }
    jobs = [
        scrape_job(
            monitor=controller_monitor,
            target=Target(
                address=controller,
                namespace=SYSTEM_NAMESPACE,
                service=CONTROLLER_JOB,
                pod="llmkube-controller-manager-7f9c8b6d54-qz2lx",
                container="manager",
            ),
            interval=SCRAPE_INTERVAL,
        )
    ]
    served = _as_stored(service_manifest(SERVED, gpus=1))
    llama_monitor = desired_service_monitor(served)
    assert llama_monitor is not None
    jobs.append(
        scrape_job(
            monitor=llama_monitor,
            target=Target(
                address=llama_server,
                namespace=NAMESPACE,
                service=SERVED,
                pod=SERVED_POD,
                container="llama-server",
            ),
            interval=SCRAPE_INTERVAL,
        )
    )
    config = ControllerConfig()
    exporter = Target(
        address=dcgm,
        namespace=config.dcgm_namespace,
        service="nvidia-dcgm-exporter",
        pod="nvidia-dcgm-exporter-8xk2d",
        container="nvidia-dcgm-exporter",
    )
    for name, gpus in ((SERVED, 1), (RECORDED_TWO_GPU_SERVICE, 2)):
        isvc = _as_stored(service_manifest(name, gpus=gpus))
        monitor = desired_dcgm_monitor(isvc=isvc, model=None, config=config)
        assert monitor is not None
        jobs.append(scrape_job(monitor=monitor, target=exporter, interval=SCRAPE_INTERVAL))
    jobs.append(gateway_scrape_job(gateway, interval=SCRAPE_INTERVAL))
    return jobs


def install(cluster: ClusterBase, workdir: Path) -> None:
    """config/default without the controller Deployment (the controller runs here as a local process)."""
    rendered = cluster.kubectl("kustomize", str(REPO / "config" / "default")).stdout
    docs = [d for d in yaml.safe_load_all(rendered) if d and d["kind"] != "Deployment"]
    manifest = workdir / "install.yaml"
    manifest.write_text(yaml.safe_dump_all(docs))
    cluster.apply(manifest)
    cluster.wait_for_crds(LLMKUBE_CRDS)


def recreate_namespace(cluster: ClusterBase) -> None:
    """A fresh `ml` namespace; one left by an interrupted run is deleted first (and waited for)."""
    cluster.kubectl("delete", "namespace", NAMESPACE, "--ignore-not-found", "--wait=true", "--timeout=120s")
    cluster.kubectl("create", "namespace", NAMESPACE)


def _status(cluster: ClusterBase, kind: str, name: str) -> dict[str, Any]:
    out = cluster.kubectl("get", kind, name, "-n", NAMESPACE, "-o", "json", check=False).stdout
    return dict(json.loads(out).get("status") or {}) if out else {}


def _degraded_reason(status: dict[str, Any]) -> str | None:
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Degraded" and condition.get("status") == "True":
            return str(condition.get("reason"))
    return None


def wait_until_settled(cluster: ClusterBase, *, check: Callable[[], None]) -> None:
    """Until each object shows the state the scene is about (see the module docstring)."""
    wait_until(
        lambda: _status(cluster, "model", SERVED).get("phase") == "Ready",
        what=f"Model {SERVED} to be Ready",
        timeout_seconds=SETTLE_TIMEOUT_S,
        check=check,
    )
    wait_until(
        lambda: _degraded_reason(_status(cluster, "model", MISSING)) == "SourceNotFound",
        what=f"Model {MISSING} to be Degraded with SourceNotFound",
        timeout_seconds=SETTLE_TIMEOUT_S,
        check=check,
    )
    wait_until(
        lambda: (_status(cluster, "model", TRICKLING).get("progress") or {}).get("bytesDone", 0) > 0,
        what=f"Model {TRICKLING} to report download progress",
        timeout_seconds=SETTLE_TIMEOUT_S,
        check=check,
    )
    wait_until(
        lambda: _status(cluster, "model", NOT_STARTED).get("phase") == "Pending",
        what=f"Model {NOT_STARTED} to be Pending",
        timeout_seconds=SETTLE_TIMEOUT_S,
        check=check,
    )
    wait_until(
        lambda: _status(cluster, "inferenceservice", SERVED).get("phase") == "Ready",
        what=f"InferenceService {SERVED} to be Ready",
        timeout_seconds=SETTLE_TIMEOUT_S,
        check=check,
    )


async def chat_traffic(
    base_url: str, *, clients: int, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED
) -> None:
    """`clients` loops of short completions until cancelled: more clients than slots makes requests wait."""
    import aiohttp

    body = {"messages": [{"role": "user", "content": "Name three colours."}], "max_tokens": 24}

    async def client(session: aiohttp.ClientSession) -> None:
        while True:
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with session.post(f"{base_url}/v1/chat/completions", json=body) as response:
                    await response.read()
            await anyio.sleep(0.2)

    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session,
        anyio.create_task_group() as tg,
    ):
        for _ in range(clients):
            tg.start_soon(client, session)
        task_status.started()
        await anyio.sleep_forever()


@contextlib.asynccontextmanager
async def observed_scene(cluster: ClusterBase, *, workdir: Path, clients: int = 3) -> AsyncIterator[Scene]:
    """Everything the module docstring lists, settled and scraped; stopped and removed on exit."""
    gguf = smollm2_gguf()
    llama_server_binary()  # provision before anything starts, so a first build does not eat a timeout
    sha256 = hashlib.sha256(gguf.read_bytes()).hexdigest()
    await anyio.to_thread.run_sync(install, cluster, workdir)
    await anyio.to_thread.run_sync(recreate_namespace, cluster)
    procs = Processes(workdir / "logs")
    try:
        async with (
            KubeClient.connect(kubeconfig=cluster.kubeconfig) as admin,
            anyio.create_task_group() as tg,
        ):
            base = await tg.start(lambda task_status: sources.serve(model_file=gguf, task_status=task_status))

            controller_config = await anyio.to_thread.run_sync(
                lambda: service_account_kubeconfig(
                    cluster,
                    namespace=SYSTEM_NAMESPACE,
                    service_account=CONTROLLER_ACCOUNT,
                    path=workdir / "controller.kubeconfig",
                )
            )
            metrics_port = free_port()
            procs.start(
                "controller",
                [
                    str(BIN / "llmkube-controller"), "--kubeconfig", str(controller_config),
                    "--leader-elect", f"--leader-election-namespace={SYSTEM_NAMESPACE}",
                    f"--bind-address=127.0.0.1:{metrics_port}", f"--fetch-node-selector={LOCAL_RUNNER_SELECTOR}",
                    "--model-cache-size=10Gi",
                ],
            )  # fmt: skip

            def pod_credentials(pod: dict[str, Any]) -> Path:
                meta, account = pod["metadata"], pod["spec"].get("serviceAccountName", "default")
                return service_account_kubeconfig(
                    cluster, namespace=meta["namespace"], service_account=account,
                    path=workdir / "tokens" / f"{meta['namespace']}-{account}-{secrets.token_hex(3)}.kubeconfig",
                )  # fmt: skip

            # One stand-in kubelet per Model, so the download that never ends holds up no other.
            for name in (SERVED, TRICKLING, MISSING):
                runner = PodRunner(
                    admin,
                    namespace=NAMESPACE,
                    root=workdir / "node",
                    timeout=24 * 3600.0,
                    kubeconfig_for=pod_credentials,
                )
                selector = f"{FETCH_SELECTOR},{MODEL_LABEL}={name}"
                await tg.start(
                    lambda task_status, r=runner, s=selector: r.serve(
                        label_selector=s, task_status=task_status
                    )
                )

            manifests = [
                model_manifest(SERVED, f"{base}/{gguf.name}", sha256=sha256),
                model_manifest(TRICKLING, f"{base}/trickle.gguf"),
                model_manifest(MISSING, f"{base}/missing.gguf"),
                model_manifest(NOT_STARTED, f"{base}/{gguf.name}"),
                service_manifest(SERVED, gpus=1),
                service_manifest(TRICKLING, gpus=1),
                host_service_manifest(namespace=NAMESPACE, model=SERVED),
            ]
            objects = workdir / "objects.yaml"
            objects.write_text(yaml.safe_dump_all(manifests))
            await anyio.to_thread.run_sync(cluster.apply, objects)

            async with running_gateway(cluster.kubeconfig, namespace=NAMESPACE, workdir=workdir) as gateway:
                with contextlib.ExitStack() as stack:
                    llama_url = await anyio.to_thread.run_sync(stack.enter_context, running_llama_server())
                    await tg.start(
                        lambda task_status: chat_traffic(llama_url, clients=clients, task_status=task_status)
                    )
                    config = prometheus_config(
                        scrape_jobs(
                            controller=f"127.0.0.1:{metrics_port}",
                            llama_server=llama_url.removeprefix("http://"),
                            dcgm=base.removeprefix("http://"),
                            gateway=f"127.0.0.1:{gateway.health_port}",
                        ),
                        interval=SCRAPE_INTERVAL,
                    )
                    rules = {
                        "llmkube-alerts.yaml": yaml.safe_dump(yaml.safe_load(ALERTS.read_text())["spec"])
                    }
                    prometheus = await anyio.to_thread.run_sync(
                        stack.enter_context, running_prometheus(config, rule_files=rules)
                    )
                    await anyio.to_thread.run_sync(
                        lambda: wait_until_settled(cluster, check=procs.check_alive)
                    )
                    await anyio.to_thread.run_sync(lambda: prometheus.wait_for_targets(timeout_seconds=60))
                    await gateway_traffic(admin, gateway=gateway, namespace=NAMESPACE)
                    await anyio.to_thread.run_sync(lambda: wait_for_scale_down_scrapes(prometheus))
                    try:
                        yield Scene(
                            prometheus=prometheus,
                            llama_server=llama_url,
                            namespace=NAMESPACE,
                            workdir=workdir,
                        )
                    finally:
                        tg.cancel_scope.cancel()
                        # The servers stop with the stack, in a thread: their waits block.
                        with anyio.CancelScope(shield=True):
                            await anyio.to_thread.run_sync(stack.close)
    finally:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(procs.stop_all)
            await anyio.to_thread.run_sync(
                lambda: cluster.kubectl("delete", "namespace", NAMESPACE, "--wait=false", check=False)
            )
