"""The curated model catalog: GGUF sources and serving defaults for well-known models."""

from llmkube.catalog.entry import Catalog, CatalogEntry, HuggingFaceFile, PodResources
from llmkube.catalog.estimate import BITS_PER_WEIGHT, ServingEstimate, estimate_serving
from llmkube.catalog.loader import (
    CatalogError,
    UnknownModelError,
    get_model,
    list_models,
    load_catalog,
)
from llmkube.catalog.shape import ModelShape

__all__ = [
    "BITS_PER_WEIGHT",
    "Catalog",
    "CatalogEntry",
    "CatalogError",
    "HuggingFaceFile",
    "ModelShape",
    "PodResources",
    "ServingEstimate",
    "UnknownModelError",
    "estimate_serving",
    "get_model",
    "list_models",
    "load_catalog",
]
