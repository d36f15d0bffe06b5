"""Small helpers for tests that run real pods: manifests for the busybox test image, applying and waiting through
kubectl, and reading what a finished pod printed."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from hack.localcluster import LocalCluster
from hack.localcluster.nodeconfig import NODE_LABEL

WAIT_SECONDS = 120
REAL_NODE_SELECTOR = dict([NODE_LABEL])


def pod_manifest(
    name: str,
    *,
    image: str,
    command: Sequence[str],
    labels: dict[str, str] | None = None,
    restart: str = "Never",
    pull_policy: str = "Never",
    **spec: Any,
) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": "main",
        "image": image,
        "imagePullPolicy": pull_policy,
        "command": list(command),
    }
    container.update(spec.pop("container", {}))
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {
            "nodeSelector": REAL_NODE_SELECTOR,
            "restartPolicy": restart,
            "terminationGracePeriodSeconds": 1,
            "containers": [container],
            **spec,
        },
    }


def web_server(name: str, *, image: str, body: str, labels: dict[str, str]) -> dict[str, Any]:
    """busybox httpd serving `body` at / on port 8080, Ready once the port accepts connections."""
    return pod_manifest(
        name,
        image=image,
        labels=labels,
        restart="Always",
        command=[
            "sh",
            "-c",
            f"mkdir -p /www && echo '{body}' > /www/index.html && exec httpd -f -p 8080 -h /www",
        ],
        container={"readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1}},
    )


def service_manifest(name: str, *, selector: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"selector": selector, "ports": [{"port": 80, "targetPort": 8080}]},
    }


def http_get_command(host: str, port: int = 80) -> list[str]:
    """busybox's wget crashes on this kind of machine; nc speaks HTTP/1.0 well enough."""
    return ["sh", "-c", f"printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 10 {host} {port}"]


def apply(cluster: LocalCluster, namespace: str, *manifests: dict[str, Any]) -> None:
    document = {"apiVersion": "v1", "kind": "List", "items": list(manifests)}
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input_text=json.dumps(document))


def wait_for(cluster: LocalCluster, namespace: str, target: str, condition: str) -> None:
    cluster.kubectl("wait", "-n", namespace, f"--for={condition}", f"--timeout={WAIT_SECONDS}s", target)


def run_to_completion(cluster: LocalCluster, namespace: str, manifest: dict[str, Any]) -> dict[str, Any]:
    """Applies a pod and returns it once its phase says it has ended (Succeeded or Failed)."""
    apply(cluster, namespace, manifest)
    target = f"pod/{manifest['metadata']['name']}"
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        pod = get(cluster, namespace, target)
        if pod.get("status", {}).get("phase") in ("Succeeded", "Failed"):
            return pod
        assert time.monotonic() < deadline, (
            f"{target} did not finish within {WAIT_SECONDS}s: {pod.get('status')}"
        )
        time.sleep(0.5)


def get(cluster: LocalCluster, namespace: str, target: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(cluster.kubectl("get", "-n", namespace, target, "-o", "json").stdout)
    return result


def logs(cluster: LocalCluster, namespace: str, pod: str) -> str:
    return cluster.kubectl("logs", "-n", namespace, pod).stdout


@contextmanager
def scratch_namespace(cluster: LocalCluster) -> Iterator[str]:
    name = f"rn-{secrets.token_hex(4)}"
    cluster.kubectl("create", "namespace", name)
    cluster.kubectl(
        "wait", "-n", name, "--for=create", f"--timeout={WAIT_SECONDS}s", "serviceaccount/default"
    )
    try:
        yield name
    finally:
        cluster.kubectl("delete", "namespace", name, "--wait=false")
