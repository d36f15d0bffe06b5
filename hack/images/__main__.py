"""`python -m hack.images build [--only NAME]...`: builds what is missing and prints each image's reference and
archive, one tab-separated line per image (bases first). Progress goes to stderr."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from hack.images.build import IMAGE_NAMES, ensure_images
from hack.images.errors import ImageBuildError


def _say(line: str) -> None:
    print(f"==> {line}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
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
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        images = ensure_images(args.only, progress=_say)
    except ImageBuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for image in images.values():
        print(f"{image.name}\t{image.reference}\t{image.archive}")
    _say(f"images ready in {time.monotonic() - started:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
