"""`llmkube catalog list|info`: browse the curated models before deploying one."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated

import cattrs
import typer
from rich import box
from rich.console import Console
from rich.table import Table

from llmkube.catalog import CatalogEntry, get_model, list_models, load_catalog
from llmkube.cli.errors import reported_errors

catalog_app = typer.Typer(help="Browse the curated model catalog.", no_args_is_help=True)


class ListFormat(StrEnum):
    table = "table"
    json = "json"


def _gpus(entry: CatalogEntry) -> str:
    return "CPU" if entry.gpu_count == 0 else str(entry.gpu_count)


@catalog_app.command("list")
def list_command(
    tag: Annotated[
        str | None, typer.Option("--tag", "-t", help="only models with this tag (e.g. code, small)")
    ] = None,
    output: Annotated[ListFormat, typer.Option("--output", "-o", help="output format")] = ListFormat.table,
) -> None:
    """List catalog models, smallest first."""
    with reported_errors():
        models = list_models(tag=tag)
        if output is ListFormat.json:
            typer.echo(json.dumps([cattrs.unstructure(m) for m in models], indent=2))
            return
        console = Console(highlight=False)
        if not models:
            console.print(f"No catalog models are tagged {tag!r}.", markup=False)
            return
        title = f"LLMKube model catalog (v{load_catalog().version})" + (f", tag {tag}" if tag else "")
        table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
        rows = [
            (m.id, m.name, m.size, m.quantization, f"{m.context_size:,}", _gpus(m), f"{m.vram_gib:g} GiB")
            for m in models
        ]
        for column in ("ID", "NAME", "SIZE", "QUANT", "CONTEXT", "GPUS", "VRAM"):
            numeric = column in ("SIZE", "CONTEXT", "GPUS", "VRAM")
            # Only the name may wrap: an id cut short could not be copied into `catalog info`.
            table.add_column(column, justify="right" if numeric else "left", no_wrap=column != "NAME")
        for row in rows:
            table.add_row(*row)
        console.print(table)
        console.print("Details: llmkube catalog info <ID>", style="dim")


@catalog_app.command("info")
def info_command(model_id: Annotated[str, typer.Argument(metavar="ID", help="catalog model id")]) -> None:
    """Show everything the catalog knows about one model."""
    with reported_errors():
        m = get_model(model_id)
        console = Console(highlight=False)
        rows = [
            ("ID", m.id),
            ("Name", m.name),
            ("Parameters", f"{m.size} ({m.parameters_billions:g} billion)"),
            ("Quantization", m.quantization),
            ("Context", f"{m.context_size:,} tokens by default (model maximum {m.max_context:,})"),
            ("GPUs", "none needed (CPU)" if m.gpu_count == 0 else f"{m.gpu_count} recommended"),
            ("VRAM", f"~{m.vram_gib:g} GiB (weights ~{m.weights_gib:.1f} GiB)"),
            ("Pod resources", f"cpu {m.resources.cpu}, memory {m.resources.memory}"),
            ("Source", f"huggingFace repo {m.source.repo}, file {m.source.filename}"),
            ("Download", m.source.url),
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
