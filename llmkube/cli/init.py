"""`llmkube init`: check a cluster, install or upgrade the operator this CLI ships, and wait until it serves.

The run reads first (API version, CRDs, controller, GPU nodes and their labels, default StorageClass, Prometheus
Operator CRDs), then applies the bundled manifests (llmkube/bundle, pinned to this CLI's version), then waits
for the CRDs to be served and the controller Deployment to be Ready, and ends with one line per check and what
to fix. Running it again changes nothing. `--dry-run` prints the manifests instead and needs no cluster.

Exit status: 0 when the operator is installed and Ready (warnings allowed); 1 when something must be fixed or
the cluster could not be reached; 2 for a wrong command line.
"""

from __future__ import annotations

from typing import Annotated, Any

import anyio
import typer
from rich.console import Console

from controller.kube.resources import CUSTOM_RESOURCE_DEFINITIONS, NODES, STORAGE_CLASSES
from llmkube.bundle import controller_image, operator_objects
from llmkube.cli import cluster_checks
from llmkube.cli.cluster import Cluster, ClusterTarget, connect
from llmkube.cli.cluster_checks import Finding, Level
from llmkube.cli.dry_run import emit_documents
from llmkube.cli.errors import EXIT_FAILED, CliUsageError, reported_errors
from llmkube.cli.operator_install import (
    apply_objects,
    controller_deployment,
    controller_pod_problems,
    wait_for_controller,
    wait_for_crds,
)
from llmkube.cli.options import Kubeconfig, KubeContext
from llmkube.cli.output import OutputFormat, plain_table, table_console
from llmkube.version import installed_version

MARKS = {Level.ok: "ok", Level.warning: "warning", Level.problem: "PROBLEM"}


async def _read_checks(cluster: Cluster) -> list[Finding]:
    kube = cluster.kube
    version = await kube.request("GET", "/version")
    crds = (await kube.list(CUSTOM_RESOURCE_DEFINITIONS)).items
    nodes = (await kube.list(NODES)).items
    classes = (await kube.list(STORAGE_CLASSES)).items
    return [
        cluster_checks.api_version(version or {}),
        cluster_checks.gpu_nodes(nodes),
        cluster_checks.default_storage_class(classes),
        cluster_checks.prometheus_operator(crds),
    ]


def _verb(deployment: dict[str, Any] | None) -> str:
    if deployment is None:
        return "Installing"
    running = deployment["spec"]["template"]["spec"]["containers"][0].get("image")
    return "Re-applying" if running == controller_image() else f"Upgrading {running} to"


async def _install(cluster: Cluster, *, wait: bool, timeout_s: float, console: Console) -> list[Finding]:
    kube = cluster.kube
    before = await controller_deployment(kube)
    objects = operator_objects()
    console.print(f"{_verb(before)} LLMKube {installed_version()}: {len(objects)} objects", markup=False)
    applied = await apply_objects(kube, objects)
    changed = [a for a in applied if a.changed]
    if changed:
        for item in changed:
            console.print(f"  applied {item}", markup=False)
    else:
        console.print("  every object already up to date", markup=False)
    crd_names = [o["metadata"]["name"] for o in objects if o["kind"] == "CustomResourceDefinition"]
    await wait_for_crds(kube, crd_names, timeout_s=min(timeout_s, 60))
    crds = (await kube.list(CUSTOM_RESOURCE_DEFINITIONS)).items
    findings = [cluster_checks.llmkube_crds(crds)]
    if wait:
        console.print(f"Waiting up to {timeout_s:.0f}s for the controller to be Ready...", markup=False)
        await wait_for_controller(kube, timeout_s=timeout_s)
    deployment = await controller_deployment(kube)
    controller = cluster_checks.controller(deployment, installed_image=controller_image())
    if controller.level is Level.problem and not wait:
        controller = Finding(
            check="Controller",
            level=Level.warning,
            message=f"applied; not waited for ({controller.message})",
            fix="llmkube init again (it changes nothing) to wait for it",
        )
    elif controller.level is Level.problem:
        reasons = await controller_pod_problems(kube, deployment)
        if reasons:
            controller = Finding(
                check="Controller",
                level=Level.problem,
                message=f"not Ready after {timeout_s:.0f}s: {'; '.join(reasons)}",
                fix=controller.fix,
            )
    findings.append(controller)
    return findings


def _report(findings: list[Finding]) -> bool:
    """Prints the checks; True when nothing needs fixing."""
    table = plain_table("CHECK", "RESULT", "DETAIL")
    for finding in findings:
        table.add_row(finding.check, MARKS[finding.level], finding.message)
    console = table_console()
    console.print(table)
    fixes = [f for f in findings if f.fix and f.level is not Level.ok]
    if fixes:
        console.print("To do:", markup=False)
        for finding in fixes:
            console.print(f"  {finding.check}: {finding.fix}", markup=False, soft_wrap=True)
    return not any(f.level is Level.problem for f in findings)


async def _init(*, target: ClusterTarget, wait: bool, timeout_s: float) -> bool:
    console = Console(highlight=False)
    async with connect(target) as cluster:
        findings = await _read_checks(cluster)
        findings[1:1] = await _install(cluster, wait=wait, timeout_s=timeout_s, console=console)
    return _report(findings)


def init(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="print the manifests init would apply; no cluster needed")
    ] = False,
    output: Annotated[
        OutputFormat, typer.Option("--output", "-o", help="with --dry-run: yaml or json")
    ] = OutputFormat.yaml,
    wait: Annotated[
        bool, typer.Option("--wait/--no-wait", help="wait for the controller to be Ready")
    ] = True,
    timeout: Annotated[
        float, typer.Option("--timeout", min=1.0, help="seconds to wait for the controller")
    ] = 300.0,
    context: KubeContext = None,
    kubeconfig: Kubeconfig = None,
) -> None:
    """Check the cluster, install or upgrade the LLMKube operator, and wait until it is Ready."""
    with reported_errors():
        if dry_run:
            if output is OutputFormat.table:
                raise CliUsageError("--dry-run prints objects: use -o yaml or -o json")
            emit_documents(operator_objects(), output)
            return
        target = ClusterTarget(kubeconfig=kubeconfig, context=context)
        ready = anyio.run(lambda: _init(target=target, wait=wait, timeout_s=timeout), backend="asyncio")
        if not ready:
            raise typer.Exit(EXIT_FAILED)
