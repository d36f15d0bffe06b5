"""Image archives written here are docker-archives that name their layer by the digest of its content."""

from __future__ import annotations

import hashlib
import json
import tarfile
from pathlib import Path

from hack.localcluster.imagearchive import ImageEntry, write_docker_archive


def _members(archive: Path) -> dict[str, bytes]:
    with tarfile.open(archive) as tar:
        return {member.name: _read(tar, member) for member in tar if member.isfile()}


def _read(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    extracted = tar.extractfile(member)
    assert extracted is not None
    return extracted.read()


def test_the_manifest_names_the_reference_the_config_and_a_layer_whose_digest_is_the_configs_diff_id(
    tmp_path: Path,
) -> None:
    archive = write_docker_archive(
        tmp_path / "image.tar",
        reference="localhost/llmkube/test:1",
        entries=[ImageEntry(path="/hello", data=b"hi\n"), ImageEntry(path="/bin/sh", symlink_to="busybox")],
        entrypoint=["/hello"],
    )

    members = _members(archive.path)
    [manifest] = json.loads(members["manifest.json"])
    config = json.loads(members[manifest["Config"]])
    [layer_name] = manifest["Layers"]
    assert archive.reference == "localhost/llmkube/test:1"
    assert manifest["RepoTags"] == ["localhost/llmkube/test:1"]
    assert config["rootfs"]["diff_ids"] == [f"sha256:{hashlib.sha256(members[layer_name]).hexdigest()}"]
    assert config["config"]["Entrypoint"] == ["/hello"]
    assert manifest["Config"] == f"{hashlib.sha256(members[manifest['Config']]).hexdigest()}.json"


def test_the_layer_holds_the_files_with_their_modes_and_links(tmp_path: Path) -> None:
    archive = write_docker_archive(
        tmp_path / "image.tar",
        reference="localhost/llmkube/test:1",
        entries=[
            ImageEntry(path="/hello", data=b"hi\n", mode=0o755),
            ImageEntry(path="/bin/sh", symlink_to="busybox"),
        ],
    )

    [manifest] = json.loads(_members(archive.path)["manifest.json"])
    layer = tmp_path / "layer.tar"
    layer.write_bytes(_members(archive.path)[manifest["Layers"][0]])
    with tarfile.open(layer) as tar:
        hello = tar.getmember("hello")
        shell = tar.getmember("bin/sh")
        assert _read(tar, hello) == b"hi\n"
        assert hello.mode == 0o755
        assert shell.issym()
        assert shell.linkname == "busybox"


def test_the_same_files_give_the_same_archive_byte_for_byte(tmp_path: Path) -> None:
    entries = [ImageEntry(path="/a", data=b"a"), ImageEntry(path="/b", data=b"b")]

    first = write_docker_archive(tmp_path / "1.tar", reference="x/y:1", entries=entries)
    second = write_docker_archive(tmp_path / "2.tar", reference="x/y:1", entries=list(reversed(entries)))

    assert first.path.read_bytes() == second.path.read_bytes()
