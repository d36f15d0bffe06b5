"""Content fingerprints: the tag of every image is a hash of exactly what went into it.

A warm run only has to recompute these hashes and find the archives they name, so the inputs are read, never
built. Each input is fed with a label (its role or path) and a length, so two different sets of inputs cannot
run together into the same byte stream: moving a file, renaming it, or moving bytes from one file to the next
all change the tag.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePosixPath

#: Hex digits of the sha256 kept in a tag: 64 bits, far from any collision among one machine's builds.
TAG_LENGTH = 16


class Fingerprint:
    """An incremental sha256 over labelled inputs; `tag()` is what names the image built from them."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256()

    def add_text(self, label: str, text: str) -> None:
        self.add_bytes(label, text.encode())

    def add_bytes(self, label: str, data: bytes) -> None:
        self._field(label, len(data))
        self._hash.update(data)

    def add_file(self, label: str, path: Path) -> None:
        """The file's bytes and whether it is executable (a mode COPY carries into the image)."""
        size = path.stat().st_size
        self._field(f"{label} mode={'x' if path.stat().st_mode & 0o111 else '-'}", size)
        with path.open("rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                self._hash.update(block)

    def add_tree(self, root: Path, relative_paths: Iterable[str]) -> None:
        """Files under `root` by their path relative to it, in a fixed order."""
        for relative in sorted(relative_paths):
            self.add_file(f"file {relative}", root / relative)

    def tag(self) -> str:
        return self._hash.hexdigest()[:TAG_LENGTH]

    def _field(self, label: str, size: int) -> None:
        self._hash.update(f"\0{label}\0{size}\0".encode())


# --- what a Dockerfile takes from its build context ----------------------------------------------------------

_CONTINUATION = re.compile(r"\\\n")


def copied_sources(dockerfile: str) -> list[str]:
    """The context paths a Dockerfile's COPY and ADD instructions read (those `--from` a stage read none).

    Only the forms this repository uses are understood: plain arguments, the last being the destination.
    Anything else (JSON arrays, heredocs, URLs) raises, so a new kind of instruction can never make the
    fingerprint silently miss an input.
    """
    sources: list[str] = []
    for line in _CONTINUATION.sub(" ", dockerfile).splitlines():
        words = line.split()
        if not words or words[0].upper() not in ("COPY", "ADD"):
            continue
        arguments = [word for word in words[1:] if not word.startswith("--")]
        options = [word for word in words[1:] if word.startswith("--")]
        if any(option.startswith("--from") for option in options):
            continue
        if len(arguments) < 2 or arguments[0].startswith("[") or "<<" in line or "://" in line:
            raise ValueError(f"cannot read the sources of this Dockerfile instruction: {line.strip()!r}")
        sources.extend(arguments[:-1])
    return sources


def ignore_patterns(dockerignore: str) -> list[str]:
    """The patterns of a .dockerignore; exceptions (`!pattern`) are refused rather than half understood."""
    patterns = []
    for raw in dockerignore.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("!"):
            raise ValueError(f".dockerignore exceptions are not supported here: {line!r}")
        patterns.append(line.strip("/"))
    return patterns


def is_ignored(relative: str, patterns: Sequence[str]) -> bool:
    """Whether a context path is excluded: a pattern matching the path or a directory above it excludes it.

    As in Docker, `*` and `?` stay within one path component and `**` spans any number of them.
    """
    parts = PurePosixPath(relative).parts
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    return any(_pattern(pattern).fullmatch(prefix) for pattern in patterns for prefix in prefixes)


@functools.cache
def _pattern(pattern: str) -> re.Pattern[str]:
    regex = ""
    for token in re.split(r"(\*\*/|\*\*|\*|\?)", pattern):
        if token == "**/":
            regex += "(?:.*/)?"
        elif token == "**":
            regex += ".*"
        elif token == "*":
            regex += "[^/]*"
        elif token == "?":
            regex += "[^/]"
        else:
            regex += re.escape(token)
    return re.compile(regex)


def context_files(root: Path, sources: Iterable[str], patterns: Sequence[str]) -> list[str]:
    """Every regular file the sources name under `root` (directories walked), minus the ignored ones."""
    found: set[str] = set()
    for source in sources:
        path = root / source
        if not path.exists():
            raise FileNotFoundError(f"the Dockerfile copies {source!r}, which is not in {root}")
        candidates = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        for candidate in candidates:
            relative = candidate.relative_to(root).as_posix()
            if not is_ignored(relative, patterns):
                found.add(relative)
    return sorted(found)
