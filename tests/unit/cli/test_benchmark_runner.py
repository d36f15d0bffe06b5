from __future__ import annotations

import anyio
import anyio.lowlevel
import pytest

from llmkube.benchmark import BenchmarkPlan, run_benchmark
from llmkube.benchmark.runner import result_of
from llmkube.inference import ChatRequest, Completion, EndpointUnreachable, ServerError, Timings, Usage


def completion(*, timings: Timings | None = None, usage: Usage | None = None, chunks: int = 4) -> Completion:
    return Completion(
        text="x" * chunks,
        model="smollm2",
        finish_reason="length",
        usage=usage,
        timings=timings,
        ttft_s=0.5,
        latency_s=2.5,
        chunks=chunks,
    )


class FakeServer:
    """Answers instantly after yielding to other tasks, recording how many requests overlap."""

    def __init__(self, *, fail_every: int = 0) -> None:
        self.in_flight = 0
        self.peak = 0
        self.calls = 0
        self.fail_every = fail_every

    async def complete(self, request: ChatRequest) -> Completion:
        self.calls += 1
        call = self.calls
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            for _ in range(3):
                await anyio.lowlevel.checkpoint()
            if self.fail_every and call % self.fail_every == 0:
                raise ServerError("HTTP 503: busy", status=503)
            return completion(usage=Usage(prompt_tokens=10, completion_tokens=4))
        finally:
            self.in_flight -= 1


def plan(**overrides: object) -> BenchmarkPlan:
    fields: dict[str, object] = {
        "prompt": "p",
        "max_tokens": 4,
        "iterations": 3,
        "warmup": 1,
        "concurrency": (1, 4),
    }
    fields.update(overrides)
    return BenchmarkPlan(**fields)  # type: ignore[arg-type]


async def test_each_level_runs_its_clients_concurrently_and_no_more() -> None:
    server = FakeServer()
    report = await run_benchmark(plan(concurrency=(4,)), completer=server, target="t", endpoint="e")
    assert server.peak == 4
    assert [level.requests for level in report.levels] == [12]


async def test_warmup_requests_are_not_measured() -> None:
    server = FakeServer()
    report = await run_benchmark(plan(warmup=2), completer=server, target="t", endpoint="e")
    assert server.calls == 2 + 3 * 1 + 3 * 4
    assert len(report.results) == 15


async def test_failed_requests_are_counted_not_raised() -> None:
    server = FakeServer(fail_every=3)
    report = await run_benchmark(plan(warmup=0, concurrency=(1,)), completer=server, target="t", endpoint="e")
    level = report.levels[0]
    assert (level.requests, level.errors, report.errors) == (3, 1, 1)
    assert level.latency_ms is not None
    assert level.latency_ms.count == 2


async def test_an_unreachable_endpoint_fails_during_warmup() -> None:
    class Down:
        async def complete(self, request: ChatRequest) -> Completion:
            raise EndpointUnreachable("cannot reach http://x: connection refused")

    with pytest.raises(EndpointUnreachable):
        await run_benchmark(plan(), completer=Down(), target="t", endpoint="e")


def test_speeds_come_from_llama_cpp_timings_when_reported() -> None:
    timings = Timings(
        prompt_tokens=10,
        prompt_ms=20,
        prompt_per_second=500,
        predicted_tokens=4,
        predicted_ms=80,
        predicted_per_second=50,
    )
    result = result_of(completion(timings=timings), concurrency=1, client=0, sequence=0)
    assert (result.generation_tokens_per_s, result.prompt_tokens_per_s) == (50, 500)
    assert (result.ttft_ms, result.latency_ms) == (500, 2500)


def test_speeds_fall_back_to_wall_clock_arithmetic() -> None:
    result = result_of(
        completion(usage=Usage(prompt_tokens=10, completion_tokens=4)), concurrency=1, client=0, sequence=0
    )
    # 4 tokens streamed over 2.5 s - 0.5 s; 10 prompt tokens before the first token at 0.5 s.
    assert (result.generation_tokens_per_s, result.prompt_tokens_per_s) == (2.0, 20.0)


def test_plan_rejects_a_zero_concurrency_level() -> None:
    with pytest.raises(ValueError, match="concurrency"):
        plan(concurrency=(1, 0))


def test_plan_without_prompt_cache_asks_llama_cpp_to_reprocess_the_prompt() -> None:
    assert plan(prompt_cache=False).request().body()["cache_prompt"] is False
    assert "cache_prompt" not in plan().request().body()
