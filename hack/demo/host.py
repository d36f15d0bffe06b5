"""`make demo ARGS=--host`: the demo of `accelerator: host`, on the embedded local cluster with fake nodes only.

What runs, all on this machine and all real: the local control plane (etcd, kube-apiserver, controller-manager,
scheduler, kwok fake nodes); the CRDs and RBAC from config/default; the LLMKube controller as a local process
with its own ServiceAccount's token (so its RBAC is exercised exactly as in a cluster); a stand-in kubelet that
runs the download Job's pod (`llmkube fetch`, as the `llmkube-fetch` ServiceAccount); the host agent running a
real `llama-server` with SmolLM2-135M; the gateway (`llmkube-gateway`) as a local process with its own
ServiceAccount's token; and the `llmkube` CLI deploying the model and asking it a question through the
Service's EndpointSlice, then once more through the gateway, whose URL the report prints.

This is how LLMKube serves a model on a machine outside the cluster's nodes (a Mac's Metal GPU, a workstation):
docs/host-agent.md. The default demo (pods.py) runs everything in pods on a real node instead.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import anyio

from controller.builders.labels import resource_name
from controller.kube import KubeClient
from hack.demo.common import (
    BIN,
    NAME,
    NAMESPACE,
    Processes,
    chat_route,
    elapsed,
    free_port,
    get_json,
    llmkube,
    say,
    serve_file,
)
from hack.llama import llama_server_binary, smollm2_gguf
from hack.localcluster.base import ClusterBase
from hack.localcluster.cluster import LocalCluster
from hack.localcluster.podrunner import PodRunner
from hack.localcluster.release import CONTROLLER_ACCOUNT, SYSTEM_NAMESPACE, install_without_controller
from hack.localcluster.reused import REUSE_ENV, ReusedCluster
from hack.localcluster.tokens import service_account_kubeconfig

GATEWAY_ACCOUNT = "llmkube-gateway"
FETCH_SELECTOR = "app.kubernetes.io/managed-by=llmkube,app.kubernetes.io/component=model-fetch"
#: Download pods carry this node selector, which no fake node matches, so kwok leaves them to the stand-in kubelet.
LOCAL_RUNNER_SELECTOR = "llmkube.dev/runner=local"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"


def install(cluster: ClusterBase, workdir: Path) -> None:
    """config/default without the controller Deployment (the controller runs here as a local process)."""
    install_without_controller(cluster, workdir)
    cluster.kubectl("create", "namespace", NAMESPACE, check=False)


@contextlib.contextmanager
def cluster_for_demo() -> Iterator[ClusterBase]:
    reuse = os.environ.get(REUSE_ENV)
    if reuse:
        say(f"using the running cluster from {REUSE_ENV}")
        yield ReusedCluster(Path(reuse))
        return
    say("starting the local control plane (etcd, kube-apiserver, controller-manager, scheduler, kwok)")
    with LocalCluster.start() as cluster:
        say(f"cluster ready in {cluster.started_in_seconds:.1f}s at {cluster.server}")
        yield cluster


def service_slices(cluster: ClusterBase, service: str) -> list[dict[str, Any]]:
    """The EndpointSlices that belong to `service`, with what a client dials: name, labels, annotations,
    endpoints and ports."""
    out = cluster.kubectl(
        "get", "endpointslices", "-n", NAMESPACE, "-l", f"{SERVICE_NAME_LABEL}={service}", "-o", "json"
    ).stdout
    return [
        {
            "name": item["metadata"]["name"],
            "labels": item["metadata"].get("labels") or {},
            "annotations": item["metadata"].get("annotations") or {},
            "addressType": item.get("addressType"),
            "endpoints": item.get("endpoints") or [],
            "ports": item.get("ports") or [],
        }
        for item in json.loads(out)["items"]
    ]


async def wait_for_health(url: str, procs: Processes, *, within: float = 60.0) -> None:
    """Until `url` answers 200 (a readiness endpoint); a process that exits meanwhile ends the wait at once."""
    deadline = time.monotonic() + within
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
        while True:
            procs.check_alive()
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with session.get(url) as response:
                    if response.status == 200:
                        return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not answer 200 within {within:g}s")
            await anyio.sleep(0.2)


async def demo(cluster: ClusterBase, workdir: Path, args: argparse.Namespace) -> dict[str, Any]:
    procs = Processes(workdir / "logs")
    gguf = smollm2_gguf(progress=say)
    server_binary = llama_server_binary(progress=say)
    sha256 = hashlib.sha256(gguf.read_bytes()).hexdigest()
    try:
        async with (
            KubeClient.connect(kubeconfig=cluster.kubeconfig) as admin,
            anyio.create_task_group() as tg,
        ):
            url = await tg.start(serve_file, gguf)
            say(f"model source: {url}")

            controller_config = service_account_kubeconfig(
                cluster, namespace=SYSTEM_NAMESPACE, service_account=CONTROLLER_ACCOUNT,
                path=workdir / "controller.kubeconfig",
            )  # fmt: skip
            metrics_port = free_port()
            procs.start(
                "controller",
                [
                    str(BIN / "llmkube-controller"), "--kubeconfig", str(controller_config),
                    "--leader-elect", f"--leader-election-namespace={SYSTEM_NAMESPACE}",
                    f"--bind-address=127.0.0.1:{metrics_port}", f"--fetch-node-selector={LOCAL_RUNNER_SELECTOR}",
                    "--log-format=console",
                ],
            )  # fmt: skip
            say(
                f"controller started as ServiceAccount {CONTROLLER_ACCOUNT} (metrics: 127.0.0.1:{metrics_port})"
            )

            def pod_credentials(pod: dict[str, Any]) -> Path:
                meta, account = pod["metadata"], pod["spec"].get("serviceAccountName", "default")
                return service_account_kubeconfig(
                    cluster, namespace=meta["namespace"], service_account=account,
                    path=workdir / "tokens" / f"{meta['namespace']}-{account}.kubeconfig",
                )  # fmt: skip

            runner = PodRunner(admin, namespace=None, root=workdir / "node", kubeconfig_for=pod_credentials)
            await tg.start(
                lambda task_status: runner.serve(label_selector=FETCH_SELECTOR, task_status=task_status)
            )
            say("stand-in kubelet ready for download pods")

            agent_port = free_port()
            procs.start(
                "agent",
                [
                    str(BIN / "llmkube"), "agent", "--kubeconfig", str(cluster.kubeconfig), "-n", NAMESPACE,
                    "--cache-dir", str(workdir / "agent-cache"), "--llama-server", str(server_binary),
                    "--health-port", str(agent_port), "--log-format", "console",
                ],
            )  # fmt: skip
            say("host agent started (serves accelerator host/metal services with a native llama-server)")

            gateway_config = service_account_kubeconfig(
                cluster, namespace=SYSTEM_NAMESPACE, service_account=GATEWAY_ACCOUNT,
                path=workdir / "gateway.kubeconfig",
            )  # fmt: skip
            gateway_port, gateway_health = free_port(), free_port()
            procs.start(
                "gateway",
                [
                    str(BIN / "llmkube-gateway"), "--kubeconfig", str(gateway_config), "--namespace", NAMESPACE,
                    f"--bind-address=127.0.0.1:{gateway_port}",
                    f"--health-bind-address=127.0.0.1:{gateway_health}", "--log-format=console",
                ],
            )  # fmt: skip
            gateway_url = f"http://127.0.0.1:{gateway_port}"
            await wait_for_health(f"http://127.0.0.1:{gateway_health}/readyz", procs)
            say(f"gateway ready as ServiceAccount {GATEWAY_ACCOUNT}: {gateway_url}/v1")

            say(f"llmkube deploy {NAME} --accelerator host --source {url}")
            deployed, _ = await llmkube(
                "deploy",
                NAME,
                "--source",
                url,
                "--sha256",
                sha256,
                "--accelerator",
                "host",
                "--context-size",
                "2048",
                "--wait",
                "--timeout",
                str(args.timeout),
                kubeconfig=cluster.kubeconfig,
            )
            print(deployed.rstrip(), flush=True)
            procs.check_alive()

            say(f"llmkube chat {NAME} -m {args.question!r}")
            answer, chat_notices = await llmkube(
                "chat", NAME, "-m", args.question, "--max-tokens", "64", kubeconfig=cluster.kubeconfig
            )
            first_answer_s = elapsed()
            say(f"llmkube chat {NAME} --gateway {gateway_url} -m {args.question!r}")
            gateway_answer, _ = await llmkube(
                "chat", NAME, "--gateway", gateway_url, "-m", args.question, "--max-tokens", "64",
                kubeconfig=cluster.kubeconfig,
            )  # fmt: skip
            model, service = get_json(cluster, "model"), get_json(cluster, "inferenceservice")
            summary = {
                "question": args.question,
                "answer": answer.strip(),
                "secondsToFirstAnswer": round(first_answer_s, 1),
                "route": chat_route(chat_notices),
                "kubernetesService": resource_name(NAME),
                "endpointSlices": service_slices(cluster, resource_name(NAME)),
                "gateway": {"url": f"{gateway_url}/v1", "answer": gateway_answer.strip()},
                "model": model.get("status", {}),
                "service": service.get("status", {}),
                "workdir": str(workdir),
                "kubeconfig": str(cluster.kubeconfig),
            }
            report(summary)
            if args.keep:
                say("everything keeps running; press Ctrl-C to tear it down")
                await anyio.sleep_forever()
            tg.cancel_scope.cancel()
    finally:
        say("stopping the gateway, the agent and the controller")
        procs.stop_all()
    return summary


def report(summary: dict[str, Any]) -> None:
    gguf = summary["model"].get("gguf", {})
    print()
    print(f"Q: {summary['question']}")
    print(f"A: {summary['answer']}")
    print()
    print(f"Model:    sha256 {summary['model'].get('sha256')} ({summary['model'].get('size')}), "
          f"{gguf.get('architecture')} {gguf.get('parameterCount')} parameters, {gguf.get('quantization')}")  # fmt: skip
    print(f"Service:  {summary['service'].get('phase')}, endpoint {summary['service'].get('endpoint')}")
    route = summary["route"]
    reached = f"{route['url']} via {route['via']}" if route else "not reported by llmkube chat"
    print(f"Answered: from {reached} (Service {summary['kubernetesService']})")
    print(f"First answer after {summary['secondsToFirstAnswer']}s.")
    print(f"Gateway:  {summary['gateway']['url']} (one OpenAI URL for every model; answered too)")
    print()
    print("Next steps (with --keep, in another shell):")
    print(f"  export KUBECONFIG={summary['kubeconfig']}")
    print(f"  llmkube status {NAME} -n {NAMESPACE}")
    print(f"  llmkube chat {NAME} -n {NAMESPACE}")
    print(f"  llmkube chat {NAME} -n {NAMESPACE} --gateway {summary['gateway']['url'].removesuffix('/v1')}")
    print(f"  llmkube benchmark {NAME} --namespace {NAMESPACE} -n 5 --concurrency 1,2")
    print(f"  kubectl get llmkube -n {NAMESPACE}")
    print(flush=True)


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """The host-agent demo in `workdir`; returns its summary."""
    with cluster_for_demo() as cluster:
        install(cluster, workdir)
        say("installed CRDs, RBAC and the llmkube-system namespace (kubectl apply --server-side)")
        summary: dict[str, Any] = anyio.run(demo, cluster, workdir, args, backend="asyncio")
    return summary
