"""The real node's image store: kept only when the last node left it clean, and rid of images whose archives
the image cache no longer holds."""

from __future__ import annotations

from pathlib import Path

from hack.localcluster.imagestore import clean_mark, mark_clean, open_store, stale_images


def test_a_store_left_clean_is_kept_and_unmarked_while_in_use(tmp_path: Path) -> None:
    root = tmp_path / "containerd-root"
    open_store(root)
    (root / "content").mkdir()
    mark_clean(root)

    open_store(root)

    assert (root / "content").is_dir()
    assert not clean_mark(root).exists()  # a node killed now leaves it unmarked


def test_a_store_without_the_clean_mark_is_wiped(tmp_path: Path) -> None:
    root = tmp_path / "containerd-root"
    open_store(root)
    (root / "leftover-container").mkdir()  # the node using it died before it could delete its containers

    open_store(root)

    assert root.is_dir()
    assert list(root.iterdir()) == []


def test_only_our_images_whose_archives_are_gone_are_stale() -> None:
    cached = {("controller", "aaa"), ("pause", "ccc")}
    references = [
        "localhost/llmkube/controller:aaa",
        "localhost/llmkube/controller:bbb",
        "localhost/llmkube/pause:ccc",
        "docker.io/library/busybox:latest",
        "localhost/llmkube/nested/name:ddd",
        "sha256:0123",
    ]

    stale = stale_images(references, archive_exists=lambda name, tag: (name, tag) in cached)

    assert stale == ["localhost/llmkube/controller:bbb"]
