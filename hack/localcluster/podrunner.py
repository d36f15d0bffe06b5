"""A stand-in kubelet for pods no node runs: it runs a pod's container as a local process and reports how it ended.

The local control plane's nodes are simulated and run no containers, so whatever needs a pod's real output (the
fetcher's result in its termination message: the Model reconciler's tests and the demo) plays the kubelet for it: it takes the container's exact
command, arguments and environment from the pod spec, maps every volume mount to a local directory (a claim to
one directory per claim, shared by every pod as a real volume would be; anything else to a directory of its own),
runs the process, and writes the pod's terminal state through the status subresource, as a kubelet does:
`containerStatuses[].state.terminated {exitCode, reason, message}` and phase Succeeded or Failed. The Job
controller in kube-controller-manager takes it from there.

Pods meant for it must not land on a kwok node (kwok completes Job pods with an empty message); callers keep them
unscheduled with a node selector no node matches (the controller's `--fetch-node-selector`). Commands are
resolved in this virtual environment, so `llmkube fetch` runs from this checkout.
"""

from __future__ import annotations

import base64
import os
import sys
import tempfile
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import attrs
from anyio.abc import TaskStatus

from controller.kube import KubeClient, KubeError, NotFound, ObjectList
from controller.kube.resources import PODS, SECRETS

TERMINATION_MESSAGE_LIMIT = 4096
FALLBACK_LOG_LIMIT = 2048
POLL_SECONDS = 0.2
REPORT_RETRY_SECONDS = 1.0
REPORT_DEADLINE_SECONDS = 120.0


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@attrs.frozen(kw_only=True)
class ContainerRun:
    """What one run of a pod's container did, as the test may want to check it."""

    pod: str
    argv: tuple[str, ...]
    env: Mapping[str, str]
    exit_code: int
    stdout: str
    stderr: str
    message: str
    finished_at: str  # as reported in the pod's status: RFC 3339, whole seconds


