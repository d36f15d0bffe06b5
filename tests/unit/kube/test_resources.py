"""Resource handles build the REST paths the apiserver expects."""

from __future__ import annotations

import pytest

from controller.kube.resources import DEPLOYMENTS, INFERENCE_SERVICES, NODES, PODS, resource_for


def test_core_namespaced_object_path() -> None:
    assert PODS.object_path("p", "ns") == "/api/v1/namespaces/ns/pods/p"


def test_grouped_collection_across_all_namespaces() -> None:
    assert DEPLOYMENTS.collection_path() == "/apis/apps/v1/deployments"


def test_status_subresource_path_of_a_custom_resource() -> None:
    path = INFERENCE_SERVICES.object_path("svc", "ns", "status")
    assert path == "/apis/inference.llmkube.dev/v1alpha1/namespaces/ns/inferenceservices/svc/status"


def test_cluster_scoped_path_ignores_namespace() -> None:
    assert NODES.object_path("n1", "ignored") == "/api/v1/nodes/n1"


def test_namespaced_object_without_namespace_is_refused() -> None:
    with pytest.raises(ValueError, match="namespaced"):
        PODS.object_path("p")


def test_lookup_by_api_version_and_kind() -> None:
    assert resource_for("apps/v1", "Deployment") is DEPLOYMENTS


def test_unknown_kind_names_the_file_to_extend() -> None:
    with pytest.raises(LookupError, match=r"resources\.py"):
        resource_for("example.com/v1", "Widget")
