"""The one converter between API values and their JSON wire form.

Wire names are camelCase, Python names snake_case; `None` is omitted on the way out so that server-side apply
never claims a field the user did not set; unknown fields are ignored on the way in so that a newer server (or a
field another manager owns) never breaks reading.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

T = TypeVar("T")


def camel(name: str) -> str:
    head, *rest = name.rstrip("_").split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def wire_name(field: attrs.Attribute[Any]) -> str:
    """A field's wire name: `metadata["wire"]` when the camelCase rule would get it wrong (e.g. `headCountKV`)."""
    explicit = field.metadata.get("wire")
    return explicit if isinstance(explicit, str) else camel(field.name)


def _make_converter() -> cattrs.Converter:
    converter = cattrs.Converter(omit_if_default=False, forbid_extra_keys=False)

    def unstructure_factory(cls: type[Any]) -> Any:
        overrides = {f.name: override(rename=wire_name(f), omit_if_default=False) for f in attrs.fields(cls)}
        base = make_dict_unstructure_fn(cls, converter, **overrides)  # type: ignore[arg-type]

        def unstructure(value: Any) -> dict[str, Any]:
            return {k: v for k, v in base(value).items() if v is not None}

        return unstructure

    def structure_factory(cls: type[Any]) -> Any:
        overrides = {f.name: override(rename=wire_name(f)) for f in attrs.fields(cls)}
        return make_dict_structure_fn(cls, converter, **overrides)  # type: ignore[arg-type]

    converter.register_unstructure_hook_factory(attrs.has, unstructure_factory)
    converter.register_structure_hook_factory(attrs.has, structure_factory)
    return converter


converter = _make_converter()


def to_wire(value: Any) -> Any:
    """An API value (or list/dict of them) as JSON-ready data, with `None` fields left out."""
    return converter.unstructure(value)


class WireError(ValueError):
    """Wire data that does not fit the API type; the message lists each bad field by its wire path."""


def from_wire(data: Any, cls: type[T]) -> T:
    """Parse wire data into `cls`, or raise `WireError` naming every offending field (e.g. `$.spec.modelRef`)."""
    try:
        return converter.structure(data, cls)
    except cattrs.BaseValidationError as exc:
        # cattrs names Python attributes in its paths; users know the camelCase wire names.
        problems = [
            re.sub(r"\.([a-z0-9_]+)", lambda m: "." + camel(m.group(1)), p)
            for p in cattrs.transform_error(exc, path="$")
        ]
        raise WireError(f"invalid {cls.__name__}: " + "; ".join(problems)) from exc
