"""The archive cache: an archive is found by name and tag, using it keeps it from pruning, and pruning keeps the
most recently used few of one image without touching other images."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hack.images.archives import archive_for, cached, images_dir, prune, reference_for

TAGS = [f"{n:016x}" for n in range(5)]


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LLMKUBE_CACHE", str(tmp_path))
    images_dir().mkdir()
    return images_dir()


def _archive(name: str, tag: str, *, age_s: float) -> Path:
    path = archive_for(name, tag)
    path.write_bytes(b"tar")
    os.utime(path, (path.stat().st_atime, path.stat().st_mtime - age_s))
    return path


def test_references_are_local_and_tagged_by_content() -> None:
    assert reference_for("controller", TAGS[1]) == f"localhost/llmkube/controller:{TAGS[1]}"


def test_a_missing_archive_is_not_cached() -> None:
    assert cached("controller", TAGS[0]) is None


def test_a_cached_archive_names_its_reference() -> None:
    archive = _archive("controller", TAGS[0], age_s=0)
    image = cached("controller", TAGS[0])
    assert image is not None
    assert (image.name, image.reference, image.archive) == (
        "controller",
        reference_for("controller", TAGS[0]),
        archive,
    )


def test_pruning_keeps_the_most_recently_used_archives() -> None:
    for age, tag in enumerate(TAGS):
        _archive("controller", tag, age_s=100 * age)
    assert cached("controller", TAGS[4]) is not None  # the oldest, used just now

    deleted = prune("controller", keep=3)

    assert {path.name for path in deleted} == {f"controller-{TAGS[2]}.tar", f"controller-{TAGS[3]}.tar"}
    assert sorted(p.name for p in images_dir().glob("*.tar")) == [
        f"controller-{TAGS[t]}.tar" for t in (0, 1, 4)
    ]


def test_pruning_one_image_spares_images_whose_names_extend_it() -> None:
    _archive("debian", TAGS[0], age_s=0)
    other = _archive("debian-python", TAGS[1], age_s=100)
    prune("debian", keep=0)
    assert other.exists()
    assert not archive_for("debian", TAGS[0]).exists()
