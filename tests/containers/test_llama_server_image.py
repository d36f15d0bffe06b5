"""The CPU llama-server image serves SmolLM2 under the Deployment our builder writes: the builder's args against
the image's entrypoint, uid 65532, a read-only root, and the model mounted read-only from the cache claim by
subPath. A real chat completion proves it, judged by its body."""

from __future__ import annotations

import json
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.v1alpha1.converter import from_wire
from api.v1alpha1.inferenceservice import InferenceService
from api.v1alpha1.model import Model
from controller.builders.deployment import desired_deployment
from controller.builders.model_cache import cached_model_path
from controller.config import ControllerConfig, LlamaServerImages
from hack.images import BuiltImage
from hack.images.podman import Podman, PodmanError
from hack.llama import smollm2_gguf
from tests.containers.loopback import Loopback, private_loopback
from tests.containers.pod import podman_run_args

pytestmark = [
    pytest.mark.containers,
    pytest.mark.xdist_group("containers"),
    pytest.mark.llama,
    pytest.mark.timeout(3600),
]

CACHE_KEY = "0123456789abcdef"
STARTUP_TIMEOUT_S = 120


def _stored(wire: dict[str, Any]) -> dict[str, Any]:
    wire["metadata"] = {"name": "smollm2", "namespace": "team-a", "uid": "uid-1", "generation": 1}
    return wire


def _deployment(image: str) -> dict[str, Any]:
    model = from_wire(
        _stored(
            {
                "apiVersion": "inference.llmkube.dev/v1alpha1",
                "kind": "Model",
                "spec": {"source": {"url": "http://models.local/smollm2.gguf"}},
                "status": {
                    "phase": "Ready",
                    "cacheKey": CACHE_KEY,
                    "sizeBytes": smollm2_gguf().stat().st_size,
                    "gguf": {"contextLength": 8192},
                },
            }
        ),
        Model,
    )
    isvc = from_wire(
        _stored(
            {
                "apiVersion": "inference.llmkube.dev/v1alpha1",
                "kind": "InferenceService",
                "spec": {"modelRef": {"name": "smollm2"}, "accelerator": {"type": "cpu"}},
            }
        ),
        InferenceService,
    )
    config = ControllerConfig(llama_server_images=LlamaServerImages(cpu=image))
    deployment = desired_deployment(isvc=isvc, model=model, config=config)
    assert deployment is not None
    return deployment


@pytest.fixture(scope="module")
def claim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache claim holding SmolLM2 where a download Job would have written it; the server only reads it."""
    root = tmp_path_factory.mktemp("claim")
    directory = root / CACHE_KEY
    directory.mkdir(parents=True)
    model = directory / "model.gguf"
    try:
        os.link(smollm2_gguf(), model)
    except OSError:  # another file system
        shutil.copyfile(smollm2_gguf(), model)
    return root


@pytest.fixture(scope="module")
def serving(podman: Podman, llama_images: dict[str, BuiltImage], claim: Path) -> Iterator[Loopback]:
    """The Deployment's container running detached in a private network namespace; stopped afterwards."""
    deployment = _deployment(llama_images["llama-server-cpu"].reference)
    pod = deployment["spec"]["template"]["spec"]
    name = f"llama-{secrets.token_hex(4)}"
    with private_loopback() as loopback:
        run = podman_run_args(
            pod["containers"][0],
            pod_security=pod["securityContext"],
            volumes={"model-cache": claim, "tmp": "emptyDir"},
            network=loopback.podman_network,
        )
        podman("run", "--detach", "--name", name, *run)
        try:
            health = loopback.wait_for(
                "http://127.0.0.1:8080/health", contains='"ok"', timeout_s=STARTUP_TIMEOUT_S
            )
            assert '"ok"' in health.body, f"{health}\n{_logs(podman, name)}"
            yield loopback
        finally:
            podman("rm", "--force", "--time", "10", name)


def _logs(podman: Podman, name: str) -> str:
    try:
        return podman("logs", name).stdout
    except PodmanError as exc:
        return str(exc)


def test_the_deployment_reads_the_model_where_the_server_image_finds_it() -> None:
    container = _deployment("server:1")["spec"]["template"]["spec"]["containers"][0]
    assert "command" not in container  # the image's entrypoint is llama-server
    assert container["args"][container["args"].index("--model") + 1] == cached_model_path(
        ControllerConfig(), CACHE_KEY
    )


def test_the_server_image_is_laid_out_like_the_public_one(
    podman: Podman, llama_images: dict[str, BuiltImage]
) -> None:
    reference = llama_images["llama-server-cpu"].reference
    config = json.loads(podman("image", "inspect", reference).stdout)[0]["Config"]
    assert config["Entrypoint"] == ["/app/llama-server"]
    assert config["WorkingDir"] == "/app"
    assert config["User"] == "65532:65532"
    assert "LLAMA_ARG_HOST=0.0.0.0" in config["Env"]


def test_the_server_image_answers_a_chat_completion(serving: Loopback) -> None:
    request = {"messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 16}
    response = serving.request("http://127.0.0.1:8080/v1/chat/completions", body=json.dumps(request))
    assert response.status == 200, response.body
    answer = json.loads(response.body)
    assert answer["object"] == "chat.completion"
    assert answer["choices"][0]["message"]["content"].strip()
    assert answer["usage"]["completion_tokens"] > 0


def test_the_server_image_serves_metrics(serving: Loopback) -> None:
    response = serving.request("http://127.0.0.1:8080/metrics")
    assert "llamacpp:" in response.body
