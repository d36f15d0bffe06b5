from __future__ import annotations

import re
from pathlib import Path

import anyio
import attrs
import pytest

from api.v1alpha1.fetch_result import MODEL_FILE_NAME, FetchResult, cache_key_for
from llmkube.fetch.errors import ChecksumMismatch, InvalidGGUF, NetworkError, SourceNotFound, Unauthorized
from llmkube.fetch.fetcher import FetchRequest, fetch
from llmkube.fetch.http_source import HttpSource
from llmkube.fetch.lock import LOCK_FILE
from llmkube.fetch.progress import Progress
from tests.unit.fetch.conftest import RecordingSleep
from tests.unit.fetch.model_server import FileServer, SeenRequest


def request_for(source: HttpSource, cache_dir: Path, sha256: str | None = None) -> FetchRequest:
    return FetchRequest(
        source=source, cache_dir=cache_dir, cache_key=cache_key_for(source.identity), expected_sha256=sha256
    )


#: Where the test server breaks the connection: far enough into the file that the client has written some of it
#: even when aiohttp drops what it still buffered (up to 2 x its 8 MiB read buffer) on the error.
CUT = 60_000_000


def resumed_from(request: SeenRequest) -> int:
    match = re.fullmatch(r"bytes=(\d+)-", request.headers.get("Range", ""))
    assert match is not None, f"no Range in {request.headers}"
    return int(match.group(1))


async def test_downloads_model_into_its_cache_key_directory(
    http_source: HttpSource, cache_dir: Path, model_bytes: bytes, model_sha256: str
) -> None:
    result = await fetch(request_for(http_source, cache_dir))

    model = cache_dir / cache_key_for(http_source.url) / MODEL_FILE_NAME
    assert (result.ok, result.reused, result.path, result.sha256, result.size_bytes) == (
        True,
        False,
        str(model),
        model_sha256,
        len(model_bytes),
    )
    assert model.read_bytes() == model_bytes
    assert not model.with_name(MODEL_FILE_NAME + ".partial").exists()


async def test_reports_gguf_facts_of_the_downloaded_file(http_source: HttpSource, cache_dir: Path) -> None:
    result = await fetch(request_for(http_source, cache_dir))

    assert result.gguf is not None
    assert (result.gguf.architecture, result.gguf.quantization, result.gguf.block_count) == (
        "llama",
        "Q4_1",
        30,
    )


async def test_resumes_with_range_after_the_connection_breaks_mid_body(
    http_source: HttpSource, server: FileServer, cache_dir: Path, model_sha256: str
) -> None:
    server.faults.cut_after = [CUT]

    result = await fetch(request_for(http_source, cache_dir, sha256=model_sha256))

    assert result.sha256 == model_sha256
    first, resumed = server.gets
    assert first.headers.get("Range") is None
    assert 0 < resumed_from(resumed) <= CUT
    assert resumed.headers.get("If-Range") == server.etag


async def test_starts_over_when_the_server_ignores_range(
    http_source: HttpSource, server: FileServer, cache_dir: Path, model_sha256: str
) -> None:
    server.faults.cut_after = [CUT]
    server.faults.ignore_range = True

    result = await fetch(request_for(http_source, cache_dir, sha256=model_sha256))

    assert result.sha256 == model_sha256
    assert len(server.gets) == 2


async def test_resumes_a_partial_left_by_an_earlier_process(
    http_source: HttpSource, server: FileServer, cache_dir: Path, model_bytes: bytes, model_sha256: str
) -> None:
    server.faults.cut_after = [CUT]
    first = attrs.evolve(http_source, backoff=attrs.evolve(http_source.backoff, retries=0))
    with pytest.raises(NetworkError):
        await fetch(request_for(first, cache_dir))

    result = await fetch(request_for(http_source, cache_dir, sha256=model_sha256))

    assert result.sha256 == model_sha256
    assert 0 < resumed_from(server.gets[-1]) <= CUT


async def test_reuses_a_cached_file_without_asking_the_server(
    http_source: HttpSource, server: FileServer, cache_dir: Path, model_sha256: str
) -> None:
    await fetch(request_for(http_source, cache_dir))
    server.requests.clear()

    result = await fetch(request_for(http_source, cache_dir, sha256=model_sha256))

    assert (result.reused, result.sha256, server.requests) == (True, model_sha256, [])


async def test_two_fetches_of_one_file_at_once_download_it_once_and_publish_it_intact(
    http_source: HttpSource, server: FileServer, cache_dir: Path, model_bytes: bytes, model_sha256: str
) -> None:
    results: list[FetchResult] = []

    async def one() -> None:
        results.append(await fetch(request_for(http_source, cache_dir)))

    async with anyio.create_task_group() as tg:
        tg.start_soon(one)
        tg.start_soon(one)

    assert sorted(r.reused for r in results) == [False, True]
    assert {r.sha256 for r in results} == {model_sha256}
    assert len(server.gets) == 1
    assert results[0].path is not None
    assert await anyio.Path(results[0].path).read_bytes() == model_bytes


async def test_a_cached_file_with_another_digest_is_not_reused_for_an_expected_sha256(
    http_source: HttpSource, server: FileServer, cache_dir: Path, model_bytes: bytes
) -> None:
    good = await fetch(request_for(http_source, cache_dir))

    with pytest.raises(ChecksumMismatch, match=f"has sha256 {good.sha256}, expected {'0' * 64}"):
        await fetch(request_for(http_source, cache_dir, sha256="0" * 64))

    assert len(server.gets) == 2
    assert good.path is not None
    assert await anyio.Path(good.path).read_bytes() == model_bytes


