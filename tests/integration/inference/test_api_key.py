"""A service that requires an API key, as the operator runs it: the real llama-server reading the key from a file
with the arguments our builder computes, and `llmkube chat` as a user runs it, with and without the key."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.v1alpha1.converter import from_wire
from api.v1alpha1.inferenceservice import InferenceServiceSpec
from controller.builders.llama_args import llama_server_args
from hack.llama_fixture import running_llama_server

pytestmark = pytest.mark.llama

LLMKUBE = str(Path(sys.executable).parent / "llmkube")
KEY = f"sk-{secrets.token_hex(16)}"


@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """llama-server started with the builder's arguments for a keyed service, minus the operator-owned ones."""
    key_file = tmp_path_factory.mktemp("api-key") / "key"
    key_file.write_text(KEY + "\n")
    key_file.chmod(0o440)
    spec = from_wire(
        {"modelRef": {"name": "m"}, "contextSize": 2048, "parallelSlots": 2}, InferenceServiceSpec
    )
    args = llama_server_args(
        alias="m", spec=spec, model=None, model_path="<model>", api_key_file=str(key_file)
    )
    tuning = args[args.index("--n-gpu-layers") :]  # --model/--host/--port come from the fixture
    with running_llama_server(extra_args=tuning) as base_url:
        yield base_url


def status_of(url: str, *, key: str | None = None) -> int:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def chat(base_url: str, *, key: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "LLMKUBE_API_KEY"}
    if key is not None:
        env["LLMKUBE_API_KEY"] = key
    argv = [LLMKUBE, "chat", "--endpoint", base_url, "-m", "Say hi.", "--max-tokens", "4"]
    return subprocess.run(argv, capture_output=True, text=True, timeout=300, env=env, check=False)


def test_health_answers_without_the_key_so_probes_keep_working(keyed_server: str) -> None:
    assert status_of(f"{keyed_server}/health") == 200


def test_metrics_need_the_key_as_the_service_monitor_sends_it(keyed_server: str) -> None:
    assert status_of(f"{keyed_server}/metrics") == 401
    assert status_of(f"{keyed_server}/metrics", key=KEY) == 200


def test_chat_without_the_key_says_how_to_pass_it(keyed_server: str) -> None:
    result = chat(keyed_server, key=None)
    assert result.returncode == 1
    assert "HTTP 401" in result.stderr
    assert "pass --api-key or set LLMKUBE_API_KEY" in result.stderr
    assert "Traceback" not in result.stderr


def test_chat_with_a_wrong_key_is_refused_without_echoing_it(keyed_server: str) -> None:
    wrong = f"sk-{secrets.token_hex(8)}"
    result = chat(keyed_server, key=wrong)
    assert result.returncode == 1
    assert "API key was refused" in result.stderr
    assert wrong not in result.stderr + result.stdout


def test_chat_with_the_key_from_the_environment_gets_an_answer(keyed_server: str) -> None:
    result = chat(keyed_server, key=KEY)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()
