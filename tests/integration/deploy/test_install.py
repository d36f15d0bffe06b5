"""The README's two ways to install, run as written against the local cluster, and Helm's upgrade and uninstall.

The commands come from the README's "Install on a cluster" section, so the README cannot drift from what works.
The local cluster's nodes are simulated (kwok marks pods Running and Ready without running them), so these
tests check what the API server holds: the CRDs established, the RBAC, the controller's Deployment available,
the dashboards' ConfigMaps; an upgrade that changes a value in place; an uninstall that keeps the CRDs and the
users' Models. That the controller then comes up and reconciles in a real pod is checked on a cluster with a real
node (test_helm_real_node.py).

The session's cluster is shared: other tests apply config/default too, so the chart is installed with
`--take-ownership` (which adopts objects of the same name instead of refusing them, as when a cluster moves from
`kubectl apply -k` to Helm), and each test removes what it installed except the CRDs, whose deletion would take
every other test's Models with them.
"""

from __future__ import annotations

import json
import re
import secrets
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from hack.chart import REPO, kustomize
from hack.localcluster import ClusterBase
from hack.localcluster.base import LLMKUBE_CRDS
from hack.localcluster.rest import wait_until
from hack.tools import helm_binary

README = REPO / "README.md"
NAMESPACE = "llmkube-system"
RELEASE = "llmkube"
API_VERSION = "inference.llmkube.dev/v1alpha1"


def readme_command(prefix: str) -> list[str]:
    """The one command of the README's install section that starts with `prefix`, split into words."""
    section = README.read_text().split("## Install on a cluster", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.DOTALL)
    found = [line.split("#", 1)[0].strip() for block in blocks for line in block.splitlines()]
    matching = [line for line in found if line.startswith(prefix)]
    assert len(matching) == 1, f"the README's install section should hold one `{prefix}` command: {matching}"
    return shlex.split(matching[0])


class Helm:
    """The helm binary against the test cluster, with its caches and config in a directory of the test's own."""

    def __init__(self, cluster: ClusterBase, home: Path) -> None:
        self._cluster = cluster
        self._env = {
            "HOME": str(home),  # the Kubernetes client's discovery cache goes under $HOME/.kube
            "HELM_CACHE_HOME": str(home / "cache"),
            "HELM_CONFIG_HOME": str(home / "config"),
            "HELM_DATA_HOME": str(home / "data"),
            "PATH": "/usr/bin:/bin",
        }

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(helm_binary()), *args, "--kubeconfig", str(self._cluster.kubeconfig)],
            cwd=REPO,
            env=self._env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )

    def __call__(self, *args: str) -> str:
        done = self.run(*args)
        assert done.returncode == 0, f"helm {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def install(self, *extra: str) -> str:
        command = readme_command("helm install")
        assert command[:2] == ["helm", "install"]
        return self(*command[1:], "--take-ownership", "--wait", "--timeout", "5m", *extra)


@pytest.fixture
def helm(local_cluster: ClusterBase, tmp_path: Path) -> Iterator[Helm]:
    """Helm for one test; the release it installs is uninstalled afterwards, also when the test fails."""
    helm = Helm(local_cluster, tmp_path / "helm")
    yield helm
    helm.run("uninstall", RELEASE, "-n", NAMESPACE, "--wait", "--ignore-not-found")


def get(cluster: ClusterBase, *args: str) -> dict[str, Any]:
    return dict(json.loads(cluster.kubectl("get", *args, "-o", "json").stdout))


def exists(cluster: ClusterBase, kind: str, name: str, *, namespace: str | None = None) -> bool:
    scope = ["-n", namespace] if namespace else []
    return cluster.kubectl("get", kind, name, *scope, check=False).returncode == 0


def installed_objects() -> list[dict[str, Any]]:
    """What config/default installs besides the CRDs (and its Namespace): what each test removes again."""
    return [
        o for o in kustomize("config/default") if o["kind"] not in ("CustomResourceDefinition", "Namespace")
    ]


