"""The errors a user meets first (no cluster, no CRDs, a mistyped name) end the command with one line on stderr,
exit status 1 or 2 and no traceback.

Cluster commands talk to a stand-in apiserver that answers like a real one; the runner does not catch
exceptions, so an unexpected one fails the test with its traceback instead of passing as exit status 1.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from llmkube.cli.main import app

from .fake_apiserver import Cluster, http_server, serving, write_kubeconfig

NAMESPACE = "team-a"
INSTALL_LINE = (
    "error: the LLMKube CRDs are not installed in this cluster; install LLMKube first: llmkube init\n"
)

runner = CliRunner()


def llmkube(*args: str, kubeconfig: Path) -> Result:
    return runner.invoke(app, [*args, "--kubeconfig", str(kubeconfig)], catch_exceptions=False)


def assert_one_line_error(result: Result, *, exit_code: int) -> None:
    assert result.exit_code == exit_code, result.output
    assert result.stderr.startswith("error: ")
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stdout == ""


@pytest.fixture
def no_crds(tmp_path: Path) -> Iterator[Path]:
    """A kubeconfig for a cluster that serves no LLMKube resource types."""
    with serving(Cluster.without_crds()) as server:
        yield write_kubeconfig(tmp_path / "kubeconfig", server=server, namespace=NAMESPACE)


@pytest.fixture
def one_service(tmp_path: Path) -> Iterator[Path]:
    """A kubeconfig for a cluster with the CRDs and one model served, smollm2-135m."""
    cluster = Cluster.with_crds(NAMESPACE, models=["smollm2-135m"], inferenceservices=["smollm2-135m"])
    with serving(cluster) as server:
        yield write_kubeconfig(tmp_path / "kubeconfig", server=server, namespace=NAMESPACE)


def test_without_a_kubeconfig_the_error_says_where_it_looked(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "config"
    result = llmkube("list", kubeconfig=missing)
    assert_one_line_error(result, exit_code=1)
    assert result.stderr == (
        f"error: no kubeconfig at {missing}: point --kubeconfig or $KUBECONFIG at your cluster's kubeconfig\n"
    )


def test_an_unreachable_cluster_is_reported_in_one_line(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    config = write_kubeconfig(
        tmp_path / "kubeconfig", server=f"http://127.0.0.1:{closed}", namespace=NAMESPACE
    )
    result = llmkube("list", kubeconfig=config)
    assert_one_line_error(result, exit_code=1)
    assert result.stderr.startswith("error: cannot reach the Kubernetes API (")
    assert result.stderr.endswith("is the cluster running, and is this the right --context?\n")


@pytest.mark.parametrize(
    "command",
    [
        ["list"],
        ["list", "-A"],
        ["status", "smollm2-135m"],
        ["delete", "smollm2-135m"],
        ["deploy", "smollm2-135m", "--no-wait"],
        ["chat", "smollm2-135m", "-m", "hi"],
        ["benchmark", "smollm2-135m", "-n", "1"],
    ],
    ids=" ".join,
)
def test_a_cluster_without_the_crds_is_told_how_to_install_them(command: list[str], no_crds: Path) -> None:
    result = llmkube(*command, kubeconfig=no_crds)
    assert_one_line_error(result, exit_code=1)
    assert result.stderr == INSTALL_LINE


def test_status_of_an_unknown_name_suggests_the_nearest(one_service: Path) -> None:
    result = llmkube("status", "smollm2-135", kubeconfig=one_service)
    assert_one_line_error(result, exit_code=1)
    assert result.stderr == (
        "error: no InferenceService or Model named 'smollm2-135' in namespace 'team-a'; "
        "did you mean 'smollm2-135m'? (see 'llmkube list')\n"
    )


def test_chat_with_an_unknown_name_suggests_the_nearest(one_service: Path) -> None:
    result = llmkube("chat", "smollm2", "-m", "hi", kubeconfig=one_service)
    assert_one_line_error(result, exit_code=1)
    assert result.stderr == (
        "error: InferenceService 'smollm2' not found in namespace 'team-a'; did you mean 'smollm2-135m'? "
        "(see 'llmkube list', or deploy it with 'llmkube deploy')\n"
    )


def test_delete_of_an_unknown_name_fails(one_service: Path) -> None:
    result = llmkube("delete", "ghost", kubeconfig=one_service)
    assert_one_line_error(result, exit_code=1)
    assert (
        result.stderr == "error: no InferenceService or Model named 'ghost' to delete in namespace 'team-a'\n"
    )


def test_deploy_of_an_unknown_catalog_name_suggests_the_nearest_before_needing_a_cluster(
    tmp_path: Path,
) -> None:
    result = llmkube("deploy", "llama-3.2-3bb", kubeconfig=tmp_path / "no-kubeconfig")
    assert_one_line_error(result, exit_code=2)
    assert result.stderr == (
        "error: 'llama-3.2-3bb' is not in the catalog; did you mean 'llama-3.2-3b' or 'llama-3.2-1b'? "
        "See 'llmkube catalog list', or deploy a model of your own with --source URL or --hf-repo REPO "
        "--hf-file FILE\n"
    )


def test_init_against_an_unreachable_cluster_ends_in_one_line(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    config = write_kubeconfig(
        tmp_path / "kubeconfig", server=f"http://127.0.0.1:{closed}", namespace=NAMESPACE
    )
    result = llmkube("init", kubeconfig=config)
    assert_one_line_error(result, exit_code=1)
    assert result.stderr.startswith("error: cannot reach the Kubernetes API (")


class RejectsEveryone(BaseHTTPRequestHandler):
    """An apiserver that accepts no credentials, as a real one answers an expired token: 401 with a Status."""

    def do_GET(self) -> None:
        body = b'{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Unauthorized","code":401}'
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_init_with_rejected_credentials_ends_in_one_line(tmp_path: Path) -> None:
    with http_server(RejectsEveryone) as server:
        config = write_kubeconfig(tmp_path / "kubeconfig", server=server, namespace=NAMESPACE)
        result = llmkube("init", kubeconfig=config)
    assert_one_line_error(result, exit_code=1)
    assert (
        result.stderr == "error: the cluster rejected our credentials (401): refresh your kubeconfig login\n"
    )
