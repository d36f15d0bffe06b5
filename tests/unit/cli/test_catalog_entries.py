"""Every catalog entry must be deployable as written: a real-looking GGUF source and sane serving defaults."""

from __future__ import annotations

import re

import pytest

from llmkube.catalog import BITS_PER_WEIGHT, CatalogEntry, load_catalog

ENTRIES = load_catalog().models
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
CPU_QUANTITY = re.compile(r"^[1-9][0-9]*(\.[0-9]+)?$|^[1-9][0-9]*m$")
MEMORY_QUANTITY = re.compile(r"^([1-9][0-9]*)(Mi|Gi)$")
HF_REPO = re.compile(r"^[A-Za-z0-9][-A-Za-z0-9_.]*/[A-Za-z0-9][-A-Za-z0-9_.]*$")

by_id = pytest.mark.parametrize("entry", ENTRIES, ids=[e.id for e in ENTRIES])


def memory_gib(quantity: str) -> float:
    match = MEMORY_QUANTITY.match(quantity)
    assert match, quantity
    return int(match.group(1)) / (1024 if match.group(2) == "Mi" else 1)


def test_ids_are_unique() -> None:
    ids = [e.id for e in ENTRIES]
    assert len(ids) == len(set(ids))


def test_catalog_offers_the_models_users_ask_for() -> None:
    wanted = {
        "llama-3.2-3b",
        "llama-3.1-8b",
        "mistral-7b",
        "llama-2-13b-chat",
        "llama-3.1-70b",
        "qwen-2.5-0.5b",
        "qwen-2.5-1.5b",
        "qwen-2.5-3b",
        "qwen-2.5-7b",
        "qwen-2.5-14b",
        "phi-3-mini",
        "gemma-2-9b",
        "smollm2-135m",
        "smollm2-1.7b",
    }
    assert wanted <= {e.id for e in ENTRIES}


@by_id
def test_id_is_a_valid_object_name(entry: CatalogEntry) -> None:
    assert DNS1123_SUBDOMAIN.match(entry.id)
    assert len(entry.id) <= 63  # also used for Service and Deployment names, which must fit a label


@by_id
def test_text_fields_are_filled_in(entry: CatalogEntry) -> None:
    for text in (entry.name, entry.description, entry.size, entry.source.repo, entry.source.filename):
        assert text.strip()
    assert entry.homepage.startswith("https://")


@by_id
def test_source_is_a_single_gguf_file_in_a_huggingface_repo(entry: CatalogEntry) -> None:
    assert HF_REPO.match(entry.source.repo)
    assert entry.source.filename.endswith(".gguf")
    assert "/" not in entry.source.filename
    assert "-of-0" not in entry.source.filename  # split files cannot be served as one model file


@by_id
def test_quantization_is_known_and_matches_the_file(entry: CatalogEntry) -> None:
    assert entry.quantization in BITS_PER_WEIGHT
    assert entry.quantization.lower() in entry.source.filename.lower()


@by_id
def test_vram_estimate_covers_the_weights_without_wild_overshoot(entry: CatalogEntry) -> None:
    assert entry.weights_gib <= entry.vram_gib <= entry.weights_gib * 1.6 + 3


@by_id
def test_size_label_agrees_with_the_parameter_count(entry: CatalogEntry) -> None:
    value, unit = float(entry.size[:-1]), entry.size[-1]
    billions = value / 1000 if unit == "M" else value
    assert unit in "MB"
    assert 0.8 * entry.parameters_billions <= billions <= 1.1 * entry.parameters_billions


@by_id
def test_context_fits_the_model(entry: CatalogEntry) -> None:
    assert 512 <= entry.context_size <= entry.max_context


@by_id
def test_gpu_count_is_one_a_model_may_ask_for(entry: CatalogEntry) -> None:
    assert 0 <= entry.gpu_count <= 8  # Model.spec.gpuCount's range
    if entry.gpu_count:
        assert entry.vram_gib / entry.gpu_count <= 80


@by_id
def test_pod_resources_are_quantities_with_room_for_the_weights(entry: CatalogEntry) -> None:
    assert CPU_QUANTITY.match(entry.resources.cpu)
    assert memory_gib(entry.resources.memory) >= entry.weights_gib


@by_id
def test_tags_are_lowercase_words(entry: CatalogEntry) -> None:
    assert entry.tags
    assert all(re.fullmatch(r"[a-z0-9-]+", tag) for tag in entry.tags)
