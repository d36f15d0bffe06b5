"""`python -m hack.localcluster up [--real-node]`: a local cluster for a developer's shell, until Ctrl-C.
`python -m hack.localcluster nodes --kubeconfig PATH`: the standard fake nodes, default StorageClass and volume
pool in another cluster that runs kwok (kind, through hack/kind-up.sh).

Point tests at it with the printed `export LLMKUBE_TEST_KUBECONFIG=...` and each pytest run skips start-up.
"""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path

from hack.localcluster.cluster import LocalCluster
from hack.localcluster.processes import interrupt_on_termination
from hack.localcluster.reused import REUSE_ENV, ReusedCluster


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hack.localcluster")
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="start a local cluster and keep it running until Ctrl-C")
    up.add_argument(
        "--keep-state", action="store_true", help="keep the state directory (logs, etcd) after exit"
    )
    up.add_argument(
        "--real-node",
        action="store_true",
        help="add a real node (containerd, kubelet, kube-proxy, CoreDNS) that runs pods; leaves out the fake "
        "CPU nodes",
    )
    nodes = commands.add_parser(
        "nodes",
        help="create the standard fake nodes, default StorageClass and volume pool in a running cluster that "
        "runs kwok",
    )
    nodes.add_argument("--kubeconfig", type=Path, required=True)
    arguments = parser.parse_args(argv)
    if arguments.command == "nodes":
        reused = ReusedCluster(arguments.kubeconfig)
        try:
            reused.install_inventory()
        finally:
            reused.close()
        return 0

    interrupt_on_termination()  # SIGTERM from a supervisor or `kill` must stop the components too
    with LocalCluster.start(keep_state=arguments.keep_state, real_node=arguments.real_node) as cluster:
        print(f"cluster ready in {cluster.started_in_seconds:.1f}s at {cluster.server}")
        if cluster.node is not None:
            print(f"real node {cluster.node.name} Ready {cluster.node.ready_in_seconds:.1f}s after its start")
        print(f"logs: {cluster.state_dir / 'logs'}")
        print(f"export KUBECONFIG={cluster.kubeconfig}")
        print(f"export {REUSE_ENV}={cluster.kubeconfig}")
        sys.stdout.flush()
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            print("stopping")
    return 0


if __name__ == "__main__":
    sys.exit(main())
