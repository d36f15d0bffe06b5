"""Benchmark: how long a cluster with a real node takes to start, and a pod on it to run.

Not a test. `--runs` times, one after another: starts a fresh cluster with a real node (binaries and images
already cached), loads the busybox test image, applies a pod and polls until it is Running, then stops the
cluster (restoring the host). Prints per run: the whole start (control plane, then node), the node's own part
(containerd to Ready, kube-proxy synced, CoreDNS ready), the pod's apply-to-Running time; then the medians.

    .venv/bin/python -m hack.bench.real_node [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from hack.localcluster.cluster import LocalCluster
from hack.localcluster.images import busybox_image
from hack.localcluster.nodeconfig import NODE_LABEL


def pod_running_seconds(cluster: LocalCluster, image: str) -> float:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "bench", "namespace": "default"},
        "spec": {
            "nodeSelector": dict([NODE_LABEL]),
            "terminationGracePeriodSeconds": 1,
            "containers": [
                {"name": "main", "image": image, "imagePullPolicy": "Never", "command": ["sleep", "600"]}
            ],
        },
    }
    began = time.monotonic()
    cluster.kubectl("apply", "-f", "-", input_text=json.dumps(pod))
    while cluster.kubectl("get", "pod", "bench", "-o", "jsonpath={.status.phase}").stdout != "Running":
        if time.monotonic() - began > 120:
            raise TimeoutError("the pod was not Running within 120 s")
        time.sleep(0.05)
    return time.monotonic() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="clusters to start, one after another")
    args = parser.parse_args()
    starts, nodes, pods = [], [], []
    archive = busybox_image()
    for run in range(1, args.runs + 1):
        cluster = LocalCluster.start(real_node=True)
        try:
            assert cluster.node is not None
            [image] = cluster.load_image(archive.path)
            starts.append(cluster.started_in_seconds)
            nodes.append(cluster.node.ready_in_seconds)
            pods.append(pod_running_seconds(cluster, image))
        finally:
            cluster.stop()
        print(
            f"run {run}: cluster ready {starts[-1]:.1f} s (node {nodes[-1]:.1f} s of it), "
            f"pod Running {pods[-1]:.2f} s after apply",
            flush=True,
        )
    print(
        f"medians over {len(starts)} runs: cluster with real node ready {statistics.median(starts):.1f} s, "
        f"node ready {statistics.median(nodes):.1f} s after its start, pod Running {statistics.median(pods):.2f} s"
    )


if __name__ == "__main__":
    main()
