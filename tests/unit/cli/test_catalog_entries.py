"""Every catalog entry must be deployable as written: a confirmed GGUF source, sane defaults and an estimate."""

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


def test_catalog_has_at_least_forty_models() -> None:
    assert len(ENTRIES) >= 40


def test_ids_and_aliases_name_one_model_each() -> None:
    names = [name for e in ENTRIES for name in e.names]
    assert len(names) == len(set(names))


def test_catalog_offers_the_models_users_ask_for() -> None:
    wanted = {
        "llama-3.2-3b",
        "llama-3.1-8b",
        "llama-3.3-70b",
        "mistral-7b",
        "mistral-small-3.1-24b",
        "qwen3-8b",
        "qwen3-32b",
        "qwen-2.5-7b",
        "gemma-3-4b",
        "gemma-3-27b",
        "phi-4",
        "deepseek-r1-qwen-7b",
        "gpt-oss-20b",
        "granite-3.2-8b",
        "smollm2-135m",
    }
    assert wanted <= {e.id for e in ENTRIES}


def test_common_short_names_are_aliases() -> None:
    aliases = {alias for e in ENTRIES for alias in e.aliases}
    assert {"llama-3-8b", "llama-3-70b", "mistral", "phi4", "gpt-oss", "smollm2"} <= aliases


def test_catalog_spans_tiny_to_seventy_billion_and_mixture_of_experts() -> None:
    sizes = [e.parameters_billions for e in ENTRIES]
    assert min(sizes) < 0.5
    assert max(sizes) >= 70
    assert any(e.has_tag("moe") for e in ENTRIES)


@by_id
def test_id_and_aliases_are_valid_object_names(entry: CatalogEntry) -> None:
    for name in entry.names:
        assert DNS1123_SUBDOMAIN.match(name), name
        assert len(name) <= 63  # also used for Service and Deployment names, which must fit a label


@by_id
def test_text_fields_are_filled_in(entry: CatalogEntry) -> None:
    for text in (entry.name, entry.description, entry.size, entry.source.repo, entry.source.filename):
        assert text.strip()
    assert entry.homepage.startswith("https://")


@by_id
def test_source_cites_the_page_that_confirms_it(entry: CatalogEntry) -> None:
    assert entry.confirmed_by.startswith("https://")
    assert " " not in entry.confirmed_by


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
def test_estimate_covers_weights_and_cache_with_room_to_spare(entry: CatalogEntry) -> None:
    estimate = entry.estimate
    assert estimate.weights_gib + estimate.kv_cache_gib < estimate.vram_gib
    assert estimate.vram_gib <= estimate.weights_gib * 1.6 + estimate.kv_cache_gib + 1


@by_id
def test_size_label_agrees_with_the_parameter_count(entry: CatalogEntry) -> None:
    value, unit = float(entry.size[:-1]), entry.size[-1]
    billions = value / 1000 if unit == "M" else value
    assert unit in "MB"
    # Labels sometimes leave the embeddings out (Qwen3 0.6B has 0.75B parameters in all).
    assert 0.75 * entry.parameters_billions <= billions <= 1.1 * entry.parameters_billions


@by_id
def test_context_fits_the_model(entry: CatalogEntry) -> None:
    assert 512 <= entry.context_size <= entry.max_context


@by_id
def test_gpu_count_is_one_a_model_may_ask_for(entry: CatalogEntry) -> None:
    assert 0 <= entry.gpu_count <= 8  # Model.spec.gpuCount's range
    if entry.gpu_count:
        assert entry.vram_gib / entry.gpu_count <= 24


@by_id
def test_cpu_and_multi_gpu_tags_follow_the_estimate(entry: CatalogEntry) -> None:
    assert entry.has_tag("cpu") == (entry.gpu_count == 0)
    assert entry.has_tag("multi-gpu") == (entry.gpu_count > 1)


@by_id
def test_pod_resources_are_quantities_with_room_for_the_weights(entry: CatalogEntry) -> None:
    assert CPU_QUANTITY.match(entry.resources.cpu)
    assert memory_gib(entry.resources.memory) >= entry.vram_gib


@by_id
def test_tags_are_lowercase_words(entry: CatalogEntry) -> None:
    assert entry.tags
    assert all(re.fullmatch(r"[a-z0-9-]+", tag) for tag in entry.tags)
