"""`llmkube status NAME`: everything needed to tell why a service is (not) serving, on one screen.

Service phase and placement (GPUs, tensor split, the scheduler's reason), the Model's download and GGUF facts,
every condition with its reason, and the recent Events of both objects, newest last like `kubectl describe`.
NAME is an InferenceService; a Model of that name with no service is shown alone (a `deploy --no-wait` whose
service has not been written yet, or a model kept by `delete --keep-model`).
"""

from __future__ import annotations

import difflib
from typing import Annotated, Any

import anyio
import typer
from rich.console import Console

from api.objects import Object, name_of
from api.v1alpha1.inferenceservice import InferenceService
from api.v1alpha1.meta import Condition
from api.v1alpha1.model import Model
from controller.builders.conditions import human_size
from controller.kube import NotFound
from controller.kube.resources import EVENTS, INFERENCE_SERVICES, MODELS
from llmkube.cli.cluster import Cluster, ClusterTarget, ModelNotFound, connect
from llmkube.cli.errors import reported_errors
from llmkube.cli.options import Kubeconfig, KubeContext, Namespace
from llmkube.cli.output import (
    Output,
    OutputFormat,
    age,
    dash,
    emit_data,
    human_bytes,
    plain_table,
    table_console,
)
from llmkube.cli.views import describe_source, download_percent, model_size, parse_model, parse_service

RECENT_EVENTS = 12


async def _get(cluster: Cluster, resource: Any, name: str) -> Object | None:
    try:
        obj: Object = await cluster.kube.get(resource, name, namespace=cluster.namespace)
    except NotFound:
        return None
    return obj


