from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from llmkube.fetch.cache import CacheEntry
from llmkube.fetch.errors import InvalidGGUF
from llmkube.fetch.gguf_facts import check_gguf_magic
from llmkube.fetch.partial import PartialFile
from llmkube.fetch.progress import Progress, ProgressMeter


async def ignore(progress: Progress) -> None:
    return None


@pytest.fixture
async def partial(tmp_path: Path) -> AsyncIterator[PartialFile]:
    meter = ProgressMeter(callback=ignore, interval_s=5.0)
    opened = PartialFile(
        entry=CacheEntry(tmp_path), source_identity="x", meter=meter, check_head=check_gguf_magic
    )
    await opened.open()
    try:
        yield opened
    finally:
        opened.close()


async def test_a_body_split_into_tiny_chunks_is_still_checked_for_the_gguf_magic(
    partial: PartialFile,
) -> None:
    with pytest.raises(InvalidGGUF):
        await partial.write([b"G", b"G", b"<!", b"DOCTYPE"])


async def test_the_digest_covers_every_batch_in_order(partial: PartialFile) -> None:
    await partial.write([b"GGUF", b"-one-"])
    await partial.write([b"two"])

    assert await partial.finish() == (hashlib.sha256(b"GGUF-one-two").hexdigest(), 12)


async def test_a_restart_forgets_what_was_written(partial: PartialFile) -> None:
    await partial.write([b"GGUF-stale"])
    await partial.restart()
    await partial.write([b"GGUF"])

    assert await partial.finish() == (hashlib.sha256(b"GGUF").hexdigest(), 4)
