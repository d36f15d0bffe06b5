"""The host demo (`make demo ARGS=--host`, hack/demo/host.py) proves its answer came through the Service's
EndpointSlice by reading the route `llmkube chat` reports on stderr; the two must keep agreeing on that line."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from typer.testing import CliRunner

from hack.demo import chat_route
from llmkube.cli.endpoint import Endpoint, ServiceRef
from llmkube.cli.main import app
from llmkube.cli.state import CliState

VIA = "EndpointSlice smollm2-135m-host"


class FixedRoute:
    """Resolves every service to one server, reached the way `via` says."""

    def __init__(self, url: str) -> None:
        self.url = url

    @contextlib.asynccontextmanager
    async def open(self, service: ServiceRef) -> AsyncIterator[Endpoint]:
        yield Endpoint(url=self.url, via=VIA)


def test_the_main_job_reads_the_route_chat_reports(answering_server: str) -> None:
    result = CliRunner().invoke(
        app,
        ["chat", "smollm2-135m", "-m", "hi", "--stats"],
        obj=CliState(resolver=FixedRoute(answering_server)),
    )
    assert result.exit_code == 0, result.stderr
    assert chat_route(result.stderr) == {"url": answering_server, "via": VIA}


def test_a_styled_route_line_is_read_as_well() -> None:
    stderr = f"\x1b[2mUsing http://127.0.0.1:18080 (via {VIA})\x1b[0m\n\x1b[2m(3 tokens, 0.10s)\x1b[0m\n"
    assert chat_route(stderr) == {"url": "http://127.0.0.1:18080", "via": VIA}


def test_without_a_route_line_there_is_no_route() -> None:
    assert chat_route("error: cannot reach http://127.0.0.1:18080\n") is None
