from __future__ import annotations

import json

from llmkube.benchmark import BenchmarkPlan, BenchmarkReport, OutputFormat, RequestResult, render, summarize


def report() -> BenchmarkReport:
    results = [
        RequestResult(
            concurrency=2,
            client=0,
            sequence=0,
            error=None,
            latency_ms=100.0,
            ttft_ms=20.0,
            completion_tokens=8,
            generation_tokens_per_s=80.0,
        ),
        RequestResult(
            concurrency=2,
            client=1,
            sequence=0,
            error=None,
            latency_ms=300.0,
            ttft_ms=40.0,
            completion_tokens=8,
            generation_tokens_per_s=40.0,
        ),
        RequestResult(concurrency=2, client=1, sequence=1, error="HTTP 503: busy", latency_ms=5.0),
    ]
    plan = BenchmarkPlan(prompt="p", max_tokens=8, iterations=2, warmup=0, concurrency=(2,))
    return BenchmarkReport(
        target="llama",
        endpoint="http://127.0.0.1:8080",
        model="smollm2",
        plan=plan,
        started_at="2025-01-01T00:00:00Z",
        duration_s=2.0,
        levels=(summarize(2, results, duration_s=2.0),),
        results=tuple(results),
    )


def test_summary_counts_tokens_of_successful_requests_only() -> None:
    level = report().levels[0]
    assert (level.requests, level.errors, level.output_tokens_per_s, level.requests_per_s) == (3, 1, 8.0, 1.0)


def test_json_report_holds_levels_results_and_error_total() -> None:
    document = json.loads(render(report(), OutputFormat.json))
    level = document["levels"][0]
    assert (document["errors"], level["concurrency"], level["latency_ms"]["p50"]) == (1, 2, 200.0)
    assert document["results"][2]["error"] == "HTTP 503: busy"
    assert document["plan"]["concurrency"] == [2]


def test_markdown_report_has_a_row_per_level() -> None:
    markdown = render(report(), OutputFormat.markdown)
    assert "| 2 | 3 | 1 | 1.00 | 8.0 | 60.0 | - |" in markdown
    assert "| 2 | 30 | 39 | 40 | 200 | 200 | 290 | 298 |" in markdown


def test_table_report_mentions_the_first_failure() -> None:
    assert "1 request(s) failed; first error: HTTP 503: busy" in render(report(), OutputFormat.table)
