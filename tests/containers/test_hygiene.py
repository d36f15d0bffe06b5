"""Building and running images leaves nothing behind: no podman store, mount or process of ours, and each archive
names the reference a runtime will import it under."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest

from hack.images import BuiltImage, ensure_images
from hack.images.archives import build_lock, images_dir
from hack.images.podman import Podman, mounts_under

pytestmark = [pytest.mark.containers, pytest.mark.xdist_group("containers"), pytest.mark.timeout(3600)]


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            command = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # the process exited while we looked
            continue
        if text in command:
            found.append(command)
    return found


def test_a_store_is_removed_with_its_running_containers_mounts_and_processes(tmp_path: Path) -> None:
    base = ensure_images(["debian-llama"])["debian-llama"]  # the smallest image
    with Podman.private(parent=tmp_path) as podman:
        root = podman.root
        podman.load(base.archive)
        podman("run", "--detach", "--network", "none", base.reference, "sleep", "600")
        assert mounts_under(root), "a running container has its root file system mounted in the store"

    assert not mounts_under(tmp_path)
    assert not _processes_mentioning(str(root))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.usefixtures("controller_images")
def test_a_build_leaves_no_scratch_behind() -> None:
    with build_lock():  # no build of another session in progress
        work = images_dir() / "work"
        assert not work.exists() or list(work.iterdir()) == []
        assert not mounts_under(images_dir())


@pytest.mark.llama
def test_every_archive_is_imported_under_its_reference(
    controller_images: dict[str, BuiltImage],
    llama_images: dict[str, BuiltImage],
    pause_images: dict[str, BuiltImage],
) -> None:
    for image in {**controller_images, **llama_images, **pause_images}.values():
        with tarfile.open(image.archive) as archive:
            member = archive.extractfile("manifest.json")
            assert member is not None, f"{image.archive} is not a docker-archive"
            manifest = json.load(member)
        assert [entry["RepoTags"] for entry in manifest] == [[image.reference]]
