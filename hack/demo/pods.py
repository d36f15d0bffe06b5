"""`make demo`: LLMKube installed and used as on a user's cluster, on the embedded cluster's real node.

Every LLMKube part runs in a container: the images are built from this checkout (hack/images, cached by
content) and loaded into the node (kept in the node's image store between runs, so a warm start loads nothing);
`kubectl apply -k` installs an overlay of config/default that names them; the controller pod comes up as its
own ServiceAccount; `llmkube deploy --accelerator cpu` makes the controller run a download Job whose pod fetches
SmolLM2-135M from an HTTP server on the node's address (sha256 verified) into the cache claim; a llama-server
pod serves it. Then `llmkube chat` asks it a question (through a port-forward, as from a laptop), and the demo
asks again through the model's Service (its ClusterIP, through kube-proxy) and through the gateway that
config/default installs, checking each answer's body. Each step's time is printed; teardown stops the cluster
and restores the host (nothing keeps running or mounted).
"""

from __future__ import annotations

import argparse
import hashlib
import json
from functools import partial
from pathlib import Path
from typing import Any

import aiohttp
import anyio

from hack.demo.common import NAME, NAMESPACE, Steps, chat_route, elapsed, get_json, llmkube, say, serve_file
from hack.images import ensure_images
from hack.images.overlay import write_overlay
from hack.llama import smollm2_gguf
from hack.localcluster.base import ClusterBase, kubectl_binary
from hack.localcluster.cluster import LocalCluster
from hack.localcluster.imagestore import IMAGE_STORE
from hack.localcluster.nodeconfig import NODE_IP, NODE_NAME

IMAGES = ("controller", "llama-server-cpu")
SYSTEM_NAMESPACE = "llmkube-system"
CONTROLLER = "llmkube-controller-manager"
GATEWAY = "llmkube-gateway"
SERVER_PORT = 8080
CRDS = ("models.inference.llmkube.dev", "inferenceservices.inference.llmkube.dev")
_QUEUED_SECONDS = 5.0


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    steps = Steps()
    gguf = smollm2_gguf(progress=say)
    sha256 = hashlib.sha256(gguf.read_bytes()).hexdigest()
    images = {name: image for name, image in ensure_images(IMAGES, progress=say).items() if name in IMAGES}
    say("images: " + ", ".join(image.reference for image in images.values()))
    say("starting the local cluster with a real node (containerd, kubelet, kube-proxy, CoreDNS)")
    asked = elapsed()
    with LocalCluster.start(real_node=True, image_store=IMAGE_STORE) as cluster:
        # Only one real node runs on a machine at a time: time spent waiting for another is not start-up time.
        waited = elapsed() - asked - cluster.started_in_seconds
        queued = (
            f"; {waited:.0f} s of it waiting for another real node to stop"
            if waited > _QUEUED_SECONDS
            else ""
        )
        steps.mark("cluster up", f"API at {cluster.server}, node {NODE_NAME} Ready{queued}")
        for image in images.values():
            cluster.load_image(image.archive)
        steps.mark("images loaded", f"into the node's containerd (store {IMAGE_STORE})")
        overlay = write_overlay(
            workdir / "overlay",
            controller=images["controller"].reference,
            llama_server_cpu=images["llama-server-cpu"].reference,
        )
        cluster.kubectl("apply", "-k", str(overlay))
        cluster.kubectl("create", "namespace", NAMESPACE)
        say(f"kubectl apply -k {overlay} (config/default with the images built here)")
        summary: dict[str, Any] = anyio.run(
            partial(_deploy_and_ask, cluster, args=args, steps=steps, url_file=(gguf, sha256)),
            backend="asyncio",
        )
        say("stopping the cluster and restoring the host")
    steps.mark("total", "everything stopped")
    summary["steps"] = steps.done
    summary["workdir"] = str(workdir)
    print("\n".join(["Step times (seconds since start):", *steps.table()]), flush=True)
    return summary


