"""The CLI shell: commands, exit codes and one-line errors, through typer's runner."""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import AsyncIterator
from http.server import BaseHTTPRequestHandler
from typing import ClassVar

import pytest
from typer.testing import CliRunner

from llmkube.catalog import get_model
from llmkube.cli.endpoint import Endpoint, ServiceRef
from llmkube.cli.main import app
from llmkube.cli.state import CliState
from tests.unit.cli.fake_apiserver import http_server

runner = CliRunner()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RecordingResolver:
    """Resolves every service to `url` (by default a loopback port nobody listens on), remembering what it was
    asked."""

    def __init__(self, *, url: str | None = None, via: str = "test") -> None:
        self.asked: list[ServiceRef] = []
        self.closed = False
        self.port = closed_port()
        self.url = url or f"http://127.0.0.1:{self.port}"
        self.via = via
        self.gateway_asked = False

    @contextlib.asynccontextmanager
    async def _open(self, service: ServiceRef) -> AsyncIterator[Endpoint]:
        self.asked.append(service)
        try:
            yield Endpoint(url=self.url, via=self.via)
        finally:
            self.closed = True

    def open(self, service: ServiceRef) -> contextlib.AbstractAsyncContextManager[Endpoint]:
        return self._open(service)

    def open_gateway(self, service: ServiceRef) -> contextlib.AbstractAsyncContextManager[Endpoint]:
        self.gateway_asked = True
        return self._open(service)


def test_version_names_the_program() -> None:
    result = runner.invoke(app, ["version"])
    assert result.exit_code == 0
    assert result.stdout.startswith("llmkube ")


