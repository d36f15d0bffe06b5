"""Runs a benchmark: warm-up requests, then one closed-loop load level per concurrency setting.

At concurrency c, c simulated clients run in one task group, each sending `iterations` requests back to back,
so exactly c requests are in flight until the clients finish. Every request streams, which is what makes time to
first token measurable; generation and prompt speeds come from llama.cpp's own timings when the server reports
them, and from wall-clock arithmetic otherwise.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Protocol

import anyio
import attrs

from llmkube.benchmark.stats import Distribution, distribution
from llmkube.inference import ChatMessage, ChatRequest, Completion, InferenceError

Clock = Callable[[], float]


class Completer(Protocol):
    async def complete(self, request: ChatRequest) -> Completion: ...


@attrs.frozen(kw_only=True)
class BenchmarkPlan:
    prompt: str
    max_tokens: int
    iterations: int  # requests per client at each concurrency level
    warmup: int
    concurrency: tuple[int, ...]
    temperature: float = 0.7
    prompt_cache: bool = True  # False asks llama.cpp to process the whole prompt on every request
    model: str | None = None  # the request's `model`, which a gateway routes by

    def __attrs_post_init__(self) -> None:
        if self.iterations < 1 or self.warmup < 0 or self.max_tokens < 1:
            raise ValueError("iterations and max_tokens must be at least 1, warmup at least 0")
        if not self.concurrency or min(self.concurrency) < 1:
            raise ValueError("concurrency levels must be positive")

    def request(self) -> ChatRequest:
        return ChatRequest(
            messages=(ChatMessage(role="user", content=self.prompt),),
            model=self.model,
            max_tokens=self.max_tokens,
            temperature=self.temperature,
            stream=True,
            extra={} if self.prompt_cache else {"cache_prompt": False},
        )


@attrs.frozen(kw_only=True)
class RequestResult:
    concurrency: int
    client: int
    sequence: int
    error: str | None
    latency_ms: float
    ttft_ms: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int = 0
    generation_tokens_per_s: float | None = None
    prompt_tokens_per_s: float | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@attrs.frozen(kw_only=True)
class LevelSummary:
    concurrency: int
    requests: int
    errors: int
    duration_s: float
    requests_per_s: float
    output_tokens_per_s: float  # all clients together: what the server delivered at this load
    ttft_ms: Distribution | None
    latency_ms: Distribution | None
    generation_tokens_per_s: Distribution | None  # per request: what one user experiences
    prompt_tokens_per_s: Distribution | None


@attrs.frozen(kw_only=True)
class BenchmarkReport:
    target: str
    endpoint: str
    model: str | None
    plan: BenchmarkPlan
    started_at: str
    duration_s: float
    levels: tuple[LevelSummary, ...]
    results: tuple[RequestResult, ...]

    @property
    def errors(self) -> int:
        return sum(level.errors for level in self.levels)


def result_of(completion: Completion, *, concurrency: int, client: int, sequence: int) -> RequestResult:
    latency_s = completion.latency_s
    ttft_s = completion.ttft_s
    timings = completion.timings
    if timings is not None:
        generation: float | None = timings.predicted_per_second
        prompt: float | None = timings.prompt_per_second
    else:
        streaming_s = latency_s - ttft_s if ttft_s is not None else latency_s
        generation = completion.completion_tokens / streaming_s if streaming_s > 0 else None
        prompt_tokens = completion.prompt_tokens
        prompt = prompt_tokens / ttft_s if prompt_tokens and ttft_s else None
    return RequestResult(
        concurrency=concurrency,
        client=client,
        sequence=sequence,
        error=None,
        latency_ms=latency_s * 1000,
        ttft_ms=None if ttft_s is None else ttft_s * 1000,
        prompt_tokens=completion.prompt_tokens,
        completion_tokens=completion.completion_tokens,
        generation_tokens_per_s=generation,
        prompt_tokens_per_s=prompt,
    )


def summarize(concurrency: int, results: Sequence[RequestResult], *, duration_s: float) -> LevelSummary:
    ok = [r for r in results if r.ok]

    def samples(values: Sequence[float | None]) -> list[float]:
        return [v for v in values if v is not None]

    return LevelSummary(
        concurrency=concurrency,
        requests=len(results),
        errors=len(results) - len(ok),
        duration_s=duration_s,
        requests_per_s=len(ok) / duration_s if duration_s > 0 else 0.0,
        output_tokens_per_s=sum(r.completion_tokens for r in ok) / duration_s if duration_s > 0 else 0.0,
        ttft_ms=distribution(samples([r.ttft_ms for r in ok])),
        latency_ms=distribution([r.latency_ms for r in ok]),
        generation_tokens_per_s=distribution(samples([r.generation_tokens_per_s for r in ok])),
        prompt_tokens_per_s=distribution(samples([r.prompt_tokens_per_s for r in ok])),
    )


async def run_benchmark(
    plan: BenchmarkPlan,
    *,
    completer: Completer,
    target: str,
    endpoint: str,
    on_result: Callable[[RequestResult], None] = lambda _: None,
    clock: Clock = time.perf_counter,
    wall_clock: Callable[[], str] = lambda: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
) -> BenchmarkReport:
    """Warm-up failures propagate: an endpoint that cannot answer one request is not worth measuring."""
    started_at = wall_clock()
    started = clock()
    request = plan.request()
    models: set[str] = set()
    for _ in range(plan.warmup):
        warmup = await completer.complete(request)
        if warmup.model:
            models.add(warmup.model)

    levels: list[LevelSummary] = []
    results: list[RequestResult] = []
    for concurrency in plan.concurrency:
        level_started = clock()
        level_results = await _run_level(
            request,
            concurrency=concurrency,
            iterations=plan.iterations,
            completer=completer,
            on_result=on_result,
            models=models,
            clock=clock,
        )
        levels.append(summarize(concurrency, level_results, duration_s=clock() - level_started))
        results.extend(level_results)

    return BenchmarkReport(
        target=target,
        endpoint=endpoint,
        model=min(models) if models else None,
        plan=plan,
        started_at=started_at,
        duration_s=clock() - started,
        levels=tuple(levels),
        results=tuple(results),
    )


async def _run_level(
    request: ChatRequest,
    *,
    concurrency: int,
    iterations: int,
    completer: Completer,
    on_result: Callable[[RequestResult], None],
    models: set[str],
    clock: Clock,
) -> list[RequestResult]:
    results: list[RequestResult] = []

    async def client_loop(client: int) -> None:
        for sequence in range(iterations):
            sent = clock()
            try:
                completion = await completer.complete(request)
            except InferenceError as exc:
                result = RequestResult(
                    concurrency=concurrency,
                    client=client,
                    sequence=sequence,
                    error=str(exc),
                    latency_ms=(clock() - sent) * 1000,
                )
            else:
                if completion.model:
                    models.add(completion.model)
                result = result_of(completion, concurrency=concurrency, client=client, sequence=sequence)
            results.append(result)
            on_result(result)

    async with anyio.create_task_group() as clients:
        for client in range(concurrency):
            clients.start_soon(client_loop, client)
    return results
