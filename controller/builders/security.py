"""Security contexts that pass the `restricted` Pod Security Standard.

Both the download Job and the server run as an unprivileged, fixed user. A fixed uid matters because the
llama.cpp images declare no user (they would run as root, which `runAsNonRoot` refuses), and because the cache
claim is written by one pod and read by another: `fsGroup` makes the volume group-writable for the writer, and
the same group lets readers open the files. `OnRootMismatch` skips the recursive chown on every mount, which on
a claim holding hundreds of GiB would delay each pod start by minutes.
"""

from __future__ import annotations

from typing import Any

#: The conventional "nonroot" uid/gid of distroless images; the controller image runs as it too.
NONROOT_ID = 65532


def pod_security_context() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": NONROOT_ID,
        "runAsGroup": NONROOT_ID,
        "fsGroup": NONROOT_ID,
        "fsGroupChangePolicy": "OnRootMismatch",
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container_security_context() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def scratch_volume() -> tuple[dict[str, Any], dict[str, Any]]:
    """A writable /tmp (volume, mount): the root filesystem is read-only."""
    return {"name": "tmp", "emptyDir": {}}, {"name": "tmp", "mountPath": "/tmp"}
