"""`llmkube deploy`: a catalog model or a custom GGUF source as a Model plus an InferenceService.

Both objects are written by server-side apply under the `llmkube-cli` field manager, so running `deploy` again
with other flags updates them in place, and fields other managers own (a `kubectl scale`, the controller's
status) are left alone. The Model goes first: a service whose model is missing only waits, but a model without
its service would download for nobody if the second write failed, and the next `deploy` repairs that anyway.

`--dry-run -o yaml` prints the two objects instead of applying them (see dry_run.py), without a cluster.

Exit status: 0 when applied (and, with --wait, Ready); 1 when the service or model failed, the wait timed out
or the cluster refused; 2 for a wrong command line.
"""

from __future__ import annotations

import contextlib
import json
import shlex
import sys
from typing import Annotated

import anyio
import typer
from rich.console import Console

from api.v1alpha1.inferenceservice import ACCELERATORS, InferenceService
from api.v1alpha1.model import Model
from api.v1alpha1.well_known import CLI_MANAGER
from controller.builders.labels import resource_name
from controller.kube import NotFound
from controller.kube.resources import INFERENCE_SERVICES, MODELS, SERVICES
from llmkube.catalog import UnknownModelError, get_model
from llmkube.cli.cluster import Cluster, ClusterTarget, connect
from llmkube.cli.dry_run import emit_documents, plan_documents
from llmkube.cli.errors import EXIT_FAILED, CliUsageError, reported_errors, stderr_console
from llmkube.cli.manifests import (
    DeployPlan,
    ServingChoice,
    SourceChoice,
    desired_model,
    desired_service,
    plan_from_catalog,
    plan_from_source,
)
from llmkube.cli.options import Kubeconfig, KubeContext, Namespace
from llmkube.cli.output import OutputFormat
from llmkube.cli.resolver import direct_address
from llmkube.cli.views import parse_model, parse_service
from llmkube.cli.waiting import Outcome, WaitDisplay, wait_until_ready

SOURCE_PANEL = "Custom model source"
SERVING_PANEL = "Serving"
CHAT_BODY = {"messages": [{"role": "user", "content": "Hello!"}], "max_tokens": 64}


def _plan(
    *, name: str, namespace: str, source: SourceChoice, serving: ServingChoice, sha256: str | None
) -> DeployPlan:
    if source.given:
        return plan_from_source(source, name=name, namespace=namespace, serving=serving, sha256=sha256)
    try:
        entry = get_model(name)
    except UnknownModelError as err:
        hint = f"did you mean {' or '.join(repr(s) for s in err.suggestions)}? " if err.suggestions else ""
        raise CliUsageError(
            f"{name!r} is not in the catalog; {hint}See 'llmkube catalog list', or deploy a model of your own "
            "with --source URL or --hf-repo REPO --hf-file FILE"
        ) from None
    return plan_from_catalog(entry, name=entry.id, namespace=namespace, serving=serving, sha256=sha256)


async def _fetch(cluster: Cluster, plan: DeployPlan) -> tuple[Model | None, InferenceService | None]:
    model = isvc = None
    with contextlib.suppress(NotFound):
        model = parse_model(await cluster.kube.get(MODELS, plan.name, namespace=plan.namespace))
    with contextlib.suppress(NotFound):
        isvc = parse_service(await cluster.kube.get(INFERENCE_SERVICES, plan.name, namespace=plan.namespace))
    return model, isvc


def _curl(url: str) -> str:
    return (
        f"curl {url}/v1/chat/completions -H 'Content-Type: application/json' "
        f"-d {shlex.quote(json.dumps(CHAT_BODY))}"
    )


async def _print_ready(console: Console, cluster: Cluster, plan: DeployPlan, isvc: InferenceService) -> None:
    status = isvc.status
    console.print(f"InferenceService {plan.name} is Ready.", style="green", markup=False)
    if status is not None and status.endpoint:
        console.print(f"Endpoint (in cluster): {status.endpoint}", markup=False, soft_wrap=True)
    address = None
    try:
        service = await cluster.kube.get(SERVICES, resource_name(plan.name), namespace=plan.namespace)
        address = await direct_address(cluster, isvc, service)
    except NotFound:
        pass
    console.print(f"Chat with it:          llmkube chat {plan.name} -n {plan.namespace}", markup=False)
    if address is not None:
        console.print(f"Or with curl ({address.via}):", markup=False)
        console.print(f"  {_curl(address.url)}", markup=False, soft_wrap=True, highlight=False)
        return
    svc = resource_name(plan.name)
    console.print("Or with curl, through a port-forward:", markup=False)
    console.print(
        f"  kubectl port-forward -n {plan.namespace} svc/{svc} {isvc.spec.endpoint.port}:{isvc.spec.endpoint.port} &",
        markup=False,
        soft_wrap=True,
    )
    console.print(
        f"  {_curl(f'http://127.0.0.1:{isvc.spec.endpoint.port}')}",
        markup=False,
        soft_wrap=True,
        highlight=False,
    )


