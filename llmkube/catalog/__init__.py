"""The curated model catalog: GGUF sources and serving defaults for well-known models."""

from llmkube.catalog.entry import BITS_PER_WEIGHT, Catalog, CatalogEntry, HuggingFaceFile, PodResources
from llmkube.catalog.loader import CatalogError, UnknownModelError, get_model, list_models, load_catalog

__all__ = [
    "BITS_PER_WEIGHT",
    "Catalog",
    "CatalogEntry",
    "CatalogError",
    "HuggingFaceFile",
    "PodResources",
    "UnknownModelError",
    "get_model",
    "list_models",
    "load_catalog",
]
