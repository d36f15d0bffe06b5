from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from api.v1alpha1.fetch_result import cache_key_for
from llmkube.fetch.errors import SourceNotFound
from llmkube.fetch.fetcher import FetchRequest, fetch
from llmkube.fetch.local_source import LocalFileSource, path_from_file_url


def request_for(source: LocalFileSource, cache_dir: Path, identity: str | None = None) -> FetchRequest:
    key = cache_key_for(identity or source.identity)
    return FetchRequest(source=source, cache_dir=cache_dir, cache_key=key, identity=identity)


def test_a_file_url_names_a_local_path() -> None:
    assert path_from_file_url("file:///models/a%20b.gguf") == Path("/models/a b.gguf")


def test_a_file_url_with_a_remote_host_is_refused() -> None:
    with pytest.raises(SourceNotFound, match=r"file:///absolute/path\.gguf"):
        path_from_file_url("file://nas/models/a.gguf")


async def test_copies_a_file_url_into_the_cache(model_path: Path, cache_dir: Path, model_sha256: str) -> None:
    url = model_path.as_uri()
    source = LocalFileSource(path=path_from_file_url(url), identity=url)

    result = await fetch(request_for(source, cache_dir))

    assert result.sha256 == model_sha256
    assert result.path is not None
    assert (await anyio.Path(result.path).read_bytes()) == (await anyio.Path(model_path).read_bytes())


async def test_a_pvc_path_is_recorded_under_its_pvc_identity(
    model_path: Path, cache_dir: Path, model_sha256: str
) -> None:
    source = LocalFileSource(path=model_path, identity=str(model_path))
    identity = "pvc://models/smollm2.gguf"

    result = await fetch(request_for(source, cache_dir, identity=identity))
    again = await fetch(request_for(source, cache_dir, identity=identity))

    assert (result.cache_key, again.reused) == (cache_key_for(identity), True)


async def test_a_missing_local_file_is_source_not_found(tmp_path: Path, cache_dir: Path) -> None:
    source = LocalFileSource(path=tmp_path / "absent.gguf", identity=str(tmp_path / "absent.gguf"))

    with pytest.raises(SourceNotFound, match="does not exist"):
        await fetch(request_for(source, cache_dir))
