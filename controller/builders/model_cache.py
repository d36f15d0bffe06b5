"""The per-namespace model cache claim, and where a model lives on it.

One PersistentVolumeClaim per namespace holds every cached model as `<mount>/<cacheKey>/model.gguf`; fetch Jobs
write it and serving pods read it. It has no owner reference on purpose: it outlives every Model and service,
so deleting a Model never throws away a 40 GiB download another Model shares. It is labelled
`app.kubernetes.io/managed-by: llmkube` so that an operator (or `llmkube cache clear`) can find it.

The claim is shared, so its size and class must not depend on which Model reconciles first: `desired_cache_claim`
takes the overrides of all Models in the namespace and picks the largest size and the first storage class in the
order given (callers sort Models by name). Claims only grow: a storage class cannot change after creation, and a
size can rise only where the class allows expansion. The reconciler therefore creates the claim when it is
missing and asks for a larger size only when the desired one exceeds the stored one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from api.objects import ObjectView
from api.v1alpha1.converter import from_wire
from api.v1alpha1.fetch_result import MODEL_FILE_NAME
from api.v1alpha1.model import CacheSpec
from controller.builders.labels import cache_labels
from controller.config import ControllerConfig

_QUANTITY = re.compile(r"^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))([KMGTPE]i|[numkMGTPE]|[eE][+-]?[0-9]+)?$")
_SUFFIX_FACTORS: dict[str, Decimal] = {
    "": Decimal(1),
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal(10) ** 3,
    "M": Decimal(10) ** 6,
    "G": Decimal(10) ** 9,
    "T": Decimal(10) ** 12,
    "P": Decimal(10) ** 15,
    "E": Decimal(10) ** 18,
    "Ki": Decimal(2) ** 10,
    "Mi": Decimal(2) ** 20,
    "Gi": Decimal(2) ** 30,
    "Ti": Decimal(2) ** 40,
    "Pi": Decimal(2) ** 50,
    "Ei": Decimal(2) ** 60,
}


def quantity_value(quantity: str) -> Decimal:
    """The number a Kubernetes quantity denotes ("100Gi" -> 107374182400); raises ValueError with the fix."""
    match = _QUANTITY.match(quantity.strip())
    if match is None:
        raise ValueError(f"{quantity!r} is not a Kubernetes quantity; write it like 100Gi, 500M or 2")
    number, suffix = match.group(1), match.group(2) or ""
    if suffix[:1] in ("e", "E"):
        return Decimal(number) * (Decimal(10) ** int(suffix[1:]))
    return Decimal(number) * _SUFFIX_FACTORS[suffix]


def cache_dir(config: ControllerConfig, cache_key: str) -> str:
    return f"{config.model_cache_mount_path.rstrip('/')}/{cache_key}"


def cached_model_path(config: ControllerConfig, cache_key: str) -> str:
    """Where fetch Jobs write a model and serving pods read it (also `Model.status.path`)."""
    return f"{cache_dir(config, cache_key)}/{MODEL_FILE_NAME}"


def cache_override(model: ObjectView) -> CacheSpec | None:
    """A cached Model's `spec.cache`; one that cannot be read counts as none rather than failing its neighbours."""
    raw = (model.get("spec") or {}).get("cache")
    if not raw:
        return None
    try:
        override = from_wire(raw, CacheSpec)
        if override.size:
            quantity_value(override.size)
    except ValueError:
        return None
    return override


def cache_claim_size(config: ControllerConfig, overrides: Sequence[CacheSpec | None]) -> str:
    sizes = [o.size for o in overrides if o is not None and o.size]
    if not sizes:
        return config.model_cache_size
    return max(sizes, key=quantity_value)


def cache_claim_storage_class(config: ControllerConfig, overrides: Sequence[CacheSpec | None]) -> str | None:
    for override in overrides:
        if override is not None and override.storage_class_name:
            return override.storage_class_name
    return config.model_cache_storage_class


def desired_cache_claim(
    *, namespace: str, config: ControllerConfig, overrides: Sequence[CacheSpec | None] = ()
) -> dict[str, Any]:
    """The namespace's cache claim: controller defaults, overridden by `Model.spec.cache` of the given Models."""
    spec: dict[str, Any] = {
        "accessModes": [config.model_cache_access_mode],
        "resources": {"requests": {"storage": cache_claim_size(config, overrides)}},
    }
    storage_class = cache_claim_storage_class(config, overrides)
    if storage_class is not None:
        spec["storageClassName"] = storage_class
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {
            "name": config.model_cache_pvc_name,
            "namespace": namespace,
            "labels": cache_labels(),
        },
        "spec": spec,
    }


def grown_claim(desired: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    """`desired` changed only in ways an existing claim accepts: its class stays, its size never shrinks."""
    spec = dict(desired["spec"])
    current_spec = current.get("spec") or {}
    if "storageClassName" in spec and current_spec.get("storageClassName"):
        spec["storageClassName"] = current_spec["storageClassName"]
    stored = ((current_spec.get("resources") or {}).get("requests") or {}).get("storage")
    wanted = spec["resources"]["requests"]["storage"]
    try:
        keep_stored = stored is not None and quantity_value(str(stored)) >= quantity_value(wanted)
    except ValueError:
        keep_stored = False
    if keep_stored:
        # The stored spelling, so that an unchanged claim produces the very body applied before.
        spec["resources"] = {"requests": {"storage": str(stored)}}
    return {**desired, "spec": spec}
