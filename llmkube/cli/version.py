"""`llmkube version`: what is installed, without asking the network."""

from __future__ import annotations

import platform

import typer

from llmkube.version import installed_version


def version() -> None:
    """Print the llmkube version."""
    typer.echo(
        f"llmkube {installed_version()} (Python {platform.python_version()}, {platform.system().lower()} {platform.machine()})"
    )
