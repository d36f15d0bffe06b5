"""The operator as a cluster admin installs it (`config/default`), minus the controller's Deployment.

The local cluster runs no containers, so the controller runs as a local process instead, with a kubeconfig for
its ServiceAccount (hack.localcluster.tokens): the CRDs, the namespace, the ServiceAccount and every RBAC object
are the shipped ones, so a grant missing from config/rbac fails locally with the same 403 as in a real cluster.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from hack.localcluster.base import LLMKUBE_CRDS, ClusterBase

REPO = Path(__file__).resolve().parents[2]
SYSTEM_NAMESPACE = "llmkube-system"
#: The controller's ServiceAccount as config/default names it (namePrefix `llmkube-`).
CONTROLLER_ACCOUNT = "llmkube-controller-manager"


def install_without_controller(cluster: ClusterBase, workdir: Path) -> None:
    """Apply config/default without its Deployment and wait for the CRDs to be served."""
    rendered = cluster.kubectl("kustomize", str(REPO / "config" / "default")).stdout
    docs = [d for d in yaml.safe_load_all(rendered) if d and d["kind"] != "Deployment"]
    manifest = workdir / "install.yaml"
    manifest.parent.mkdir(parents=True, exist_ok=True)
    manifest.write_text(yaml.safe_dump_all(docs))
    cluster.apply(manifest)
    cluster.wait_for_crds(LLMKUBE_CRDS)