async def _deploy(
    *, target: ClusterTarget, plan_for: DeployPlanFactory, wait: bool, timeout_s: float, console: Console
) -> int:
    async with connect(target) as cluster:
        plan = plan_for(cluster.namespace)
        await cluster.kube.apply(MODELS, desired_model(plan), field_manager=CLI_MANAGER)
        await cluster.kube.apply(INFERENCE_SERVICES, desired_service(plan), field_manager=CLI_MANAGER)
        gpus = f", {plan.gpu_count} GPU(s)" if plan.gpu_count else ""
        origin = f"catalog {plan.catalog_id}" if plan.catalog_id else "custom source"
        console.print(
            f"Applied model.inference.llmkube.dev/{plan.name} and inferenceservice.inference.llmkube.dev/"
            f"{plan.name} in namespace {plan.namespace} ({origin}, accelerator {plan.accelerator}{gpus})",
            markup=False,
            soft_wrap=True,
        )
        estimate = planned_memory_line(plan)
        if estimate is not None:
            console.print(f"Planned memory: {estimate}", markup=False, soft_wrap=True)
        if not wait:
            console.print(f"Follow it with: llmkube status {plan.name} -n {plan.namespace}", markup=False)
            return 0
        with WaitDisplay(stderr_console()) as display:
            result, _model, isvc = await wait_until_ready(
                lambda: _fetch(cluster, plan), display=display, timeout_s=timeout_s
            )
        if result.outcome is Outcome.ready and isvc is not None:
            await _print_ready(console, cluster, plan, isvc)
            return 0
        if result.outcome is Outcome.failed:
            stderr_console().print(f"error: {result.reason}", style="red", markup=False, soft_wrap=True)
        else:
            stderr_console().print(
                f"error: not Ready after {timeout_s:.0f}s; it keeps going in the cluster: "
                f"llmkube status {plan.name} -n {plan.namespace}",
                style="red",
                markup=False,
                soft_wrap=True,
            )
        return EXIT_FAILED


def planned_memory_line(plan: DeployPlan) -> str | None:
    """The memory plan of a catalog model as the controller will make it (`llmkube catalog info` shows the same).

    A custom source has no plan before its header is read: the controller states it in `status.memory`.
    """
    if plan.catalog_id is None:
        return None
    entry = get_model(plan.catalog_id)
    gpus = (
        plan.gpu_count
        if plan.gpu_count is not None
        else (entry.gpu_count if plan.accelerator != "cpu" else 0)
    )
    return entry.estimate_for(gpu_count=gpus, context_size=plan.context_size or entry.context_size).summary


class DeployPlanFactory:
    """Builds the plan once the namespace is known (it may come from the kubeconfig context)."""

    def __init__(
        self, *, name: str, source: SourceChoice, serving: ServingChoice, sha256: str | None
    ) -> None:
        self._name, self._source, self._serving, self._sha256 = name, source, serving, sha256
        # Validate before connecting: a typo should fail without a cluster.
        self(namespace="default")

    def __call__(self, namespace: str) -> DeployPlan:
        return _plan(
            name=self._name,
            namespace=namespace,
            source=self._source,
            serving=self._serving,
            sha256=self._sha256,
        )


