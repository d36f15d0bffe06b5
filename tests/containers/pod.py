"""`podman run` arguments for a container spec our builders emit, applied the way the kubelet applies them.

The security context (user, group, fsGroup as a supplementary group, read-only root, no privilege escalation,
no capabilities), the command and args, literal environment, and volume mounts (subPath, readOnly) all come from
the spec; only what a volume *is* comes from the caller: a host directory for a claim, or an emptyDir. So the
tests run exactly what a Deployment or Job of ours would run, minus the cluster.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

#: What a volume of the pod is on this machine: a host directory (a claim's contents), or "emptyDir".
Volumes = Mapping[str, Path | str]


def podman_run_args(
    container: Mapping[str, Any],
    *,
    pod_security: Mapping[str, Any],
    volumes: Volumes,
    network: str,
    field_values: Mapping[str, str] | None = None,
) -> list[str]:
    """Arguments for `podman run` up to and including the image, followed by the container's args."""
    security = container.get("securityContext", {})
    args = ["--network", network]
    if security.get("readOnlyRootFilesystem"):
        # As on a node: nothing writable but the volumes (podman would otherwise add tmpfs on /tmp, /run, /var/tmp).
        args += ["--read-only", "--read-only-tmpfs=false"]
    if security.get("allowPrivilegeEscalation") is False:
        args += ["--security-opt", "no-new-privileges"]
    for capability in security.get("capabilities", {}).get("drop", []):
        args += ["--cap-drop", capability]
    user = security.get("runAsUser", pod_security.get("runAsUser"))
    group = security.get("runAsGroup", pod_security.get("runAsGroup"))
    if user is not None:
        args += ["--user", f"{user}:{group}" if group is not None else str(user)]
    if "fsGroup" in pod_security:
        args += ["--group-add", str(pod_security["fsGroup"])]
    for variable in container.get("env", []):
        args += ["--env", f"{variable['name']}={_env_value(variable, field_values or {})}"]
    for mount in container.get("volumeMounts", []):
        args += _mount(mount, volumes)
    command = container.get("command")
    if command:
        args += ["--entrypoint", json.dumps(command)]
    return [*args, container["image"], *container.get("args", [])]


def _env_value(variable: Mapping[str, Any], field_values: Mapping[str, str]) -> str:
    if "value" in variable:
        return str(variable["value"])
    field = variable["valueFrom"]["fieldRef"]["fieldPath"]
    return field_values[field]


def _mount(mount: Mapping[str, Any], volumes: Volumes) -> list[str]:
    volume = volumes[mount["name"]]
    if volume == "emptyDir":
        return ["--tmpfs", f"{mount['mountPath']}:rw,mode=1777"]
    source = Path(volume) / mount.get("subPath", "")
    options = "ro" if mount.get("readOnly") else "rw"
    return ["--volume", f"{source}:{mount['mountPath']}:{options}"]
