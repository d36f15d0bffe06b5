"""`helm install` on a cluster with a real node: the controller comes up in its pod and reconciles, an upgrade
rolls it with a new value, and an uninstall keeps the CRDs and the users' objects.

The controller image is built from this checkout (hack.images) and loaded into the real node's containerd, so
the chart runs exactly the code under test. The InferenceService used names a Model that does not exist: the
controller reconciling it shows as the phase WaitingForModel, with nothing to download.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

images = pytest.importorskip(
    "hack.images.build", reason="needs the real node and image builds (hack.images), not in this tree yet"
)

from hack.chart import REPO  # noqa: E402
from hack.localcluster import ClusterBase  # noqa: E402
from hack.localcluster.base import LLMKUBE_CRDS  # noqa: E402
from hack.localcluster.rest import wait_until  # noqa: E402
from tests.integration.deploy.test_install import RELEASE, Helm  # noqa: E402

NAMESPACE = "llmkube-system"
API_VERSION = "inference.llmkube.dev/v1alpha1"


@pytest.fixture(scope="module")
def controller_image(real_cluster: Any) -> str:
    built = images.ensure_images(["controller"])["controller"]
    real_cluster.load_image(built.archive)
    reference: str = built.reference
    return reference


@pytest.fixture
def helm(real_cluster: ClusterBase, tmp_path: Path) -> Iterator[Helm]:
    helm = Helm(real_cluster, tmp_path / "helm")
    yield helm
    helm.run("uninstall", RELEASE, "-n", NAMESPACE, "--wait", "--ignore-not-found")


@pytest.fixture
def users(real_cluster: ClusterBase) -> Iterator[str]:
    namespace = f"users-{secrets.token_hex(4)}"
    real_cluster.kubectl("create", "namespace", namespace)
    yield namespace
    real_cluster.kubectl("delete", "namespace", namespace, "--wait=false")


def image_values(reference: str) -> list[str]:
    repository, tag = reference.rsplit(":", 1)
    return [
        "--set", f"image.repository={repository}", "--set", f"image.tag={tag}",
        "--set", "image.pullPolicy=Never",
    ]  # fmt: skip


def service(name: str, namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "InferenceService",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"modelRef": {"name": f"{name}-model"}},
    }


def phase(cluster: ClusterBase, name: str, namespace: str) -> str | None:
    out = cluster.kubectl("get", "isvc", name, "-n", namespace, "-o", "json").stdout
    found: str | None = (json.loads(out).get("status") or {}).get("phase")
    return found


def reconciles(cluster: ClusterBase, namespace: str) -> None:
    """A new InferenceService gets its status from the controller in the pod."""
    name = f"probe-{secrets.token_hex(3)}"
    cluster.kubectl("apply", "-f", "-", input_text=json.dumps(service(name, namespace)))
    wait_until(
        lambda: phase(cluster, name, namespace) == "WaitingForModel",
        what=f"the controller to reconcile InferenceService {name}",
        timeout_seconds=120,
    )


def controller_pods(cluster: ClusterBase) -> list[dict[str, Any]]:
    out = cluster.kubectl(
        "get", "pods", "-n", NAMESPACE, "-l", "app.kubernetes.io/component=controller", "-o", "json"
    ).stdout
    pods: list[dict[str, Any]] = json.loads(out)["items"]
    return pods


def test_the_controller_comes_up_reconciles_upgrades_and_uninstalls(
    real_cluster: ClusterBase, helm: Helm, controller_image: str, users: str
) -> None:
    helm.install(*image_values(controller_image))
    reconciles(real_cluster, users)

    helm(
        "upgrade", RELEASE, str(REPO / "deploy" / "helm" / "llmkube"), "-n", NAMESPACE, "--reuse-values",
        "--set", "controller.logLevel=debug", "--wait", "--timeout", "5m",
    )  # fmt: skip
    (pod,) = [p for p in controller_pods(real_cluster) if not p["metadata"].get("deletionTimestamp")]
    assert "--log-level=debug" in pod["spec"]["containers"][0]["args"]
    reconciles(real_cluster, users)

    helm("uninstall", RELEASE, "-n", NAMESPACE, "--wait")
    for crd in LLMKUBE_CRDS:
        assert real_cluster.kubectl("get", "crd", crd, check=False).returncode == 0
    assert (
        real_cluster.kubectl("get", "isvc", "-n", users, "-o", "name").stdout.count("inferenceservice") == 2
    )