async def test_downloads_again_when_the_cached_file_lost_bytes(
    http_source: HttpSource, server: FileServer, cache_dir: Path
) -> None:
    first = await fetch(request_for(http_source, cache_dir))
    assert first.path is not None
    async with await anyio.open_file(first.path, "r+b") as fh:
        await fh.truncate(1000)

    second = await fetch(request_for(http_source, cache_dir))

    assert (second.reused, len(server.gets)) == (False, 2)


async def test_downloads_again_when_the_cached_file_was_corrupted_in_place(
    http_source: HttpSource, server: FileServer, cache_dir: Path, model_bytes: bytes, model_sha256: str
) -> None:
    first = await fetch(request_for(http_source, cache_dir))
    assert first.path is not None
    async with await anyio.open_file(first.path, "r+b") as fh:
        await fh.seek(len(model_bytes) // 2)
        await fh.write(b"\xff" * 4096)  # same size: only the bytes can tell

    second = await fetch(request_for(http_source, cache_dir, sha256=model_sha256))

    assert (second.reused, second.sha256, len(server.gets)) == (False, model_sha256, 2)
    assert await anyio.Path(first.path).read_bytes() == model_bytes


async def test_reuses_a_cached_file_whose_metadata_changed_once_its_bytes_verify(
    http_source: HttpSource, server: FileServer, cache_dir: Path, model_sha256: str
) -> None:
    first = await fetch(request_for(http_source, cache_dir))
    assert first.path is not None
    await anyio.Path(first.path).chmod(0o600)  # moves the ctime, not the bytes
    server.requests.clear()

    second = await fetch(request_for(http_source, cache_dir))
    third = await fetch(request_for(http_source, cache_dir))

    assert (second.reused, third.reused, second.sha256, server.requests) == (True, True, model_sha256, [])


def model_files(entry: Path) -> list[Path]:
    """What an entry holds besides its lock file, which stays so that every fetch locks the same inode."""
    return [path for path in entry.iterdir() if path.name != LOCK_FILE]


async def test_fails_with_checksum_mismatch_and_keeps_no_file(
    http_source: HttpSource, server: FileServer, cache_dir: Path, model_bytes: bytes, model_sha256: str
) -> None:
    server.faults.body = model_bytes[:5000] + b"\xff" + model_bytes[5001:]

    with pytest.raises(ChecksumMismatch, match=f"expected {model_sha256}"):
        await fetch(request_for(http_source, cache_dir, sha256=model_sha256))

    assert model_files(cache_dir / cache_key_for(http_source.url)) == []


async def test_a_mismatched_download_never_replaces_a_good_cached_file(
    http_source: HttpSource, server: FileServer, cache_dir: Path, model_bytes: bytes
) -> None:
    good = await fetch(request_for(http_source, cache_dir))
    server.faults.body = model_bytes[:5000] + b"\xff" + model_bytes[5001:]

    with pytest.raises(ChecksumMismatch):
        await fetch(request_for(http_source, cache_dir, sha256="0" * 64))

    assert good.path is not None
    assert await anyio.Path(good.path).read_bytes() == model_bytes


async def test_rejects_a_body_that_is_not_gguf(
    http_source: HttpSource, server: FileServer, cache_dir: Path
) -> None:
    server.faults.body = b"<!DOCTYPE html><html>Sign in to continue</html>" * 1000

    with pytest.raises(InvalidGGUF, match="not a GGUF file"):
        await fetch(request_for(http_source, cache_dir))

    assert model_files(cache_dir / cache_key_for(http_source.url)) == []


async def test_a_404_is_source_not_found_with_the_fix(
    http_source: HttpSource, server: FileServer, cache_dir: Path
) -> None:
    server.faults.status = 404

    with pytest.raises(SourceNotFound, match=rf"source {http_source.url} returned 404: check the URL"):
        await fetch(request_for(http_source, cache_dir))


@pytest.mark.parametrize("status", [401, 403])
async def test_a_refused_download_is_unauthorized(
    http_source: HttpSource, server: FileServer, cache_dir: Path, status: int
) -> None:
    server.faults.status = status

    with pytest.raises(Unauthorized, match=f"returned {status}"):
        await fetch(request_for(http_source, cache_dir))


async def test_gives_up_with_network_error_after_the_retry_budget(
    http_source: HttpSource, server: FileServer, cache_dir: Path, sleep: RecordingSleep
) -> None:
    server.faults.status = 503

    with pytest.raises(NetworkError, match="gave up after 3 retries"):
        await fetch(request_for(http_source, cache_dir))

    assert (len(server.gets), len(sleep.delays)) == (4, 3)


async def test_retries_a_connection_that_breaks_before_the_body(
    http_source: HttpSource, server: FileServer, cache_dir: Path, model_sha256: str
) -> None:
    server.faults.cut_after = [0, 0]

    result = await fetch(request_for(http_source, cache_dir, sha256=model_sha256))

    assert (result.sha256, len(server.gets)) == (model_sha256, 3)


async def test_ends_with_a_progress_report_of_the_whole_file(
    http_source: HttpSource, cache_dir: Path, model_bytes: bytes
) -> None:
    reports: list[Progress] = []

    async def collect(progress: Progress) -> None:
        reports.append(progress)

    await fetch(request_for(http_source, cache_dir), on_progress=collect)

    assert (reports[-1].bytes_done, reports[-1].bytes_total, reports[-1].done) == (
        len(model_bytes),
        len(model_bytes),
        True,
    )
