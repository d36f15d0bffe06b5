"""Test namespaces as the API server should police them: Pod Security `restricted`, enforced.

Every namespace an integration test creates for our objects carries the labels, so a pod the operator creates
that is not restricted (root, privilege escalation, a missing seccomp profile, an added capability) is rejected by
the API server's PodSecurity admission, and the test that needed it fails at its cause.
"""

from __future__ import annotations

from typing import Any

RESTRICTED_LABELS = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/enforce-version": "latest",
}


def restricted_namespace(name: str) -> dict[str, Any]:
    """A Namespace manifest whose pods must meet the `restricted` Pod Security Standard."""
    return {"metadata": {"name": name, "labels": dict(RESTRICTED_LABELS)}}


def kubectl_label_args(name: str) -> list[str]:
    """`kubectl label` arguments that make an existing namespace restricted."""
    return ["label", "namespace", name, *(f"{key}={value}" for key, value in RESTRICTED_LABELS.items())]
