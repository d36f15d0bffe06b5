"""Options shared by the commands that talk to a cluster, so every command spells them the same way."""

from __future__ import annotations

from typing import Annotated

import typer

CLUSTER_PANEL = "Cluster"

KubeContext = Annotated[
    str | None,
    typer.Option(
        "--context",
        help="kubeconfig context to use (default: the current context)",
        rich_help_panel=CLUSTER_PANEL,
    ),
]
Namespace = Annotated[
    str | None,
    typer.Option(
        "--namespace",
        "-n",
        envvar="LLMKUBE_NAMESPACE",
        help="namespace of the InferenceService (default: the context's namespace)",
        rich_help_panel=CLUSTER_PANEL,
    ),
]
# `benchmark` keeps `-n` for the iteration count, as `llmkube benchmark NAME -n 10` reads best.
NamespaceLongOnly = Annotated[
    str | None,
    typer.Option(
        "--namespace",
        envvar="LLMKUBE_NAMESPACE",
        help="namespace of the InferenceService (default: the context's namespace)",
        rich_help_panel=CLUSTER_PANEL,
    ),
]
Kubeconfig = Annotated[
    str | None,
    typer.Option(
        "--kubeconfig", envvar="KUBECONFIG", help="path of the kubeconfig file", rich_help_panel=CLUSTER_PANEL
    ),
]
EndpointOverride = Annotated[
    str | None,
    typer.Option(
        "--endpoint",
        "-e",
        metavar="URL",
        help="talk to this OpenAI-compatible server directly (e.g. http://127.0.0.1:8080) instead of finding "
        "the InferenceService in the cluster",
    ),
]
GatewayOption = Annotated[
    str | None,
    typer.Option(
        "--gateway",
        metavar="URL",
        help="go through an LLMKube gateway at this URL, asking for NAME as the model; 'cluster' finds the "
        "gateway installed in the cluster",
    ),
]
ServiceName = Annotated[
    str | None,
    typer.Argument(
        metavar="NAME", help="InferenceService to talk to (optional with --endpoint)", show_default=False
    ),
]
ApiKey = Annotated[
    str | None,
    typer.Option(
        "--api-key",
        envvar="LLMKUBE_API_KEY",
        show_envvar=True,
        help="API key of a service that requires one (spec.apiKeySecretRef); the environment variable keeps it "
        "out of shell history and the process list",
    ),
]
