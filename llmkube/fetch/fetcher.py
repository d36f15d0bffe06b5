"""One fetch from start to finish: reuse the cache, or download, verify, inspect and publish.

Order matters for the guarantees the Model reconciler relies on:
- nothing is published before the digest matches `--sha256` and the header parses as GGUF, so a bad download
  never replaces (or poses as) a good file;
- one fetch at a time writes an entry (`lock.py`); one that waited reuses what the other published;
- partials that can never become good (wrong digest, not GGUF, source gone) are deleted, while one cut short by
  the network is kept for the next attempt to resume.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import anyio
import anyio.to_thread
import attrs

from api.v1alpha1.fetch_result import FetchResult
from llmkube.fetch.cache import CacheEntry, CacheRecord
from llmkube.fetch.errors import ChecksumMismatch, FetchError, NetworkError
from llmkube.fetch.gguf_facts import check_gguf_magic, read_gguf_facts
from llmkube.fetch.lock import exclusive_entry
from llmkube.fetch.log import log_event
from llmkube.fetch.partial import PartialFile
from llmkube.fetch.progress import ProgressCallback, ProgressMeter, log_progress
from llmkube.fetch.retry import Sleep
from llmkube.fetch.source import Fetched, Source


def _lowercase(value: str | None) -> str | None:
    return value.lower() if value is not None else None


@attrs.frozen(kw_only=True)
class FetchRequest:
    source: Source
    cache_dir: Path
    cache_key: str
    expected_sha256: str | None = attrs.field(default=None, converter=_lowercase)
    #: Recorded with the cached file; defaults to the source's own (e.g. pvc://claim/path for a local path).
    identity: str | None = None

    @property
    def source_identity(self) -> str:
        return self.identity or self.source.identity


async def fetch(
    request: FetchRequest,
    *,
    on_progress: ProgressCallback = log_progress,
    progress_interval_s: float = 5.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Sleep = anyio.sleep,
) -> FetchResult:
    """Raises `FetchError` (with the reason the Model's Degraded condition shows) when the fetch fails."""
    entry = CacheEntry(request.cache_dir / request.cache_key)
    identity = request.source_identity
    # Checked before taking the lock too, so a published file is reused even from a read-only cache.
    reused = _reuse(request, entry, identity)
    if reused is not None:
        return reused

    entry.prepare()
    async with exclusive_entry(entry.directory):
        # Another fetch of the same file may have published it while this one waited for the lock.
        reused = _reuse(request, entry, identity)
        if reused is not None:
            return reused
        return await _download(
            request,
            entry=entry,
            identity=identity,
            on_progress=on_progress,
            progress_interval_s=progress_interval_s,
            clock=clock,
            sleep=sleep,
        )


def _reuse(request: FetchRequest, entry: CacheEntry, identity: str) -> FetchResult | None:
    """The result for the file already published in `entry`, when its record matches the request."""
    cached = entry.reusable(source_identity=identity, expected_sha256=request.expected_sha256)
    if cached is None:
        return None
    log_event("reuse", path=str(entry.model), sha256=cached.sha256)
    return _result(request, entry, cached, reused=True)


async def _download(
    request: FetchRequest,
    *,
    entry: CacheEntry,
    identity: str,
    on_progress: ProgressCallback,
    progress_interval_s: float,
    clock: Callable[[], float],
    sleep: Sleep,
) -> FetchResult:
    meter = ProgressMeter(callback=on_progress, interval_s=progress_interval_s, clock=clock)
    partial = PartialFile(entry=entry, source_identity=identity, meter=meter, check_head=check_gguf_magic)
    log_event("download", source=identity, path=str(entry.model))
    try:
        try:
            await partial.open()
            fetched = await _download_reporting_progress(request.source, partial, meter, sleep)
            digest, size = await partial.finish()
        finally:
            partial.close()
        await meter.report(done=True)
        if request.expected_sha256 is not None and digest != request.expected_sha256:
            raise ChecksumMismatch(
                f"source {identity} has sha256 {digest}, expected {request.expected_sha256}: "
                "fix spec.sha256 or the source (the download was discarded)"
            )
        gguf = await anyio.to_thread.run_sync(
            lambda: read_gguf_facts(entry.partial, source=f"source {identity}")
        )
    except NetworkError:
        raise  # keep the partial: the next attempt resumes it
    except FetchError:
        entry.discard_partial()
        raise
    record = CacheRecord(
        sha256=digest,
        size_bytes=size,
        source_identity=identity,
        resolved_revision=fetched.resolved_revision,
        gguf=gguf,
    )
    entry.commit(record)
    log_event("ready", path=str(entry.model), sha256=digest, sizeBytes=size)
    return _result(request, entry, record, reused=False)


async def _download_reporting_progress(
    source: Source, partial: PartialFile, meter: ProgressMeter, sleep: Sleep
) -> Fetched:
    """Run the download with the progress timer beside it; the timer lives exactly as long as the download."""
    outcome: list[Fetched] = []
    failure: list[BaseException] = []
    async with anyio.create_task_group() as tg:
        tg.start_soon(meter.report_periodically, sleep)
        try:
            outcome.append(await source.fetch_into(partial))
        except Exception as exc:  # re-raised below, unwrapped from the task group's ExceptionGroup
            failure.append(exc)
        finally:
            tg.cancel_scope.cancel()
    if failure:
        raise failure[0]
    return outcome[0]


def _result(request: FetchRequest, entry: CacheEntry, record: CacheRecord, *, reused: bool) -> FetchResult:
    return FetchResult(
        ok=True,
        cache_key=request.cache_key,
        path=str(entry.model),
        sha256=record.sha256,
        size_bytes=record.size_bytes,
        resolved_revision=record.resolved_revision,
        reused=reused,
        gguf=record.gguf,
    )
