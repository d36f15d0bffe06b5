"""`llmkube catalog list|info|show|verify`: browse the curated models, see what deploying one applies, and check
that their files are still on the hub."""

from __future__ import annotations

import json
import re
from enum import StrEnum
from typing import Annotated, Any

import attrs
import cattrs
import typer
from rich import box
from rich.console import Console
from rich.table import Table

from api.v1alpha1.converter import to_wire
from controller.builders.service_fit import planned_memory
from llmkube.catalog import CatalogEntry, get_model, list_models, load_catalog
from llmkube.cli.catalog_verify import verify_command
from llmkube.cli.dry_run import emit_documents, plan_documents
from llmkube.cli.errors import CliUsageError, reported_errors
from llmkube.cli.manifests import ServingChoice, plan_from_catalog
from llmkube.cli.output import OutputFormat

catalog_app = typer.Typer(help="Browse the curated model catalog.", no_args_is_help=True)
catalog_app.command("verify")(verify_command)

SIZE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([MmBb]?)\s*$")
GIBS = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(?:GiB|Gi|G|GB)?\s*$", re.IGNORECASE)


class ListFormat(StrEnum):
    table = "table"
    json = "json"


def _gpus(entry: CatalogEntry) -> str:
    return "CPU" if entry.gpu_count == 0 else str(entry.gpu_count)


def parse_billions(text: str) -> float:
    """`8B`, `8`, `500M` -> billions of parameters."""
    match = SIZE.match(text)
    if not match:
        raise CliUsageError(f"--max-size takes a parameter count like 8B or 500M, not {text!r}")
    value = float(match.group(1))
    return value / 1000 if match.group(2).lower() == "m" else value


def parse_gib(text: str) -> float:
    match = GIBS.match(text)
    if not match:
        raise CliUsageError(f"--fits takes GPU memory in GiB like 24 or 24Gi, not {text!r}")
    return float(match.group(1))


def entry_json(entry: CatalogEntry) -> dict[str, Any]:
    data: dict[str, Any] = cattrs.unstructure(entry)
    estimate = entry.estimate
    data["estimate"] = {
        **cattrs.unstructure(attrs.evolve(estimate, plan=None)),
        "planned_memory": to_wire(planned_memory(estimate.plan)) if estimate.plan is not None else None,
    }
    del data["estimate"]["plan"]
    return data


@catalog_app.command("list")
def list_command(
    tag: Annotated[
        str | None, typer.Option("--tag", "-t", help="only models with this tag (e.g. code, reasoning, cpu)")
    ] = None,
    max_size: Annotated[
        str | None,
        typer.Option("--max-size", metavar="PARAMS", help="only models up to this size (8B, 500M)"),
    ] = None,
    fits: Annotated[
        str | None,
        typer.Option(
            "--fits",
            metavar="GIB",
            help="only models whose estimated memory fits in this many GiB (24, 80Gi)",
        ),
    ] = None,
    output: Annotated[ListFormat, typer.Option("--output", "-o", help="output format")] = ListFormat.table,
) -> None:
    """List catalog models, smallest first."""
    with reported_errors():
        models = list_models(
            tag=tag,
            max_billions=parse_billions(max_size) if max_size is not None else None,
            fits_gib=parse_gib(fits) if fits is not None else None,
        )
        if output is ListFormat.json:
            typer.echo(json.dumps([entry_json(m) for m in models], indent=2))
            return
        console = Console(highlight=False)
        if not models:
            console.print("No catalog models match.", markup=False)
            return
        filters = [
            f"tag {tag}" if tag else "",
            f"up to {max_size}" if max_size else "",
            f"fits {fits} GiB" if fits else "",
        ]
        title = f"LLMKube model catalog (v{load_catalog().version})" + "".join(f", {f}" for f in filters if f)
        table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
        rows = [
            (m.id, m.name, m.size, m.quantization, f"{m.context_size:,}", _gpus(m), m.estimate.total)
            for m in models
        ]
        for column in ("ID", "NAME", "SIZE", "QUANT", "CONTEXT", "GPUS", "MEMORY"):
            numeric = column in ("SIZE", "CONTEXT", "GPUS", "MEMORY")
            # Only the name may wrap: an id cut short could not be copied into `catalog info`.
            table.add_column(column, justify="right" if numeric else "left", no_wrap=column != "NAME")
        for row in rows:
            table.add_row(*row)
        console.print(table)
        console.print("Details: llmkube catalog info <ID>   Objects: llmkube catalog show <ID>", style="dim")


@catalog_app.command("info")
def info_command(
    model_id: Annotated[str, typer.Argument(metavar="ID", help="catalog model id or alias")],
) -> None:
    """Show everything the catalog knows about one model."""
    with reported_errors():
        m = get_model(model_id)
        estimate = m.estimate
        console = Console(highlight=False)
        rows = [
            ("ID", m.id),
            ("Aliases", ", ".join(m.aliases) or "-"),
            ("Name", m.name),
            ("Parameters", f"{m.size} ({m.parameters_billions:g} billion)"),
            ("Quantization", m.quantization),
            ("Context", f"{m.context_size:,} tokens by default (model maximum {m.max_context:,})"),
            ("GPUs", "none needed (CPU)" if m.gpu_count == 0 else f"{m.gpu_count} recommended"),
            ("Memory", estimate.summary),
            ("Pod resources", f"cpu {m.resources.cpu}, memory {m.resources.memory} (when served on CPU)"),
            ("Source", f"huggingFace repo {m.source.repo}, file {m.source.filename}"),
            ("Download", m.source.url),
            ("Confirmed by", m.confirmed_by),
            ("Tags", ", ".join(m.tags)),
            ("Homepage", m.homepage),
        ]
        width = max(len(label) for label, _ in rows)
        console.print(m.description, markup=False)
        console.print()
        for label, value in rows:
            console.print(f"{label:<{width}}  {value}", markup=False, soft_wrap=True)
        console.print()
        gpu_flag = " --gpu" if m.gpu_count else ""
        console.print(f"Deploy: llmkube deploy {m.id}{gpu_flag}", markup=False)


@catalog_app.command("show")
def show_command(
    model_id: Annotated[str, typer.Argument(metavar="ID", help="catalog model id or alias")],
    gpu: Annotated[bool, typer.Option("--gpu", help="as `deploy --gpu` would write it")] = False,
    namespace: Annotated[
        str | None, typer.Option("--namespace", "-n", help="put the objects in this namespace")
    ] = None,
    output: Annotated[OutputFormat, typer.Option("--output", "-o", help="yaml or json")] = OutputFormat.yaml,
) -> None:
    """Print the Model and InferenceService `llmkube deploy ID` would apply."""
    with reported_errors():
        if output is OutputFormat.table:
            raise CliUsageError("catalog show prints objects: use -o yaml or -o json")
        entry = get_model(model_id)
        plan = plan_from_catalog(
            entry,
            name=entry.id,
            namespace=namespace or "default",
            serving=ServingChoice(gpu=gpu),
            sha256=None,
        )
        emit_documents(plan_documents(plan, namespaced=bool(namespace)), output)
