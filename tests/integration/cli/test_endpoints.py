"""`chat` and `benchmark` find a service by name: through the address its EndpointSlice publishes (host-agent
services), or through a port-forward to a Ready pod. Both reach a real llama-server on 127.0.0.1: the slice
names it directly, and for the fake pod kwok's PortForward routes the pod's port to it."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest

from controller.builders.security import container_security_context, pod_security_context
from hack.localcluster import ClusterBase
from hack.localcluster.portforward import port_forward_manifest
from tests.integration.cli.conftest import Cli, make_ready

pytestmark = pytest.mark.llama

NAME = "smollm2-135m"
SERVICE = "smollm2-135m"
SELECTOR = {"app.kubernetes.io/name": "llmkube", "inference.llmkube.dev/service": NAME}


def _create(cluster: ClusterBase, *objects: dict[str, Any]) -> None:
    for obj in objects:
        cluster.kubectl("create", "-f", "-", input_text=json.dumps(obj))


def _service(namespace: str, *, selector: dict[str, str] | None) -> dict[str, Any]:
    spec: dict[str, Any] = {"ports": [{"name": "http", "port": 8080, "targetPort": 8080, "protocol": "TCP"}]}
    if selector:
        spec["selector"] = selector
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": SERVICE, "namespace": namespace},
        "spec": spec,
    }


def _host_slice(namespace: str, port: int) -> dict[str, Any]:
    """What the host agent publishes for a server on loopback: an FQDN stand-in plus the exact address."""
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": f"{SERVICE}-host",
            "namespace": namespace,
            "labels": {"kubernetes.io/service-name": SERVICE},
            "annotations": {"inference.llmkube.dev/address": "127.0.0.1"},
        },
        "addressType": "FQDN",
        "endpoints": [{"addresses": ["agent.localhost"], "conditions": {"ready": True}}],
        "ports": [{"name": "http", "port": port, "protocol": "TCP"}],
    }


def _pod(namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": f"{SERVICE}-0", "namespace": namespace, "labels": SELECTOR},
        "spec": {
            "nodeName": "cpu-node-1",
            # The namespace enforces `restricted`, so the stand-in server pod is dressed as the operator's are.
            "securityContext": pod_security_context(),
            "containers": [
                {
                    "name": "server",
                    "image": "llama.cpp:server",
                    "ports": [{"containerPort": 8080}],
                    "securityContext": container_security_context(),
                }
            ],
        },
    }


def _wait_for_default_account(cluster: ClusterBase, namespace: str) -> None:
    """A pod is refused until its namespace's default ServiceAccount exists, which a busy cluster takes a moment
    to create."""
    cluster.kubectl("wait", "-n", namespace, "--for=create", "--timeout=60s", "serviceaccount/default")


def _wait_for_ready_pod(cluster: ClusterBase, namespace: str) -> None:
    cluster.kubectl("wait", "-n", namespace, "--for=condition=Ready", "--timeout=60s", f"pod/{SERVICE}-0")


def _mark_pod_ready(cluster: ClusterBase, namespace: str) -> None:
    """Ready again, as a kubelet would report it: the node lifecycle controller marks every pod NotReady
    whenever the fake nodes miss a heartbeat (which happens under load), and kwok does not undo that."""
    patch = {"status": {"conditions": [{"type": "Ready", "status": "True"}]}}
    cluster.kubectl(
        "patch", "-n", namespace, "pod", f"{SERVICE}-0", "--subresource=status", "-p", json.dumps(patch)
    )


def _with_pod_ready(
    cluster: ClusterBase, namespace: str, run: Callable[[], subprocess.CompletedProcess[str]]
) -> subprocess.CompletedProcess[str]:
    """`run()` until it succeeds (30 s at most), marking the pod Ready before each try: see `_mark_pod_ready`."""
    deadline = time.monotonic() + 30
    while True:
        _mark_pod_ready(cluster, namespace)
        result = run()
        if result.returncode == 0 or time.monotonic() > deadline:
            return result
        time.sleep(0.5)


def _benchmark(cli: Cli) -> subprocess.CompletedProcess[str]:
    return cli.subprocess(
        "benchmark", NAME, "-n", "1", "--warmup", "0", "--max-tokens", "8", "-o", "json", timeout=120
    )


def test_host_service_is_reached_at_the_address_its_endpointslice_publishes(
    cli: Cli, cluster: ClusterBase, namespace: str, llama_server: str
) -> None:
    assert cli("deploy", NAME, "--accelerator", "host", "--no-wait").exit_code == 0
    make_ready(cluster, namespace, NAME)
    port = urlsplit(llama_server).port
    assert port is not None
    _create(cluster, _service(namespace, selector=None), _host_slice(namespace, port))

    result = _benchmark(cli)
    assert result.returncode == 0, result.stderr
    assert f"Benchmarking http://127.0.0.1:{port} (via EndpointSlice {SERVICE}-host)" in result.stderr
    level = json.loads(result.stdout)["levels"][0]
    assert (level["requests"], level["errors"]) == (1, 0)

    chat = cli.subprocess("chat", NAME, "-m", "Say hello.", "--max-tokens", "8", timeout=120)
    assert chat.returncode == 0, chat.stderr
    assert chat.stderr.startswith(f"Using http://127.0.0.1:{port} (via EndpointSlice {SERVICE}-host)\n")
    assert chat.stdout.strip()


def test_chat_reaches_a_pod_through_a_port_forward(
    cli: Cli, cluster: ClusterBase, namespace: str, llama_server: str
) -> None:
    assert cli("deploy", NAME, "--no-wait").exit_code == 0
    make_ready(cluster, namespace, NAME)
    _wait_for_default_account(cluster, namespace)
    _create(cluster, _service(namespace, selector=SELECTOR), _pod(namespace))
    _wait_for_ready_pod(cluster, namespace)
    port = urlsplit(llama_server).port
    assert port is not None
    _create(
        cluster,
        port_forward_manifest(pod=f"{SERVICE}-0", namespace=namespace, target_port=port, ports=[8080]),
    )

    # kwok learns of the PortForward through its own watch; until then it refuses the stream.
    result = _with_pod_ready(
        cluster,
        namespace,
        lambda: cli.subprocess("chat", NAME, "-m", "Say hello.", "--max-tokens", "8", "--temperature", "0"),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()
    assert f"(via port-forward to pod/{SERVICE}-0:8080)" in result.stderr

    bench = _with_pod_ready(cluster, namespace, lambda: _benchmark(cli))
    assert bench.returncode == 0, bench.stderr
    assert f"(via port-forward to pod/{SERVICE}-0:8080)" in bench.stderr


def test_a_service_without_ready_pods_is_reported(cli: Cli, cluster: ClusterBase, namespace: str) -> None:
    assert cli("deploy", NAME, "--no-wait").exit_code == 0
    make_ready(cluster, namespace, NAME)
    _create(cluster, _service(namespace, selector=SELECTOR))
    result = cli.subprocess("chat", NAME, "-m", "hi")
    assert result.returncode == 1
    assert f"no Ready pod behind Service {SERVICE}" in result.stderr


def test_a_service_that_is_not_ready_is_reported_with_its_reason(cli: Cli) -> None:
    assert cli("deploy", NAME, "--no-wait").exit_code == 0
    result = cli.subprocess("chat", NAME, "-m", "hi")
    assert result.returncode == 1
    assert f"InferenceService '{NAME}' is Pending, not Ready" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unknown_service_name_suggests_the_nearest(cli: Cli) -> None:
    assert cli("deploy", NAME, "--no-wait").exit_code == 0
    result = cli.subprocess("chat", "smollm2-135", "-m", "hi")
    assert result.returncode == 1
    assert f"did you mean '{NAME}'" in result.stderr