def deploy(
    name: Annotated[
        str,
        typer.Argument(
            metavar="NAME",
            help="catalog model id (see 'llmkube catalog list'), or the name for a custom model",
            show_default=False,
        ),
    ],
    gpu: Annotated[
        bool,
        typer.Option(
            "--gpu",
            help="serve on GPUs (NVIDIA unless --accelerator says otherwise)",
            rich_help_panel=SERVING_PANEL,
        ),
    ] = False,
    gpu_count: Annotated[
        int | None,
        typer.Option(
            "--gpu-count", min=1, max=8, help="GPUs per pod; implies --gpu", rich_help_panel=SERVING_PANEL
        ),
    ] = None,
    accelerator: Annotated[
        str | None,
        typer.Option(
            "--accelerator",
            help=f"one of {', '.join(ACCELERATORS)}; metal and host are served by the host agent",
            rich_help_panel=SERVING_PANEL,
        ),
    ] = None,
    replicas: Annotated[
        int | None,
        typer.Option(
            "--replicas", "-r", min=0, help="serving pods (default 1)", rich_help_panel=SERVING_PANEL
        ),
    ] = None,
    context_size: Annotated[
        int | None,
        typer.Option(
            "--context-size",
            min=128,
            help="KV-cache tokens shared by all slots (default: the catalog's)",
            rich_help_panel=SERVING_PANEL,
        ),
    ] = None,
    image: Annotated[
        str | None,
        typer.Option(
            "--image", help="llama.cpp server image (default by accelerator)", rich_help_panel=SERVING_PANEL
        ),
    ] = None,
    source: Annotated[
        str | None,
        typer.Option(
            "--source",
            metavar="URL",
            help="http(s) or file URL of a .gguf file",
            rich_help_panel=SOURCE_PANEL,
        ),
    ] = None,
    hf_repo: Annotated[
        str | None,
        typer.Option(
            "--hf-repo", metavar="OWNER/NAME", help="HuggingFace repository", rich_help_panel=SOURCE_PANEL
        ),
    ] = None,
    hf_file: Annotated[
        str | None,
        typer.Option(
            "--hf-file", metavar="PATH", help=".gguf file in the repository", rich_help_panel=SOURCE_PANEL
        ),
    ] = None,
    revision: Annotated[
        str | None,
        typer.Option("--revision", help="branch, tag or commit (default main)", rich_help_panel=SOURCE_PANEL),
    ] = None,
    sha256: Annotated[
        str | None,
        typer.Option(
            "--sha256",
            help="expected SHA-256 of the file; a mismatch fails the model",
            rich_help_panel=SOURCE_PANEL,
        ),
    ] = None,
    wait: Annotated[
        bool | None,
        typer.Option(
            "--wait/--no-wait",
            help="follow the download and rollout until Ready (default: on a terminal)",
            show_default=False,
        ),
    ] = None,
    timeout: Annotated[
        float, typer.Option("--timeout", min=1.0, help="seconds --wait waits for Ready")
    ] = 1800.0,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="print the Model and InferenceService instead of applying them (no cluster needed); "
            "without --namespace they carry none, for GitOps",
        ),
    ] = False,
    output: Annotated[
        OutputFormat, typer.Option("--output", "-o", help="with --dry-run: yaml or json")
    ] = OutputFormat.yaml,
    context: KubeContext = None,
    namespace: Namespace = None,
    kubeconfig: Kubeconfig = None,
) -> None:
    """Deploy a model from the catalog or from a GGUF URL / HuggingFace file, and serve it."""
    with reported_errors():
        if accelerator is not None and accelerator not in ACCELERATORS:
            raise CliUsageError(
                f"--accelerator must be one of {', '.join(ACCELERATORS)}, not {accelerator!r}"
            )
        if sha256 is not None:
            sha256 = sha256.lower()
            if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
                raise CliUsageError("--sha256 takes 64 hexadecimal digits")
        factory = DeployPlanFactory(
            name=name,
            source=SourceChoice(url=source, hf_repo=hf_repo, hf_file=hf_file, revision=revision),
            serving=ServingChoice(
                gpu=gpu,
                gpu_count=gpu_count,
                accelerator=accelerator,
                replicas=replicas,
                context_size=context_size,
                image=image,
            ),
            sha256=sha256,
        )
        if dry_run:
            if output is OutputFormat.table:
                raise CliUsageError("--dry-run prints objects: use -o yaml or -o json")
            plan = factory(namespace or "default")
            emit_documents(plan_documents(plan, namespaced=bool(namespace)), output)
            return
        target = ClusterTarget(kubeconfig=kubeconfig, context=context, namespace=namespace)
        should_wait = sys.stdout.isatty() if wait is None else wait
        code = anyio.run(
            lambda: _deploy(
                target=target,
                plan_for=factory,
                wait=should_wait,
                timeout_s=timeout,
                console=Console(highlight=False),
            ),
            backend="asyncio",
        )
        if code:
            raise typer.Exit(code)