async def _deploy_and_ask(
    cluster: LocalCluster, *, args: argparse.Namespace, steps: Steps, url_file: tuple[Path, str]
) -> dict[str, Any]:
    gguf, sha256 = url_file
    fetched_by: list[str] = []
    async with anyio.create_task_group() as tg:
        url = await tg.start(partial(serve_file, gguf, address=NODE_IP, requests=fetched_by))
        say(f"model source: {url} (on the node's address, which pods reach)")
        # The Model and InferenceService can be created as soon as their CRDs are served; the controller, starting
        # meanwhile, picks them up when it is Ready, as it would after an upgrade.
        await _kubectl(cluster, "wait", "--for=condition=Established", *(f"crd/{crd}" for crd in CRDS),
                       f"--timeout={args.timeout:.0f}s")  # fmt: skip
        tg.start_soon(_mark_when_rolled_out, cluster, steps, args.timeout)
        say(f"llmkube deploy {NAME} --accelerator cpu --source {url} --sha256 {sha256[:12]}... --wait")
        tg.start_soon(_mark_when_model_ready, cluster, steps)
        deployed, _ = await llmkube(
            "deploy", NAME, "--source", url, "--sha256", sha256, "--accelerator", "cpu",
            "--context-size", "2048", "--wait", "--timeout", f"{args.timeout:.0f}", kubeconfig=cluster.kubeconfig,
        )  # fmt: skip
        for step in ("install ready", "download done"):  # their watchers may not have looked again yet
            if step not in steps.done:
                steps.mark(step)
        steps.mark("model Ready", "the llama-server pod is Ready behind its Service")
        print(deployed.rstrip(), flush=True)

        say(f"llmkube chat {NAME} -m {args.question!r}")
        answer, notices = await llmkube(
            "chat", NAME, "-m", args.question, "--max-tokens", "64", kubeconfig=cluster.kubeconfig
        )
        route = chat_route(notices)
        steps.mark("first answer", f"via {route['via']}" if route else "")
        if not answer.strip():
            raise RuntimeError(f"llmkube chat returned no answer (stderr: {notices.strip()})")

        service_ip = await _cluster_ip(cluster, NAMESPACE, NAME)
        service_url = f"http://{service_ip}:{SERVER_PORT}/v1"
        service_answer = await ask(service_url, args.question)
        say(f"the Service {NAMESPACE}/{NAME} ({service_url}) answered too")

        await _kubectl(cluster, "rollout", "status", f"deployment/{GATEWAY}", "-n", SYSTEM_NAMESPACE,
                       f"--timeout={args.timeout:.0f}s")  # fmt: skip
        gateway_url = f"http://{await _cluster_ip(cluster, SYSTEM_NAMESPACE, GATEWAY)}/v1"
        gateway_answer = await ask(gateway_url, args.question)
        say(f"the gateway ({SYSTEM_NAMESPACE}/{GATEWAY}, {gateway_url}) answered too")
        summary = {
            "question": args.question,
            "answer": answer.strip(),
            "route": route,
            "serviceAnswer": {"url": service_url, "answer": service_answer},
            "gateway": {"url": gateway_url, "answer": gateway_answer},
            "fetchedBy": fetched_by,
            "controllerPods": _pods(cluster, SYSTEM_NAMESPACE, "app.kubernetes.io/component=controller"),
            "servingPods": _pods(
                cluster, NAMESPACE, get_json(cluster, "inferenceservice")["status"]["selector"]
            ),
            "model": get_json(cluster, "model").get("status", {}),
            "service": get_json(cluster, "inferenceservice").get("status", {}),
            "kubeconfig": str(cluster.kubeconfig),
        }
        report(summary)
        if args.keep:
            say("everything keeps running; press Ctrl-C to tear it down")
            await anyio.sleep_forever()
        tg.cancel_scope.cancel()
    return summary


async def ask(base_url: str, question: str) -> str:
    """One chat completion from an OpenAI-style base URL; the answer's text, which must not be empty (an address
    nothing routes may still get an empty 200 from some gateway, so the body is what counts)."""
    body = {"model": NAME, "messages": [{"role": "user", "content": question}], "max_tokens": 64}
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session,
        session.post(f"{base_url}/chat/completions", json=body) as response,
    ):
        text = await response.text()
    try:
        content = str(json.loads(text)["choices"][0]["message"]["content"])
    except (ValueError, KeyError, IndexError, TypeError) as error:
        raise RuntimeError(
            f"{base_url} answered {response.status} without a completion: {text[:500]!r}"
        ) from error
    if response.status != 200 or not content.strip():
        raise RuntimeError(f"{base_url} answered {response.status} with no text: {text[:500]!r}")
    return content.strip()


