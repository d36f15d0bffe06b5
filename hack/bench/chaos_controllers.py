"""The controller replicas of the chaos benchmark: two `llmkube-controller` processes electing a leader.

Each runs the real manager program (`llmkube-controller --leader-elect`), as its pod would, with a pod name for
its identity, its own metrics port and a JSON log file. The benchmark plays the kubelet for them: a replica it
SIGKILLs is started again after a pause (an injected restart); a replica that exits on its own is started again
too, and counted, since every such exit is a finding (goal 0).

`sample_leaders` reads each replica's `leader_election_master_status` and the Lease together, so a moment where
two replicas both believe they lead (a split brain) shows up as 2.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import aiohttp
import anyio
import attrs

from controller.kube import KubeClient, KubeError
from controller.kube.resources import LEASES

BIN = Path(sys.executable).parent
LEASE_NAME = "llmkube-chaos-leader"
#: Download pods carry this node selector, which no kwok node matches, so the stand-in kubelet runs them.
LOCAL_RUNNER_SELECTOR = "llmkube.dev/runner=local"
RESTART_PAUSE_SECONDS = 2.0


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@attrs.define
class Replica:
    identity: str
    metrics_port: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    #: Set just before the benchmark kills it, so the exit is not counted as a crash.
    killed_on_purpose: bool = False
    starts: int = 0


class Replicas:
    """Two controller replicas against `kubeconfig`, watching `namespace`, with their Lease in it too."""

    def __init__(self, *, kubeconfig: Path, namespace: str, logs: Path, count: int = 2) -> None:
        self._kubeconfig = kubeconfig
        self._namespace = namespace
        logs.mkdir(parents=True, exist_ok=True)
        self.replicas = [
            Replica(identity=f"chaos-{chr(97 + i)}", metrics_port=free_port(), log_path=logs / f"ctl-{i}.log")
            for i in range(count)
        ]
        #: Exits nobody injected, by cause: a crash, or the designed exit on a lost lease.
        self.unexpected_exits: Counter[str] = Counter()
        self.injected_kills = 0
        self.max_leaders_at_once = 0
        self.lease_holders: set[str] = set()
        self._stopping = False

    def _start(self, replica: Replica) -> None:
        argv = [
            str(BIN / "llmkube-controller"),
            "--kubeconfig", str(self._kubeconfig),
            "--namespace", self._namespace,
            "--leader-elect", f"--leader-election-namespace={self._namespace}",
            f"--leader-election-id={LEASE_NAME}",
            f"--bind-address=127.0.0.1:{replica.metrics_port}",
            f"--fetch-node-selector={LOCAL_RUNNER_SELECTOR}",
            "--log-format=json",
        ]  # fmt: skip
        log = replica.log_path.open("ab")
        replica.process = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "POD_NAME": replica.identity},
        )
        log.close()
        replica.killed_on_purpose = False
        replica.starts += 1

    def start_all(self) -> None:
        for replica in self.replicas:
            self._start(replica)

    async def supervise(self) -> None:
        """The kubelet's part: start again whatever exited; count the exits nobody injected."""
        while not self._stopping:
            for replica in self.replicas:
                process = replica.process
                if process is None or process.poll() is None:
                    continue
                if not replica.killed_on_purpose:
                    self.unexpected_exits[_why_exited(replica.log_path, process.returncode)] += 1
                await anyio.sleep(RESTART_PAUSE_SECONDS)
                if not self._stopping:
                    self._start(replica)
            await anyio.sleep(0.2)

    async def kill_leader(self, kube: KubeClient) -> str | None:
        """SIGKILL the live replica the Lease names (mid-reconcile: the churn never stops); the supervisor restarts
        it. While the Lease still names a replica that is gone, wait (up to 40 s) for the next leader."""
        with anyio.move_on_after(40):
            while True:
                holder = await self._lease_holder(kube)
                for replica in self.replicas:
                    process = replica.process
                    if replica.identity == holder and process is not None and process.poll() is None:
                        replica.killed_on_purpose = True
                        os.kill(process.pid, signal.SIGKILL)
                        self.injected_kills += 1
                        return holder
                await anyio.sleep(1)
        return None

    async def _lease_holder(self, kube: KubeClient) -> str | None:
        try:
            lease = await kube.get(LEASES, LEASE_NAME, namespace=self._namespace)
        except KubeError:
            return None
        holder = (lease.get("spec") or {}).get("holderIdentity")
        return holder if isinstance(holder, str) and holder else None

    async def sample_leaders(self, kube: KubeClient) -> None:
        """Every half second: how many live replicas report themselves leader at once, and who holds the Lease."""
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=1)) as session:
            while True:
                leading = 0
                for replica in self.replicas:
                    if replica.process is None or replica.process.poll() is not None:
                        continue
                    if await _reports_leader(session, replica.metrics_port):
                        leading += 1
                self.max_leaders_at_once = max(self.max_leaders_at_once, leading)
                holder = await self._lease_holder(kube)
                if holder:
                    self.lease_holders.add(holder)
                await anyio.sleep(0.5)

    def stop_all(self) -> None:
        self._stopping = True
        for replica in self.replicas:
            process = replica.process
            if process is None or process.poll() is not None:
                continue
            replica.killed_on_purpose = True
            process.send_signal(signal.SIGTERM)
        for replica in self.replicas:
            if replica.process is None:
                continue
            try:
                replica.process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                replica.process.kill()
                replica.process.wait()

    def unhandled_exceptions(self) -> Counter[str]:
        """Log records of every replica that carry a traceback, by their event and exception type."""
        found: Counter[str] = Counter()
        for replica in self.replicas:
            with contextlib.suppress(FileNotFoundError):
                for line in replica.log_path.read_text(errors="replace").splitlines():
                    found.update(_traceback_in(line))
        return found


def _why_exited(log_path: Path, code: int) -> str:
    """`leadership lost` when the replica's last words say so (the designed exit), else `crash, exit N`."""
    with contextlib.suppress(OSError):
        tail = log_path.read_bytes()[-4096:].decode(errors="replace")
        if "leadership lost; exiting" in tail:
            return f"leadership lost (exit {code})"
    return f"crash (exit {code})"


def _traceback_in(line: str) -> list[str]:
    if "Traceback (most recent call last)" in line:
        return ["traceback (not JSON)"]
    try:
        record = json.loads(line)
    except ValueError:
        return []
    if not isinstance(record, dict) or "exception" not in record:
        return []
    exception = record["exception"]
    kind = "?"
    if isinstance(exception, list) and exception and isinstance(exception[-1], dict):
        kind = str(exception[-1].get("exc_type", "?"))
    return [f"{record.get('event', '?')}: {kind}"]


async def _reports_leader(session: aiohttp.ClientSession, port: int) -> bool:
    try:
        async with session.get(f"http://127.0.0.1:{port}/metrics") as response:
            text = await response.text()
    except (aiohttp.ClientError, TimeoutError):
        return False
    return any(
        line.startswith("leader_election_master_status{") and line.rstrip().endswith(" 1.0")
        for line in text.splitlines()
    )
