"""PromQL syntax trees as Prometheus's own parser returns them (`/api/v1/parse_query`), printed back to queries.

An alert expression usually returns nothing: that is what a healthy system looks like. So "the expression returns
no series" proves nothing about whether it could ever fire. What can be checked is that the series it compares
exist. For that, Prometheus parses the expression (so our reading of it is exactly Prometheus's), and this module
finds in the tree:

- `measured(tree)`: every side of a comparison whose other side is a number, e.g. `max by (name) (workqueue_depth)`
  in `max by (name) (workqueue_depth) > 100`, or `up{job="x"}` inside `absent(up{job="x"} == 1)`;
- `selectors(tree)`: every series selector, e.g. `workqueue_depth`.

Each comes back as query text (`render`), which the caller runs against the same Prometheus.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

Node = dict[str, Any]

COMPARISONS = frozenset({"==", "!=", ">", "<", ">=", "<="})


def _duration(milliseconds: int) -> str:
    return f"{milliseconds}ms"


def _string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _matchers(node: Node) -> str:
    parts = [f"{m['name']}{m['type']}{_string(m['value'])}" for m in node.get("matchers") or []]
    return "{" + ", ".join(parts) + "}"


def _modifiers(node: Node) -> str:
    text = ""
    if node.get("offset"):
        text += f" offset {_duration(node['offset'])}"
    if node.get("timestamp") is not None:
        text += f" @ {node['timestamp'] / 1000}"
    elif node.get("startOrEnd"):
        text += f" @ {node['startOrEnd']}()"
    return text


def _labels(names: list[str]) -> str:
    return "(" + ", ".join(names) + ")"


def _matching(node: Node) -> str:
    matching = node.get("matching")
    if not matching:
        return ""
    text = ""
    if matching.get("on"):
        text += f" on {_labels(matching['labels'])}"
    elif matching.get("labels"):
        text += f" ignoring {_labels(matching['labels'])}"
    card = matching.get("card")
    if card == "many-to-one":
        text += f" group_left {_labels(matching.get('include') or [])}"
    elif card == "one-to-many":
        text += f" group_right {_labels(matching.get('include') or [])}"
    return text


def render(node: Node) -> str:
    """Query text for `node`; fully parenthesised where precedence could matter."""
    kind = node["type"]
    if kind == "vectorSelector":
        return _matchers(node) + _modifiers(node)
    if kind == "matrixSelector":
        return f"{_matchers(node)}[{_duration(node['range'])}]{_modifiers(node)}"
    if kind == "numberLiteral":
        return str(node["val"])
    if kind == "stringLiteral":
        return _string(node["val"])
    if kind == "parenExpr":
        return f"({render(node['expr'])})"
    if kind == "unaryExpr":
        return f"{node['op']}({render(node['expr'])})"
    if kind == "call":
        return f"{node['func']['name']}({', '.join(render(arg) for arg in node['args'])})"
    if kind == "aggregation":
        grouping = node.get("grouping") or []
        by = (
            f" {'without' if node.get('without') else 'by'} {_labels(grouping)}"
            if grouping or node.get("without")
            else ""
        )
        param = f"{render(node['param'])}, " if node.get("param") else ""
        return f"{node['op']}{by} ({param}{render(node['expr'])})"
    if kind == "binaryExpr":
        op = node["op"] + (" bool" if node.get("bool") else "")
        return f"({render(node['lhs'])}) {op}{_matching(node)} ({render(node['rhs'])})"
    if kind == "subquery":
        step = _duration(node["step"]) if node.get("step") else ""
        return f"({render(node['expr'])})[{_duration(node['range'])}:{step}]{_modifiers(node)}"
    raise ValueError(f"unsupported PromQL node type {kind!r}")


def _children(node: Node) -> Iterator[Node]:
    kind = node["type"]
    if kind in ("parenExpr", "unaryExpr", "aggregation", "subquery"):
        yield node["expr"]
        if kind == "aggregation" and node.get("param"):
            yield node["param"]
    elif kind == "call":
        yield from node["args"]
    elif kind == "binaryExpr":
        yield node["lhs"]
        yield node["rhs"]


def _walk(node: Node) -> Iterator[Node]:
    yield node
    for child in _children(node):
        yield from _walk(child)


def _is_number(node: Node) -> bool:
    while node["type"] == "parenExpr":
        node = node["expr"]
    return bool(node["type"] == "numberLiteral")


def measured(tree: Node) -> list[str]:
    """The non-constant side of every comparison against a number, as queries, outermost first."""
    found = []
    for node in _walk(tree):
        if node["type"] != "binaryExpr" or node["op"] not in COMPARISONS:
            continue
        lhs_number, rhs_number = _is_number(node["lhs"]), _is_number(node["rhs"])
        if lhs_number != rhs_number:
            found.append(render(node["rhs"] if lhs_number else node["lhs"]))
    return found


def selectors(tree: Node) -> list[str]:
    """Every series selector in the tree, as an instant-vector query (ranges and offsets dropped), deduplicated."""
    found: dict[str, None] = {}
    for node in _walk(tree):
        if node["type"] in ("vectorSelector", "matrixSelector"):
            found[_matchers(node)] = None
    return list(found)
