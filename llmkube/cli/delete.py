"""`llmkube delete NAME`: stop serving, and drop the Model unless it is kept or still in use.

The InferenceService goes first (garbage collection removes its Deployment and Service). Its Model is deleted
too unless `--keep-model` is given or another service still refers to it: deleting a model out from under a
running service would only send that service back to WaitingForModel. The cached file itself stays on the
cache volume either way, so a later deploy of the same source skips the download.
"""

from __future__ import annotations

from typing import Annotated

import anyio
import typer

from api.objects import Object
from controller.kube import NotFound
from controller.kube.resources import INFERENCE_SERVICES, MODELS
from llmkube.cli.cluster import ClusterTarget, ModelNotFound, connect
from llmkube.cli.errors import reported_errors
from llmkube.cli.options import Kubeconfig, KubeContext, Namespace
from llmkube.cli.output import Output, OutputFormat, emit_data, table_console
from llmkube.cli.views import parse_service, services_using


async def _delete(target: ClusterTarget, name: str, *, keep_model: bool) -> Object:
    async with connect(target) as cluster:
        ns = cluster.namespace
        deleted: list[str] = []
        kept: list[dict[str, str]] = []
        model_name = name
        try:
            isvc = await cluster.kube.get(INFERENCE_SERVICES, name, namespace=ns)
            model_name = isvc["spec"]["modelRef"]["name"]
            await cluster.kube.delete(INFERENCE_SERVICES, name, namespace=ns)
            deleted.append(f"inferenceservice/{name}")
        except NotFound:
            pass
        if keep_model:
            kept.append({"object": f"model/{model_name}", "reason": "--keep-model"})
        else:
            remaining = [
                parse_service(s) for s in (await cluster.kube.list(INFERENCE_SERVICES, namespace=ns)).items
            ]
            users = [u for u in services_using(model_name, remaining) if u != name]
            if users:
                kept.append({"object": f"model/{model_name}", "reason": f"still used by {', '.join(users)}"})
            else:
                try:
                    await cluster.kube.delete(MODELS, model_name, namespace=ns)
                    deleted.append(f"model/{model_name}")
                except NotFound:
                    pass
        if not deleted:
            raise ModelNotFound(f"no InferenceService or Model named {name!r} to delete in namespace {ns!r}")
        return {"namespace": ns, "deleted": deleted, "kept": kept}


def delete(
    name: Annotated[
        str, typer.Argument(metavar="NAME", help="InferenceService (or Model) name", show_default=False)
    ],
    keep_model: Annotated[
        bool, typer.Option("--keep-model", help="delete only the service; keep the Model for a later deploy")
    ] = False,
    output: Output = OutputFormat.table,
    context: KubeContext = None,
    namespace: Namespace = None,
    kubeconfig: Kubeconfig = None,
) -> None:
    """Delete an InferenceService and (unless kept or shared) its Model."""
    with reported_errors():
        target = ClusterTarget(kubeconfig=kubeconfig, context=context, namespace=namespace)
        result = anyio.run(lambda: _delete(target, name, keep_model=keep_model), backend="asyncio")
        if output is not OutputFormat.table:
            emit_data(result, output)
            return
        console = table_console()
        for obj in result["deleted"]:
            console.print(f"{obj} deleted", markup=False)
        for kept in result["kept"]:
            console.print(f"{kept['object']} kept ({kept['reason']})", markup=False)
