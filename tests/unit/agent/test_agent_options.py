from __future__ import annotations

from pathlib import Path

import pytest

from llmkube.agent.options import PortRange, parse_options

BINARY = ["--llama-server", "/opt/llama/llama-server"]


def test_namespaces_may_be_repeated_or_comma_separated() -> None:
    options = parse_options([*BINARY, "-n", "a,b", "--namespace", "c"])
    assert options.namespaces == ("a", "b", "c")


def test_all_namespaces_watches_every_namespace() -> None:
    assert parse_options([*BINARY, "--all-namespaces"]).namespaces is None


def test_host_address_must_be_an_ip_literal() -> None:
    with pytest.raises(SystemExit):
        parse_options([*BINARY, "--host-address", "my-mac.local"])


def test_port_range_is_parsed_low_to_high() -> None:
    options = parse_options([*BINARY, "--port-range", "9000-9003"])
    assert list(options.port_range.ports()) == [9000, 9001, 9002, 9003]


def test_a_reversed_port_range_is_refused() -> None:
    with pytest.raises(ValueError, match="low to high"):
        PortRange(first=9003, last=9000)


def test_llama_server_binds_the_host_address_unless_told_otherwise() -> None:
    options = parse_options([*BINARY, "--host-address", "192.168.64.1"])
    assert options.effective_bind_address == "192.168.64.1"
    assert options.llama_server == Path("/opt/llama/llama-server")
