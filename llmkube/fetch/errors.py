"""Failures of a fetch, one class per reason the Model reconciler turns into a `Degraded` condition.

Each message is one line that names the source or path and says what to change, because it ends up verbatim in
`kubectl describe model`: the user should not need the Job's logs to act on it.
"""

from __future__ import annotations

import errno
from pathlib import Path
from typing import ClassVar


class FetchError(Exception):
    """A fetch that cannot succeed without a change by the user (or, for NetworkError, by the network)."""

    reason: ClassVar[str] = "FetchError"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class SourceNotFound(FetchError):
    reason = "SourceNotFound"


class Unauthorized(FetchError):
    reason = "Unauthorized"


class ChecksumMismatch(FetchError):
    reason = "ChecksumMismatch"


class InvalidGGUF(FetchError):
    reason = "InvalidGGUF"


class CacheUnavailable(FetchError):
    reason = "CacheUnavailable"


class NetworkError(FetchError):
    reason = "NetworkError"


class TransientError(Exception):
    """A failed attempt worth retrying (connection reset, timeout, 5xx); never escapes the retry loop."""


def cache_unavailable(exc: OSError, where: Path) -> CacheUnavailable:
    """Name the cache problem by its cause, since "no space" and "read-only" need different fixes."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return CacheUnavailable(
            f"no space left on the cache volume at {where}: raise spec.cache.size or free space in the cache"
        )
    if exc.errno == errno.EROFS:
        return CacheUnavailable(f"cache volume at {where} is read-only: mount the cache volume read-write")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return CacheUnavailable(
            f"cache at {where} is not writable: check the cache volume's permissions (pod fsGroup)"
        )
    if exc.errno in (errno.ENOTDIR, errno.EEXIST):
        return CacheUnavailable(f"cache path {where} is not a directory: point --cache-dir at a directory")
    return CacheUnavailable(f"cache at {where} failed: {exc.strerror or exc}: check the cache volume")
