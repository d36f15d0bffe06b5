"""The controller image runs what the cluster asks of it under the restricted pod security context: the manager,
and `llmkube fetch` writing a real model into a mounted cache, as uid 65532 with only /tmp and the cache
writable. The download Job's container is taken from the builder, so this is the Job a Model gets."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import gguf
import numpy as np
import pytest

from api.v1alpha1.converter import from_wire
from api.v1alpha1.model import Model
from controller.builders.fetch_job import desired_fetch_job, model_cache_key
from controller.builders.security import NONROOT_ID
from controller.config import ControllerConfig
from hack.images import BuiltImage
from hack.images.podman import Podman
from tests.containers.loopback import private_loopback, serving_directory
from tests.containers.pod import podman_run_args

pytestmark = [pytest.mark.containers, pytest.mark.xdist_group("containers"), pytest.mark.timeout(3600)]

RESTRICTED = ["--read-only", "--read-only-tmpfs=false", "--user", f"{NONROOT_ID}:{NONROOT_ID}"]
RESTRICTED += ["--cap-drop", "ALL", "--security-opt", "no-new-privileges", "--network", "none"]


@pytest.fixture
def controller(controller_images: dict[str, BuiltImage]) -> str:
    return controller_images["controller"].reference


def test_the_manager_starts_as_nonroot_on_a_read_only_root(podman: Podman, controller: str) -> None:
    result = podman("run", "--rm", *RESTRICTED, controller, "--help")
    assert "usage: llmkube-controller" in result.stdout
    assert "--llama-server-image-cpu" in result.stdout


def test_the_manager_without_a_cluster_says_so_in_one_line_and_exits_1(
    podman: Podman, controller: str
) -> None:
    # Not through `podman(...)`, which raises on a non-zero status: the status is what this test is about.
    result = subprocess.run(
        ["podman", "run", "--rm", *RESTRICTED, controller],
        env=podman.env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "no cluster to connect to" in output
    assert "Traceback" not in output


def test_the_fetcher_starts_as_nonroot_on_a_read_only_root(podman: Podman, controller: str) -> None:
    result = podman("run", "--rm", *RESTRICTED, "--entrypoint", "llmkube", controller, "fetch", "--help")
    assert "usage: llmkube fetch" in result.stdout


def test_the_image_itself_runs_as_the_nonroot_user(podman: Podman, controller: str) -> None:
    result = podman(
        "run", "--rm", "--network", "none", "--entrypoint", "python3", controller,
        "-c", "import os; print(os.getuid(), os.getgid())",
    )  # fmt: skip
    assert result.stdout.split() == [str(NONROOT_ID), str(NONROOT_ID)]


def test_the_image_ships_bytecode_so_a_read_only_root_costs_no_compilation(
    podman: Podman, controller: str
) -> None:
    # Python imports a module from its .pyc only if it exists: check the modules every start imports.
    probe = (
        "import importlib.util as u, os; "
        "print(all(os.path.exists(u.cache_from_source(u.find_spec(m).origin)) "
        "for m in ('controller.__main__', 'llmkube.fetch.cli', 'kubernetes_asyncio.client', 'aiohttp')))"
    )
    result = podman("run", "--rm", *RESTRICTED, "--entrypoint", "python3", controller, "-c", probe)
    assert result.stdout.strip() == "True"


def test_the_image_keeps_its_base_ca_bundle_not_the_build_hosts(
    podman: Podman, controller: str, controller_images: dict[str, BuiltImage]
) -> None:
    def bundle_digest(reference: str) -> str:
        result = podman(
            "run", "--rm", "--network", "none", "--entrypoint", "sha256sum", reference,
            "/etc/ssl/certs/ca-certificates.crt",
        )  # fmt: skip
        return result.stdout.split()[0]

    assert bundle_digest(controller) == bundle_digest(controller_images["debian-python"].reference)


def _tiny_gguf(path: Path) -> bytes:
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name("tiny")
    writer.add_context_length(256)
    writer.add_tensor("blob", np.arange(4096, dtype=np.int8))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path.read_bytes()


def _url_model(url: str) -> Model:
    wire: dict[str, Any] = {
        "apiVersion": "inference.llmkube.dev/v1alpha1",
        "kind": "Model",
        "metadata": {"name": "tiny", "namespace": "team-a", "uid": "model-uid"},
        "spec": {"source": {"url": url}},
    }
    return from_wire(wire, Model)


def test_the_download_job_fetches_a_model_into_the_cache_claim(
    podman: Podman, controller: str, tmp_path: Path
) -> None:
    served = tmp_path / "served"
    served.mkdir()
    content = _tiny_gguf(served / "tiny.gguf")
    # The claim as the kubelet hands it to a pod with fsGroup: group-owned by that group, setgid, group-writable.
    claim = tmp_path / "claim"
    claim.mkdir()
    os.chown(claim, 0, NONROOT_ID)
    claim.chmod(0o2775)
    termination_log = tmp_path / "termination-log"
    termination_log.touch()
    termination_log.chmod(0o666)  # as the kubelet leaves it, so a non-root container can write it
    config = ControllerConfig(fetcher_image=controller)

    with private_loopback() as loopback, serving_directory(loopback, str(served), port=8000) as base_url:
        model = _url_model(f"{base_url}/tiny.gguf")
        key = model_cache_key(model)
        job = desired_fetch_job(model=model, cache_key=key, config=config)
        pod = job["spec"]["template"]["spec"]
        container = pod["containers"][0]
        run = podman_run_args(
            container,
            pod_security=pod["securityContext"],
            volumes={"model-cache": claim, "tmp": "emptyDir"},
            network=loopback.podman_network,
            field_values={"metadata.namespace": "team-a"},
        )
        result = podman(
            "run", "--rm", "--volume", f"{termination_log}:{container['terminationMessagePath']}:rw", *run
        )

    cached = claim / key / "model.gguf"
    assert cached.read_bytes() == content
    assert cached.stat().st_uid == NONROOT_ID
    reported = json.loads(termination_log.read_text())
    assert reported["ok"] is True, result.stdout
    assert reported["sha256"] == hashlib.sha256(content).hexdigest()
    assert reported["sizeBytes"] == len(content)
