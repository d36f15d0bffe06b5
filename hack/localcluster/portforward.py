"""Port-forwarding to fake pods: kwok's `PortForward` kind, so `pods/portforward` reaches a local server.

Fake nodes run no containers, yet clients (kubectl, `llmkube chat`) port-forward to pods. kwok serves the
kubelet's streaming API on its own port; told with a `PortForward` object which address stands behind a pod's
port, it answers the apiserver's port-forward by dialling that address. Three things make the path whole:

- kwok runs with `--enable-crds=PortForward` and `--node-port` equal to its server port, so the nodes it
  initialises advertise that port as their kubelet endpoint (their InternalIP is 127.0.0.1);
- the PortForward CRD exists before kwok starts watching it (kwok only watches; it installs nothing). The
  schema here is deliberately loose (unknown fields preserved): kwok validates what it reads;
- the apiserver reaches kwok's self-signed TLS because it is given no kubelet CA, as with a default kubelet.

Only loopback targets are used here: a test starts its server on 127.0.0.1 and points the pod at it.
"""

from __future__ import annotations

from typing import Any

from hack.localcluster.rest import RestClient

GROUP = "kwok.x-k8s.io"
VERSION = "v1alpha1"
PLURAL = "portforwards"
KIND = "PortForward"
#: kwok's flag value that turns on watching PortForward objects.
KWOK_CRD_FLAG = f"--enable-crds={KIND}"


def port_forward_crd() -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{PLURAL}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {"plural": PLURAL, "singular": "portforward", "kind": KIND, "listKind": f"{KIND}List"},
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "schema": {
                        "openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
                    },
                }
            ],
        },
    }


def install_port_forward_crd(admin: RestClient) -> None:
    admin.create("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", port_forward_crd())


def port_forward_manifest(
    *, pod: str, namespace: str, target_port: int, ports: list[int] | None = None, address: str = "127.0.0.1"
) -> dict[str, Any]:
    """Forward the pod's `ports` (all of them when None) to `address:target_port`. Named like the pod: kwok
    matches a PortForward to a pod by name and namespace."""
    forward: dict[str, Any] = {"target": {"address": address, "port": target_port}}
    if ports:
        forward["ports"] = ports
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": KIND,
        "metadata": {"name": pod, "namespace": namespace},
        "spec": {"forwards": [forward]},
    }
