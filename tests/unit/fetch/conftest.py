from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import anyio.lowlevel
import pytest

from llmkube.fetch.http_source import HttpSource, Timeouts
from llmkube.fetch.retry import Backoff
from tests.unit.fetch.model_file import smollm2_gguf
from tests.unit.fetch.model_server import FileServer, HubRepo, HubServer

COMMIT = "0123456789abcdef0123456789abcdef01234567"


class RecordingSleep:
    """Backoff sleeps that return at once and remember what they were asked for."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        await anyio.lowlevel.checkpoint()


@pytest.fixture(scope="session")
def model_path() -> Path:
    return smollm2_gguf()


@pytest.fixture(scope="session")
def model_bytes(model_path: Path) -> bytes:
    return model_path.read_bytes()


@pytest.fixture(scope="session")
def model_sha256(model_bytes: bytes) -> str:
    return hashlib.sha256(model_bytes).hexdigest()


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "cache"


@pytest.fixture
def sleep() -> RecordingSleep:
    return RecordingSleep()


@pytest.fixture
async def server(model_bytes: bytes) -> AsyncIterator[FileServer]:
    async with FileServer(model_bytes) as running:
        yield running


@pytest.fixture
async def cdn(model_bytes: bytes) -> AsyncIterator[FileServer]:
    async with FileServer(model_bytes) as running:
        yield running


@pytest.fixture
async def hub(cdn: FileServer) -> AsyncIterator[HubServer]:
    repo = HubRepo(
        repo="HuggingFaceTB/SmolLM2-135M-Instruct-GGUF", filename="smollm2.Q4_1.gguf", commit=COMMIT
    )
    async with HubServer(repo=repo, cdn=cdn) as running:
        yield running


@pytest.fixture
def http_source(server: FileServer, sleep: RecordingSleep) -> HttpSource:
    return HttpSource(
        url=server.url(),
        identity=server.url(),
        backoff=Backoff(retries=3),
        sleep=sleep,
        timeouts=Timeouts(connect_s=5, idle_read_s=10),
    )
