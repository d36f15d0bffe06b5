"""podman with a private, throw-away store: the machine's own podman store is never read or written.

Every `Podman.private()` gets a fresh directory holding its image store, its run state and its configuration,
and deletes it on exit; the image cache (hack.images.archives) is the only thing that outlives it. So there is
no store to migrate, prune or repair, and a build cannot pick up an image some other tool left behind.

Two settings make podman 4.3 work as root on this kind of machine (docs/images.md):

- `default_ulimits = []`: with no ulimits configured podman writes RLIMIT_NOFILE 1048576 into every container
  spec, and the OCI runtime's setrlimit then fails where the process lacks CAP_SYS_RESOURCE.
- `runtime = "runc"`: crun refuses hosts whose cgroup v2 mount is a hybrid one.

Containers get no network unless a caller passes one (`--network none` or a namespace it owns), and builds use
the host's network namespace, so podman never creates a bridge, a veth or an iptables rule.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from hack.images.errors import ImageBuildError

#: The host's CA bundle. Builds that download (pip) see it at its usual path for the duration of their RUN
#: steps only: where egress passes a TLS-inspecting proxy, the bundle in the base image alone cannot verify it.
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")

CONTAINERS_CONF = """\
[containers]
default_ulimits = []

[engine]
runtime = "runc"
events_logger = "none"
tmp_dir = "{tmp}"
"""

STORAGE_CONF = """\
[storage]
driver = "overlay"
graphroot = "{graph}"
runroot = "{run}"
"""

#: Nothing may be pulled: every image a build names is either built here or loaded from the cache.
REGISTRIES_CONF = """\
unqualified-search-registries = []
"""


class PodmanError(ImageBuildError):
    pass


class Podman:
    """Runs podman against one private store; create it with `Podman.private()`."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @classmethod
    @contextlib.contextmanager
    def private(cls, *, parent: Path) -> Iterator[Podman]:
        """A store in a new directory under `parent`, removed with everything in it when the block ends."""
        if os.geteuid() != 0:
            raise PodmanError("building and running images here needs root (podman's root store, runc)")
        if shutil.which("podman") is None:
            raise PodmanError("podman is not installed: run hack/host-packages.sh as root")
        parent.mkdir(parents=True, exist_ok=True)
        podman = cls(Path(tempfile.mkdtemp(prefix="podman-", dir=parent)))
        try:
            podman._configure()
            yield podman
        finally:
            podman._remove()

    # --- commands ------------------------------------------------------------------------------------------

    def __call__(
        self, *args: str, log: Path | None = None, timeout: float | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Runs `podman ARGS`; output goes to `log` when given (appended), else it is captured."""
        command = ["podman", *args]
        if log is None:
            result = subprocess.run(
                command, env=self.env(), capture_output=True, text=True, timeout=timeout, check=False
            )
            output = result.stdout + result.stderr
        else:
            with log.open("a") as stream:
                stream.write(f"$ {' '.join(command)}\n")
                stream.flush()
                result = subprocess.run(
                    command, env=self.env(), stdout=stream, stderr=subprocess.STDOUT, text=True,
                    timeout=timeout, check=False,
                )  # fmt: skip
            output = _tail(log)
        if result.returncode != 0:
            raise PodmanError(f"`{' '.join(command)}` failed with status {result.returncode}:\n{output}")
        return result

    def build(
        self,
        *,
        context: Path,
        reference: str,
        build_args: Mapping[str, str],
        log: Path,
        dockerfile: Path | None = None,
    ) -> None:
        """`podman build` that pulls nothing and lends its RUN steps the host's network and CA bundle."""
        args = ["build", "--pull=never", "--network=host", "--layers=false", "--tag", reference]
        if HOST_CA_BUNDLE.is_file():
            args += ["--volume", f"{HOST_CA_BUNDLE}:{HOST_CA_BUNDLE}:ro"]
        for key, value in sorted(build_args.items()):
            args += ["--build-arg", f"{key}={value}"]
        if dockerfile is not None:
            args += ["--file", str(dockerfile)]
        self(*args, str(context), log=log)

    def import_rootfs(self, tarball: Path, *, reference: str, changes: Sequence[str], log: Path) -> None:
        """An image of one layer from a root file system tarball, with Dockerfile-style `changes` (ENV, CMD)."""
        args = ["import"]
        for change in changes:
            args += ["--change", change]
        self(*args, str(tarball), reference, log=log)

    def load(self, archive: Path) -> None:
        self("load", "--input", str(archive))

    def save(self, reference: str, archive: Path) -> None:
        """Writes `reference` as a docker-archive; the file appears complete or not at all."""
        partial = archive.with_name(archive.name + ".partial")
        partial.unlink(missing_ok=True)
        try:
            self("save", "--format", "docker-archive", "--output", str(partial), reference)
            partial.replace(archive)
        finally:
            partial.unlink(missing_ok=True)

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "CONTAINERS_CONF": str(self.root / "containers.conf"),
            "CONTAINERS_STORAGE_CONF": str(self.root / "storage.conf"),
            "CONTAINERS_REGISTRIES_CONF": str(self.root / "registries.conf"),
        }

    # --- the store's life ----------------------------------------------------------------------------------

    def _configure(self) -> None:
        for directory in ("graph", "run", "tmp"):
            (self.root / directory).mkdir()
        (self.root / "containers.conf").write_text(CONTAINERS_CONF.format(tmp=self.root / "tmp"))
        (self.root / "storage.conf").write_text(
            STORAGE_CONF.format(graph=self.root / "graph", run=self.root / "run")
        )
        (self.root / "registries.conf").write_text(REGISTRIES_CONF)

    def _remove(self) -> None:
        """Deletes the store. Containers were all `--rm`; a mount podman left behind is undone first."""
        with contextlib.suppress(PodmanError, subprocess.TimeoutExpired):
            self("rm", "--all", "--force", timeout=60)
        remove_tree(self.root)


def remove_tree(root: Path) -> None:
    """Deletes `root`, first undoing any mount below it (a store whose podman was killed mid-build)."""
    for mount_point in sorted(mounts_under(root), reverse=True):  # deepest first
        subprocess.run(["umount", "--lazy", str(mount_point)], check=False, capture_output=True)
    shutil.rmtree(root, ignore_errors=True)


def mounts_under(root: Path) -> list[Path]:
    """Mount points at or below `root`, from this process's mount table."""
    prefix = str(root.resolve())
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        # Field 5 is the mount point, with spaces and other specials escaped as octal.
        mount_point = line.split()[4].encode().decode("unicode_escape")
        if mount_point == prefix or mount_point.startswith(prefix + "/"):
            found.append(Path(mount_point))
    return found


def _tail(log: Path, lines: int = 40) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
