from __future__ import annotations

import pytest

from api.v1alpha1.model import CacheSpec
from controller.builders.model_cache import (
    cached_model_path,
    desired_cache_claim,
    grown_claim,
    quantity_value,
)
from controller.config import ControllerConfig


def test_cache_claim_uses_controller_defaults(config: ControllerConfig) -> None:
    claim = desired_cache_claim(namespace="team-a", config=config)
    assert claim["metadata"]["name"] == "llmkube-model-cache"
    assert claim["spec"] == {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": "100Gi"}},
    }


def test_cache_claim_has_no_owner_and_is_labelled_managed_by_llmkube(config: ControllerConfig) -> None:
    metadata = desired_cache_claim(namespace="team-a", config=config)["metadata"]
    assert "ownerReferences" not in metadata
    assert metadata["labels"]["app.kubernetes.io/managed-by"] == "llmkube"


def test_model_overrides_set_size_and_storage_class(config: ControllerConfig) -> None:
    claim = desired_cache_claim(
        namespace="team-a", config=config, overrides=[CacheSpec(size="500Gi", storage_class_name="fast")]
    )
    assert claim["spec"]["resources"]["requests"]["storage"] == "500Gi"
    assert claim["spec"]["storageClassName"] == "fast"


def test_the_largest_override_wins_whatever_the_order(config: ControllerConfig) -> None:
    overrides = [CacheSpec(size="200G"), None, CacheSpec(size="1Ti"), CacheSpec(size="300Gi")]
    sizes = {
        desired_cache_claim(namespace="n", config=config, overrides=order)["spec"]["resources"]["requests"][
            "storage"
        ]
        for order in (overrides, list(reversed(overrides)))
    }
    assert sizes == {"1Ti"}


def test_controller_storage_class_applies_without_overrides() -> None:
    claim = desired_cache_claim(namespace="n", config=ControllerConfig(model_cache_storage_class="standard"))
    assert claim["spec"]["storageClassName"] == "standard"


def test_quantities_compare_by_value() -> None:
    assert quantity_value("1Gi") == 1 << 30
    assert quantity_value("1G") < quantity_value("1Gi")
    assert quantity_value("1.5k") == 1500


def test_garbage_quantities_are_rejected_with_the_fix() -> None:
    with pytest.raises(ValueError, match="like 100Gi"):
        quantity_value("lots")


def test_cached_model_path_is_under_the_cache_key_directory(config: ControllerConfig) -> None:
    assert cached_model_path(config, "abc") == "/models/abc/model.gguf"


def stored_claim(storage: str, storage_class: str | None = "local") -> dict[str, object]:
    spec: dict[str, object] = {"resources": {"requests": {"storage": storage}}}
    if storage_class:
        spec["storageClassName"] = storage_class
    return {"spec": spec}


def test_a_claim_grows_when_a_model_asks_for_more(config: ControllerConfig) -> None:
    desired = desired_cache_claim(namespace="a", config=config, overrides=[CacheSpec(size="200Gi")])
    assert grown_claim(desired, stored_claim("100Gi"))["spec"]["resources"]["requests"]["storage"] == "200Gi"


def test_a_claim_never_shrinks_and_keeps_its_stored_spelling(config: ControllerConfig) -> None:
    desired = desired_cache_claim(namespace="a", config=config)
    grown = grown_claim(desired, stored_claim("0.5Ti"))
    assert grown["spec"]["resources"]["requests"]["storage"] == "0.5Ti"


def test_a_claim_keeps_its_storage_class(config: ControllerConfig) -> None:
    desired = desired_cache_claim(
        namespace="a", config=config, overrides=[CacheSpec(storage_class_name="fast")]
    )
    assert grown_claim(desired, stored_claim("100Gi"))["spec"]["storageClassName"] == "local"


def test_an_unchanged_claim_yields_the_body_applied_before(config: ControllerConfig) -> None:
    desired = desired_cache_claim(namespace="a", config=config)
    assert grown_claim(desired, stored_claim("100Gi", None)) == desired
