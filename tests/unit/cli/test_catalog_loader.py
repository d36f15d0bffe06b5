from __future__ import annotations

from typing import Any

import pytest

from llmkube.catalog import CatalogError, UnknownModelError, get_model, list_models
from llmkube.catalog.loader import parse_catalog


def minimal_entry(**overrides: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": "tiny",
        "name": "Tiny",
        "description": "d",
        "source": {"repo": "o/r", "filename": "f.Q4_0.gguf"},
        "size": "1B",
        "parameters_billions": 1.0,
        "quantization": "Q4_0",
        "context_size": 2048,
        "max_context": 2048,
        "gpu_count": 0,
        "vram_gib": 1.0,
        "resources": {"cpu": "1", "memory": "1Gi"},
        "tags": ["small"],
        "homepage": "https://example.com",
    }
    entry.update(overrides)
    return entry


def test_unknown_id_suggests_the_nearest_ids() -> None:
    with pytest.raises(UnknownModelError) as caught:
        get_model("llama3.1-8b")
    assert caught.value.suggestions[0] == "llama-3.1-8b"
    assert "did you mean 'llama-3.1-8b'" in str(caught.value)


def test_unknown_id_without_anything_close_says_where_to_look() -> None:
    with pytest.raises(UnknownModelError, match="catalog list") as caught:
        get_model("zzzzzz")
    assert caught.value.suggestions == []


def test_lookup_ignores_case_and_surrounding_space() -> None:
    assert get_model(" Mistral-7B ").id == "mistral-7b"


def test_tag_filter_is_case_insensitive_and_exact() -> None:
    ids = {m.id for m in list_models(tag="MULTI-GPU")}
    assert ids == {"llama-2-13b-chat", "llama-3.1-70b"}


def test_listing_runs_from_smallest_to_largest() -> None:
    sizes = [m.parameters_billions for m in list_models()]
    assert sizes == sorted(sizes)


def test_catalog_with_an_unknown_field_is_rejected() -> None:
    with pytest.raises(CatalogError, match="invalid model catalog"):
        parse_catalog({"version": "1", "models": [minimal_entry(gpu_layers=33)]})


def test_catalog_entry_missing_a_field_is_rejected() -> None:
    entry = minimal_entry()
    del entry["homepage"]
    with pytest.raises(CatalogError, match="homepage"):
        parse_catalog({"version": "1", "models": [entry]})
