"""`python -m hack.images build [--only NAME]...`: builds what is missing and prints each image's name, reference
and archive, one tab-separated line per image (bases first). Progress goes to stderr.

`python -m hack.images overlay DIR`: the same for the controller and CPU llama-server images, then writes
DIR/kustomization.yaml, which installs `config/default` with those images (`kubectl apply -k DIR`).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from hack.images.build import IMAGE_NAMES, ensure_images
from hack.images.errors import ImageBuildError
from hack.images.overlay import write_overlay

#: The images a cluster installed through the overlay runs (the pause image is the node's, not the overlay's).
OVERLAY_IMAGES = ("controller", "llama-server-cpu")


def _say(line: str) -> None:
    print(f"==> {line}", file=sys.stderr, flush=True)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m hack.images", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="build the images whose archives are missing from the cache")
    build.add_argument(
        "--only",
        action="append",
        choices=IMAGE_NAMES,
        metavar="NAME",
        help=f"this image and its bases only (repeatable): {', '.join(IMAGE_NAMES)}",
    )
    overlay = commands.add_parser(
        "overlay", help="build the images config/default needs and write a kustomize overlay naming them"
    )
    overlay.add_argument(
        "directory", type=Path, help="where to write kustomization.yaml (created if missing)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    started = time.monotonic()
    only = OVERLAY_IMAGES if args.command == "overlay" else args.only
    try:
        images = ensure_images(only, progress=_say)
    except ImageBuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.command == "overlay":
        images = {name: images[name] for name in OVERLAY_IMAGES}
    for image in images.values():
        print(f"{image.name}\t{image.reference}\t{image.archive}")
    _say(f"images ready in {time.monotonic() - started:.2f} s")
    if args.command == "overlay":
        directory = write_overlay(
            args.directory,
            controller=images["controller"].reference,
            llama_server_cpu=images["llama-server-cpu"].reference,
        )
        _say(f"wrote {directory / 'kustomization.yaml'}: kubectl apply -k {directory}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
