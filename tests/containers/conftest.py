"""Fixtures for the container tests: the images (built once into ~/.cache/llmkube/images, or found there), loaded
into one private podman store that is removed, with everything in it, at the end of the session.

Every test here is in the xdist group `containers`, so under `make test`'s two workers one of them loads the
images, once (hack/xdist_plan.py)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from hack.images import BuiltImage, ensure_images
from hack.images.podman import Podman


def _say(line: str) -> None:
    print(f"==> {line}", file=sys.stderr, flush=True)


@pytest.fixture(scope="session")
def store_parent(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("podman")


@pytest.fixture(scope="session")
def podman(store_parent: Path) -> Iterator[Podman]:
    with Podman.private(parent=store_parent) as store:
        yield store


def _loaded(podman: Podman, name: str) -> dict[str, BuiltImage]:
    """`name` and its bases, built if missing and loaded into the session's store as a node would import them."""
    images = ensure_images([name], progress=_say)
    for image in images.values():
        podman.load(image.archive)
    return images


@pytest.fixture(scope="session")
def controller_images(podman: Podman) -> dict[str, BuiltImage]:
    return _loaded(podman, "controller")


@pytest.fixture(scope="session")
def llama_images(podman: Podman) -> dict[str, BuiltImage]:
    return _loaded(podman, "llama-server-cpu")


@pytest.fixture(scope="session")
def pause_images(podman: Podman) -> dict[str, BuiltImage]:
    return _loaded(podman, "pause")
