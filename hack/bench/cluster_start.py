"""Benchmark: how long the embedded local control plane takes to start once its binaries are built.

Not a test. Starts and stops a fresh cluster `--runs` times (etcd, kube-apiserver, kube-controller-manager,
kube-scheduler, kwok, fake nodes and volumes, each time in a new temporary directory) and prints every start
time and their median. The target is well under 30 s on 2 cores: the demo, and every test session that does not
reuse a running cluster, pays it once. The first start builds the binaries when the cache lacks them; the
start time never includes that build.

    .venv/bin/python -m hack.bench.cluster_start [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics

from hack.localcluster.cluster import LocalCluster


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="clusters to start, one after another")
    args = parser.parse_args()
    took = []
    for run in range(1, args.runs + 1):
        cluster = LocalCluster.start()
        try:
            took.append(cluster.started_in_seconds)
        finally:
            cluster.stop()
        print(f"run {run}: ready in {took[-1]:.1f} s", flush=True)
    print(f"median start over {len(took)} runs: {statistics.median(took):.1f} s (target: well under 30 s)")


if __name__ == "__main__":
    main()
