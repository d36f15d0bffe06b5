"""The manifests `llmkube init` ships are config/default, rendered, and pin the controller to this version."""

from __future__ import annotations

import yaml

from llmkube.bundle import CONTROLLER_DEPLOYMENT, CONTROLLER_NAMESPACE, controller_image, operator_objects
from llmkube.bundle.__main__ import render
from llmkube.version import installed_version


def test_bundle_holds_the_same_objects_as_kustomize_renders_from_config_default() -> None:
    rendered = [doc for doc in yaml.safe_load_all(render()) if doc]
    assert operator_objects() == rendered


def test_controller_image_is_pinned_to_the_package_version() -> None:
    assert controller_image().rsplit(":", 1)[1] == installed_version()


def test_bundle_starts_with_the_namespace_and_crds_and_ends_with_the_deployments() -> None:
    objects = operator_objects()
    kinds = [obj["kind"] for obj in objects]
    assert kinds[0] == "Namespace"
    assert kinds[1:3] == ["CustomResourceDefinition", "CustomResourceDefinition"]
    first_deployment = kinds.index("Deployment")
    assert set(kinds[first_deployment:]) == {"Deployment"}
    deployments = {obj["metadata"]["name"]: obj for obj in objects[first_deployment:]}
    assert deployments[CONTROLLER_DEPLOYMENT]["metadata"]["namespace"] == CONTROLLER_NAMESPACE