class PodRunner:
    """Runs the pods that match a label selector (in one namespace, or all), each once, and records their runs."""

    def __init__(
        self,
        client: KubeClient,
        *,
        namespace: str | None,
        root: Path,
        timeout: float = 120.0,
        service_account_kubeconfig: Path | None = None,
        kubeconfig_for: Callable[[dict[str, Any]], Path] | None = None,
        node_env: Mapping[str, str] | None = None,
    ) -> None:
        self._client = client
        #: What the node's environment adds under the pod's own (e.g. HF_ENDPOINT naming a loopback Hub, where a
        #: real node would resolve huggingface.co); the pod's env wins.
        self._node_env = dict(node_env or {})
        #: Gives each pod the credentials of its own ServiceAccount (what a kubelet's projected token does).
        self._kubeconfig_for = kubeconfig_for
        #: Stands in for the ServiceAccount token a real kubelet projects into the pod.
        self._service_account_env = (
            {"KUBECONFIG": str(service_account_kubeconfig)} if service_account_kubeconfig else {}
        )
        self.namespace = namespace
        #: Claims live under `root/claims/<claimName>`; inspect the model cache there.
        self.root = root
        self._timeout = timeout
        self._seen: set[str] = set()
        self.runs: list[ContainerRun] = []

    def _credentials(self, pod: dict[str, Any]) -> dict[str, str]:
        if self._kubeconfig_for is not None:
            return {"KUBECONFIG": str(self._kubeconfig_for(pod))}
        return dict(self._service_account_env)

    def claim_dir(self, claim_name: str) -> Path:
        path = self.root / "claims" / claim_name
        path.mkdir(parents=True, exist_ok=True)
        return path

    async def serve(
        self, *, label_selector: str, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """Run every new matching pod until cancelled (one at a time, like a node with one slot)."""
        task_status.started()
        while True:
            try:
                pods = await self._client.list(PODS, namespace=self.namespace, label_selector=label_selector)
            except (KubeError, OSError):
                # The API server restarts or refuses for a while: a kubelet keeps polling, it does not die.
                await anyio.sleep(REPORT_RETRY_SECONDS)
                continue
            for pod in pods.items:
                uid = pod["metadata"]["uid"]
                if uid in self._seen or pod["metadata"].get("deletionTimestamp") or _terminal(pod):
                    continue
                self._seen.add(uid)
                await self.run_pod(pod)
            await anyio.sleep(POLL_SECONDS)

    async def list_pods(self, *, label_selector: str) -> ObjectList:
        """The pods this kubelet would look at (for a caller that schedules `run_pod` itself)."""
        return await self._client.list(PODS, namespace=self.namespace, label_selector=label_selector)

    async def run_pod(self, pod: dict[str, Any]) -> ContainerRun:
        container = pod["spec"]["containers"][0]
        self.root.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="kubelet-", dir=self.root) as scratch:
            mounts = self._mounts(pod, container, Path(scratch))
            termination_log = Path(scratch) / "termination-log"
            termination_log.touch()
            mounts[container.get("terminationMessagePath", "/dev/termination-log")] = termination_log
            env = await self._env(pod, container, mounts)
            argv = [_map(a, mounts) for a in [*container.get("command", []), *container.get("args", [])]]
            argv[0] = _executable(argv[0])
            started = datetime.now(UTC)
            with anyio.fail_after(self._timeout):
                done = await anyio.run_process(
                    argv, env={**_base_env(), **self._node_env, **self._credentials(pod), **env}, check=False
                )
            finished = datetime.now(UTC)
            stdout, stderr = done.stdout.decode(errors="replace"), done.stderr.decode(errors="replace")
            message = termination_log.read_text()[:TERMINATION_MESSAGE_LIMIT]
            if not message and done.returncode != 0 and _falls_back_to_logs(container):
                message = (stdout + stderr)[-FALLBACK_LOG_LIMIT:]
        run = ContainerRun(
            pod=pod["metadata"]["name"],
            argv=tuple(argv),
            env=env,
            # A container killed by signal N exits 128+N in a pod's status (137 for SIGKILL), as a kubelet says.
            exit_code=done.returncode if done.returncode >= 0 else 128 - done.returncode,
            stdout=stdout,
            stderr=stderr,
            message=message,
            finished_at=_rfc3339(finished),
        )
        self.runs.append(run)
        await self._report(pod, container, run, started=started, finished=finished)
        return run

    def _mounts(self, pod: dict[str, Any], container: dict[str, Any], scratch: Path) -> dict[str, Path]:
        volumes = {v["name"]: v for v in pod["spec"].get("volumes") or ()}
        mounts: dict[str, Path] = {}
        for mount in container.get("volumeMounts") or ():
            volume = volumes.get(mount["name"], {})
            claim = (volume.get("persistentVolumeClaim") or {}).get("claimName")
            local = self.claim_dir(claim) if claim else scratch / "volumes" / mount["name"]
            local.mkdir(parents=True, exist_ok=True)
            mounts[mount["mountPath"]] = local
        return mounts

    async def _env(
        self, pod: dict[str, Any], container: dict[str, Any], mounts: dict[str, Path]
    ) -> dict[str, str]:
        env: dict[str, str] = {}
        for var in container.get("env") or ():
            if "value" in var:
                env[var["name"]] = _map(var["value"], mounts)
                continue
            source = var.get("valueFrom") or {}
            if "secretKeyRef" in source:
                ref = source["secretKeyRef"]
                try:
                    secret = await self._client.get(
                        SECRETS, ref["name"], namespace=pod["metadata"]["namespace"]
                    )
                except NotFound:
                    raise AssertionError(
                        f"pod {pod['metadata']['name']} needs Secret {ref['name']}"
                    ) from None
                env[var["name"]] = base64.b64decode(secret["data"][ref["key"]]).decode()
            elif "fieldRef" in source:
                env[var["name"]] = _field(pod, source["fieldRef"]["fieldPath"])
        return env

    async def _report(
        self,
        pod: dict[str, Any],
        container: dict[str, Any],
        run: ContainerRun,
        *,
        started: datetime,
        finished: datetime,
    ) -> None:
        succeeded = run.exit_code == 0
        terminated = {
            "exitCode": run.exit_code,
            "reason": "Completed" if succeeded else "Error",
            "message": run.message,
            "startedAt": _rfc3339(started),
            "finishedAt": run.finished_at,
        }
        status = {
            "phase": "Succeeded" if succeeded else "Failed",
            "startTime": _rfc3339(started),
            "containerStatuses": [
                {
                    "name": container["name"],
                    "image": container["image"],
                    "imageID": "",
                    "containerID": f"fake://{pod['metadata']['uid']}",
                    "ready": False,
                    "started": False,
                    "restartCount": 0,
                    "state": {"terminated": terminated},
                }
            ],
        }
        # A kubelet retries its status update until the API server takes it; a pod whose end is never reported
        # would keep its Job active forever.
        with anyio.fail_after(REPORT_DEADLINE_SECONDS):
            while True:
                try:
                    await self._client.patch_status(
                        PODS,
                        pod["metadata"]["name"],
                        {"status": status},
                        namespace=pod["metadata"]["namespace"],
                    )
                    return
                except NotFound:
                    return  # the pod is gone (its Job was deleted): nothing to report to
                except (KubeError, OSError):
                    await anyio.sleep(REPORT_RETRY_SECONDS)


def _terminal(pod: dict[str, Any]) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def _falls_back_to_logs(container: dict[str, Any]) -> bool:
    return container.get("terminationMessagePolicy") == "FallbackToLogsOnError"


def _map(value: str, mounts: Mapping[str, Path]) -> str:
    """`value` with a mounted path (the longest matching mount) replaced by its local directory."""
    for mount_path in sorted(mounts, key=len, reverse=True):
        if value == mount_path or value.startswith(mount_path.rstrip("/") + "/"):
            return str(mounts[mount_path]) + value[len(mount_path) :]
    return value


def _executable(command: str) -> str:
    """A command named without a path runs from the test's virtual environment, as the image's PATH would."""
    local = Path(sys.executable).parent / command
    return str(local) if "/" not in command and local.exists() else command


def _base_env() -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}


def _field(pod: dict[str, Any], path: str) -> str:
    value: Any = pod
    for part in path.split("."):
        value = value.get(part, "") if isinstance(value, dict) else ""
    return str(value)
