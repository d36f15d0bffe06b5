"""The machine-wide side of a real node: from taking the lock to a host proven unchanged.

`NodeHost.claim()` takes the machine lock, cleans up after a crashed earlier node, snapshots the host, records
that snapshot on disk (so the next claim can restore this one's changes if this process dies), and gives the
node its address: a link of its own with NODE_IP (a bridge without ports: machines like this one may lack the
dummy link type; local delivery works the same), a route sending the Service range there (so a ClusterIP without
rules fails on this machine instead of leaving through the default route), and an unreachable route for the pod
range (kwok's fake pods have addresses no real pod has). `release()` restores the host, compares it with the
snapshot and returns the differences, then lets the next node in.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from hack.localcluster import hostcleanup
from hack.localcluster.certs import SERVICE_CLUSTER_IP_RANGE
from hack.localcluster.hoststate import HostState, take_snapshot
from hack.localcluster.machinelock import REAL_NODE_DIR, MachineLock
from hack.localcluster.nodeconfig import NODE_IP, NODE_LINK

#: Every difference any real node of this process left on the host; the pytest plugin fails the session on one.
unrestored: list[str] = []


class NodeHost:
    def __init__(self, *, lock: MachineLock, baseline: HostState, bin_dir: Path, record: Path) -> None:
        self._lock: MachineLock | None = lock
        self.baseline = baseline
        self._bin_dir = bin_dir
        self._record = record

    @classmethod
    def claim(
        cls,
        *,
        bin_dir: Path,
        state_dir: Path,
        directory: Path = REAL_NODE_DIR,
        timeout_seconds: float = 1800.0,
    ) -> NodeHost:
        lock = MachineLock.acquire(directory=directory, timeout_seconds=timeout_seconds)
        try:
            record = directory / "active.json"
            recover_crashed_node(record, bin_dir=bin_dir)
            baseline = take_snapshot()
            record.write_text(
                json.dumps(
                    {
                        "pid": os.getpid(),
                        "state_dir": str(state_dir),
                        "bin_dir": str(bin_dir),
                        "baseline": json.loads(baseline.to_json()),
                    }
                )
            )
            host = cls(lock=lock, baseline=baseline, bin_dir=bin_dir, record=record)
            try:
                _add_node_address()
            except BaseException:
                host.release()
                raise
            return host
        except BaseException:
            lock.release()
            raise

    def release(self) -> list[str]:
        """Restores the host; returns what still differs from the snapshot (empty when all is as found)."""
        if self._lock is None:
            return []
        try:
            hostcleanup.restore_host(baseline=self.baseline, bin_dir=self._bin_dir)
            differences = self.baseline.differences(take_snapshot())
            if differences:
                unrestored.extend(differences)
            else:
                self._record.unlink(missing_ok=True)  # kept otherwise, so the next claim tries again
            return differences
        finally:
            self._lock.release()
            self._lock = None


def recover_crashed_node(record: Path, *, bin_dir: Path) -> None:
    """Removes what a node that never released the host left behind, using its recorded snapshot if any."""
    baseline = None
    state_dirs = []
    if record.exists():
        data = json.loads(record.read_text())
        baseline = HostState.from_json(json.dumps(data["baseline"]))
        bin_dir = Path(data.get("bin_dir", bin_dir))
        state_dirs.append(Path(data["state_dir"]))
    hostcleanup.restore_host(baseline=baseline, bin_dir=bin_dir, state_dirs=state_dirs)
    record.unlink(missing_ok=True)


def _add_node_address() -> None:
    kind, prefix = hostcleanup.POD_CIDR_ROUTE
    for command in (
        ["ip", "link", "add", NODE_LINK, "type", "bridge"],
        ["ip", "addr", "add", f"{NODE_IP}/32", "dev", NODE_LINK],
        ["ip", "link", "set", NODE_LINK, "up"],
        ["ip", "route", "add", SERVICE_CLUSTER_IP_RANGE, "dev", NODE_LINK, "src", NODE_IP],
        ["ip", "route", "add", kind, prefix],
    ):
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed: {result.stderr.strip()}")
