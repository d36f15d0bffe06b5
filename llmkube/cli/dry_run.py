"""Printing the objects a command would apply instead of applying them: for review, and for GitOps.

The documents are exactly what `deploy` writes by server-side apply, so `deploy --dry-run -o yaml | kubectl
apply -f -` (or committing the output to a repository Argo CD or Flux watches) yields the same Model and
InferenceService. Without an explicit `--namespace` the objects carry none, so the tool that applies them
decides where they go, as GitOps tools expect.
"""

from __future__ import annotations

import json
from typing import Any

import typer
import yaml

from llmkube.cli.manifests import DeployPlan, desired_model, desired_service
from llmkube.cli.output import OutputFormat


def plan_documents(plan: DeployPlan, *, namespaced: bool) -> list[dict[str, Any]]:
    documents = [desired_model(plan), desired_service(plan)]
    if not namespaced:
        for document in documents:
            document["metadata"].pop("namespace", None)
    return documents


def render_documents(documents: list[dict[str, Any]], fmt: OutputFormat) -> str:
    """YAML as a multi-document stream; JSON as a v1 List, the shape `kubectl apply -f -` takes for both."""
    if fmt is OutputFormat.json:
        return json.dumps({"apiVersion": "v1", "kind": "List", "items": documents}, indent=2) + "\n"
    return yaml.safe_dump_all(documents, sort_keys=False, default_flow_style=False, explicit_start=True)


def emit_documents(documents: list[dict[str, Any]], fmt: OutputFormat) -> None:
    typer.echo(render_documents(documents, fmt), nl=False)
