"""`-o table|json|yaml` for the cluster commands, and the small formatting rules tables share.

Tables are for people and may change; json and yaml are for scripts, so their keys are stable camelCase like
the API's own, and they carry the complete objects where a table shows a summary.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

import typer
import yaml
from rich import box
from rich.console import Console
from rich.table import Table


class OutputFormat(StrEnum):
    table = "table"
    json = "json"
    yaml = "yaml"


Output = Annotated[OutputFormat, typer.Option("--output", "-o", help="output format")]


def emit_data(data: Any, fmt: OutputFormat) -> None:
    if fmt is OutputFormat.json:
        typer.echo(json.dumps(data, indent=2))
    else:
        typer.echo(yaml.safe_dump(data, sort_keys=False, default_flow_style=False), nl=False)


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def age(value: str | None, *, now: datetime | None = None) -> str:
    """kubectl's compact age: 45s, 12m, 3h, 5d."""
    then = parse_time(value)
    if then is None:
        return "-"
    seconds = max(0, int(((now or datetime.now(UTC)) - then).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def human_bytes(count: int | None) -> str:
    if count is None:
        return "-"
    size = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{count} B"


#: Columns whose cells may wrap on a narrow terminal; every other cell stays on one line, as in kubectl.
WRAPPING_COLUMNS = ("ENDPOINT", "MESSAGE", "SOURCE", "DETAIL")


def plain_table(*columns: str) -> Table:
    """kubectl-like: a header row and no borders."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, header_style="bold")
    for column in columns:
        wraps = column in WRAPPING_COLUMNS
        table.add_column(column, no_wrap=not wraps, overflow="fold" if wraps else "ellipsis")
    return table


def table_console() -> Console:
    """Stdout for tables: the terminal's width on a terminal; when piped, wide enough that no row is cut or
    wrapped (rich would otherwise assume 80 columns), so `llmkube list | grep` sees whole rows."""
    console = Console(highlight=False)
    return console if console.is_terminal else Console(highlight=False, width=400)


def dash(value: object) -> str:
    return "-" if value is None or value == "" else str(value)
