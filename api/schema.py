"""OpenAPI v3 structural schemas derived from the attrs API types.

The walk follows the Python type of each field (str, int, bool, list, dict, nested attrs classes, `X | None`)
and merges in the schema facts declared with `api.fields.spec_field`. A field without a description is an error:
`kubectl explain` is part of the user interface.
"""

from __future__ import annotations

import types
import typing
from typing import Any, Union

import attrs

from api.v1alpha1.converter import wire_name

#: Field names never emitted into a CRD schema (the API server owns their schema).
_SERVER_OWNED = frozenset({"api_version", "kind", "metadata"})


class SchemaError(Exception):
    """The Python types cannot be expressed as a structural schema; the message names the field."""


def _strip_optional(tp: Any) -> Any:
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) != 1:
            raise SchemaError(f"only `X | None` unions are supported, got {tp}")
        return args[0]
    return tp


def schema_for_type(tp: Any, *, where: str) -> dict[str, Any]:
    """The schema of one Python type; `where` names the field for error messages."""
    tp = _strip_optional(tp)
    origin = typing.get_origin(tp)
    if tp is str:
        return {"type": "string"}
    if tp is bool:
        return {"type": "boolean"}
    if tp is int:
        return {"type": "integer", "format": "int64"}
    if tp is float:
        return {"type": "number"}
    if origin is list:
        (item,) = typing.get_args(tp)
        return {"type": "array", "items": schema_for_type(item, where=f"{where}[]")}
    if origin is dict:
        key, value = typing.get_args(tp)
        if key is not str:
            raise SchemaError(f"{where}: map keys must be strings")
        if value is Any:
            return {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
        return {"type": "object", "additionalProperties": schema_for_type(value, where=f"{where}{{}}")}
    if isinstance(tp, type) and attrs.has(tp):
        return schema_for_class(tp, where=where)
    raise SchemaError(f"{where}: unsupported type {tp!r}")


def schema_for_class(cls: type[Any], *, where: str) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    properties: dict[str, Any] = {}
    required: list[str] = []
    for field in attrs.fields(cls):
        if field.name in _SERVER_OWNED:
            continue
        name = wire_name(field)
        declared = dict(field.metadata.get("schema", {}))
        if not declared.get("description"):
            raise SchemaError(f"{where}.{name}: every API field needs a description")
        schema = merge_rules(schema_for_type(hints[field.name], where=f"{where}.{name}"), declared)
        if "item_schema" in field.metadata:
            schema["items"] = {**schema["items"], **field.metadata["item_schema"]}
        if schema.get("x-kubernetes-int-or-string"):
            schema.pop("type", None)
        properties[name] = schema
        explicitly_required = field.metadata.get("required")
        if explicitly_required or (explicitly_required is None and field.default is attrs.NOTHING):
            required.append(name)
    result: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        result["required"] = required
    rules = getattr(cls, "__rules__", ())
    if rules:
        result["x-kubernetes-validations"] = [rule.to_schema() for rule in rules]
    if cls.__doc__ and "description" not in result:
        result["description"] = " ".join(cls.__doc__.split())
    return result


def merge_rules(schema: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """Merge a field's declared facts over a class schema, concatenating CEL rules from both."""
    rules = [*schema.get("x-kubernetes-validations", []), *extra.get("x-kubernetes-validations", [])]
    merged = {**schema, **extra}
    if rules:
        merged["x-kubernetes-validations"] = rules
    return merged
