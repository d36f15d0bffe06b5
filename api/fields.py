"""Field declarations that carry their CRD schema next to the Python type.

Each API field is declared once with `spec_field(...)`: the attrs default, the wire name, and the OpenAPI facts
(description, enum, bounds, pattern, schema default) that `api.crdgen` turns into the CRD. Keeping them together
is what makes the generated CRD and the Python types impossible to drift apart.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import attrs

NOTHING: Any = attrs.NOTHING


@attrs.frozen(kw_only=True)
class Rule:
    """A CEL validation rule; `message` is what the API server returns, so it must name the fix."""

    rule: str
    message: str
    field_path: str | None = None
    reason: str | None = None

    def to_schema(self) -> dict[str, str]:
        """The `x-kubernetes-validations` entry, leaving out what was not set."""
        entry = {
            "rule": self.rule,
            "message": self.message,
            "fieldPath": self.field_path,
            "reason": self.reason,
        }
        return {key: value for key, value in entry.items() if value is not None}


def spec_field(
    *,
    description: str,
    default: Any = NOTHING,
    factory: Callable[[], Any] | None = None,
    wire: str | None = None,
    enum: Sequence[str] | None = None,
    minimum: int | None = None,
    maximum: int | None = None,
    pattern: str | None = None,
    max_length: int | None = None,
    min_length: int | None = None,
    max_items: int | None = None,
    item_max_length: int | None = None,
    schema_default: Any = NOTHING,
    fmt: str | None = None,
    int_or_string: bool = False,
    rules: Sequence[Rule] = (),
    list_map_keys: Sequence[str] | None = None,
    required: bool | None = None,
) -> Any:
    """Declare an API field; see the module docstring.

    `schema_default` is the default the API server applies (written into the CRD); it differs from the Python
    default only where the server must fill a value the client did not send.
    """
    schema: dict[str, Any] = {"description": description}
    if enum is not None:
        schema["enum"] = list(enum)
    for key, value in (
        ("minimum", minimum),
        ("maximum", maximum),
        ("pattern", pattern),
        ("maxLength", max_length),
        ("minLength", min_length),
        ("maxItems", max_items),
        ("format", fmt),
    ):
        if value is not None:
            schema[key] = value
    if schema_default is not NOTHING:
        schema["default"] = schema_default
    if int_or_string:
        schema["x-kubernetes-int-or-string"] = True
    if rules:
        schema["x-kubernetes-validations"] = [rule.to_schema() for rule in rules]
    if list_map_keys is not None:
        schema["x-kubernetes-list-type"] = "map"
        schema["x-kubernetes-list-map-keys"] = list(list_map_keys)
    metadata: dict[str, Any] = {"schema": schema}
    if item_max_length is not None:
        # Bounded items keep CEL rules over the list within the API server's cost budget.
        metadata["item_schema"] = {"maxLength": item_max_length}
    if wire is not None:
        metadata["wire"] = wire
    if required is not None:
        metadata["required"] = required
    if factory is not None:
        return attrs.field(factory=factory, metadata=metadata)
    return attrs.field(default=default, metadata=metadata)
