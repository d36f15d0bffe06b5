from __future__ import annotations

from pathlib import Path

import attrs
import pytest

from api.v1alpha1.fetch_result import cache_key_for
from llmkube.fetch.errors import SourceNotFound, Unauthorized
from llmkube.fetch.fetcher import FetchRequest, fetch
from llmkube.fetch.hf_source import HuggingFaceSource
from llmkube.fetch.retry import Backoff
from tests.unit.fetch.conftest import COMMIT, RecordingSleep
from tests.unit.fetch.model_server import FileServer, HubServer

TOKEN = "hf_test_token_not_a_secret"


@pytest.fixture
def hf_source(hub: HubServer, sleep: RecordingSleep) -> HuggingFaceSource:
    return HuggingFaceSource(
        repo=hub.repo.repo,
        filename=hub.repo.filename,
        endpoint=hub.endpoint,
        backoff=Backoff(retries=1),
        sleep=sleep,
    )


def request_for(source: HuggingFaceSource, cache_dir: Path) -> FetchRequest:
    return FetchRequest(source=source, cache_dir=cache_dir, cache_key=cache_key_for(source.identity))


def test_identity_names_repo_file_and_requested_revision(hf_source: HuggingFaceSource) -> None:
    assert hf_source.identity == f"hf://{hf_source.repo}/{hf_source.filename}@main"


async def test_downloads_through_the_hub_and_records_the_resolved_commit(
    hf_source: HuggingFaceSource, cache_dir: Path, model_sha256: str
) -> None:
    result = await fetch(request_for(hf_source, cache_dir))

    assert (result.ok, result.sha256, result.resolved_revision) == (True, model_sha256, COMMIT)


async def test_downloads_the_resolved_commit_not_the_moving_branch(
    hf_source: HuggingFaceSource, hub: HubServer, cache_dir: Path
) -> None:
    await fetch(request_for(hf_source, cache_dir))

    assert [r.path.split("/")[4] for r in hub.requests if r.method == "GET"] == [COMMIT]


async def test_sends_the_token_to_the_hub_but_not_to_the_cdn(
    hf_source: HuggingFaceSource, hub: HubServer, cdn: FileServer, cache_dir: Path
) -> None:
    hub.repo.token = TOKEN

    await fetch(request_for(attrs.evolve(hf_source, token=TOKEN), cache_dir))

    assert {r.headers.get("Authorization") for r in hub.requests} == {f"Bearer {TOKEN}"}
    assert [r.headers.get("Authorization") for r in cdn.requests] == [None]


async def test_a_private_repo_without_token_is_unauthorized_and_says_how_to_fix_it(
    hf_source: HuggingFaceSource, hub: HubServer, cache_dir: Path
) -> None:
    hub.repo.token = TOKEN

    with pytest.raises(Unauthorized, match="tokenSecretRef"):
        await fetch(request_for(hf_source, cache_dir))


async def test_a_gated_repo_is_unauthorized(
    hf_source: HuggingFaceSource, hub: HubServer, cache_dir: Path
) -> None:
    hub.repo.gated = True

    with pytest.raises(Unauthorized, match="gated"):
        await fetch(request_for(hf_source, cache_dir))


async def test_a_missing_file_is_source_not_found(hf_source: HuggingFaceSource, cache_dir: Path) -> None:
    missing = attrs.evolve(hf_source, filename="nope.gguf")

    with pytest.raises(SourceNotFound, match=r"returned 404: check repo and filename"):
        await fetch(request_for(missing, cache_dir))


async def test_a_missing_revision_is_source_not_found(hf_source: HuggingFaceSource, cache_dir: Path) -> None:
    with pytest.raises(SourceNotFound, match="revision 'v9' does not exist"):
        await fetch(request_for(attrs.evolve(hf_source, revision="v9"), cache_dir))
