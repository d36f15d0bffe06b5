"""Checks that every catalog entry's file still exists on the hub, and that its size is what the entry implies.

One HEAD request per file to the hub's `resolve` URL, redirects not followed: the hub answers for a stored (LFS
or xet) file with a redirect that carries the file's size in `X-Linked-Size`, and for a small file with 200 and
`Content-Length`. A size far from parameters x bits per weight means the entry names the wrong file or the wrong
quantization. Requests run a few at a time so a 40-model catalog takes seconds without hammering the hub.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence

import aiohttp
import anyio
import attrs

from llmkube.catalog.entry import CatalogEntry

DEFAULT_ENDPOINT = "https://huggingface.co"
#: Real files land within this factor of the estimate; embeddings of big-vocabulary small models push it up.
SIZE_TOLERANCE = (0.6, 1.6)
GIB = 2**30


class Verdict(enum.StrEnum):
    ok = "ok"
    missing = "missing"
    size_mismatch = "size-mismatch"
    denied = "denied"
    unreachable = "unreachable"


@attrs.frozen(kw_only=True)
class FileCheck:
    model_id: str
    url: str
    verdict: Verdict
    size_bytes: int | None
    detail: str

    @property
    def passed(self) -> bool:
        return self.verdict is Verdict.ok


def resolve_url(entry: CatalogEntry, endpoint: str) -> str:
    return f"{endpoint.rstrip('/')}/{entry.source.repo}/resolve/main/{entry.source.filename}"


def _size(headers: Mapping[str, str]) -> int | None:
    for name in ("X-Linked-Size", "Content-Length"):
        value = headers.get(name)
        if value is not None and value.isdigit():
            return int(value)
    return None


def judge(entry: CatalogEntry, *, url: str, status: int, size: int | None) -> FileCheck:
    """The verdict for one HEAD answer; pure, so every branch has a plain unit test."""

    def check(verdict: Verdict, detail: str) -> FileCheck:
        return FileCheck(model_id=entry.id, url=url, verdict=verdict, size_bytes=size, detail=detail)

    if status == 404:
        return check(Verdict.missing, f"{url} returned 404: the file or repository is gone")
    if status in (401, 403):
        return check(Verdict.denied, f"{url} returned {status}: the repository is gated or private")
    if not (200 <= status < 400):
        return check(Verdict.unreachable, f"{url} returned {status}")
    if size is None:
        return check(Verdict.ok, "exists (the hub gave no size)")
    low, high = SIZE_TOLERANCE
    expected = entry.weights_gib * GIB
    if not low * expected <= size <= high * expected:
        return check(
            Verdict.size_mismatch,
            f"{size / GIB:.2f} GiB, but {entry.parameters_billions:g}B parameters at {entry.quantization} "
            f"should be about {entry.weights_gib:.2f} GiB: check the file and quantization",
        )
    return check(Verdict.ok, f"exists, {size / GIB:.2f} GiB")


async def _head(
    session: aiohttp.ClientSession, entry: CatalogEntry, *, endpoint: str, token: str | None
) -> FileCheck:
    url = resolve_url(entry, endpoint)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        async with session.head(url, allow_redirects=False, headers=headers) as response:
            return judge(entry, url=url, status=response.status, size=_size(response.headers))
    except (aiohttp.ClientError, TimeoutError) as exc:
        return FileCheck(
            model_id=entry.id,
            url=url,
            verdict=Verdict.unreachable,
            size_bytes=None,
            detail=f"cannot reach {endpoint}: {type(exc).__name__}: {exc}",
        )


async def verify_files(
    entries: Sequence[CatalogEntry],
    *,
    endpoint: str = DEFAULT_ENDPOINT,
    token: str | None = None,
    concurrency: int = 8,
    timeout_s: float = 20.0,
) -> list[FileCheck]:
    """One check per entry, in the entries' order."""
    results: list[FileCheck | None] = [None] * len(entries)
    limit = anyio.CapacityLimiter(concurrency)
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    async with aiohttp.ClientSession(timeout=timeout) as session:

        async def one(index: int, entry: CatalogEntry) -> None:
            async with limit:
                results[index] = await _head(session, entry, endpoint=endpoint, token=token)

        async with anyio.create_task_group() as group:
            for index, entry in enumerate(entries):
                group.start_soon(one, index, entry)
    return [r for r in results if r is not None]
