"""The `llmkube` program: one typer app, one module per command group."""

from __future__ import annotations

import typer

from llmkube.cli.benchmark import benchmark
from llmkube.cli.catalog import catalog_app
from llmkube.cli.chat import chat
from llmkube.cli.delete import delete
from llmkube.cli.deploy import deploy
from llmkube.cli.fetch import FETCH_CONTEXT_SETTINGS, agent, fetch
from llmkube.cli.init import init
from llmkube.cli.listing import list_command
from llmkube.cli.state import CliState
from llmkube.cli.status import status
from llmkube.cli.version import version

app = typer.Typer(
    name="llmkube",
    help="Serve GGUF models on Kubernetes with llama.cpp, and talk to them.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def root(ctx: typer.Context) -> None:
    if ctx.obj is None:
        ctx.obj = CliState()


app.command("init")(init)
app.command("deploy")(deploy)
app.command("list")(list_command)
app.command("status")(status)
app.command("delete")(delete)
app.command("version")(version)
app.add_typer(catalog_app, name="catalog")
app.command("chat")(chat)
app.command("benchmark")(benchmark)
app.command("fetch", context_settings=FETCH_CONTEXT_SETTINGS, add_help_option=False)(fetch)
app.command("agent", context_settings=FETCH_CONTEXT_SETTINGS, add_help_option=False)(agent)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
