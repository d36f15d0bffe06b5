"""The image cache: one docker-archive tar per image and content tag under `~/.cache/llmkube/images`.

A docker-archive (`podman save --format docker-archive`) carries its reference in `manifest.json`, so
`ctr -n k8s.io images import`, `podman load` and `docker load` all restore the image under the same name. The tag
is the content fingerprint, so an archive that exists is the image its inputs describe: a warm run needs no
podman at all. Archives appear by rename, never half written; several tags of one image may coexist (worktrees
on different commits share the cache), and only the few most recently used are kept.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
from collections.abc import Iterator
from pathlib import Path

import attrs

from hack.images.fingerprint import TAG_LENGTH
from hack.llama import cache_root

#: Every image is named under this repository prefix; `localhost/` keeps runtimes from looking for a registry.
REPOSITORY_PREFIX = "localhost/llmkube"
#: Archives of one image kept after a build: the current one plus a few for other checkouts sharing the cache.
KEEP_PER_IMAGE = 3


@attrs.frozen(kw_only=True)
class BuiltImage:
    """An image ready to load: `reference` is what pods and kustomize name, `archive` what a runtime imports."""

    name: str
    reference: str
    archive: Path


def images_dir() -> Path:
    return cache_root() / "images"


def reference_for(name: str, tag: str) -> str:
    return f"{REPOSITORY_PREFIX}/{name}:{tag}"


def archive_for(name: str, tag: str) -> Path:
    return images_dir() / f"{name}-{tag}.tar"


def cached(name: str, tag: str) -> BuiltImage | None:
    """The archive of `name` at `tag` if it was built; using it marks it recently used, so pruning spares it."""
    archive = archive_for(name, tag)
    try:
        os.utime(archive)
    except FileNotFoundError:
        return None
    return BuiltImage(name=name, reference=reference_for(name, tag), archive=archive)


def prune(name: str, *, keep: int = KEEP_PER_IMAGE) -> list[Path]:
    """Deletes all but the `keep` most recently used archives of `name`; returns what it deleted."""
    # Only `<name>-<tag>.tar`: an image whose name merely starts with this one's is not ours to prune.
    own = re.compile(rf"{re.escape(name)}-[0-9a-f]{{{TAG_LENGTH}}}\.tar")
    archives = [path for path in images_dir().glob(f"{name}-*.tar") if own.fullmatch(path.name)]
    archives.sort(key=lambda path: path.stat().st_mtime, reverse=True)
    stale = archives[keep:]
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


@contextlib.contextmanager
def build_lock() -> Iterator[None]:
    """Held while building: two test sessions sharing the cache never build the same image at once."""
    images_dir().mkdir(parents=True, exist_ok=True)
    with open(images_dir() / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
