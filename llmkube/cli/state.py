"""What the root command hands to every subcommand (click's context object).

Tests pass their own `CliState` to `CliRunner.invoke(app, ..., obj=state)` to replace the cluster lookup.
"""

from __future__ import annotations

import attrs
import typer

from llmkube.cli.endpoint import EndpointResolver, cluster_resolver


@attrs.frozen(kw_only=True)
class CliState:
    resolver: EndpointResolver = attrs.field(factory=cluster_resolver)


def state_of(ctx: typer.Context) -> CliState:
    obj = ctx.find_object(CliState)
    return obj if obj is not None else CliState()
