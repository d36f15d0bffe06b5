"""The operator's manifests, shipped inside the package so `llmkube init` installs exactly what this CLI
version was built with: the objects `kubectl kustomize config/default` renders, controller image pinned to the
package version.

`operator.yaml` is generated (`python -m llmkube.bundle`), never edited by hand; a unit test renders
config/default again and fails when the two differ.
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

import yaml

BUNDLE_RESOURCE = "operator.yaml"
CONTROLLER_NAMESPACE = "llmkube-system"
CONTROLLER_DEPLOYMENT = "llmkube-controller-manager"

Object = dict[str, Any]


def bundle_text() -> str:
    return resources.files("llmkube.bundle").joinpath(BUNDLE_RESOURCE).read_text(encoding="utf-8")


@functools.cache
def _objects() -> tuple[Object, ...]:
    return tuple(doc for doc in yaml.safe_load_all(bundle_text()) if doc)


def operator_objects() -> list[Object]:
    """A fresh copy of every object, in the order kustomize renders them (namespace and CRDs first)."""
    return [yaml.safe_load(yaml.safe_dump(obj)) for obj in _objects()]


def controller_image() -> str:
    for obj in _objects():
        if obj["kind"] == "Deployment" and obj["metadata"]["name"] == CONTROLLER_DEPLOYMENT:
            image: str = obj["spec"]["template"]["spec"]["containers"][0]["image"]
            return image
    raise LookupError(f"the bundled manifests have no Deployment {CONTROLLER_DEPLOYMENT}")
