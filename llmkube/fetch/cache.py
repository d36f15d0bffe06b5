"""One model's directory in the cache, and the only code that makes a download visible there.

Layout of `<cache>/<cacheKey>/`:
    model.gguf               the verified file serving pods mount (only ever appears by rename)
    model.gguf.json          its record: digest, size, source identity, GGUF facts (written after the rename)
    model.gguf.partial       the download in progress (see `partial.py`)
    model.gguf.partial.json  what the partial was started from, so a restarted Job can resume it safely
    .lock                    held (flock) by the one fetch writing this entry (see `lock.py`); never removed

Invariant: a record describes the `model.gguf` beside it. The commit removes the old record before the rename and
writes the new one after it, so a crash in between leaves a file without a record (downloaded again), never a
record that vouches for the wrong file.

A record also notes the file's inode change time (ctime) as of its publication. Any write to the file after that
(bit rot repaired by a filesystem, a stray `dd`, a half-finished copy) moves the ctime, which no user-space call
can set back; a file whose ctime moved is trusted again only if its bytes still hash to the record's digest, so
a corrupted file is downloaded again rather than reported Ready with a digest it no longer has. The hash is paid
only then, never on an unchanged file.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path
from typing import TypeVar

import attrs

from api.v1alpha1.converter import WireError, from_wire, to_wire
from api.v1alpha1.fetch_result import MODEL_FILE_NAME
from api.v1alpha1.gguf import GGUFInfo
from llmkube.fetch.errors import cache_unavailable

T = TypeVar("T")
HASH_BLOCK_BYTES = 4 * 2**20


@attrs.frozen(kw_only=True)
class CacheRecord:
    """What a cached file is, so a later fetch can trust it without hashing gigabytes again."""

    sha256: str
    size_bytes: int
    source_identity: str
    resolved_revision: str | None = None
    gguf: GGUFInfo | None = None
    #: `st_ctime_ns` of the file when the record was written; None in records written before it was kept.
    file_ctime_ns: int | None = None


@attrs.frozen
class CacheEntry:
    directory: Path

    @property
    def model(self) -> Path:
        return self.directory / MODEL_FILE_NAME

    @property
    def record_path(self) -> Path:
        return self.directory / f"{MODEL_FILE_NAME}.json"

    @property
    def partial(self) -> Path:
        return self.directory / f"{MODEL_FILE_NAME}.partial"

    @property
    def partial_meta(self) -> Path:
        return self.directory / f"{MODEL_FILE_NAME}.partial.json"

    def reusable(self, *, source_identity: str, expected_sha256: str | None) -> CacheRecord | None:
        """The record of a cached file that may be served as is, or None when it must be fetched."""
        record = read_json(self.record_path, CacheRecord)
        if record is None or record.source_identity != source_identity:
            return None
        if expected_sha256 is not None and record.sha256 != expected_sha256:
            return None
        try:
            stat = self.model.stat()
        except OSError:
            return None
        if stat.st_size != record.size_bytes:
            return None
        if record.file_ctime_ns == stat.st_ctime_ns:
            return record
        # Written to since it was published (or recorded before the ctime was kept): only its bytes can tell.
        if file_sha256(self.model) != record.sha256:
            return None
        stamped = attrs.evolve(record, file_ctime_ns=stat.st_ctime_ns)
        # A read-only cache: verified but not recorded, so hashed again next time.
        with contextlib.suppress(OSError):
            write_json_durably(self.record_path, to_wire(stamped))
        return stamped

    def prepare(self) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise cache_unavailable(exc, self.directory) from exc
        if not os.access(self.directory, os.W_OK):
            raise cache_unavailable(PermissionError(13, "Permission denied"), self.directory)

    def commit(self, record: CacheRecord) -> None:
        """Publish the finished partial as `model.gguf` with its record (the partial is already fsynced)."""
        try:
            self.record_path.unlink(missing_ok=True)
            fsync_directory(self.directory)
            os.replace(self.partial, self.model)
            stamped = attrs.evolve(record, file_ctime_ns=self.model.stat().st_ctime_ns)
            write_json_durably(self.record_path, to_wire(stamped))
            fsync_directory(self.directory)
            self.partial_meta.unlink(missing_ok=True)
        except OSError as exc:
            raise cache_unavailable(exc, self.directory) from exc

    def discard_partial(self) -> None:
        """Drop a partial that can never become a good file (wrong digest, not GGUF), so no retry resumes it."""
        for path in (self.partial, self.partial_meta):
            # Best effort: the next attempt truncates a partial it cannot vouch for anyway.
            with contextlib.suppress(OSError):
                path.unlink(missing_ok=True)


def file_sha256(path: Path) -> str | None:
    """The digest of a file's bytes as they are now, or None when it cannot be read."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(HASH_BLOCK_BYTES):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()


def read_json(path: Path, cls: type[T]) -> T | None:
    """A JSON side file as `cls`, or None when missing or unreadable (then the file it describes is not trusted)."""
    try:
        return from_wire(json.loads(path.read_text()), cls)
    except (OSError, ValueError, WireError):
        return None


def write_json_durably(path: Path, data: object) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as fh:
        json.dump(data, fh, separators=(",", ":"))
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
