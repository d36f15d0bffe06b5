"""The real node's image store kept between clusters, so a warm start imports no image it already holds.

Importing the controller and CPU llama-server archives (about 550 MB) into a fresh containerd costs tens of
seconds on two busy cores: most of a demo's start. With an image store, containerd's root (content store,
overlayfs snapshots, metadata) lives in IMAGE_STORE instead of the cluster's state dir, and
`RealNode.load_image` skips an archive the store already holds: an image whose import completed carries
ARCHIVE_LABEL, the digest of the archive's manifest (which names every blob by digest).

What must never outlive a cluster is its containers. Before containerd stops, every task, container and sandbox
is deleted through containerd itself; only then is the store marked clean (CLEAN_MARK beside it). A store found
without the mark (the node using it was killed, or the deletion failed) is wiped before containerd starts, so no
container record, snapshot or mount of a dead cluster reaches the next one; that start imports again. Mounts:
containerd mounts container roots under its state dir, which stays the cluster's; with no container running the
store holds only unmounted directories, and the host clean-up unmounts anything under it as under a state dir.
The store is used only under the machine-wide real-node lock, so by one containerd at a time.

Images whose archive has left the image cache (which keeps a few per image) are removed from the store when a
node starts, so it does not grow without bound.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable
from pathlib import Path

from hack.localcluster.hoststate import mounts_in_scope
from hack.localcluster.machinelock import IMAGE_STORE

__all__ = ["ARCHIVE_LABEL", "IMAGE_STORE", "mark_clean", "open_store", "stale_images"]

#: The label an imported image gets once its import completed: the sha256 of its archive's manifest.
ARCHIVE_LABEL = "llmkube.dev/archive-manifest"
#: Only images under this prefix are ours to remove; anything else in the store is left alone.
OWN_PREFIX = "localhost/llmkube/"


def clean_mark(root: Path) -> Path:
    return root.with_name(root.name + ".clean")


def open_store(root: Path) -> Path:
    """Readies `root` for a containerd about to start: wiped unless the last node left it clean; the mark is
    removed until this node leaves it clean in turn."""
    mark = clean_mark(root)
    if root.exists() and not mark.exists():
        mounted = [point for point, _ in mounts_in_scope() if point.startswith(f"{root}/")]
        if mounted:
            raise RuntimeError(f"cannot reset the image store {root}: still mounted there: {mounted}")
        shutil.rmtree(root)
    mark.unlink(missing_ok=True)
    root.mkdir(parents=True, exist_ok=True)
    return root


def mark_clean(root: Path) -> None:
    """Called once containerd has stopped with no container, task or sandbox left in `root`."""
    clean_mark(root).touch()


def stale_images(references: Iterable[str], *, archive_exists: Callable[[str, str], bool]) -> list[str]:
    """The references `localhost/llmkube/<name>:<tag>` whose archive (`archive_exists(name, tag)`) is gone."""
    stale = []
    for reference in references:
        if not reference.startswith(OWN_PREFIX):
            continue
        name, colon, tag = reference.removeprefix(OWN_PREFIX).rpartition(":")
        if colon and name and "/" not in name and not archive_exists(name, tag):
            stale.append(reference)
    return stale
