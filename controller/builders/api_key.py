"""An InferenceService's API key: a Secret key mounted as a file that llama-server reads at start.

llama-server takes `--api-key KEY` or `--api-key-file FILE`; only the file keeps the key out of the pod spec's
arguments, which `kubectl describe`, `ps` on the node and the API server's audit log all show. The Secret is
projected with just that key, readable by the pod's group only (the pods run with fsGroup, see `security`).

Once a key is set, llama-server answers 401 on every endpoint but /health and the model list, /metrics included,
so the ServiceMonitor presents the same key as a bearer token (`monitoring`). The file is read once at start:
a changed key takes effect when the pods restart (`kubectl rollout restart`).
"""

from __future__ import annotations

from typing import Any

from api.v1alpha1.meta import SecretKeyRef

VOLUME_NAME = "api-key"
API_KEY_DIR = "/var/run/llmkube/api-key"
API_KEY_FILE = f"{API_KEY_DIR}/key"
#: Owner and group may read (0440): the group is the pod's fsGroup, the server's own group.
FILE_MODE = 0o440


def api_key_volume(ref: SecretKeyRef | None) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The (volume, mount) carrying the key of `ref` to API_KEY_FILE, or None when the service needs no key."""
    if ref is None:
        return None
    volume = {
        "name": VOLUME_NAME,
        "secret": {
            "secretName": ref.name,
            "items": [{"key": ref.key, "path": "key"}],
            "defaultMode": FILE_MODE,
        },
    }
    mount = {"name": VOLUME_NAME, "mountPath": API_KEY_DIR, "readOnly": True}
    return volume, mount


def scrape_authorization(ref: SecretKeyRef | None) -> dict[str, Any]:
    """What a ServiceMonitor endpoint adds to scrape a server that requires `ref`'s key ({} when none)."""
    if ref is None:
        return {}
    return {"authorization": {"type": "Bearer", "credentials": {"name": ref.name, "key": ref.key}}}
