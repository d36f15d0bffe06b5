"""Kubeconfigs for ServiceAccounts, so local processes run with exactly the identity a pod would have.

The demo runs the controller and the download pods as their ServiceAccounts rather than as the cluster admin:
a missing RBAC rule then fails locally exactly as it would in a real cluster.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from hack.localcluster.base import ClusterBase

TOKEN_DURATION = "24h"


def service_account_kubeconfig(
    cluster: ClusterBase, *, namespace: str, service_account: str, path: Path
) -> Path:
    """A kubeconfig holding a fresh bound token for `namespace/service_account` (via the TokenRequest API)."""
    token = cluster.kubectl(
        "create", "token", service_account, "-n", namespace, f"--duration={TOKEN_DURATION}"
    ).stdout.strip()
    admin = yaml.safe_load(cluster.kubeconfig.read_text())
    context = next(c for c in admin["contexts"] if c["name"] == admin["current-context"])["context"]
    cluster_entry = next(c for c in admin["clusters"] if c["name"] == context["cluster"])
    user = f"system:serviceaccount:{namespace}:{service_account}"
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [cluster_entry],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [
            {
                "name": user,
                "context": {"cluster": cluster_entry["name"], "user": user, "namespace": namespace},
            }
        ],
        "current-context": user,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)
    return path
