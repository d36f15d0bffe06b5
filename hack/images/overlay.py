"""A kustomize overlay installing `config/default` with images other than the public ones.

`kubectl apply -k <overlay>` then runs the controller (and, through it, the download Jobs) from `controller`, and
serves CPU models with `llama_server_cpu`. The overlay only adds to `config/default`: the images transformer
renames the controller image (`config/manager` has already turned `controller` into the public name), and a JSON
patch appends the flag to the manager's arguments. Tags are content hashes that change with the code, which is
why the overlay is written when needed rather than kept in the repository.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from hack.images.controller import REPO

#: The controller image as `config/default` renders it (config/manager/kustomization.yaml).
PUBLIC_CONTROLLER_IMAGE = "ghcr.io/llmkube/llmkube"
#: The Deployment `config/default` renders (name prefix `llmkube-`).
MANAGER_DEPLOYMENT = "llmkube-controller-manager"


def write_overlay(directory: Path, *, controller: str, llama_server_cpu: str | None = None) -> Path:
    """Writes `directory/kustomization.yaml` over this repository's `config/default`; returns `directory`."""
    name, tag = _split(controller)
    directory.mkdir(parents=True, exist_ok=True)
    kustomization: dict[str, object] = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        # kustomize takes no absolute path here, but a relative one may leave the overlay's directory.
        "resources": [os.path.relpath(REPO / "config" / "default", directory.resolve())],
        "images": [{"name": PUBLIC_CONTROLLER_IMAGE, "newName": name, "newTag": tag}],
    }
    if llama_server_cpu is not None:
        add_flag = {
            "op": "add",
            "path": "/spec/template/spec/containers/0/args/-",
            "value": f"--llama-server-image-cpu={llama_server_cpu}",
        }
        kustomization["patches"] = [
            {
                "target": {"kind": "Deployment", "name": MANAGER_DEPLOYMENT},
                "patch": json.dumps([add_flag]),
            }
        ]
    # JSON is YAML: no YAML writer needed, and every value is quoted exactly.
    (directory / "kustomization.yaml").write_text(json.dumps(kustomization, indent=2) + "\n")
    return directory


def _split(reference: str) -> tuple[str, str]:
    """`name:tag` -> (name, tag); a port in the registry part (`host:5000/x`) is not a tag."""
    name, colon, tag = reference.rpartition(":")
    if not colon or "/" in tag or "@" in reference:
        raise ValueError(f"image {reference!r} must be name:tag (a digest reference is not supported here)")
    return name, tag
