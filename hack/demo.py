"""`make demo`: from nothing to an OpenAI-compatible answer, on the embedded local cluster.

What runs, all on this machine and all real: the local control plane (etcd, kube-apiserver, controller-manager,
scheduler, kwok fake nodes); the CRDs and RBAC from config/default; the LLMKube controller as a local process
with its own ServiceAccount's token (so its RBAC is exercised exactly as in a cluster); a stand-in kubelet that
runs the download Job's pod (`llmkube fetch`, as the `llmkube-fetch` ServiceAccount); the host agent running a
real `llama-server` with SmolLM2-135M; the gateway (`llmkube-gateway`) as a local process with its own
ServiceAccount's token; and the `llmkube` CLI deploying the model and asking it a question through the
Service's EndpointSlice, then once more through the gateway, whose URL the report prints.

The model is served to the download Job from a local HTTP server, since this machine reaches no model hub; the
Model names its sha256, so the download is verified.

`--keep` leaves everything running until Ctrl-C; `--summary FILE` writes what happened as JSON (the e2e test
reads it): the answer, the route `llmkube chat` reports on stderr (`Using URL (via EndpointSlice NAME)`) next
to the EndpointSlices of the InferenceService's Service, and both objects' status. Teardown stops every process
this program started.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import anyio
from aiohttp import web

from controller.builders.labels import resource_name
from controller.kube import KubeClient
from hack.llama import llama_server_binary, smollm2_gguf
from hack.localcluster.base import ClusterBase, kubectl_binary
from hack.localcluster.cluster import LocalCluster
from hack.localcluster.podrunner import PodRunner
from hack.localcluster.processes import interrupt_on_termination
from hack.localcluster.release import CONTROLLER_ACCOUNT, SYSTEM_NAMESPACE, install_without_controller
from hack.localcluster.reused import REUSE_ENV, ReusedCluster
from hack.localcluster.tokens import service_account_kubeconfig

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
NAMESPACE = "llmkube-demo"
NAME = "smollm2-135m"
GATEWAY_ACCOUNT = "llmkube-gateway"
FETCH_SELECTOR = "app.kubernetes.io/managed-by=llmkube,app.kubernetes.io/component=model-fetch"
#: Download pods carry this node selector, which no fake node matches, so kwok leaves them to the stand-in kubelet.
LOCAL_RUNNER_SELECTOR = "llmkube.dev/runner=local"
DEFAULT_QUESTION = "In one short sentence: what is Kubernetes?"
#: The line `llmkube chat` writes on stderr about how it reached the server.
CHAT_ROUTE = re.compile(r"^Using (?P<url>\S+) \(via (?P<via>.+)\)$", re.MULTILINE)
ANSI_STYLE = re.compile(r"\x1b\[[0-9;]*m")  # should FORCE_COLOR style the CLI's notices even in a pipe
SERVICE_NAME_LABEL = "kubernetes.io/service-name"

_started = time.monotonic()


def say(message: str) -> None:
    print(f"[{time.monotonic() - _started:6.1f}s] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Processes:
    """The long-running programs the demo starts; each in its own session, so teardown reaches its children."""

    def __init__(self, logs: Path) -> None:
        self._logs = logs
        self._running: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        self._logs.mkdir(parents=True, exist_ok=True)
        log = (self._logs / f"{name}.log").open("wb")
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self._running.append((name, process))
        return process

    def check_alive(self) -> None:
        for name, process in self._running:
            if process.poll() is not None:
                raise RuntimeError(
                    f"{name} exited with {process.returncode}; see {self._logs / (name + '.log')}"
                )

    def stop_all(self, *, grace: float = 20.0) -> None:
        for _, process in reversed(self._running):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for name, process in reversed(self._running):
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                say(f"{name} did not stop in {grace:g}s; killing it")
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # leftovers in its session (a server it started)
            process.wait()
        self._running.clear()


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


async def serve_file(path: Path, *, task_status: anyio.abc.TaskStatus[str]) -> None:
    """The model's HTTP source: one file on 127.0.0.1, with Range support (resumable downloads)."""

    async def model_file(_request: web.Request) -> web.StreamResponse:
        return web.FileResponse(path)

    app = web.Application()
    app.router.add_get(f"/{path.name}", model_file)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        task_status.started(f"http://127.0.0.1:{port}/{path.name}")
        await anyio.sleep_forever()
    finally:
        with anyio.CancelScope(shield=True):
            await runner.cleanup()


async def llmkube(*args: str, kubeconfig: Path) -> tuple[str, str]:
    """Run the CLI as a user would; (stdout, stderr). Cancelled (and killed) with the demo if anything else
    fails."""
    done = await anyio.run_process(
        [str(BIN / "llmkube"), *args, "--kubeconfig", str(kubeconfig), "--namespace", NAMESPACE], check=False
    )
    stdout, stderr = done.stdout.decode(), done.stderr.decode()
    if done.returncode != 0:
        raise RuntimeError(f"llmkube {args[0]} failed ({done.returncode}): {stderr.strip() or stdout}")
    return stdout, stderr


def chat_route(stderr: str) -> dict[str, str] | None:
    """How `llmkube chat` reached the server ({"url", "via"}), from the line it printed on stderr."""
    match = CHAT_ROUTE.search(ANSI_STYLE.sub("", stderr))
    return {"url": match["url"], "via": match["via"]} if match else None


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


def get_json(cluster: ClusterBase, kind: str) -> dict[str, Any]:
    out = cluster.kubectl("get", kind, NAME, "-n", NAMESPACE, "-o", "json").stdout
    parsed: dict[str, Any] = json.loads(out)
    return parsed


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
            first_answer_s = time.monotonic() - _started
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--question", default=DEFAULT_QUESTION, help="what to ask the model")
    parser.add_argument("--keep", action="store_true", help="keep everything running until Ctrl-C")
    parser.add_argument("--summary", type=Path, help="write what happened as JSON to this file")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for Ready")
    args = parser.parse_args(argv)
    interrupt_on_termination()  # SIGTERM (a supervisor, `timeout`, `kill`) tears down like Ctrl-C
    kubectl_binary()  # fail early, before anything starts, if the test extra is missing
    workdir = Path(tempfile.mkdtemp(prefix="llmkube-demo-"))
    say(f"working directory: {workdir}")
    try:
        with cluster_for_demo() as cluster:
            install(cluster, workdir)
            say("installed CRDs, RBAC and the llmkube-system namespace (kubectl apply --server-side)")
            summary = anyio.run(demo, cluster, workdir, args, backend="asyncio")
    except KeyboardInterrupt:
        say("interrupted; everything was stopped")
        return 130
    if args.summary:
        args.summary.write_text(json.dumps(summary, indent=2))
    say("done; every process this demo started has stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
