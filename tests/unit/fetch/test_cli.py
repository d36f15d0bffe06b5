"""The real program in a subprocess, as the download Job runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import anyio

from api.v1alpha1.fetch_result import cache_key_for
from llmkube.fetch.cli import main
from tests.unit.fetch.model_server import FileServer, HubServer

REPO = Path(__file__).resolve().parents[3]
TOKEN = "hf_cli_token_must_not_leak"


async def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    return await anyio.run_process(
        [sys.executable, "-m", "llmkube.fetch", *args],
        check=False,
        cwd=REPO,
        env={**os.environ, **(env or {})},
    )


async def test_prints_and_records_the_result_line_on_success(
    server: FileServer, tmp_path: Path, model_sha256: str
) -> None:
    log = tmp_path / "termination-log"

    done = await run_cli(
        "--url",
        server.url(),
        "--cache-dir",
        str(tmp_path),
        "--sha256",
        model_sha256,
        "--termination-log",
        str(log),
    )

    result = json.loads(done.stdout)
    assert (done.returncode, result["ok"], result["sha256"], result["cacheKey"]) == (
        0,
        True,
        model_sha256,
        cache_key_for(server.url()),
    )
    assert json.loads(log.read_text()) == result
    assert result["gguf"]["headCountKV"] == 3


async def test_fails_with_one_line_naming_the_reason_and_the_fix(server: FileServer, tmp_path: Path) -> None:
    server.faults.status = 404
    log = tmp_path / "termination-log"

    done = await run_cli("--url", server.url(), "--cache-dir", str(tmp_path), "--termination-log", str(log))

    failures = [line for line in done.stderr.decode().splitlines() if line.startswith("fetch failed")]
    assert (done.returncode, failures) == (
        1,
        [f"fetch failed: SourceNotFound: source {server.url()} returned 404: check the URL"],
    )
    assert json.loads(log.read_text())["reason"] == "SourceNotFound"


async def test_fetches_from_the_hub_named_by_hf_endpoint_without_showing_the_token(
    hub: HubServer, tmp_path: Path
) -> None:
    hub.repo.token = TOKEN

    done = await run_cli(
        "--hf-repo",
        hub.repo.repo,
        "--hf-file",
        hub.repo.filename,
        "--cache-dir",
        str(tmp_path),
        env={"HF_ENDPOINT": hub.endpoint, "HF_TOKEN": TOKEN},
    )

    assert (done.returncode, json.loads(done.stdout)["resolvedRevision"]) == (0, hub.repo.commit)
    assert TOKEN.encode() not in done.stdout + done.stderr


def test_refuses_two_sources_at_once(tmp_path: Path) -> None:
    code = main(["--url", "http://127.0.0.1/x.gguf", "--hf-repo", "a/b", "--cache-dir", str(tmp_path)])

    assert code == 2


def test_refuses_hf_repo_without_a_file(tmp_path: Path) -> None:
    assert main(["--hf-repo", "a/b", "--cache-dir", str(tmp_path)]) == 2
