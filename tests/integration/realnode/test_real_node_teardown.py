"""A real node leaves the machine as it found it: after a clean stop, and after a run killed outright (its
leftovers are removed when the next real node starts)."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hack.localcluster import LocalCluster
from hack.localcluster.hoststate import HostState, take_snapshot
from hack.localcluster.images import busybox_image
from hack.localcluster.machinelock import REAL_NODE_DIR
from tests.integration.realnode.workloads import (
    apply,
    scratch_namespace,
    service_manifest,
    wait_for,
    web_server,
)

REPO = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.usefixtures("real_node_free")


def _serve_something(cluster: LocalCluster, namespace: str, image: str) -> None:
    """A Ready pod behind a Service: a veth, a network namespace, mounts, cgroups and kube-proxy rules."""
    apply(
        cluster,
        namespace,
        web_server("web", image=image, body="hello", labels={"app": "web"}),
        service_manifest("web", selector={"app": "web"}),
    )
    wait_for(cluster, namespace, "pod/web", "condition=Ready")


def test_stopping_a_real_node_restores_every_change_it_made_to_the_host() -> None:
    cluster = LocalCluster.start(real_node=True)
    try:
        [image] = cluster.load_image(busybox_image().path)
        with scratch_namespace(cluster) as namespace:
            _serve_something(cluster, namespace, image)
            assert cluster.host_baseline is not None
            changed = cluster.host_baseline.differences(take_snapshot())
    finally:
        cluster.stop()

    # The snapshot sees the node's changes (so the check below can fail), and none of them survives stop().
    assert any("KUBE-" in line for line in changed), changed
    assert any("sysctl kernel.panic" in line for line in changed), changed
    assert cluster.host_differences == []


def test_the_leftovers_of_a_killed_real_node_are_removed_when_the_next_one_starts(tmp_path: Path) -> None:
    crashed = _start_up_in_a_subprocess(tmp_path)
    kubeconfig = crashed["kubeconfig"]
    try:
        image = busybox_image()
        subprocess.run(
            [sys.executable, "-c", _RUN_A_POD, str(kubeconfig), image.reference],
            check=True,
            cwd=REPO,
            timeout=300,
        )
    finally:
        os.kill(
            crashed["pid"], signal.SIGKILL
        )  # no teardown at all: only the kernel's PDEATHSIG reaches its children
        crashed["process"].wait(timeout=60)
    recorded = HostState.from_json(
        json.dumps(json.loads((REAL_NODE_DIR / "active.json").read_text())["baseline"])
    )

    cluster = LocalCluster.start(real_node=True)
    cluster.stop()

    assert cluster.host_baseline is not None
    assert recorded.differences(cluster.host_baseline) == []
    assert cluster.host_differences == []


# Runs in a child process against the crashed cluster: the kubelet must have started a container (so its shim,
# mounts and cgroups exist) before the cluster is killed.
_RUN_A_POD = """
import json, subprocess, sys
from hack.localcluster.base import kubectl_binary
kubeconfig, image = sys.argv[1:]
pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "left-behind"},
       "spec": {"nodeSelector": {"llmkube.dev/node-kind": "real"}, "containers": [
           {"name": "main", "image": image, "imagePullPolicy": "Never", "command": ["sleep", "3600"]}]}}
kubectl = [str(kubectl_binary()), f"--kubeconfig={kubeconfig}"]
subprocess.run(kubectl + ["apply", "-f", "-"], input=json.dumps(pod), text=True, check=True)
subprocess.run(kubectl + ["wait", "--for=condition=Ready", "--timeout=120s", "pod/left-behind"], check=True)
"""


def _start_up_in_a_subprocess(tmp_path: Path) -> dict[str, object]:
    """What `python -m hack.localcluster up --real-node` does, plus importing the busybox image."""
    process = subprocess.Popen(
        [sys.executable, "-c", _UP_WITH_IMAGE],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 5)
        if not ready:
            assert process.poll() is None, "the crashed-to-be cluster exited early"
            continue
        line = process.stdout.readline()
        if line.startswith("export KUBECONFIG="):
            return {"pid": process.pid, "process": process, "kubeconfig": Path(line.split("=", 1)[1].strip())}
        assert line, "the crashed-to-be cluster exited early"
    process.kill()
    raise AssertionError("the crashed-to-be cluster did not start within 600s")


_UP_WITH_IMAGE = """
import sys, threading
from hack.localcluster import LocalCluster
from hack.localcluster.images import busybox_image
cluster = LocalCluster.start(real_node=True)
cluster.load_image(busybox_image().path)
print(f"export KUBECONFIG={cluster.kubeconfig}", flush=True)
threading.Event().wait()
"""