def assert_operator_installed(cluster: ClusterBase) -> None:
    cluster.wait_for_crds(LLMKUBE_CRDS)
    for obj in installed_objects():
        namespace = obj["metadata"].get("namespace")
        assert exists(cluster, obj["kind"], obj["metadata"]["name"], namespace=namespace), obj["metadata"][
            "name"
        ]
    deployment = get(cluster, "deployment", "llmkube-controller-manager", "-n", NAMESPACE)
    assert deployment["status"].get("availableReplicas") == 1


def remove_operator(cluster: ClusterBase, workdir: Path) -> None:
    manifest = workdir / "installed.yaml"
    manifest.write_text(yaml.safe_dump_all(installed_objects()))
    cluster.kubectl("delete", "-f", str(manifest), "--ignore-not-found", "--wait=true", "--timeout=120s")


@pytest.fixture
def clean_install(local_cluster: ClusterBase, tmp_path: Path) -> Iterator[ClusterBase]:
    """Removes whatever the test installs (the CRDs aside), also when it fails half way."""
    yield local_cluster
    remove_operator(local_cluster, tmp_path)


def test_kubectl_apply_k_as_the_readme_says_installs_the_operator(clean_install: ClusterBase) -> None:
    command = readme_command("kubectl apply -k config/default")
    assert command == ["kubectl", "apply", "-k", "config/default"]

    clean_install.kubectl(*command[1:-1], str(REPO / command[-1]))

    wait_until(
        lambda: (
            get(clean_install, "deployment", "llmkube-controller-manager", "-n", NAMESPACE)["status"].get(
                "availableReplicas"
            )
            == 1
        ),
        what="the controller Deployment to be available",
        timeout_seconds=180,
    )
    assert_operator_installed(clean_install)


def test_helm_install_as_the_readme_says_installs_the_operator(
    clean_install: ClusterBase, helm: Helm
) -> None:
    helm.install()

    assert_operator_installed(clean_install)
    status = json.loads(helm("status", RELEASE, "-n", NAMESPACE, "-o", "json"))
    assert status["info"]["status"] == "deployed"
    dashboards = get(clean_install, "configmaps", "-n", NAMESPACE, "-l", "grafana_dashboard=1")["items"]
    assert len(dashboards) == 5


def test_helm_upgrade_changes_a_value_in_place(clean_install: ClusterBase, helm: Helm) -> None:
    helm.install()
    before = get(clean_install, "deployment", "llmkube-controller-manager", "-n", NAMESPACE)

    helm(
        "upgrade", RELEASE, "deploy/helm/llmkube", "-n", NAMESPACE, "--reuse-values",
        "--set", "controller.maxConcurrentReconciles=8", "--wait", "--timeout", "5m",
    )  # fmt: skip

    after = get(clean_install, "deployment", "llmkube-controller-manager", "-n", NAMESPACE)
    assert after["metadata"]["uid"] == before["metadata"]["uid"]
    assert after["metadata"]["generation"] == before["metadata"]["generation"] + 1
    assert "--max-concurrent-reconciles=8" in after["spec"]["template"]["spec"]["containers"][0]["args"]
    history = json.loads(helm("history", RELEASE, "-n", NAMESPACE, "-o", "json"))
    assert [entry["status"] for entry in history] == ["superseded", "deployed"]


def test_helm_uninstall_keeps_the_crds_and_the_users_models(clean_install: ClusterBase, helm: Helm) -> None:
    helm.install()
    namespace = f"users-{secrets.token_hex(4)}"
    clean_install.kubectl("create", "namespace", namespace)
    try:
        model = {
            "apiVersion": API_VERSION,
            "kind": "Model",
            "metadata": {"name": "kept", "namespace": namespace},
            "spec": {"source": {"url": "https://models.example/kept.gguf"}},
        }
        clean_install.kubectl("apply", "-f", "-", input_text=json.dumps(model))

        helm("uninstall", RELEASE, "-n", NAMESPACE, "--wait")

        assert not exists(clean_install, "deployment", "llmkube-controller-manager", namespace=NAMESPACE)
        assert not exists(clean_install, "clusterrole", "llmkube-manager-role")
        for crd in LLMKUBE_CRDS:
            assert exists(clean_install, "crd", crd)
        assert exists(clean_install, "model", "kept", namespace=namespace)
    finally:
        clean_install.kubectl("delete", "namespace", namespace, "--wait=false")
