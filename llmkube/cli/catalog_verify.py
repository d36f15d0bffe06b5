"""`llmkube catalog verify`: is every catalog file still on the hub, at the size its entry implies?

Needs internet access (or `--endpoint` pointing at a mirror). Exit status 0 when every file checks out, 1
otherwise, so it can gate a catalog change in CI.
"""

from __future__ import annotations

import os
from typing import Annotated

import anyio
import typer
from rich.console import Console

from llmkube.catalog import get_model, list_models
from llmkube.catalog.verify import DEFAULT_ENDPOINT, verify_files
from llmkube.cli.errors import EXIT_FAILED, reported_errors
from llmkube.cli.output import plain_table, table_console


def verify_command(
    model_ids: Annotated[
        list[str] | None, typer.Argument(metavar="[ID]...", help="models to check (default: all)")
    ] = None,
    endpoint: Annotated[
        str,
        typer.Option("--endpoint", envvar="HF_ENDPOINT", help="Hugging Face Hub (or mirror) base URL"),
    ] = DEFAULT_ENDPOINT,
    concurrency: Annotated[int, typer.Option("--concurrency", min=1, max=32, help="requests at once")] = 8,
) -> None:
    """Check that every catalog file exists on the hub and has the size its entry implies."""
    with reported_errors():
        entries = [get_model(m) for m in model_ids] if model_ids else list_models()
        token = os.environ.get("HF_TOKEN") or None
        checks = anyio.run(
            lambda: verify_files(entries, endpoint=endpoint, token=token, concurrency=concurrency),
            backend="asyncio",
        )
        table = plain_table("MODEL", "RESULT", "DETAIL")
        for check in checks:
            table.add_row(check.model_id, check.verdict.value, check.detail)
        table_console().print(table)
        failed = [c for c in checks if not c.passed]
        console = Console(stderr=True, highlight=False)
        if failed:
            console.print(f"{len(failed)} of {len(checks)} catalog files failed the check", markup=False)
            raise typer.Exit(EXIT_FAILED)
        console.print(f"all {len(checks)} catalog files check out", markup=False)
