"""Load tests against an OpenAI-compatible endpoint: latency percentiles, TTFT and tokens per second."""

from llmkube.benchmark.render import OutputFormat, print_table, render, to_json, to_markdown
from llmkube.benchmark.runner import (
    BenchmarkPlan,
    BenchmarkReport,
    LevelSummary,
    RequestResult,
    run_benchmark,
    summarize,
)
from llmkube.benchmark.stats import Distribution, distribution, percentile

__all__ = [
    "BenchmarkPlan",
    "BenchmarkReport",
    "Distribution",
    "LevelSummary",
    "OutputFormat",
    "RequestResult",
    "distribution",
    "percentile",
    "print_table",
    "render",
    "run_benchmark",
    "summarize",
    "to_json",
    "to_markdown",
]
