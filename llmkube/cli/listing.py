"""`llmkube list`: every served model in one table, a service joined with its Model."""

from __future__ import annotations

from typing import Annotated

import anyio
import typer
from rich.console import Console

from controller.kube.resources import INFERENCE_SERVICES, MODELS
from llmkube.cli.cluster import ClusterTarget, connect
from llmkube.cli.errors import reported_errors
from llmkube.cli.gateway import cluster_gateway_url
from llmkube.cli.options import Kubeconfig, KubeContext, Namespace
from llmkube.cli.output import Output, OutputFormat, age, dash, emit_data, plain_table, table_console
from llmkube.cli.views import Row, list_rows, parse_model, parse_service


async def _rows(target: ClusterTarget) -> tuple[list[Row], str | None, str | None]:
    """The rows, the namespace scope (None: all), and the gateway's URL when one is installed."""
    async with connect(target) as cluster:
        models = await cluster.kube.list(MODELS, namespace=cluster.scope)
        services = await cluster.kube.list(INFERENCE_SERVICES, namespace=cluster.scope)
        rows = list_rows([parse_model(m) for m in models.items], [parse_service(s) for s in services.items])
        return rows, cluster.scope, await cluster_gateway_url(cluster)


def _gpus(row: Row) -> str:
    if row.accelerator is None:
        return "-"
    return f"{row.accelerator}" + (f" x{row.gpus}" if row.gpus else "")


def print_rows(rows: list[Row], *, all_namespaces: bool, console: Console) -> None:
    columns = ["NAME", "MODEL", "MODEL PHASE", "SIZE", "PHASE", "READY", "ACCELERATOR", "ENDPOINT", "AGE"]
    table = plain_table(*(["NAMESPACE"] if all_namespaces else []), *columns)
    for row in rows:
        cells = [
            row.name,
            row.model,
            dash(row.model_phase),
            dash(row.size),
            dash(row.service_phase),
            dash(row.ready),
            _gpus(row),
            dash(row.endpoint),
            age(row.created),
        ]
        table.add_row(*([row.namespace] if all_namespaces else []), *cells)
    console.print(table)


def list_command(
    all_namespaces: Annotated[
        bool, typer.Option("--all-namespaces", "-A", help="list across all namespaces")
    ] = False,
    output: Output = OutputFormat.table,
    context: KubeContext = None,
    namespace: Namespace = None,
    kubeconfig: Kubeconfig = None,
) -> None:
    """List InferenceServices with their Models (and Models no service uses yet), and the gateway's URL."""
    with reported_errors():
        target = ClusterTarget(
            kubeconfig=kubeconfig, context=context, namespace=namespace, all_namespaces=all_namespaces
        )
        rows, scope, gateway = anyio.run(lambda: _rows(target), backend="asyncio")
        if output is not OutputFormat.table:
            data: dict[str, object] = {"items": [row.to_data() for row in rows]}
            if gateway is not None:
                data["gateway"] = gateway
            emit_data(data, output)
            return
        console = table_console()
        if not rows:
            where = "any namespace" if scope is None else f"namespace {scope}"
            console.print(f"No models or services in {where}. Try: llmkube deploy smollm2-135m", markup=False)
            return
        print_rows(rows, all_namespaces=scope is None, console=console)
        if gateway is not None:
            console.print(
                f"\nGateway: {gateway} (every service by name; llmkube chat NAME --gateway cluster)",
                markup=False,
            )
