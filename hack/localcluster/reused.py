"""A handle on a cluster some other process runs: `python -m hack.localcluster up`, or kind via hack/kind-up.sh.

Selected by LLMKUBE_TEST_KUBECONFIG, so a developer iterating on integration tests pays the start-up once per
shell instead of once per pytest run. Client-certificate credentials are supported, inline (`*-data`, as kind
writes them) or as file paths (as the `up` command writes them).
"""

from __future__ import annotations

import base64
import shutil
import tempfile
from pathlib import Path
from typing import Any

import yaml

from hack.localcluster import audit
from hack.localcluster.base import ClusterBase
from hack.localcluster.certs import KeyPair
from hack.localcluster.rest import RestClient

REUSE_ENV = "LLMKUBE_TEST_KUBECONFIG"


class ReusedCluster(ClusterBase):
    def __init__(self, kubeconfig: Path) -> None:
        self.kubeconfig = kubeconfig
        self._scratch = Path(tempfile.mkdtemp(prefix="llmkube-reused-"))
        self._volume_root = self._scratch / "volumes"
        # `up` writes the admin kubeconfig into the state directory, beside the audit log (when it writes one).
        audit_log = kubeconfig.parent / audit.LOG_FILE
        self.audit_log = audit_log if audit_log.exists() else None
        try:
            cluster, user = _current_cluster_and_user(yaml.safe_load(kubeconfig.read_text()))
            self.server = str(cluster["server"])
            ca = self._file_or_data(cluster, "certificate-authority", "ca.crt")
            cert = self._file_or_data(user, "client-certificate", "client.crt")
            key = self._file_or_data(user, "client-key", "client.key")
            if cert is None or key is None:
                raise ValueError(f"{kubeconfig}: only client-certificate credentials are supported for reuse")
        except BaseException:
            self.close()  # nobody gets a handle to close, so the copied credentials go now
            raise
        self._admin = RestClient(server=self.server, ca=ca, client=KeyPair(cert=cert, key=key))

    def close(self) -> None:
        """Removes the credentials copied out of the kubeconfig; the cluster itself is not ours to stop."""
        shutil.rmtree(self._scratch, ignore_errors=True)

    def _file_or_data(self, section: dict[str, Any], field: str, filename: str) -> Path | None:
        if field in section:
            path = Path(section[field])
            return path if path.is_absolute() else self.kubeconfig.parent / path
        if f"{field}-data" in section:
            path = self._scratch / filename
            path.write_bytes(base64.b64decode(section[f"{field}-data"]))
            path.chmod(0o600)
            return path
        return None


def _current_cluster_and_user(config: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    context = next(c["context"] for c in config["contexts"] if c["name"] == config["current-context"])
    cluster = next(c["cluster"] for c in config["clusters"] if c["name"] == context["cluster"])
    user = next(u["user"] for u in config["users"] if u["name"] == context["user"])
    return cluster, user
