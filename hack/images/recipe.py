"""What every image recipe provides: its inputs (for the content tag) and how to build from them.

A recipe names the images it is built FROM (`bases`); the orchestrator (hack.images.build) computes their tags
first, folds their references into this image's fingerprint, loads their archives into the build's store, and
passes their references in `BuildInputs.bases`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Protocol

import attrs

from hack.images.fingerprint import Fingerprint
from hack.images.podman import Podman


@attrs.frozen(kw_only=True)
class BuildInputs:
    podman: Podman
    #: The reference to build: `localhost/llmkube/<name>:<tag>`.
    reference: str
    #: The content tag the build must honour.
    tag: str
    #: The tag a recipe's inputs give, as the orchestrator computes it: a recipe that copies its inputs
    #: before building checks the copy against `tag`, so an edit racing the build cannot be filed under it.
    tag_of: Callable[[Recipe], str]
    #: References of the images this one is built FROM, by name; already loaded into `podman`'s store.
    bases: Mapping[str, str]
    #: An empty directory for the build's scratch files (a build context, a root file system tarball).
    workdir: Path
    #: Where the build's commands write their output; a failure's message quotes its tail.
    log: Path


class Recipe(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def bases(self) -> tuple[str, ...]: ...

    def fingerprint(self, fingerprint: Fingerprint) -> None:
        """Feeds every input of the image except its bases' references (the orchestrator adds those)."""

    def build(self, inputs: BuildInputs) -> None:
        """Leaves `inputs.reference` in `inputs.podman`'s store."""
