"""`ensure_images()`: every image LLMKube's local cluster runs, from the cache or built once.

The tag of an image is the hash of its recipe's inputs, of the recipe's own source file (a change to how an image
is made is a change to the image) and of its bases' references (a new base rebuilds what stands on it). A warm
run computes the tags and finds the archives: no podman, no lock. A missing archive is built under a lock shared
by everything using the cache; each build runs in a fresh private podman store that is deleted afterwards, into
which the bases' archives are loaded first.
"""

from __future__ import annotations

import inspect
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from hack.images.archives import BuiltImage, archive_for, build_lock, cached, images_dir, prune, reference_for
from hack.images.controller import CONTROLLER
from hack.images.debian import DEBIAN_LLAMA, DEBIAN_PYTHON
from hack.images.errors import ImageBuildError
from hack.images.fingerprint import Fingerprint
from hack.images.llama_server import LLAMA_SERVER_CPU
from hack.images.podman import Podman, remove_tree
from hack.images.recipe import BuildInputs, Recipe

Progress = Callable[[str], None]

#: Every image, bases before the images built FROM them.
RECIPES: tuple[Recipe, ...] = (DEBIAN_PYTHON, DEBIAN_LLAMA, CONTROLLER, LLAMA_SERVER_CPU)
IMAGE_NAMES = tuple(recipe.name for recipe in RECIPES)


def _quiet(_: str) -> None:
    pass


def ensure_images(only: Iterable[str] | None = None, *, progress: Progress = _quiet) -> dict[str, BuiltImage]:
    """The images named in `only` (default: all) and the bases they need, by name; builds what is missing."""
    recipes = _with_bases(only)
    tags = image_tags(recipes)
    images = {recipe.name: cached(recipe.name, tags[recipe.name]) for recipe in recipes}
    if all(image is not None for image in images.values()):
        return {name: image for name, image in images.items() if image is not None}
    with build_lock():
        # Another session may have built some of them while this one waited for the lock.
        missing = [recipe for recipe in recipes if cached(recipe.name, tags[recipe.name]) is None]
        _build(missing, tags=tags, progress=progress)
    built = {recipe.name: cached(recipe.name, tags[recipe.name]) for recipe in recipes}
    return {name: image for name, image in built.items() if image is not None}


def image_tags(recipes: Iterable[Recipe]) -> dict[str, str]:
    """The content tag of each recipe's image; a recipe's bases must come before it."""
    tags: dict[str, str] = {}
    for recipe in recipes:
        tags[recipe.name] = tag_of(recipe, base_tags=tags)
    return tags


def tag_of(recipe: Recipe, *, base_tags: Mapping[str, str]) -> str:
    fingerprint = Fingerprint()
    fingerprint.add_text("image", recipe.name)
    source = inspect.getsourcefile(type(recipe))
    if source is None:
        raise ImageBuildError(f"no source file for the recipe of {recipe.name}")
    fingerprint.add_file("recipe", Path(source))
    for base in recipe.bases:
        fingerprint.add_text(f"base {base}", reference_for(base, base_tags[base]))
    recipe.fingerprint(fingerprint)
    return fingerprint.tag()


def _with_bases(only: Iterable[str] | None) -> list[Recipe]:
    by_name = {recipe.name: recipe for recipe in RECIPES}
    wanted = set(IMAGE_NAMES if only is None else only)
    unknown = wanted - by_name.keys()
    if unknown:
        raise ImageBuildError(f"no image named {sorted(unknown)}; the images are {list(IMAGE_NAMES)}")
    pending = list(wanted)
    while pending:
        for base in by_name[pending.pop()].bases:
            if base not in wanted:
                wanted.add(base)
                pending.append(base)
    return [recipe for recipe in RECIPES if recipe.name in wanted]


def _build(recipes: list[Recipe], *, tags: Mapping[str, str], progress: Progress) -> None:
    if not recipes:
        return
    logs = images_dir() / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    work = images_dir() / "work"
    remove_tree(work)  # whatever a killed build left; the lock says no build is using it now
    with Podman.private(parent=work) as podman:
        loaded: set[str] = set()
        for recipe in recipes:
            for base in recipe.bases:
                if base not in loaded:
                    base_image = cached(base, tags[base])
                    if base_image is None:
                        raise ImageBuildError(f"{recipe.name} needs {base}, which was not built")
                    podman.load(base_image.archive)
                    loaded.add(base)
            reference = reference_for(recipe.name, tags[recipe.name])
            log = logs / f"{recipe.name}.log"
            log.write_text("")
            progress(f"building {reference} (log: {log})")
            started = time.monotonic()
            with tempfile.TemporaryDirectory(prefix=f"{recipe.name}-", dir=work) as workdir:
                recipe.build(
                    BuildInputs(
                        podman=podman,
                        reference=reference,
                        tag=tags[recipe.name],
                        bases={base: reference_for(base, tags[base]) for base in recipe.bases},
                        tag_of=lambda changed: tag_of(changed, base_tags=tags),
                        workdir=Path(workdir),
                        log=log,
                    )
                )
            archive = archive_for(recipe.name, tags[recipe.name])
            podman.save(reference, archive)
            loaded.add(recipe.name)  # it is in the store now: an image built FROM it needs no load
            prune(recipe.name)
            progress(
                f"built {reference} in {time.monotonic() - started:.0f} s: "
                f"{archive} ({archive.stat().st_size / 1e6:.0f} MB)"
            )
