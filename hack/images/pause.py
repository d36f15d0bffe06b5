"""The pod sandbox ("pause") image, for the container runtime's `sandbox` setting where registry.k8s.io cannot be
reached: `deploy/images/pause/pause.c` compiled statically with the host's C compiler, alone in a scratch image.

Its inputs are the source, the Dockerfile and the compiler's identity (`gcc --version`): another compiler may
emit another binary, so it is another image.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import attrs

from hack.images.errors import ImageBuildError
from hack.images.fingerprint import Fingerprint
from hack.images.recipe import BuildInputs

REPO = Path(__file__).resolve().parents[2]
SOURCE_DIR = REPO / "deploy" / "images" / "pause"
COMPILER = "gcc"
#: Static (a scratch image has no C library), small, and strict: a warning in 40 lines of C is a bug.
CFLAGS = ("-Os", "-static", "-s", "-Wall", "-Wextra", "-Werror")


@attrs.frozen(kw_only=True)
class PauseImage:
    name: str
    #: Where pause.c and the Dockerfile are.
    source_dir: Path = SOURCE_DIR
    bases: tuple[str, ...] = ()

    def fingerprint(self, fingerprint: Fingerprint) -> None:
        fingerprint.add_file("Dockerfile", self.source_dir / "Dockerfile")
        fingerprint.add_file("pause.c", self.source_dir / "pause.c")
        fingerprint.add_text("compiler", compiler_identity())
        fingerprint.add_text("cflags", " ".join(CFLAGS))

    def build(self, inputs: BuildInputs) -> None:
        context = inputs.workdir / "context"
        context.mkdir()
        shutil.copy2(self.source_dir / "Dockerfile", context / "Dockerfile")
        command = [COMPILER, *CFLAGS, "-o", str(context / "pause"), str(self.source_dir / "pause.c")]
        with inputs.log.open("a") as log:
            log.write(f"$ {' '.join(command)}\n")
            log.flush()
            result = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, check=False)
        if result.returncode != 0:
            raise ImageBuildError(
                f"compiling pause.c failed with status {result.returncode}; see {inputs.log} "
                "(a static build needs gcc and libc6-dev: hack/host-packages.sh installs them)"
            )
        inputs.podman.build(context=context, reference=inputs.reference, build_args={}, log=inputs.log)


def compiler_identity() -> str:
    """The first line of `gcc --version` and the target triple; raises if there is no compiler."""
    if shutil.which(COMPILER) is None:
        raise ImageBuildError(f"{COMPILER} is not installed: run hack/host-packages.sh as root")
    version = subprocess.run([COMPILER, "--version"], capture_output=True, text=True, check=True)
    target = subprocess.run([COMPILER, "-dumpmachine"], capture_output=True, text=True, check=True)
    return f"{version.stdout.splitlines()[0]} {target.stdout.strip()}"


PAUSE = PauseImage(name="pause")
