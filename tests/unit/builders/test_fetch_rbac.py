from __future__ import annotations

from controller.builders.fetch_rbac import desired_fetch_rbac
from controller.config import ControllerConfig


def test_the_fetch_account_may_only_read_and_patch_model_status() -> None:
    _, role, _ = desired_fetch_rbac(namespace="team-a", config=ControllerConfig())
    assert role["rules"] == [
        {"apiGroups": ["inference.llmkube.dev"], "resources": ["models/status"], "verbs": ["get", "patch"]}
    ]


def test_the_binding_grants_the_role_to_the_account_of_the_same_namespace() -> None:
    account, role, binding = desired_fetch_rbac(namespace="team-a", config=ControllerConfig())
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": role["metadata"]["name"],
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": account["metadata"]["name"], "namespace": "team-a"}
    ]


def test_the_account_comes_first_and_nothing_is_owned_by_a_model() -> None:
    objects = desired_fetch_rbac(namespace="team-a", config=ControllerConfig(fetch_service_account="dl"))
    assert [o["kind"] for o in objects] == ["ServiceAccount", "Role", "RoleBinding"]
    assert all(o["metadata"]["name"] == "dl" for o in objects)
    assert all("ownerReferences" not in o["metadata"] for o in objects)
