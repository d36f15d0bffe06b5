"""Reads the catalog shipped inside the package and answers lookups by id, alias, tag, size and fit.

Unknown ids are the common mistake (`llama3.1-8b`, `mistral`), so the error carries the nearest names.
"""

from __future__ import annotations

import collections
import difflib
import functools
from importlib import resources
from typing import Any

import cattrs
import yaml

from llmkube.catalog.entry import Catalog, CatalogEntry

CATALOG_RESOURCE = "catalog.yaml"


class CatalogError(Exception):
    """The catalog cannot answer: a broken catalog file or an unknown model id."""


class UnknownModelError(CatalogError):
    def __init__(self, model_id: str, suggestions: list[str]) -> None:
        self.model_id = model_id
        self.suggestions = suggestions
        hint = f"did you mean {' or '.join(repr(s) for s in suggestions)}? " if suggestions else ""
        super().__init__(f"model {model_id!r} is not in the catalog; {hint}(see 'llmkube catalog list')")


_converter = cattrs.Converter(forbid_extra_keys=True)


def _check_names_are_unique(catalog: Catalog) -> None:
    """An id or alias naming two models would make `deploy NAME` pick one silently."""
    counts = collections.Counter(name for model in catalog.models for name in model.names)
    taken = sorted(name for name, count in counts.items() if count > 1)
    if taken:
        raise CatalogError(f"invalid model catalog: names used by more than one model: {', '.join(taken)}")


def parse_catalog(document: Any) -> Catalog:
    """Builds the typed catalog from its YAML document; every model's fields are required, none may be unknown."""
    try:
        catalog = _converter.structure(document, Catalog)
    except (cattrs.BaseValidationError, TypeError, KeyError) as exc:
        detail = (
            "; ".join(cattrs.transform_error(exc))
            if isinstance(exc, cattrs.BaseValidationError)
            else str(exc)
        )
        raise CatalogError(f"invalid model catalog: {detail}") from exc
    _check_names_are_unique(catalog)
    return catalog


@functools.cache
def load_catalog() -> Catalog:
    text = resources.files("llmkube.catalog").joinpath(CATALOG_RESOURCE).read_text(encoding="utf-8")
    return parse_catalog(yaml.safe_load(text))


def list_models(
    *,
    tag: str | None = None,
    max_billions: float | None = None,
    fits_gib: float | None = None,
    catalog: Catalog | None = None,
) -> list[CatalogEntry]:
    """Models sorted by size then id, so a listing reads from the smallest to the largest.

    `max_billions` keeps models of at most that many parameters; `fits_gib` keeps those whose estimated
    memory (weights, KV cache at the default context, runtime) fits in that many GiB.
    """
    models = (catalog or load_catalog()).models
    chosen = [
        m
        for m in models
        if (tag is None or m.has_tag(tag))
        and (max_billions is None or m.parameters_billions <= max_billions)
        and (fits_gib is None or m.vram_gib <= fits_gib)
    ]
    return sorted(chosen, key=lambda m: (m.parameters_billions, m.id))


def get_model(model_id: str, *, catalog: Catalog | None = None) -> CatalogEntry:
    """The model with this id or alias (case and surrounding space ignored)."""
    models = (catalog or load_catalog()).models
    by_name = {name: m for m in models for name in m.names}
    wanted = model_id.strip().lower()
    if wanted in by_name:
        return by_name[wanted]
    suggestions = difflib.get_close_matches(wanted, [m.id for m in models], n=2, cutoff=0.6)
    raise UnknownModelError(model_id, suggestions)
