"""The small images the real node needs without a registry, built here and cached by content.

- The pause image (the pod sandbox): pause.c compiled with `gcc -Os -static`, alone in a scratch image.
- A busybox image for tests: Debian's static busybox with a link per applet, in a scratch image. (Its `wget`
  crashes on this kind of machine; `nc` and `httpd` work.)

Archives live in ~/.cache/llmkube/images/<name>-<content hash>.tar and carry the reference
`localhost/llmkube/<name>:<content hash>`, so a changed source gives a new tag and a stale archive is never
mistaken for a current one. Writing one takes well under a second; compiling the pause binary about one.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from hack.localcluster.imagearchive import ImageArchive, ImageEntry, write_docker_archive

IMAGE_CACHE = Path(os.environ.get("LLMKUBE_CACHE", Path.home() / ".cache" / "llmkube")) / "images"
PAUSE_SOURCE = Path(__file__).with_name("pause.c")
_PAUSE_CFLAGS = ("-Os", "-static", "-s")
BUSYBOX = Path("/bin/busybox")


class ImageBuildError(RuntimeError):
    pass


def pause_image(cache: Path = IMAGE_CACHE) -> ImageArchive:
    key = _digest(PAUSE_SOURCE.read_bytes(), " ".join(_PAUSE_CFLAGS).encode())
    archive = cache / f"pause-{key}.tar"
    reference = f"localhost/llmkube/pause:{key}"
    if archive.exists():
        return ImageArchive(path=archive, reference=reference)
    if shutil.which("gcc") is None:
        raise ImageBuildError("building the pause image needs gcc (apt-get install gcc libc6-dev)")
    with tempfile.TemporaryDirectory(prefix="llmkube-pause-") as scratch:
        binary = Path(scratch) / "pause"
        result = subprocess.run(
            ["gcc", *_PAUSE_CFLAGS, "-o", str(binary), str(PAUSE_SOURCE)],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise ImageBuildError(
                f"gcc could not build {PAUSE_SOURCE} (static glibc: libc6-dev):\n{result.stderr}"
            )
        return write_docker_archive(
            archive,
            reference=reference,
            entries=[ImageEntry(path="/pause", source=binary)],
            entrypoint=["/pause"],
        )


def busybox_image(cache: Path = IMAGE_CACHE) -> ImageArchive:
    if not BUSYBOX.exists() or "statically linked" not in _file_type(BUSYBOX):
        raise ImageBuildError(f"the test image needs a static {BUSYBOX} (apt-get install busybox-static)")
    key = _digest(BUSYBOX.read_bytes())
    archive = cache / f"busybox-{key}.tar"
    reference = f"localhost/llmkube/busybox:{key}"
    if archive.exists():
        return ImageArchive(path=archive, reference=reference)
    applets = subprocess.run(
        [str(BUSYBOX), "--list"], capture_output=True, text=True, check=True
    ).stdout.split()
    entries = [
        ImageEntry(path="/bin/busybox", source=BUSYBOX),
        ImageEntry(path="/tmp", mode=0o1777),
        ImageEntry(
            path="/etc/passwd", data=b"root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n"
        ),
        ImageEntry(path="/etc/group", data=b"root:x:0:\nnobody:x:65534:\n"),
        *(
            ImageEntry(path=f"/bin/{applet}", symlink_to="busybox")
            for applet in applets
            if applet != "busybox"
        ),
    ]
    return write_docker_archive(archive, reference=reference, entries=entries, cmd=["sh"])


def _digest(*parts: bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest()[:12]


def _file_type(path: Path) -> str:
    # `file` may be missing; a static binary has no PT_INTERP program header, so ldd says so too.
    result = subprocess.run(["ldd", str(path)], capture_output=True, text=True, check=False)
    return "statically linked" if "not a dynamic executable" in result.stdout + result.stderr else "dynamic"
