"""The controller image, from the repository's own `Dockerfile`, on the locally built Python base.

The Dockerfile is the one users build with `docker build .`; only its `BASE_IMAGE` argument differs. The build
context handed to podman is a copy holding exactly what the Dockerfile's COPY instructions read (less what
.dockerignore excludes), and those same files are the fingerprint's inputs: whatever changes the image changes
its tag, and editing tests or docs rebuilds nothing.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import attrs

from hack.images.debian import DEBIAN_PYTHON
from hack.images.errors import ImageBuildError
from hack.images.fingerprint import Fingerprint, context_files, copied_sources, ignore_patterns
from hack.images.recipe import BuildInputs

REPO = Path(__file__).resolve().parents[2]
#: The Dockerfile's argument naming the image both of its stages start FROM.
BASE_ARG = "BASE_IMAGE"


@attrs.frozen(kw_only=True)
class DockerfileImage:
    name: str
    #: The image passed as `BASE_ARG`.
    base: str
    root: Path = REPO
    dockerfile: str = "Dockerfile"

    @property
    def bases(self) -> tuple[str, ...]:
        return (self.base,)

    def fingerprint(self, fingerprint: Fingerprint) -> None:
        fingerprint.add_file("Dockerfile", self.root / self.dockerfile)
        fingerprint.add_tree(self.root, self._files(self.root))

    def build(self, inputs: BuildInputs) -> None:
        context = inputs.workdir / "context"
        self._stage(context)
        self._check_staged_copy(context, inputs)
        inputs.podman.build(
            context=context,
            reference=inputs.reference,
            build_args={BASE_ARG: inputs.bases[self.base]},
            log=inputs.log,
        )

    def _files(self, root: Path) -> list[str]:
        sources = copied_sources((root / self.dockerfile).read_text())
        return context_files(root, sources, self._ignored(root))

    def _ignored(self, root: Path) -> list[str]:
        dockerignore = root / ".dockerignore"
        return ignore_patterns(dockerignore.read_text()) if dockerignore.is_file() else []

    def _stage(self, context: Path) -> None:
        context.mkdir()
        for relative in [self.dockerfile, ".dockerignore", *self._files(self.root)]:
            source = self.root / relative
            if not source.exists():
                continue
            target = context / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)

    def _check_staged_copy(self, context: Path, inputs: BuildInputs) -> None:
        """The copy must be what the tag was computed from, or the cache would file it under another's tag."""
        if inputs.tag_of(attrs.evolve(self, root=context)) != inputs.tag:
            raise ImageBuildError(
                f"files under {self.root} changed after the {self.name} image's tag was computed; run again"
            )


CONTROLLER = DockerfileImage(name="controller", base=DEBIAN_PYTHON.name)
