"""Names, labels and owner references shared by every object the controller creates (the label keys themselves
are in api.v1alpha1.well_known).

Object names: Services need DNS-1035 labels (lowercase alphanumerics and '-', starting with a letter, at most 63
characters), while Model and InferenceService names are DNS-1123 subdomains (dots allowed, up to 253). So every
child object is named by `dns1035_name`: dots and other invalid characters become '-', a leading digit gets a
`llm-` prefix, and a name that is still too long is cut and given a short hash of the original, so two long names
never collide by truncation. Readable names win over perfect injectivity: `llama-3.2-3b` and `llama-3-2-3b` in one
namespace would map to the same children, and the second service's apply fails on the foreign controller owner
reference instead of silently taking the objects over.

Label values have their own limit (63 characters, alphanumerics at both ends); `label_value` applies the same
truncate-and-hash rule so a long resource name still labels its children.

Selectors are immutable on Deployments, so `selector_labels` is deliberately small and must never change.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, Protocol

from api.v1alpha1.inferenceservice import InferenceService
from api.v1alpha1.meta import ObjectMeta
from api.v1alpha1.well_known import (
    APP_NAME,
    COMPONENT_CACHE,
    COMPONENT_LABEL,
    COMPONENT_SERVER,
    INSTANCE_LABEL,
    MANAGED_BY_LABEL,
    MANAGER,
    MODEL_LABEL,
    NAME_LABEL,
    SERVICE_LABEL,
)

MAX_NAME = 63
_HASH_LEN = 8
_DIGIT_PREFIX = "llm-"
_INVALID_NAME_CHARS = re.compile(r"[^a-z0-9-]+")
_INVALID_LABEL_CHARS = re.compile(r"[^A-Za-z0-9._-]+")


class KubeObject(Protocol):
    """Anything with the API's standard shape (Model, InferenceService)."""

    @property
    def api_version(self) -> str: ...

    @property
    def kind(self) -> str: ...

    @property
    def metadata(self) -> ObjectMeta: ...


def object_name(obj: KubeObject) -> str:
    if not obj.metadata.name:
        raise ValueError(f"{obj.kind} has no metadata.name; builders need a stored object")
    return obj.metadata.name


def object_namespace(obj: KubeObject) -> str:
    if not obj.metadata.namespace:
        raise ValueError(
            f"{obj.kind} '{obj.metadata.name}' has no metadata.namespace; both kinds are namespaced"
        )
    return obj.metadata.namespace


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:_HASH_LEN]


def dns1035_name(name: str, *, suffix: str = "") -> str:
    """`name` (plus a fixed `suffix` such as `-fetch-1a2b3c4d`) as a valid DNS-1035 label of at most 63 chars."""
    base = _INVALID_NAME_CHARS.sub("-", name.lower()).strip("-")
    if not base:
        base = "x"
    if base[0].isdigit():
        base = _DIGIT_PREFIX + base
    room = MAX_NAME - len(suffix)
    if len(base) > room:
        # The hash is of the original, so two names that share a long prefix stay distinct.
        keep = room - _HASH_LEN - 1
        base = f"{base[:keep].rstrip('-')}-{_short_hash(name + suffix)}"
    return base + suffix


def label_value(value: str) -> str:
    """`value` as a valid label value: at most 63 chars of [A-Za-z0-9._-], alphanumeric at both ends."""
    cleaned = _INVALID_LABEL_CHARS.sub("-", value).strip("-._")
    if len(cleaned) <= MAX_NAME and cleaned == value:
        return value
    if len(cleaned) > MAX_NAME:
        cleaned = f"{cleaned[: MAX_NAME - _HASH_LEN - 1].rstrip('-._')}-{_short_hash(value)}"
    return cleaned


def resource_name(isvc_name: str) -> str:
    """The name of an InferenceService's Deployment, Service, HPA and ServiceMonitor."""
    return dns1035_name(isvc_name)


def selector_labels(isvc_name: str) -> dict[str, str]:
    """The pods of one InferenceService. Immutable on the Deployment: never add keys here."""
    return {NAME_LABEL: APP_NAME, SERVICE_LABEL: label_value(isvc_name)}


def selector_string(isvc_name: str) -> str:
    """`status.selector` for the scale subresource: the pods' selector labels as a label-selector string."""
    return ",".join(f"{key}={value}" for key, value in sorted(selector_labels(isvc_name).items()))


def service_labels(*, isvc_name: str, model_name: str, component: str = COMPONENT_SERVER) -> dict[str, str]:
    return {
        NAME_LABEL: APP_NAME,
        INSTANCE_LABEL: label_value(isvc_name),
        MANAGED_BY_LABEL: MANAGER,
        COMPONENT_LABEL: component,
        MODEL_LABEL: label_value(model_name),
        SERVICE_LABEL: label_value(isvc_name),
    }


def model_labels(*, model_name: str, component: str) -> dict[str, str]:
    return {
        NAME_LABEL: APP_NAME,
        INSTANCE_LABEL: label_value(model_name),
        MANAGED_BY_LABEL: MANAGER,
        COMPONENT_LABEL: component,
        MODEL_LABEL: label_value(model_name),
    }


def cache_labels() -> dict[str, str]:
    """The shared cache claim belongs to no Model, so it carries no instance or model label."""
    return {NAME_LABEL: APP_NAME, MANAGED_BY_LABEL: MANAGER, COMPONENT_LABEL: COMPONENT_CACHE}


def owner_reference(owner: KubeObject) -> dict[str, Any]:
    """A controller reference, so garbage collection deletes the child with its owner (same namespace only)."""
    if not owner.metadata.uid:
        raise ValueError(
            f"{owner.kind} '{owner.metadata.name}' has no metadata.uid; owner references need the stored object"
        )
    return {
        "apiVersion": owner.api_version,
        "kind": owner.kind,
        "name": object_name(owner),
        "uid": owner.metadata.uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def object_meta(
    *, name: str, namespace: str, labels: dict[str, str], owner: KubeObject | None
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": namespace, "labels": labels}
    if owner is not None:
        meta["ownerReferences"] = [owner_reference(owner)]
    return meta


def serving_object_meta(isvc: InferenceService, *, component: str = COMPONENT_SERVER) -> dict[str, Any]:
    """Metadata of an object that serves `isvc` (Service, HPA, ServiceMonitor): its name, labels and owner."""
    name = object_name(isvc)
    return object_meta(
        name=resource_name(name),
        namespace=object_namespace(isvc),
        labels=service_labels(isvc_name=name, model_name=isvc.spec.model_ref.name, component=component),
        owner=isvc,
    )
