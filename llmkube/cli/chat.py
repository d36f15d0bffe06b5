"""`llmkube chat`: talk to a served model, interactively or with one `-m` question."""

from __future__ import annotations

import sys
from typing import Annotated

import anyio
import typer

from llmkube.chat import ChatSettings, Conversation, chat_loop, read_terminal_line
from llmkube.cli.endpoint import Endpoint, EndpointResolver, ServiceRef, open_endpoint
from llmkube.cli.errors import reported_errors, stderr_console
from llmkube.cli.options import (
    ApiKey,
    EndpointOverride,
    GatewayOption,
    Kubeconfig,
    KubeContext,
    Namespace,
    ServiceName,
)
from llmkube.cli.state import state_of
from llmkube.inference import Completion, open_chat_client


def _write(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def _notice(text: str) -> None:
    stderr_console().print(text, style="dim", markup=False, soft_wrap=True)


def _route_line(endpoint: Endpoint) -> str:
    return f"Using {endpoint.url} (via {endpoint.via})"


def _stats_line(completion: Completion) -> str:
    parts = [f"{completion.completion_tokens} tokens", f"{completion.latency_s:.2f}s"]
    if completion.ttft_s is not None:
        parts.append(f"first token after {completion.ttft_s * 1000:.0f} ms")
    if completion.timings is not None:
        parts.append(f"{completion.timings.predicted_per_second:.1f} tok/s")
    return "(" + ", ".join(parts) + ")"


async def _chat(
    *,
    service: ServiceRef | None,
    override: str | None,
    gateway: str | None,
    resolver: EndpointResolver,
    settings: ChatSettings,
    message: str | None,
    timeout_s: float,
    api_key: str | None,
    stats: bool,
) -> None:
    async with (
        open_endpoint(service, override=override, resolver=resolver, gateway=gateway) as endpoint,
        open_chat_client(endpoint.url, idle_timeout_s=timeout_s, api_key=api_key) as client,
    ):
        if service is not None and override is None and endpoint.via != "--gateway":
            # Found in the cluster: say which route was taken (EndpointSlice, NodePort, port-forward, the
            # gateway), on stderr so that stdout stays the answer alone.
            _notice(_route_line(endpoint))
        if message is None:
            await chat_loop(
                client=client, settings=settings, read_line=read_terminal_line, write=_write, notice=_notice
            )
            return
        completion = await Conversation(system=settings.system).ask(
            message, client=client, settings=settings, write=_write
        )
        _write("\n")
        if stats:
            _notice(_stats_line(completion))


def chat(
    ctx: typer.Context,
    name: ServiceName = None,
    endpoint: EndpointOverride = None,
    gateway: GatewayOption = None,
    api_key: ApiKey = None,
    message: Annotated[
        str | None, typer.Option("--message", "-m", help="ask this one question, print the answer and exit")
    ] = None,
    system: Annotated[
        str | None, typer.Option("--system", "-s", help="system prompt for the conversation")
    ] = None,
    max_tokens: Annotated[
        int | None, typer.Option("--max-tokens", min=1, help="cap on tokens per answer")
    ] = None,
    temperature: Annotated[
        float | None, typer.Option("--temperature", min=0.0, max=2.0, help="sampling temperature")
    ] = None,
    timeout: Annotated[
        float, typer.Option("--timeout", min=1.0, help="seconds to wait for the server to send anything")
    ] = 120.0,
    stats: Annotated[
        bool, typer.Option("--stats", help="print token counts and speed after each answer")
    ] = False,
    context: KubeContext = None,
    namespace: Namespace = None,
    kubeconfig: Kubeconfig = None,
) -> None:
    """Chat with a model served by an InferenceService; answers stream as they are generated."""
    with reported_errors():
        service = (
            ServiceRef(name=name, namespace=namespace, context=context, kubeconfig=kubeconfig)
            if name
            else None
        )
        settings = ChatSettings(model=name, system=system, max_tokens=max_tokens, temperature=temperature)
        anyio.run(
            lambda: _chat(
                service=service,
                override=endpoint,
                gateway=gateway,
                resolver=state_of(ctx).resolver,
                settings=settings,
                message=message,
                timeout_s=timeout,
                api_key=api_key,
                stats=stats,
            ),
            backend="asyncio",
        )
