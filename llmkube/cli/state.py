"""What the root command hands to every subcommand (click's context object).

Tests pass their own `CliState` to `CliRunner.invoke(app, ..., obj=state)` to replace the cluster lookup.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager

import attrs
import typer

from llmkube.cli.endpoint import Endpoint, EndpointResolver, ServiceRef


class _ClusterLookup:
    """Defers importing the Kubernetes client to the first lookup: `catalog` and `--endpoint` never pay for it."""

    def open(self, service: ServiceRef) -> AbstractAsyncContextManager[Endpoint]:
        from llmkube.cli.resolver import ClusterEndpointResolver

        return ClusterEndpointResolver().open(service)

    def open_gateway(self, service: ServiceRef) -> AbstractAsyncContextManager[Endpoint]:
        from llmkube.cli.cluster import ClusterTarget
        from llmkube.cli.gateway import open_cluster_gateway

        return open_cluster_gateway(
            ClusterTarget(kubeconfig=service.kubeconfig, context=service.context, namespace=service.namespace)
        )


def cluster_resolver() -> EndpointResolver:
    """The resolver used when no --endpoint is given: the one place the cluster lookup plugs in."""
    return _ClusterLookup()


@attrs.frozen(kw_only=True)
class CliState:
    resolver: EndpointResolver = attrs.field(factory=cluster_resolver)


def state_of(ctx: typer.Context) -> CliState:
    obj = ctx.find_object(CliState)
    return obj if obj is not None else CliState()
