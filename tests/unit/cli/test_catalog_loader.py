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
        "confirmed_by": "https://huggingface.co/o/r/tree/main",
        "size": "1B",
        "parameters_billions": 1.0,
        "quantization": "Q4_0",
        "context_size": 2048,
        "max_context": 2048,
        "tags": ["small"],
        "homepage": "https://example.com",
    }
    entry.update(overrides)
    return entry


def test_unknown_id_suggests_the_nearest_ids() -> None:
    with pytest.raises(UnknownModelError) as caught:
        get_model("llama-3.1-8c")
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
    assert {"llama-3.1-70b", "llama-3.3-70b"} <= ids
    assert all(m.has_tag("multi-gpu") for m in list_models(tag="multi-gpu"))
    assert not list_models(tag="multi")


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


def test_an_alias_finds_its_model() -> None:
    assert get_model("llama-3-8b").id == "llama-3.1-8b"
    assert get_model("LLAMA-3-70B").id == "llama-3.3-70b"


def test_size_filter_keeps_models_up_to_that_many_parameters() -> None:
    models = list_models(max_billions=8)
    assert models
    assert all(m.parameters_billions <= 8 for m in models)
    ids = {m.id for m in models}
    assert "qwen-2.5-7b" in ids
    assert "gemma-2-9b" not in ids


def test_fits_filter_keeps_models_whose_estimate_fits() -> None:
    models = list_models(fits_gib=24)
    assert all(m.vram_gib <= 24 for m in models)
    ids = {m.id for m in models}
    assert "qwen3-32b" in ids
    assert "llama-3.3-70b" not in ids


def test_a_name_used_twice_is_rejected() -> None:
    document = {
        "version": "1",
        "models": [minimal_entry(), minimal_entry(id="other", aliases=["tiny"])],
    }
    with pytest.raises(CatalogError, match="more than one model: tiny"):
        parse_catalog(document)
