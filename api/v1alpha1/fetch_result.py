"""The contract between `llmkube fetch` (the download Job's program) and the Model reconciler.

The fetcher prints this as one JSON line and writes it to the container's termination-message file; the
reconciler reads it back from the terminated pod's status. It lives in `api` because both sides depend on it and
the controller may not import the CLI package.
"""

from __future__ import annotations

import hashlib

import attrs

from api.v1alpha1.gguf import GGUFInfo

#: The file name every cached model has inside its cache-key directory.
MODEL_FILE_NAME = "model.gguf"


@attrs.frozen(kw_only=True)
class FetchResult:
    """Outcome of one fetch: either `ok` with the file's facts, or a failure `reason` with a one-line `message`."""

    ok: bool
    reason: str | None = None
    message: str | None = None
    cache_key: str | None = None
    path: str | None = None
    sha256: str | None = None
    size_bytes: int | None = None
    resolved_revision: str | None = None
    reused: bool = False
    gguf: GGUFInfo | None = None


def cache_key_for(source_identity: str) -> str:
    """A stable directory name for one model source: 16 hex chars of the sha256 of its canonical identity.

    Callers pass the canonical identity (see `Model.source_identity`), so that two Models naming the same file
    share one cached copy and a spec change that names a different file gets a new key.
    """
    return hashlib.sha256(source_identity.encode()).hexdigest()[:16]
