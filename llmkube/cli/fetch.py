"""`llmkube fetch`: the model downloader the download Job runs, mounted here with its own argument parser."""

from __future__ import annotations

import typer


def fetch(ctx: typer.Context) -> None:
    """Download a GGUF model into the cache (run by the Model's download Job; see `llmkube fetch --help`)."""
    # Imported here: the downloader's dependencies are not needed by any other command.
    from llmkube.fetch import main as fetch_main

    raise typer.Exit(fetch_main(list(ctx.args)))


FETCH_CONTEXT_SETTINGS = {"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []}
