"""`llmkube chat` and `llmkube benchmark` as a user runs them: the installed program against a real llama-server
serving SmolLM2-135M."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.llama

LLMKUBE = str(Path(sys.executable).parent / "llmkube")


def llmkube(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([LLMKUBE, *args], capture_output=True, text=True, timeout=timeout, check=False)


def test_one_shot_chat_streams_a_real_answer(llama_server: str) -> None:
    result = llmkube(
        "chat",
        "--endpoint",
        llama_server,
        "-m",
        "What is the capital of France?",
        "--max-tokens",
        "24",
        "--stats",
    )
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.strip()) > 0
    assert "tokens" in result.stderr  # the --stats line


def test_chat_with_a_system_prompt_and_greedy_sampling_is_repeatable(llama_server: str) -> None:
    args = ("chat", "--endpoint", llama_server, "--system", "Answer in one word.", "--temperature", "0")
    first = llmkube(*args, "-m", "Name a colour.", "--max-tokens", "8")
    second = llmkube(*args, "-m", "Name a colour.", "--max-tokens", "8")
    assert first.returncode == second.returncode == 0
    assert first.stdout == second.stdout != ""


def test_interactive_chat_reads_questions_until_exit(llama_server: str) -> None:
    result = subprocess.run(
        [LLMKUBE, "chat", "--endpoint", llama_server, "--max-tokens", "12"],
        input="Hello!\n/clear\nSay hi.\n/exit\n",
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Conversation cleared." in result.stderr
    assert result.stdout.count(">>> ") == 4


def test_benchmark_sweep_reports_sane_numbers(llama_server: str, tmp_path: Path) -> None:
    report_file = tmp_path / "report.json"
    result = llmkube(
        "benchmark",
        "--endpoint",
        llama_server,
        "-n",
        "3",
        "--concurrency",
        "1,2",
        "--warmup",
        "1",
        "--max-tokens",
        "16",
        "-o",
        "json",
        "--output-file",
        str(report_file),
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert json.loads(report_file.read_text()) == report
    assert report["errors"] == 0
    assert [level["concurrency"] for level in report["levels"]] == [1, 2]
    assert [level["requests"] for level in report["levels"]] == [3, 6]
    for level in report["levels"]:
        assert level["output_tokens_per_s"] > 0
        assert level["generation_tokens_per_s"]["mean"] > 0
        ttft, latency = level["ttft_ms"], level["latency_ms"]
        assert 0 < ttft["p50"] <= ttft["p99"] <= latency["max"]
        assert latency["p50"] <= latency["p95"] <= latency["p99"]
    assert all(r["completion_tokens"] > 0 for r in report["results"])


def test_benchmark_table_and_markdown_render_from_live_results(llama_server: str) -> None:
    result = llmkube(
        "benchmark",
        "--endpoint",
        llama_server,
        "-n",
        "1",
        "--warmup",
        "0",
        "--max-tokens",
        "8",
        "-o",
        "markdown",
        "-q",
    )
    assert result.returncode == 0, result.stderr
    assert "### Latency (ms)" in result.stdout
    assert result.stderr == ""


def test_concurrent_streams_never_fail_on_a_connection_the_server_dropped(llama_server: str) -> None:
    # llama-server hangs up after each streamed answer while advertising keep-alive; with several clients,
    # pooled dead connections used to outnumber the client's single retry.
    result = llmkube(
        "benchmark",
        "--endpoint",
        llama_server,
        "-n",
        "10",
        "--concurrency",
        "4",
        "--max-tokens",
        "8",
        "-o",
        "json",
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["errors"] == 0
    assert [level["requests"] for level in report["levels"]] == [40]
