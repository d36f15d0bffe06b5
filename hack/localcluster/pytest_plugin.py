"""pytest plugin: the `local_cluster`, `kubeconfig` and `real_cluster` session fixtures, `real_node_free`,
and the `cluster` and `real_node` markers.

The control plane starts lazily, the first time a test asks for a fixture, so unit tests never start it or
trigger the binary build. Tests under tests/integration and e2e are marked `cluster`, so `-m "not cluster"`
selects exactly the tests that need no control plane. Set LLMKUBE_TEST_KUBECONFIG to reuse a running
cluster (see `python -m hack.localcluster up`).

Two clusters, two jobs. `local_cluster` has kwok's fake nodes only: pods there are simulated, which is what the
integration tests want (their images exist nowhere). `real_cluster` is a second cluster, started on first use,
with a real node (no taint, label llmkube.dev/node-kind=real) and the fake GPU nodes (tainted): pods without GPU
requests really run. Tests using it are marked `real_node`.

Only one real node can exist on a machine at a time (a machine-wide lock; a second waits). A test that starts
its own real node asks for `real_node_free`: the session's real cluster is stopped before it, and such tests run
after every `real_cluster` test, so the session never waits on its own lock. With pytest-xdist all of them are
the xdist group `real-node`, so they run on one worker, and never on two at once (hack/xdist_plan.py).

Every real node's teardown is checked against a snapshot of the host taken before it started; a difference
fails the fixture's teardown and the session (see hoststate.py).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hack.localcluster import nodehost
from hack.localcluster.base import ClusterBase
from hack.localcluster.cluster import HostStateChangedError, LocalCluster
from hack.localcluster.processes import surviving_processes
from hack.localcluster.reused import REUSE_ENV, ReusedCluster

_CLUSTER_TEST_ROOTS = (("tests", "integration"), ("e2e",))
_REAL_NODE_FIXTURES = ("real_cluster", "real_node_free")
#: The xdist group of every real-node test: one worker runs them all, since the node is machine-wide.
REAL_NODE_GROUP = "real-node"
#: An xdist worker's report of what its real nodes left changed, read by the controller.
_UNRESTORED_KEY = "llmkube_unrestored_host"
_WORKERS_UNRESTORED = pytest.StashKey[list[str]]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "cluster: needs the embedded local control plane (started once per session)"
    )
    config.addinivalue_line(
        "markers", "real_node: runs real containers on the local cluster's real node (needs root and Linux)"
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
    for item in items:
        if _uses_real_node(item):
            item.add_marker(pytest.mark.real_node)
            item.add_marker(pytest.mark.xdist_group(REAL_NODE_GROUP))
    # Tests that start their own real node come last, after the session's real cluster has done its work.
    items.sort(key=lambda item: "real_node_free" in _fixtures(item))


def _fixtures(item: pytest.Item) -> tuple[str, ...]:
    return tuple(getattr(item, "fixturenames", ()))


def _uses_real_node(item: pytest.Item) -> bool:
    return any(name in _fixtures(item) for name in _REAL_NODE_FIXTURES)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fails the session if any real node of this process (or of an xdist worker) left the host changed,
    whoever stopped it."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if (
        workeroutput is not None
    ):  # an xdist worker: its exit status is not the run's, so the controller reports
        workeroutput[_UNRESTORED_KEY] = list(nodehost.unrestored)
        return
    unrestored = [*nodehost.unrestored, *session.config.stash.get(_WORKERS_UNRESTORED, [])]
    if not unrestored:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line("a real node left the host changed:", red=True)
        for line in unrestored:
            reporter.write_line(f"  {line}", red=True)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """On the xdist controller: collects what a finished worker's real nodes left changed (see above)."""
    lines = getattr(node, "workeroutput", {}).get(_UNRESTORED_KEY, [])
    node.config.stash.setdefault(_WORKERS_UNRESTORED, []).extend(lines)


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


class RealClusterHolder:
    """The session's real-node cluster: started on first use, stopped early for a test that runs its own."""

    def __init__(self) -> None:
        self._cluster: LocalCluster | None = None
        self._released = False

    def get(self) -> LocalCluster:
        if self._released:
            raise RuntimeError(
                "the session's real cluster was stopped for a test that starts its own real node; tests using "
                "real_cluster must not also use real_node_free"
            )
        if self._cluster is None:
            self._cluster = LocalCluster.start(real_node=True)
        return self._cluster

    def release(self) -> None:
        """Stops the cluster (if it ever started) and fails the calling test or teardown on any leftover."""
        self._released = True
        cluster, self._cluster = self._cluster, None
        if cluster is None:
            return
        try:
            cluster.stop()
        except HostStateChangedError as error:
            pytest.fail(str(error))
        _fail_on_surviving_processes(cluster.process_group_ids)


@pytest.fixture(scope="session")
def _real_cluster_holder() -> Iterator[RealClusterHolder]:
    holder = RealClusterHolder()
    yield holder
    holder.release()


@pytest.fixture(scope="session")
def real_cluster(_real_cluster_holder: RealClusterHolder) -> LocalCluster:
    """A cluster with a real node, for tests that need pods to really run; see the module docstring."""
    return _real_cluster_holder.get()


@pytest.fixture(scope="session")
def real_node_free(_real_cluster_holder: RealClusterHolder) -> None:
    """Stops the session's real cluster for good, so the requesting test (or module fixture) may start a real
    node of its own; such tests are ordered after every test that uses `real_cluster`."""
    _real_cluster_holder.release()


def _fail_on_surviving_processes(process_group_ids: list[int]) -> None:
    survivors = surviving_processes(process_group_ids)
    if survivors:
        for pid in survivors:
            os.kill(pid, signal.SIGKILL)
        pytest.fail(f"control-plane processes outlived the cluster (now killed): {survivors}")
