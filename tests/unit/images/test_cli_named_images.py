"""`python -m hack.images overlay DIR --controller REF`: an overlay naming images built elsewhere (with Docker, by
hack/kind-up.sh), written without building anything."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hack.images.__main__ import main


def test_named_images_go_into_the_overlay_without_a_build(tmp_path: Path) -> None:
    controller = "localhost/llmkube/controller:dev-0123456789ab"
    server = "localhost/llmkube/llama-server-cpu:dev-0123456789ab"

    assert main(["overlay", str(tmp_path), "--controller", controller, "--llama-server-cpu", server]) == 0

    kustomization = json.loads((tmp_path / "kustomization.yaml").read_text())
    assert kustomization["images"] == [
        {
            "name": "ghcr.io/llmkube/llmkube",
            "newName": "localhost/llmkube/controller",
            "newTag": "dev-0123456789ab",
        }
    ]
    assert f"--llama-server-image-cpu={server}" in kustomization["patches"][0]["patch"]


def test_a_llama_server_image_alone_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as refused:
        main(["overlay", str(tmp_path), "--llama-server-cpu", "localhost/llmkube/llama-server-cpu:x"])
    assert refused.value.code == 2
    assert not (tmp_path / "kustomization.yaml").exists()
