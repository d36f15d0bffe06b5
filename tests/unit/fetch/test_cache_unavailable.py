from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from api.v1alpha1.fetch_result import cache_key_for
from llmkube.fetch.errors import CacheUnavailable
from llmkube.fetch.fetcher import FetchRequest, fetch
from llmkube.fetch.http_source import HttpSource
from tests.unit.fetch.model_server import FileServer


@pytest.fixture
def tiny_volume(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs: a real full disk, which needs root to mount (skipped where that is not allowed)."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def request_for(source: HttpSource, cache_dir: Path) -> FetchRequest:
    return FetchRequest(source=source, cache_dir=cache_dir, cache_key=cache_key_for(source.identity))


async def test_a_model_larger_than_the_free_space_fails_before_downloading(
    http_source: HttpSource, server: FileServer, tiny_volume: Path
) -> None:
    with pytest.raises(CacheUnavailable, match=r"no space left .* raise spec\.cache\.size"):
        await fetch(request_for(http_source, tiny_volume))


async def test_running_out_of_space_mid_download_is_cache_unavailable(
    http_source: HttpSource, server: FileServer, tiny_volume: Path
) -> None:
    server.faults.chunked = True  # size unknown up front: the disk fills while writing

    with pytest.raises(CacheUnavailable, match="no space left"):
        await fetch(request_for(http_source, tiny_volume))

    assert [p async for p in anyio.Path(tiny_volume).rglob("*.partial")] == []


async def test_a_cache_path_that_is_a_file_is_cache_unavailable(
    http_source: HttpSource, tmp_path: Path
) -> None:
    not_a_dir = tmp_path / "cache"
    not_a_dir.write_text("")

    with pytest.raises(CacheUnavailable, match="not a directory"):
        await fetch(request_for(http_source, not_a_dir))
