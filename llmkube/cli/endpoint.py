"""Where chat and benchmark send their requests: an explicit `--endpoint`, an LLMKube gateway (`--gateway URL`,
or `--gateway cluster` to find it), or an InferenceService found in the cluster.

Reaching a service is a resource with a lifetime (a port-forward must stay open while requests run and close
afterwards), so a resolver returns an async context manager that yields the endpoint. `--endpoint` needs no
cluster at all. Finding the service in the cluster is the job of an `EndpointResolver` (the one in
`llmkube.cli.resolver`); commands receive it through the CLI state object (`llmkube.cli.state`), which tests
replace. This module names the shapes only, so the resolver can import it and nothing imports back.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import Protocol

import attrs

from llmkube.cli.errors import CliError, CliUsageError
from llmkube.inference import normalize_base_url


@attrs.frozen(kw_only=True)
class ServiceRef:
    """An InferenceService as the user named it; None fields fall back to the kubeconfig's choices."""

    name: str
    namespace: str | None = None
    context: str | None = None
    kubeconfig: str | None = None


@attrs.frozen(kw_only=True)
class Endpoint:
    url: str  # base URL; the OpenAI API lives under <url>/v1
    via: str  # how it is reached, for messages: "--endpoint", "port-forward to pod/llama-0", ...


#: `--gateway cluster`: find the gateway Service in the cluster instead of naming its URL.
FIND_GATEWAY_IN_CLUSTER = "cluster"


class EndpointResolver(Protocol):
    def open(self, service: ServiceRef) -> AbstractAsyncContextManager[Endpoint]: ...

    def open_gateway(self, service: ServiceRef) -> AbstractAsyncContextManager[Endpoint]: ...


class EndpointNotFound(CliError):
    """The service exists nowhere reachable, or is not Ready; the message says which and what to do."""


@contextlib.asynccontextmanager
async def _explicit(url: str, *, via: str = "--endpoint") -> AsyncIterator[Endpoint]:
    yield Endpoint(url=normalize_base_url(url), via=via)


def open_endpoint(
    service: ServiceRef | None,
    *,
    override: str | None,
    resolver: EndpointResolver,
    gateway: str | None = None,
) -> AbstractAsyncContextManager[Endpoint]:
    if gateway:
        if override:
            raise CliUsageError("give --endpoint or --gateway, not both")
        if service is None:
            raise CliUsageError("--gateway needs the NAME of the InferenceService to ask the gateway for")
        if gateway == FIND_GATEWAY_IN_CLUSTER:
            return resolver.open_gateway(service)
        return _explicit(gateway, via="--gateway")
    if override:
        return _explicit(override)
    if service is None:
        raise CliUsageError("name an InferenceService or pass --endpoint URL")
    return resolver.open(service)
