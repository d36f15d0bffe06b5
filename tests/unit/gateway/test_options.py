from __future__ import annotations

import pytest

from llmkube.gateway.options import parse_options, validate_selector


def test_defaults_expose_every_namespace_on_port_8000() -> None:
    options = parse_options([])
    assert options.namespaces is None
    assert (options.port, options.health_port) == (8000, 8081)


def test_namespaces_repeat_or_comma_separate() -> None:
    assert parse_options(["-n", "a,b", "--namespace", "c"]).namespaces == ("a", "b", "c")


@pytest.mark.parametrize(
    "selector",
    ["gateway=public", "tier in (gold, silver),!internal", "app.kubernetes.io/part-of!=demo", "exposed"],
)
def test_valid_label_selectors_pass(selector: str) -> None:
    assert parse_options(["--selector", selector]).selector == selector


def test_an_empty_value_is_valid_selector_syntax() -> None:
    assert validate_selector("gateway=") == "gateway="


@pytest.mark.parametrize("selector", ["=public", "a b", "tier in gold", "gateway=a=b"])
def test_invalid_label_selectors_are_usage_errors(selector: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parse_options(["--selector", selector])
    assert exited.value.code == 2
    assert "not a label requirement" in capsys.readouterr().err


def test_a_queue_of_zero_is_refused_because_waking_needs_a_place() -> None:
    with pytest.raises(SystemExit):
        parse_options(["--queue-size", "0"])


def test_sticky_slack_of_minus_one_turns_stickiness_off() -> None:
    assert parse_options(["--sticky-slack", "-1"]).sticky_slack is None


def test_bind_addresses_take_host_and_port() -> None:
    options = parse_options(["--bind-address", "127.0.0.1:9000", "--health-bind-address", ":9001"])
    assert (options.host, options.port, options.health_host, options.health_port) == (
        "127.0.0.1",
        9000,
        "0.0.0.0",
        9001,
    )
