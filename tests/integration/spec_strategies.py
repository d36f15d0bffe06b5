"""Hypothesis strategies for Model and InferenceService specs, drawn from the CRDs' own OpenAPI schemas.

Reading the schema (api.crds, the source of config/crd/bases) means a new field is fuzzed without a change here.
Each value is most often of the schema's shape (an enum member, a string matching the pattern, an integer near
the bounds) and sometimes hostile: the wrong type, a number outside the bounds, a string the pattern refuses.
Both matter: the first kind must reach the reconcilers and come out with a phase and a reason, the second must
be refused by the API server with the field named.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from api.crds import inferenceservice_crd, model_crd

WRONG_TYPE_ODDS = 30
#: Deeper objects than this get only their required fields: enough to reach every field the specs have.
MAX_DEPTH = 6
WRONG_TYPES = st.one_of(
    st.integers(-3, 3),
    st.text(max_size=6),
    st.booleans(),
    st.lists(st.integers(0, 2), max_size=2),
    st.just({}),
)


def spec_schema(crd: dict[str, Any]) -> dict[str, Any]:
    version = crd["spec"]["versions"][0]
    schema: dict[str, Any] = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
    return schema


def _string(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "pattern" in schema:
        matching = st.from_regex(schema["pattern"], fullmatch=True).filter(lambda s: len(s) <= 200)
        return st.one_of(matching, matching, st.text(max_size=12))
    max_length = schema.get("maxLength", 24)
    return st.text(min_size=0, max_size=min(max_length + 2, 40))


def _integer(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    low = schema.get("minimum", -2)
    high = schema.get("maximum", max(low, 0) + 64)
    return st.one_of(
        st.integers(low, high), st.integers(low - 2, high + 2), st.sampled_from([0, 2**31, -(2**40)])
    )


def _object(schema: dict[str, Any], depth: int) -> st.SearchStrategy[Any]:
    properties: dict[str, Any] = schema.get("properties") or {}
    if not properties:
        if schema.get("additionalProperties"):
            return st.dictionaries(
                st.text(max_size=8), values(schema["additionalProperties"], depth + 1), max_size=3
            )
        return st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=2)
    required = set(schema.get("required") or ())
    optional = (
        {}
        if depth >= MAX_DEPTH
        else {k: values(v, depth + 1) for k, v in properties.items() if k not in required}
    )
    return st.fixed_dictionaries(
        {k: values(v, depth + 1) for k, v in properties.items() if k in required}, optional=optional
    )


def _valid(schema: dict[str, Any], depth: int) -> st.SearchStrategy[Any]:
    kind = schema.get("type")
    if kind == "string":
        return _string(schema)
    if kind == "integer":
        return _integer(schema)
    if kind == "number":
        return st.floats(allow_nan=False, allow_infinity=False, width=32)
    if kind == "boolean":
        return st.booleans()
    if kind == "array":
        return st.lists(values(schema.get("items") or {}, depth + 1), max_size=3)
    if kind == "object" or "properties" in schema:
        return _object(schema, depth)
    return st.one_of(st.text(max_size=6), st.integers(0, 3))  # x-kubernetes-preserve-unknown-fields


def values(schema: dict[str, Any], depth: int = 0) -> st.SearchStrategy[Any]:
    """A value for `schema`: mostly of its shape, one time in WRONG_TYPE_ODDS of another type (a spec has a
    dozen fields, so about a third of the specs carry one wrongly typed value somewhere)."""
    valid = _valid(schema, depth)
    return st.integers(1, WRONG_TYPE_ODDS).flatmap(lambda n: WRONG_TYPES if n == 1 else valid)


def model_specs() -> st.SearchStrategy[Any]:
    return _object(spec_schema(model_crd()), depth=0)


def inferenceservice_specs(model_names: list[str]) -> st.SearchStrategy[Any]:
    """Specs that name one of `model_names` most of the time, so the deploy path is reached, not only the wait."""
    specs = _object(spec_schema(inferenceservice_crd()), depth=0)
    known = st.sampled_from(model_names).map(lambda name: {"name": name})
    return st.tuples(specs, st.one_of(known, known, known, st.just(None))).map(
        lambda pair: {**pair[0], "modelRef": pair[1]} if pair[1] is not None else pair[0]
    )
