"""pytest plugin: the `local_cluster` and `kubeconfig` session fixtures, and the `cluster` marker.

The control plane starts lazily, the first time a test asks for a fixture, so unit tests never start it or
trigger the binary build. Tests under tests/integration and e2e are marked `cluster`, so `-m "not cluster"`
selects exactly the tests that need no control plane. Set LLMKUBE_TEST_KUBECONFIG to reuse a running
cluster (see `python -m hack.localcluster up`).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from hack.localcluster.base import ClusterBase
from hack.localcluster.cluster import LocalCluster
from hack.localcluster.processes import surviving_processes
from hack.localcluster.reused import REUSE_ENV, ReusedCluster

_CLUSTER_TEST_ROOTS = (("tests", "integration"), ("e2e",))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "cluster: needs the embedded local control plane (started once per session)"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    root = Path(config.rootpath)
    for item in items:
        try:
            parts = item.path.relative_to(root).parts
        except ValueError:
            continue
        if any(parts[: len(prefix)] == prefix for prefix in _CLUSTER_TEST_ROOTS):
            item.add_marker(pytest.mark.cluster)


@pytest.fixture(scope="session")
def local_cluster() -> Iterator[ClusterBase]:
    reuse = os.environ.get(REUSE_ENV)
    if reuse:
        reused = ReusedCluster(Path(reuse))
        try:
            yield reused
        finally:
            reused.close()
        return
    cluster = LocalCluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()
        _fail_on_surviving_processes(cluster.process_group_ids)


@pytest.fixture(scope="session")
def kubeconfig(local_cluster: ClusterBase) -> Path:
    return local_cluster.kubeconfig


def _fail_on_surviving_processes(process_group_ids: list[int]) -> None:
    survivors = surviving_processes(process_group_ids)
    if survivors:
        for pid in survivors:
            os.kill(pid, signal.SIGKILL)
        pytest.fail(f"control-plane processes outlived the cluster (now killed): {survivors}")
