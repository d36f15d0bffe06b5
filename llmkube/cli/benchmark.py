"""`llmkube benchmark`: measure an InferenceService's latency and throughput, optionally across a concurrency
sweep."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import anyio
import typer
from rich.console import Console

from llmkube.benchmark import (
    BenchmarkPlan,
    BenchmarkReport,
    OutputFormat,
    RequestResult,
    print_table,
    render,
    run_benchmark,
)
from llmkube.cli.endpoint import EndpointResolver, ServiceRef, open_endpoint
from llmkube.cli.errors import CliUsageError, reported_errors, stderr_console
from llmkube.cli.options import (
    ApiKey,
    EndpointOverride,
    GatewayOption,
    Kubeconfig,
    KubeContext,
    NamespaceLongOnly,
    ServiceName,
)
from llmkube.cli.state import state_of
from llmkube.inference import open_chat_client

DEFAULT_PROMPT = "Explain what a Kubernetes operator is in three sentences."


def parse_concurrency(text: str) -> tuple[int, ...]:
    """`1,4,16` -> (1, 4, 16); order kept, repeats dropped."""
    levels: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part.isdigit() or int(part) < 1:
            raise CliUsageError(f"--concurrency takes positive integers separated by commas, not {text!r}")
        if int(part) not in levels:
            levels.append(int(part))
    return tuple(levels)


class ProgressPrinter:
    """One line per finished request on stderr, so stdout carries only the report (and pipes stay clean)."""

    def __init__(self, console: Console, *, total_per_level: dict[int, int]) -> None:
        self._console = console
        self._total = total_per_level
        self._done: dict[int, int] = {}

    def __call__(self, result: RequestResult) -> None:
        done = self._done[result.concurrency] = self._done.get(result.concurrency, 0) + 1
        where = f"[c={result.concurrency}] {done}/{self._total[result.concurrency]}"
        if not result.ok:
            self._console.print(f"{where} failed: {result.error}", style="red", markup=False)
            return
        speed = f"{result.generation_tokens_per_s:.1f} tok/s" if result.generation_tokens_per_s else "- tok/s"
        ttft = f", TTFT {result.ttft_ms:.0f} ms" if result.ttft_ms is not None else ""
        self._console.print(f"{where} {result.latency_ms:.0f} ms{ttft}, {speed}", style="dim", markup=False)


async def _benchmark(
    *,
    plan: BenchmarkPlan,
    service: ServiceRef | None,
    override: str | None,
    gateway: str | None,
    resolver: EndpointResolver,
    timeout_s: float,
    api_key: str | None,
    quiet: bool,
) -> BenchmarkReport:
    console = stderr_console()
    async with (
        open_endpoint(service, override=override, resolver=resolver, gateway=gateway) as endpoint,
        open_chat_client(endpoint.url, idle_timeout_s=timeout_s, api_key=api_key) as client,
    ):
        if not quiet:
            console.print(
                f"Benchmarking {endpoint.url} (via {endpoint.via}): concurrency {','.join(map(str, plan.concurrency))}, "
                f"{plan.iterations} request(s) per client, {plan.warmup} warm-up",
                markup=False,
                soft_wrap=True,
            )
        printer = ProgressPrinter(console, total_per_level={c: c * plan.iterations for c in plan.concurrency})
        return await run_benchmark(
            plan,
            completer=client,
            target=service.name if service else endpoint.url,
            endpoint=endpoint.url,
            on_result=(lambda _: None) if quiet else printer,
        )


def benchmark(
    ctx: typer.Context,
    name: ServiceName = None,
    endpoint: EndpointOverride = None,
    gateway: GatewayOption = None,
    api_key: ApiKey = None,
    iterations: Annotated[
        int,
        typer.Option(
            "--iterations", "-n", min=1, help="requests each client sends at every concurrency level"
        ),
    ] = 10,
    warmup: Annotated[int, typer.Option("--warmup", min=0, help="unmeasured requests sent first")] = 2,
    concurrency: Annotated[
        str,
        typer.Option(
            "--concurrency",
            "-c",
            metavar="LEVELS",
            help="concurrent clients; a list such as 1,4,16 runs a sweep",
        ),
    ] = "1",
    max_tokens: Annotated[
        int, typer.Option("--max-tokens", min=1, help="tokens to generate per request")
    ] = 128,
    prompt: Annotated[
        str | None,
        typer.Option(
            "--prompt", "-p", help=f"prompt to send (default: {DEFAULT_PROMPT!r})", show_default=False
        ),
    ] = None,
    prompt_file: Annotated[
        Path | None,
        typer.Option(
            "--prompt-file", exists=True, dir_okay=False, readable=True, help="read the prompt from this file"
        ),
    ] = None,
    temperature: Annotated[float, typer.Option("--temperature", min=0.0, max=2.0)] = 0.7,
    prompt_cache: Annotated[
        bool,
        typer.Option(
            "--prompt-cache/--no-prompt-cache",
            help="let llama.cpp reuse the processed prompt between requests",
        ),
    ] = True,
    output: Annotated[
        OutputFormat, typer.Option("--output", "-o", help="report format")
    ] = OutputFormat.table,
    output_file: Annotated[
        Path | None, typer.Option("--output-file", dir_okay=False, help="also write the report to this file")
    ] = None,
    timeout: Annotated[
        float, typer.Option("--timeout", min=1.0, help="seconds a request may go without receiving anything")
    ] = 120.0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no per-request progress on stderr")] = False,
    context: KubeContext = None,
    namespace: NamespaceLongOnly = None,
    kubeconfig: Kubeconfig = None,
) -> None:
    """Benchmark a served model: time to first token, tokens per second and latency percentiles."""
    with reported_errors():
        if prompt is not None and prompt_file is not None:
            raise CliUsageError("give --prompt or --prompt-file, not both")
        text = prompt_file.read_text(encoding="utf-8").strip() if prompt_file else (prompt or DEFAULT_PROMPT)
        if not text:
            raise CliUsageError(f"the prompt in {prompt_file} is empty")
        plan = BenchmarkPlan(
            prompt=text,
            max_tokens=max_tokens,
            iterations=iterations,
            warmup=warmup,
            concurrency=parse_concurrency(concurrency),
            temperature=temperature,
            prompt_cache=prompt_cache,
            model=name,
        )
        service = (
            ServiceRef(name=name, namespace=namespace, context=context, kubeconfig=kubeconfig)
            if name
            else None
        )
        report = anyio.run(
            lambda: _benchmark(
                plan=plan,
                service=service,
                override=endpoint,
                gateway=gateway,
                resolver=state_of(ctx).resolver,
                timeout_s=timeout,
                api_key=api_key,
                quiet=quiet,
            ),
            backend="asyncio",
        )
        if output is OutputFormat.table:
            print_table(report, Console(highlight=False))
        else:
            typer.echo(render(report, output), nl=False)
        if output_file is not None:
            output_file.write_text(render(report, output), encoding="utf-8")
            stderr_console().print(f"Report written to {output_file}", style="dim", markup=False)
        if report.errors:
            raise typer.Exit(1)
