"""The identity download pods run as: a ServiceAccount that may patch Model status in its namespace, and no more.

The fetcher reports `status.progress` itself (with its own field manager), so the controller need not poll pods
or read logs. Its token must be worth as little as possible if a download pod were compromised: the Role grants
only `get` and `patch` on `models/status`, in one namespace. RBAC lets the controller create such a Role only
because it holds those permissions itself (no `escalate` or `bind` needed).

Like the cache claim, these three objects are shared by every Model in the namespace, so they carry no owner
reference: deleting one Model must not break the downloads of the others.
"""

from __future__ import annotations

from typing import Any

from api.v1alpha1.model import GROUP
from api.v1alpha1.well_known import (
    APP_NAME,
    COMPONENT_FETCH,
    COMPONENT_LABEL,
    MANAGED_BY_LABEL,
    MANAGER,
    NAME_LABEL,
)
from controller.config import ControllerConfig


def fetch_rbac_labels() -> dict[str, str]:
    return {NAME_LABEL: APP_NAME, MANAGED_BY_LABEL: MANAGER, COMPONENT_LABEL: COMPONENT_FETCH}


def _meta(name: str, namespace: str) -> dict[str, Any]:
    return {"name": name, "namespace": namespace, "labels": fetch_rbac_labels()}


def desired_fetch_service_account(*, namespace: str, config: ControllerConfig) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": _meta(config.fetch_service_account, namespace),
    }


def desired_fetch_role(*, namespace: str, config: ControllerConfig) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": _meta(config.fetch_service_account, namespace),
        "rules": [{"apiGroups": [GROUP], "resources": ["models/status"], "verbs": ["get", "patch"]}],
    }


def desired_fetch_role_binding(*, namespace: str, config: ControllerConfig) -> dict[str, Any]:
    name = config.fetch_service_account
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": _meta(name, namespace),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}],
    }


def desired_fetch_rbac(*, namespace: str, config: ControllerConfig) -> list[dict[str, Any]]:
    """ServiceAccount, Role and RoleBinding, in the order they must exist (the pod needs the account first)."""
    return [
        desired_fetch_service_account(namespace=namespace, config=config),
        desired_fetch_role(namespace=namespace, config=config),
        desired_fetch_role_binding(namespace=namespace, config=config),
    ]
