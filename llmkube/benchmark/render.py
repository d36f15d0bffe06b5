"""A benchmark report as a terminal table, JSON (for scripts and CI) or Markdown (for issues and docs).

All three show the same figures per concurrency level: throughput first, because that is what a concurrency
sweep is for, then the latency percentiles a user feels.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from enum import StrEnum
from typing import Any

import cattrs
from rich.console import Console
from rich.table import Table

from llmkube.benchmark.runner import BenchmarkReport, LevelSummary
from llmkube.benchmark.stats import Distribution
from llmkube.version import installed_version


class OutputFormat(StrEnum):
    table = "table"
    json = "json"
    markdown = "markdown"


_converter = cattrs.Converter()


def to_json(report: BenchmarkReport) -> str:
    document: dict[str, Any] = {"llmkube_version": installed_version(), **_converter.unstructure(report)}
    document["errors"] = report.errors
    return json.dumps(document, indent=2)


def _ms(d: Distribution | None, pick: Callable[[Distribution], float]) -> str:
    return "-" if d is None else f"{pick(d):,.0f}"


def _rate(d: Distribution | None) -> str:
    return "-" if d is None else f"{d.mean:,.1f}"


THROUGHPUT_COLUMNS = (
    "Concurrency",
    "Requests",
    "Errors",
    "Req/s",
    "Output tok/s",
    "Gen tok/s per req",
    "Prompt tok/s",
)
LATENCY_COLUMNS = ("Concurrency", "TTFT p50", "TTFT p95", "TTFT p99", "Latency mean", "p50", "p95", "p99")


def _throughput_row(level: LevelSummary) -> tuple[str, ...]:
    return (
        str(level.concurrency),
        str(level.requests),
        str(level.errors),
        f"{level.requests_per_s:.2f}",
        f"{level.output_tokens_per_s:,.1f}",
        _rate(level.generation_tokens_per_s),
        _rate(level.prompt_tokens_per_s),
    )


def _latency_row(level: LevelSummary) -> tuple[str, ...]:
    return (
        str(level.concurrency),
        _ms(level.ttft_ms, lambda d: d.p50),
        _ms(level.ttft_ms, lambda d: d.p95),
        _ms(level.ttft_ms, lambda d: d.p99),
        _ms(level.latency_ms, lambda d: d.mean),
        _ms(level.latency_ms, lambda d: d.p50),
        _ms(level.latency_ms, lambda d: d.p95),
        _ms(level.latency_ms, lambda d: d.p99),
    )


def _headline(report: BenchmarkReport) -> str:
    plan = report.plan
    where = report.endpoint if report.target == report.endpoint else f"{report.target} at {report.endpoint}"
    # llama-server names its model by file path; the file name is what identifies it to a reader.
    model = report.model.rsplit("/", 1)[-1] if report.model else "unknown"
    return (
        f"{where} (model {model}): "
        f"{plan.iterations} request(s) per client, {plan.warmup} warm-up, max {plan.max_tokens} tokens, "
        f"{report.duration_s:.1f}s in all"
    )


def print_table(report: BenchmarkReport, console: Console) -> None:
    console.print(_headline(report))
    throughput = Table(
        title="Throughput (tok/s = tokens per second; per req = mean over requests)", title_justify="left"
    )
    for column in THROUGHPUT_COLUMNS:
        throughput.add_column(column, justify="right")
    latency = Table(title="Latency (ms)", title_justify="left")
    for column in LATENCY_COLUMNS:
        latency.add_column(column, justify="right")
    for level in report.levels:
        throughput.add_row(*_throughput_row(level))
        latency.add_row(*_latency_row(level))
    console.print(throughput)
    console.print(latency)
    failures = [r for r in report.results if not r.ok]
    if failures:
        console.print(
            f"{len(failures)} request(s) failed; first error: {failures[0].error}", style="red", markup=False
        )


def to_table_text(report: BenchmarkReport, *, width: int = 120) -> str:
    buffer = io.StringIO()
    print_table(report, Console(file=buffer, width=width, no_color=True, force_terminal=False))
    return buffer.getvalue()


def _markdown_table(columns: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---:" for _ in columns) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def to_markdown(report: BenchmarkReport) -> str:
    lines = [
        f"## Benchmark: {report.target}",
        "",
        _headline(report),
        "",
        "### Throughput",
        "",
        *_markdown_table(THROUGHPUT_COLUMNS, [_throughput_row(level) for level in report.levels]),
        "",
        "### Latency (ms)",
        "",
        *_markdown_table(LATENCY_COLUMNS, [_latency_row(level) for level in report.levels]),
        "",
        f"*{report.started_at}, llmkube {installed_version()}*",
    ]
    return "\n".join(lines) + "\n"


def render(report: BenchmarkReport, output: OutputFormat) -> str:
    if output is OutputFormat.json:
        return to_json(report) + "\n"
    if output is OutputFormat.markdown:
        return to_markdown(report)
    return to_table_text(report)