async def _events(cluster: Cluster, names: list[str]) -> list[Object]:
    events: list[Object] = []
    for name in dict.fromkeys(names):
        found = await cluster.kube.list(
            EVENTS, namespace=cluster.namespace, field_selector=f"involvedObject.name={name}"
        )
        events += [
            e for e in found.items if e.get("involvedObject", {}).get("kind") in ("Model", "InferenceService")
        ]
    events.sort(key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")
    return events[-RECENT_EVENTS:]


async def _not_found(cluster: Cluster, name: str) -> ModelNotFound:
    names = {
        name_of(o) for o in (await cluster.kube.list(INFERENCE_SERVICES, namespace=cluster.namespace)).items
    }
    names |= {name_of(o) for o in (await cluster.kube.list(MODELS, namespace=cluster.namespace)).items}
    close = difflib.get_close_matches(name, sorted(names), n=2, cutoff=0.6)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    return ModelNotFound(
        f"no InferenceService or Model named {name!r} in namespace {cluster.namespace!r}{hint} (see 'llmkube list')"
    )


async def gather(target: ClusterTarget, name: str) -> Object:
    """The raw objects behind the status screen; `-o json|yaml` prints exactly this."""
    async with connect(target) as cluster:
        isvc = await _get(cluster, INFERENCE_SERVICES, name)
        model_name = isvc["spec"]["modelRef"]["name"] if isvc else name
        model = await _get(cluster, MODELS, model_name)
        if isvc is None and model is None:
            raise await _not_found(cluster, name)
        events = await _events(cluster, [name, model_name])
        return {"inferenceService": isvc, "model": model, "events": events}


def _kv(console: Console, rows: list[tuple[str, str]]) -> None:
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        console.print(f"  {key:<{width}}  {value}", markup=False, soft_wrap=True, highlight=False)


def _conditions(console: Console, conditions: list[Condition] | None) -> None:
    if not conditions:
        return
    table = plain_table("TYPE", "STATUS", "REASON", "MESSAGE", "AGE")
    for c in conditions:
        table.add_row(c.type, c.status, c.reason, c.message or "", age(c.last_transition_time))
    console.print(table)


def _service_section(console: Console, isvc: InferenceService) -> None:
    status = isvc.status
    spec = isvc.spec
    desired = status.replicas if status and status.replicas is not None else spec.replicas
    gpus = status.gpu_count if status and status.gpu_count is not None else spec.accelerator.gpu_count
    placement = spec.accelerator.type + (f", {gpus} GPU(s) per pod" if gpus else "")
    if status is not None and status.tensor_split:
        placement += f", tensor split {status.tensor_split}"
    rows = [
        ("Phase", dash(status.phase if status else "Pending")),
        ("Model", spec.model_ref.name),
        ("Replicas", f"{(status.ready_replicas if status else None) or 0}/{desired} ready"),
        ("Accelerator", placement),
        ("Context", dash(spec.context_size)),
        ("Endpoint", dash(status.endpoint if status else None)),
    ]
    if status is not None and status.scheduling:
        rows.append(("Scheduling", status.scheduling))
    memory = status.memory if status is not None else None
    if memory is not None and memory.planned is not None:
        planned = memory.planned
        line = f"{human_size(planned.total_bytes)} planned ({planned.summary})"
        if planned.per_gpu_bytes:
            line += "; per GPU " + ", ".join(human_size(share) for share in planned.per_gpu_bytes)
        rows.append(("Memory", line))
    if memory is not None and memory.allocated is not None:
        allocated = memory.allocated
        rows.append(
            (
                "Allocated",
                f"{human_size(allocated.total_bytes)} reported by llama-server "
                f"({human_size(allocated.weights_bytes)} weights, {human_size(allocated.kv_bytes)} KV, "
                f"{human_size(allocated.compute_bytes)} compute)",
            )
        )
    console.print(
        f"InferenceService {isvc.metadata.namespace}/{isvc.metadata.name}", style="bold", markup=False
    )
    _kv(console, rows)
    _conditions(console, status.conditions if status else None)


def _model_section(console: Console, model: Model) -> None:
    status = model.status
    rows = [
        ("Phase", dash(status.phase if status else "Pending")),
        ("Source", describe_source(model.spec.source)),
        ("Size", dash(model_size(model))),
    ]
    percent = download_percent(model)
    if percent is not None and status is not None and status.progress is not None:
        rows.append(
            (
                "Download",
                f"{percent:.0f}% ({human_bytes(status.progress.bytes_done)} of {human_bytes(status.progress.bytes_total)})",
            )
        )
    if status is not None and status.sha256:
        rows.append(("SHA-256", status.sha256))
    gguf = status.gguf if status else None
    if gguf is not None:
        params = f"{gguf.parameter_count / 1e9:.2f}B" if gguf.parameter_count else None
        facts = [
            ("Architecture", gguf.architecture),
            ("Parameters", params),
            ("Quantization", gguf.quantization or gguf.file_type),
            ("Trained context", f"{gguf.context_length:,}" if gguf.context_length else None),
            ("Layers", gguf.block_count),
            ("Heads (KV)", f"{gguf.head_count} ({gguf.head_count_kv})" if gguf.head_count else None),
        ]
        rows += [(k, str(v)) for k, v in facts if v is not None]
    console.print(f"Model {model.metadata.namespace}/{model.metadata.name}", style="bold", markup=False)
    _kv(console, rows)
    _conditions(console, status.conditions if status else None)


def _events_section(console: Console, events: list[Object]) -> None:
    console.print("Events", style="bold")
    if not events:
        console.print("  <none>", markup=False)
        return
    table = plain_table("AGE", "TYPE", "REASON", "OBJECT", "MESSAGE")
    for e in events:
        involved = e.get("involvedObject", {})
        count = e.get("count") or 1
        reason = e.get("reason", "") + (f" (x{count})" if count > 1 else "")
        table.add_row(
            age(e.get("lastTimestamp") or e.get("eventTime")),
            e.get("type", ""),
            reason,
            f"{involved.get('kind', '').lower()}/{involved.get('name', '')}",
            e.get("message", ""),
        )
    console.print(table)


def print_status(data: Object, console: Console) -> None:
    if data["inferenceService"] is not None:
        _service_section(console, parse_service(data["inferenceService"]))
        console.print()
    if data["model"] is not None:
        _model_section(console, parse_model(data["model"]))
    elif data["inferenceService"] is not None:
        console.print("Model: not found (the service waits for it)", style="yellow", markup=False)
    console.print()
    _events_section(console, data["events"])


def status(
    name: Annotated[
        str, typer.Argument(metavar="NAME", help="InferenceService (or Model) name", show_default=False)
    ],
    output: Output = OutputFormat.table,
    context: KubeContext = None,
    namespace: Namespace = None,
    kubeconfig: Kubeconfig = None,
) -> None:
    """Show a service's phase, conditions, placement, endpoint, model facts and recent events."""
    with reported_errors():
        target = ClusterTarget(kubeconfig=kubeconfig, context=context, namespace=namespace)
        data = anyio.run(lambda: gather(target, name), backend="asyncio")
        if output is not OutputFormat.table:
            emit_data(data, output)
            return
        print_status(data, table_console())
