"""Programs with their own argument parsers, mounted as `llmkube` subcommands.

`llmkube fetch` is what the Model's download Job runs; `llmkube agent` is the host agent. Each keeps its own
parser (its flags are a contract with a Job spec or a service unit), so typer passes the arguments through.
"""

from __future__ import annotations

import typer


def fetch(ctx: typer.Context) -> None:
    """Download a GGUF model into the cache (run by the Model's download Job; see `llmkube fetch --help`)."""
    # Imported here: the downloader's dependencies are not needed by any other command.
    from llmkube.fetch import main as fetch_main

    raise typer.Exit(fetch_main(list(ctx.args)))


def agent(ctx: typer.Context) -> None:
    """Serve metal/host InferenceServices natively on this machine (see `llmkube agent --help`)."""
    from llmkube.agent import main as agent_main

    raise typer.Exit(agent_main(list(ctx.args)))


FETCH_CONTEXT_SETTINGS = {"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []}
