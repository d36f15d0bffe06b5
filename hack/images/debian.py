"""Debian bookworm base images made with mmdebstrap, for where no registry can be reached.

They stand in for the public bases a user with Docker pulls: `debian-python` for `python:3.11-slim-bookworm`
(Debian's python3 is 3.11, plus its venv module), `debian-llama` for the runtime libraries llama-server links
against. Each is a `minbase` system (essential packages and apt) plus the packages named here, with
documentation, manual pages and translations left out (copyright files kept).

The tag covers the suite, mirrors, options and package list, not the packages' versions: a security update in
the mirror is picked up by the next cold build, not by a warm one. That is the same contract a floating tag such
as `python:3.11-slim-bookworm` has.
"""

from __future__ import annotations

import shutil
import subprocess

import attrs

from hack.images.errors import ImageBuildError
from hack.images.fingerprint import Fingerprint
from hack.images.recipe import BuildInputs

SUITE = "bookworm"
MIRRORS = (
    "deb http://deb.debian.org/debian bookworm main",
    "deb http://deb.debian.org/debian bookworm-updates main",
    "deb http://deb.debian.org/debian-security bookworm-security main",
)
MMDEBSTRAP_OPTIONS = (
    "--variant=minbase",
    "--dpkgopt=path-exclude=/usr/share/doc/*",
    "--dpkgopt=path-include=/usr/share/doc/*/copyright",
    "--dpkgopt=path-exclude=/usr/share/man/*",
    "--dpkgopt=path-exclude=/usr/share/info/*",
    "--dpkgopt=path-exclude=/usr/share/locale/*",
    # The build host's resolver and name have no business in an image; runtimes mount their own.
    '--customize-hook=rm -f "$1/etc/resolv.conf" && : > "$1/etc/hostname"',
)
#: What `python:3.11-slim-bookworm` and `debian:bookworm-slim` set that a bare root file system lacks.
IMAGE_CONFIG = (
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "ENV LANG=C.UTF-8",
    'CMD ["/bin/bash"]',
)


@attrs.frozen(kw_only=True)
class DebianBase:
    name: str
    packages: tuple[str, ...]
    bases: tuple[str, ...] = ()

    def fingerprint(self, fingerprint: Fingerprint) -> None:
        fingerprint.add_text("suite", SUITE)
        fingerprint.add_text("mirrors", "\n".join(MIRRORS))
        fingerprint.add_text("mmdebstrap options", "\n".join(MMDEBSTRAP_OPTIONS))
        fingerprint.add_text("packages", " ".join(sorted(self.packages)))
        fingerprint.add_text("image config", "\n".join(IMAGE_CONFIG))

    def build(self, inputs: BuildInputs) -> None:
        if shutil.which("mmdebstrap") is None:
            raise ImageBuildError("mmdebstrap is not installed: run hack/host-packages.sh as root")
        rootfs = inputs.workdir / "rootfs.tar"
        command = [
            "mmdebstrap",
            *MMDEBSTRAP_OPTIONS,
            f"--include={','.join(sorted(self.packages))}",
            SUITE,
            str(rootfs),
            *MIRRORS,
        ]
        with inputs.log.open("a") as log:
            log.write(f"$ {' '.join(command)}\n")
            log.flush()
            result = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, check=False)
        if result.returncode != 0:
            raise ImageBuildError(f"mmdebstrap failed with status {result.returncode}; see {inputs.log}")
        inputs.podman.import_rootfs(rootfs, reference=inputs.reference, changes=IMAGE_CONFIG, log=inputs.log)
        rootfs.unlink()


#: The base of the controller image: what `python:3.11-slim-bookworm` gives the Dockerfile.
DEBIAN_PYTHON = DebianBase(name="debian-python", packages=("python3", "python3-venv", "ca-certificates"))
#: The base of the llama-server image: the C++ runtime is in minbase; OpenMP and OpenSSL are not.
DEBIAN_LLAMA = DebianBase(name="debian-llama", packages=("libgomp1", "libssl3", "ca-certificates"))