async def _mark_when_rolled_out(cluster: ClusterBase, steps: Steps, wait_seconds: float) -> None:
    await _kubectl(cluster, "rollout", "status", f"deployment/{CONTROLLER}", "-n", SYSTEM_NAMESPACE,
                   f"--timeout={wait_seconds:.0f}s")  # fmt: skip
    if "install ready" not in steps.done:
        steps.mark("install ready", f"the controller pod is Ready ({SYSTEM_NAMESPACE}/{CONTROLLER})")


async def _mark_when_model_ready(cluster: ClusterBase, steps: Steps) -> None:
    """Marks "download done" when the Model turns Ready: the Job's pod has written and verified the file."""
    while "download done" not in steps.done:
        done = await _kubectl(cluster, "get", "model", NAME, "-n", NAMESPACE, "-o", "jsonpath={.status.phase}",
                              check=False)  # fmt: skip
        if done.strip() == "Ready":
            steps.mark("download done", "the download Job's pod wrote and verified the model file")
            return
        await anyio.sleep(0.3)


async def _cluster_ip(cluster: ClusterBase, namespace: str, service: str) -> str:
    return await _kubectl(
        cluster, "get", "service", service, "-n", namespace, "-o", "jsonpath={.spec.clusterIP}"
    )


async def _kubectl(cluster: ClusterBase, *args: str, check: bool = True) -> str:
    """kubectl without blocking the demo's event loop (the file server must keep serving meanwhile)."""
    done = await anyio.run_process(
        [str(kubectl_binary()), f"--kubeconfig={cluster.kubeconfig}", *args], check=False
    )
    if check and done.returncode != 0:
        raise RuntimeError(f"kubectl {' '.join(args)} failed: {done.stderr.decode().strip()}")
    return done.stdout.decode()


def _pods(cluster: ClusterBase, namespace: str, selector: str) -> list[dict[str, Any]]:
    listed = cluster.kubectl("get", "pods", "-n", namespace, "-l", selector, "-o", "json").stdout
    return [
        {
            "name": pod["metadata"]["name"],
            "node": pod["spec"].get("nodeName"),
            "serviceAccount": pod["spec"].get("serviceAccountName"),
            "image": pod["spec"]["containers"][0]["image"],
            "podIP": pod.get("status", {}).get("podIP"),
            "securityContext": pod["spec"].get("securityContext") or {},
        }
        for pod in json.loads(listed)["items"]
    ]


def report(summary: dict[str, Any]) -> None:
    gguf = summary["model"].get("gguf", {})
    route = summary["route"]
    controller = summary["controllerPods"][0] if summary["controllerPods"] else {}
    print()
    print(f"Q: {summary['question']}")
    print(f"A: {summary['answer']}")
    print()
    print(f"Model:      sha256 {summary['model'].get('sha256')} ({summary['model'].get('size')}), "
          f"{gguf.get('architecture')} {gguf.get('parameterCount')} parameters, {gguf.get('quantization')}; "
          f"downloaded by a Job pod at {', '.join(sorted(set(summary['fetchedBy']))) or '?'}")  # fmt: skip
    print(f"Controller: pod {controller.get('name')} on {controller.get('node')} "
          f"as ServiceAccount {controller.get('serviceAccount')}")  # fmt: skip
    for pod in summary["servingPods"]:
        print(f"Serving:    pod {pod['name']} ({pod['image']}) at {pod['podIP']} on {pod['node']}")
    print(f"Service:    {summary['service'].get('phase')}, endpoint {summary['service'].get('endpoint')}")
    print(f"Answered:   by llmkube chat via {route['via'] if route else '?'}; the Service "
          f"{summary['serviceAnswer']['url']} and the gateway {summary['gateway']['url']} answered too")  # fmt: skip
    print()
    print("Next steps (with --keep, in another shell):")
    print(f"  export KUBECONFIG={summary['kubeconfig']}")
    print("  kubectl get pods -A -o wide")
    print(f"  llmkube status {NAME} -n {NAMESPACE}")
    print(f"  llmkube chat {NAME} -n {NAMESPACE}")
    print(f"  curl {summary['gateway']['url']}/models")
    print(f"  llmkube benchmark {NAME} --namespace {NAMESPACE} -n 5 --concurrency 1,2")
    print(flush=True)
