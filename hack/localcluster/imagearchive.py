"""Writing a one-layer container image as a docker-archive tar (what `docker save` and `podman save` write),
which `ctr images import` loads, without a registry, a daemon or an image builder.

The archive is deterministic (fixed timestamps and owners, sorted entries), so the same files always give the
same image ID and a content-keyed cache stays valid.

Layout: `manifest.json` names the config and the layer; `<config digest>.json` is the OCI image config;
`<layer digest>/layer.tar` is the uncompressed layer, whose sha256 is the config's `rootfs.diff_ids` entry.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import attrs


@attrs.frozen(kw_only=True)
class ImageEntry:
    """One file system entry of the layer: a file (from `source` or `data`), a directory, or a symlink."""

    path: str
    source: Path | None = None
    data: bytes | None = None
    symlink_to: str | None = None
    mode: int = 0o755

    @property
    def is_directory(self) -> bool:
        return self.source is None and self.data is None and self.symlink_to is None


@attrs.frozen(kw_only=True)
class ImageArchive:
    """An image archive on disk and the reference it is imported under."""

    path: Path
    reference: str


def write_docker_archive(
    archive: Path,
    *,
    reference: str,
    entries: Sequence[ImageEntry],
    entrypoint: Sequence[str] = (),
    cmd: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
) -> ImageArchive:
    """Writes the archive atomically (a partial file is renamed into place) and returns it."""
    layer = _layer_tar(entries)
    layer_digest = hashlib.sha256(layer).hexdigest()
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "Entrypoint": list(entrypoint) or None,
            "Cmd": list(cmd) or None,
            "Env": [f"{key}={value}" for key, value in (env or {"PATH": "/bin"}).items()],
        },
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{layer_digest}"]},
        "history": [{"created_by": "hack/localcluster/imagearchive.py"}],
    }
    config_bytes = json.dumps(config, sort_keys=True).encode()
    config_name = f"{hashlib.sha256(config_bytes).hexdigest()}.json"
    layer_name = f"{layer_digest}/layer.tar"
    manifest = json.dumps([{"Config": config_name, "RepoTags": [reference], "Layers": [layer_name]}]).encode()

    archive.parent.mkdir(parents=True, exist_ok=True)
    partial = archive.with_name(archive.name + ".partial")
    with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as tar:
        _add_bytes(tar, f"{layer_digest}/", None)
        _add_bytes(tar, layer_name, layer)
        _add_bytes(tar, config_name, config_bytes)
        _add_bytes(tar, "manifest.json", manifest)
    partial.replace(archive)
    return ImageArchive(path=archive, reference=reference)


def _layer_tar(entries: Sequence[ImageEntry]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for entry in sorted(entries, key=lambda e: e.path):
            name = entry.path.lstrip("/")
            info = _info(name + ("/" if entry.is_directory else ""))
            info.mode = entry.mode
            if entry.symlink_to is not None:
                info.type = tarfile.SYMTYPE
                info.linkname = entry.symlink_to
                info.mode = 0o777
                tar.addfile(info)
            elif entry.is_directory:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                data = entry.data if entry.data is not None else Path(str(entry.source)).read_bytes()
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes | None) -> None:
    info = _info(name)
    if data is None:
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
        tar.addfile(info)
        return
    info.mode = 0o644
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def _info(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info
