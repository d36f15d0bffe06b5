"""What every source offers the fetcher: stream bytes into a sink, resuming where the sink left off."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import attrs


@attrs.frozen(kw_only=True)
class Fetched:
    """What the source learned while fetching that the result should carry."""

    resolved_revision: str | None = None


class Sink(Protocol):
    """The partial file as a source sees it (see `partial.PartialFile`)."""

    @property
    def offset(self) -> int: ...

    @property
    def validator(self) -> str | None: ...

    @property
    def bytes_total(self) -> int | None: ...

    async def write(self, chunks: Sequence[bytes]) -> None:
        """Append `chunks` in order; a batch per call keeps the per-call overhead off the per-byte cost."""
        ...

    async def restart(self) -> None: ...

    async def begin(self, *, validator: str | None, bytes_total: int | None) -> None: ...


class Source(Protocol):
    @property
    def identity(self) -> str:
        """Canonical name of the file (the cache key is derived from it)."""
        ...

    async def fetch_into(self, sink: Sink) -> Fetched:
        """Append the rest of the file to `sink` (from `sink.offset`), raising `FetchError` when it cannot."""
        ...
