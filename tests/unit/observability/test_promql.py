"""PromQL syntax trees (as Prometheus's /api/v1/parse_query returns them) printed back to queries."""

from __future__ import annotations

from typing import Any

from hack.observability.promql import measured, render, selectors


def selector(name: str, **labels: str) -> dict[str, Any]:
    matchers = [{"name": "__name__", "type": "=", "value": name}]
    matchers += [{"name": key, "type": "=", "value": value} for key, value in labels.items()]
    return {"type": "vectorSelector", "name": name, "matchers": matchers, "offset": 0}


def number(value: str) -> dict[str, Any]:
    return {"type": "numberLiteral", "val": value}


def compare(op: str, lhs: dict[str, Any], rhs: dict[str, Any]) -> dict[str, Any]:
    return {"type": "binaryExpr", "op": op, "lhs": lhs, "rhs": rhs, "matching": None, "bool": False}


def test_a_threshold_comparison_measures_its_other_side() -> None:
    depth = {
        "type": "aggregation",
        "op": "max",
        "expr": selector("workqueue_depth"),
        "param": None,
        "grouping": ["name"],
        "without": False,
    }

    assert measured(compare(">", depth, number("100"))) == ['max by (name) ({__name__="workqueue_depth"})']


def test_a_comparison_inside_a_function_is_found() -> None:
    absent = {
        "type": "call",
        "func": {"name": "absent"},
        "args": [compare("==", selector("up", job="c"), number("1"))],
    }

    assert measured(absent) == ['{__name__="up", job="c"}']


def test_a_comparison_of_two_series_sets_measures_nothing() -> None:
    assert measured(compare("<", selector("ready"), selector("desired"))) == []


def test_selectors_drop_ranges_and_repeat_once() -> None:
    ranged = {
        "type": "matrixSelector",
        "name": "x",
        "matchers": selector("x")["matchers"],
        "range": 600000,
        "offset": 0,
    }
    rate = {"type": "call", "func": {"name": "rate"}, "args": [ranged]}
    both = compare("/", rate, selector("x"))

    assert selectors(both) == ['{__name__="x"}']
    assert render(both) == '(rate({__name__="x"}[600000ms])) / ({__name__="x"})'


def test_vector_matching_is_printed_as_written() -> None:
    lhs, rhs = selector("ready"), selector("desired")
    node = compare("unless", lhs, rhs)
    node["matching"] = {"card": "many-to-many", "labels": ["namespace", "model"], "on": True, "include": []}

    assert render(node) == '({__name__="ready"}) unless on (namespace, model) ({__name__="desired"})'