def test_catalog_list_shows_every_model_id() -> None:
    result = runner.invoke(app, ["catalog", "list"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "llama-3.1-8b" in result.stdout
    assert "smollm2-135m" in result.stdout


def test_catalog_list_as_json_filters_by_tag() -> None:
    result = runner.invoke(app, ["catalog", "list", "--tag", "multi-gpu", "-o", "json"])
    assert result.exit_code == 0
    models = json.loads(result.stdout)
    assert {"llama-3.1-70b", "llama-3.3-70b"} <= {m["id"] for m in models}
    assert all(m["estimate"]["gpu_count"] > 1 for m in models)


def test_catalog_info_shows_the_source_file() -> None:
    result = runner.invoke(app, ["catalog", "info", "mistral-7b"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "Mistral-7B-Instruct-v0.3-Q4_K_M.gguf" in result.stdout


def test_unknown_catalog_model_fails_with_a_suggestion_and_no_traceback() -> None:
    result = runner.invoke(app, ["catalog", "info", "mistral7b"])
    assert result.exit_code == 2  # a usage error, as for deploy
    assert result.stderr.strip() == (
        "error: model 'mistral7b' is not in the catalog; did you mean 'mistral-7b' or 'mistral-small-22b'? "
        "(see 'llmkube catalog list')"
    )
    assert "Traceback" not in result.output


def test_chat_needs_a_service_or_an_endpoint() -> None:
    result = runner.invoke(app, ["chat", "-m", "hi"])
    assert result.exit_code == 2
    assert "name an InferenceService or pass --endpoint URL" in result.stderr


def test_chat_with_an_unreachable_endpoint_fails_in_one_line() -> None:
    result = runner.invoke(app, ["chat", "--endpoint", f"127.0.0.1:{closed_port()}", "-m", "hi"])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: cannot reach http://127.0.0.1:")
    assert len(result.stderr.strip().splitlines()) == 1


def test_chat_by_name_asks_the_cluster_resolver_with_the_cluster_options() -> None:
    resolver = RecordingResolver()
    result = runner.invoke(
        app,
        ["chat", "llama", "-n", "team-a", "--context", "gpu-cluster", "--kubeconfig", "/k", "-m", "hi"],
        obj=CliState(resolver=resolver),
    )
    assert resolver.asked == [
        ServiceRef(name="llama", namespace="team-a", context="gpu-cluster", kubeconfig="/k")
    ]
    assert resolver.closed
    assert f"cannot reach http://127.0.0.1:{resolver.port}" in result.stderr


def test_chat_by_name_says_on_stderr_which_route_reached_the_server(answering_server: str) -> None:
    resolver = RecordingResolver(url=answering_server, via="EndpointSlice llama-host")
    result = runner.invoke(app, ["chat", "llama", "-m", "hi"], obj=CliState(resolver=resolver))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "Hello there\n"
    assert result.stderr == f"Using {answering_server} (via EndpointSlice llama-host)\n"


def test_chat_with_an_explicit_endpoint_prints_only_the_answer(answering_server: str) -> None:
    result = runner.invoke(app, ["chat", "--endpoint", answering_server, "-m", "hi"])
    assert result.exit_code == 0, result.stderr
    assert (result.stdout, result.stderr) == ("Hello there\n", "")


def test_endpoint_flag_bypasses_the_cluster_resolver() -> None:
    resolver = RecordingResolver()
    runner.invoke(
        app,
        ["chat", "llama", "--endpoint", f"127.0.0.1:{closed_port()}", "-m", "hi"],
        obj=CliState(resolver=resolver),
    )
    assert resolver.asked == []


class RecordingAnswer(BaseHTTPRequestHandler):
    """Answers like OneAnswer and keeps every request body, to see what a gateway would route by."""

    bodies: ClassVar[list[dict[str, object]]] = []

    def do_POST(self) -> None:
        self.bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        chunk = {"model": "llama", "choices": [{"index": 0, "delta": {"content": "Hi"}}]}
        body = f"data: {json.dumps(chunk)}\n\ndata: [DONE]\n\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_chat_through_a_gateway_asks_for_the_service_by_name() -> None:
    RecordingAnswer.bodies.clear()
    with http_server(RecordingAnswer) as gateway:
        result = runner.invoke(app, ["chat", "llama", "--gateway", gateway, "-m", "hi"])

    assert result.exit_code == 0, result.stderr
    assert (result.stdout, result.stderr) == ("Hi\n", "")
    assert [body["model"] for body in RecordingAnswer.bodies] == ["llama"]


def test_benchmark_through_a_gateway_asks_for_the_service_by_name() -> None:
    RecordingAnswer.bodies.clear()
    with http_server(RecordingAnswer) as gateway:
        result = runner.invoke(
            app, ["benchmark", "llama", "--gateway", gateway, "-n", "1", "--warmup", "0", "-q", "-o", "json"]
        )

    assert result.exit_code == 0, result.stderr
    assert {body["model"] for body in RecordingAnswer.bodies} == {"llama"}


def test_gateway_cluster_finds_the_gateway_instead_of_the_service() -> None:
    resolver = RecordingResolver()
    runner.invoke(app, ["chat", "llama", "--gateway", "cluster", "-m", "hi"], obj=CliState(resolver=resolver))
    assert resolver.gateway_asked
    assert resolver.asked == [ServiceRef(name="llama")]


def test_a_gateway_needs_the_name_of_the_service_to_ask_for() -> None:
    result = runner.invoke(app, ["chat", "--gateway", "http://127.0.0.1:1", "-m", "hi"])
    assert result.exit_code == 2
    assert "--gateway needs the NAME" in result.stderr


def test_gateway_and_endpoint_exclude_each_other() -> None:
    result = runner.invoke(
        app,
        ["chat", "llama", "--gateway", "http://127.0.0.1:1", "--endpoint", "http://127.0.0.1:2", "-m", "x"],
    )
    assert result.exit_code == 2
    assert "not both" in result.stderr


def test_benchmark_takes_n_as_iterations_and_namespace_in_full() -> None:
    resolver = RecordingResolver()
    result = runner.invoke(
        app, ["benchmark", "llama", "-n", "3", "--namespace", "team-a", "-q"], obj=CliState(resolver=resolver)
    )
    assert resolver.asked == [ServiceRef(name="llama", namespace="team-a")]
    assert result.exit_code == 1


@pytest.mark.parametrize("levels", ["0", "1,x", "4,,8", "-1"])
def test_benchmark_rejects_malformed_concurrency(levels: str) -> None:
    result = runner.invoke(app, ["benchmark", "--endpoint", "http://127.0.0.1:1", "--concurrency", levels])
    assert result.exit_code == 2
    assert "--concurrency takes positive integers" in result.stderr


def test_benchmark_refuses_both_prompt_sources(tmp_path: object) -> None:
    prompt_file = f"{tmp_path}/prompt.txt"
    with open(prompt_file, "w") as f:
        f.write("hello")
    result = runner.invoke(
        app, ["benchmark", "--endpoint", "http://127.0.0.1:1", "-p", "x", "--prompt-file", prompt_file]
    )
    assert result.exit_code == 2
    assert "not both" in result.stderr


def test_fetch_hands_its_arguments_to_the_downloader() -> None:
    result = runner.invoke(app, ["fetch", "--help"])
    assert result.exit_code == 0
    assert "--cache-dir" in result.stdout


def test_shell_completion_is_offered() -> None:
    result = runner.invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert "--install-completion" in result.stdout


def test_catalog_list_and_info_show_the_controllers_memory_plan() -> None:
    entry = get_model("llama-3.1-70b")
    estimate = entry.estimate
    assert estimate.plan is not None

    listing = runner.invoke(app, ["catalog", "list"], env={"COLUMNS": "200"})
    info = runner.invoke(app, ["catalog", "info", entry.id], env={"COLUMNS": "400"})

    row = next(line for line in listing.stdout.splitlines() if entry.id in line)
    assert row.rstrip().endswith(estimate.total)
    assert estimate.summary in info.stdout
